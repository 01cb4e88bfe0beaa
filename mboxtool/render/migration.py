"""The text of ``mboxtool migrate``: the run's summary line, the dry run's table, and the
line each mailbox that is not done gets (docs/migration.md)."""

from __future__ import annotations

from typing import Any


def summary_line(summary: dict[str, Any]) -> str:
    """One line for the whole run (also written to the run log)."""
    verb = "would migrate" if summary["dry_run"] else "migrated"
    return (f"{verb} {summary['done']} of {summary['mailboxes']} mailboxes: {summary['failed']} failed, "
            f"{summary['busy']} busy, {summary['skipped']} skipped; "
            f"{'would convert' if summary['dry_run'] else 'converted'} {summary['converted']} messages "
            f"({summary['bytes']} bytes), {summary['already_there']} already there, "
            f"{summary['quarantined']} quarantined; {summary['seconds']:.1f} s")


def result_line(result: Any) -> str:
    """A line in the run log for one mailbox's result."""
    return (f"{result.source} -> {result.destination}: {result.status}: converted {result.converted}, "
            f"already there {result.skipped}, failed {result.failed}, quarantined {result.quarantined}, "
            f"{result.seconds:.1f} s")


def problem_lines(result: Any) -> list[str]:
    """The run log's lines for the errors of a mailbox that is not done."""
    lines = []
    for error in result.errors:
        where = f" (message {error['key']})" if "key" in error else ""
        message = str(error.get("message", error)).removeprefix(f"{result.source}: ")
        lines.append(f"problem: {result.source}{where}: {message}")
    return lines


def reason(result: Any) -> str:
    """Why a mailbox is not done (or what was set aside in one that is)."""
    if result.quarantined and result.status == "done":
        return f"{result.quarantined} message(s) quarantined"
    return result.reason or ""


def dry_run_table(results: list[Any]) -> str:
    """What a run would do, one row per mailbox."""
    return table(["SOURCE", "DESTINATION", "MESSAGES", "BYTES", "ALREADY DONE", "OWNER", "STATUS"],
                 [[r.source, r.destination, r.converted, r.bytes, r.skipped, r.owner or "-",
                   r.status if r.status == "done" else f"{r.status}: {r.reason}"]
                  for r in sorted(results, key=lambda r: r.source)])


def not_done_table(results: list[Any]) -> str:
    """The mailboxes not done, for a terminal."""
    return table(["STATUS", "SOURCE", "REASON"], [[r.status, r.source, reason(r)] for r in results])


def not_done_line(result: Any) -> str:
    """One mailbox not done, for stderr (cron mails it)."""
    return f"mboxtool: {result.status}: {result.source}: {reason(result)}"


def alert_line(alerts: list[Any], alert_after: int | None) -> str:
    """The mailboxes busy or failing for more than ``--alert-after`` runs."""
    return (f"mboxtool: alert: {len(alerts)} mailbox(es) busy or failing for more than {alert_after} "
            f"runs: " + ", ".join(f"{r.source} ({r.stuck_runs})" for r in alerts))


def table(header: list[str], rows: list[list[Any]]) -> str:
    """Columns padded to their widest cell; the last column is not padded."""
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)) + ("  " if widths else "") + row[-1]
                     for row in cells)
