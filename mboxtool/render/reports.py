"""The text of validate's, repair's and convert's reports (their ``--json`` documents are the
reports' own ``to_dict()``)."""

from __future__ import annotations

from typing import Any

_ORDER = {"error": 0, "warning": 1, "info": 2}


def validation_text(report: Any, strict: bool = False, shown: int = 5) -> str:
    """One mailbox: its format, the counts, each code with its first ``shown`` places, OK or not."""
    head = f"{report.path}: {report.format}"
    if report.variant:
        head += f" ({report.variant}: {'; '.join(report.variant_evidence)})"
    counts = (f"  {report.messages} messages; {report.count('error')} errors, "
              f"{report.count('warning')} warnings, {report.count('info')} notes")
    lines = [head, counts]
    by_code: dict[str, list[Any]] = {}
    for p in report.problems:
        by_code.setdefault(p.code, []).append(p)
    for code, items in sorted(by_code.items(), key=lambda kv: (_ORDER[kv[1][0].severity], kv[0])):
        lines.append(f"  {items[0].severity.upper():7} {code} ({len(items)})")
        for p in items[:shown]:
            where = ", ".join(f"{n} {v}" for n, v in (("line", p.line), ("offset", p.offset),
                                                      ("key", p.key)) if v is not None)
            lines.append(f"           {where + ': ' if where else ''}{p.message}")
        if len(items) > shown:
            lines.append(f"           ... and {len(items) - shown} more")
    lines.append("  OK" if report.passes(strict) else "  NOT OK")
    return "\n".join(lines)


def validation_set_text(result: Any, strict: bool = False) -> str:
    """Several mailboxes: each one's text, what was not checked, and one line of totals."""
    parts = [validation_text(r, strict) for _, r in result.reports]
    parts += [f"{u['error']} (not checked)" for u in result.unreadable]
    if result.not_mailboxes:
        shown = ", ".join(result.not_mailboxes[:5]) + (", ..." if len(result.not_mailboxes) > 5 else "")
        parts.append(f"{len(result.not_mailboxes)} file(s) that are no mailbox were not checked: {shown}")
    bad = len(result.damaged(strict))
    summary = f"{len(result.reports)} mailboxes checked: {len(result.reports) - bad} OK, {bad} NOT OK"
    if result.unreadable:
        summary += f", {len(result.unreadable)} could not be checked"
    return "\n".join([*parts, summary])


def repair_text(report: Any) -> str:
    """What repair changed, what it left, and where bytes that were no message went."""
    lines = [f"repaired copy of {report.source} written to {report.destination} ({report.messages} messages)"]
    for item in report.repaired:
        at = f"line {item.line}: " if item.line else ""
        lines.append(f"  fixed   {item.code}: {at}{item.message}")
    for p in report.remaining:
        lines.append(f"  left    {p.code} ({p.severity}): {p.message}")
    if report.orphan:
        lines.append(f"  bytes that were no message saved to {report.orphan}")
    return "\n".join(lines)


def convert_notes(report: Any, quiet: bool = False) -> list[str]:
    """The lines for stderr: what was left out and the warnings (not with ``quiet``), then
    the errors and what was quarantined (always: they are problems)."""
    lines = []
    if not quiet:
        lines += [f"mboxtool: warning: {report.source}: message {item.key} not converted: {item.message}"
                  for item in report.excluded]
        for item in report.warnings:
            where = f" at offset {item.offset}" if "offset" in item else \
                f" ({item.key})" if "key" in item else ""
            lines.append(f"mboxtool: warning: {report.source}: {item.message or item.code}{where}")
    for err in report.errors:
        where = f"message {err.key}: " if "key" in err else ""
        at = f" (offset {err.offset})" if "offset" in err else ""
        lines.append(f"mboxtool: error: {where}{err.message}{at}")
    for path in report.quarantine_files:
        spans = [s for s in report.quarantine_spans if s["file"] == path]
        at = ", ".join(str(s["offset"]) for s in spans[:5]) + (", ..." if len(spans) > 5 else "")
        lines.append(f"mboxtool: error: {report.source}: {len(spans)} part(s) that could not be converted "
                     f"({sum(s['length'] for s in spans)} bytes at offset {at}) set aside in {path}; "
                     "the source was emptied")
    return lines


def convert_summary(report: Any) -> str:
    """The one line on stdout: what was converted from where to where, and how it ended."""
    verb = "would convert" if report.dry_run else "converted"
    line = (f"{verb} {report.converted} messages ({report.bytes} bytes) from {report.source} "
            f"({report.source_format}) to {report.destination} ({report.destination_format})"
            f"; {report.skipped} already there, {report.failed} failed")
    if report.verified is not None:
        line += "; verified" if report.verified else "; VERIFY FAILED"
    if report.resumed_at:
        line += f" (read from byte {report.resumed_at}: the part before was converted by an earlier run)"
    if report.subscribed:
        line += f"; subscribed {len(report.subscribed)} new folder(s) in Dovecot's list"
    if report.stopped:
        line += "; STOPPED by a write error before the end of the source"
    if report.quarantined:
        line += f"; {report.quarantined} quarantined"
    return line
