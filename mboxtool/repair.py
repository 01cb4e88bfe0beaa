"""repair_mailbox(): write a repaired copy of a damaged mailbox, reporting every change."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .convert.mailbox import ConvertOptions, convert_mailbox
from .errors import UsageError, WriteFailed
from .formats.mbox import MboxReader
from .formats.mboxscan import MboxScanner, ScannedMessage
from .formats.mboxwriter import MboxWriter
from .formats.registry import detect_format, inner_mbox, normalize_format
from .model.digest import repaired_from_line, short_digest
from .model.message import (
    SEPARATOR_LINES,
    MailMessage,
    is_empty_message,
    is_header_line,
    nul_runs,
    only_line_ends_after,
)
from .problems import SEVERITY, Problem, has_errors
from .validate import TRUNCATED_KEYWORD, ValidationReport, glued_from_line, validate_mailbox


@dataclass
class RepairReport:
    """What repair did: each finding it fixed in the copy (``repaired``), and each it could
    not fix (``remaining``); ``ok``: no error remains."""

    source: str
    destination: str
    format: str
    messages: int = 0
    repaired: list[Problem] = field(default_factory=list)
    remaining: list[Problem] = field(default_factory=list)
    orphan: str | None = None

    def fixed(self, code: str, message: str, line: int | None = None, **extra: Any) -> None:
        """A finding mended in the copy (its ``--json`` entry: code, message, line, then ``extra``)."""
        entry = {"code": code, "message": message, "line": line,
                 **{k: v for k, v in extra.items() if v is not None}}
        self.repaired.append(Problem.entry(SEVERITY.get(code, "warning"), entry))

    @property
    def ok(self) -> bool:
        return not has_errors(self.remaining)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "destination": self.destination, "format": self.format,
                "messages": self.messages, "repaired": [p.to_dict() for p in self.repaired],
                "remaining": [p.to_dict() for p in self.remaining], "orphan": self.orphan, "ok": self.ok}


def repair_mailbox(src: Path, dst: Path, fmt: str | None = None, source_variant: str | None = None,
                   variant: str | None = None, dedupe: bool = False, fsync: bool = True,
                   lock: bool = True, lock_timeout: float = 30,
                   progress: Callable[[int], None] | None = None,
                   progress_total: Callable[[int | None, str], None] | None = None) -> RepairReport:
    """Repair ``src`` into a new ``dst`` (which must not exist).

    ``source_variant``: read an mbox ``src`` as this variant (default: detected); ``variant``:
    the variant of the copy (default: that of ``src``), as ConvertOptions names them.

    ``progress_total`` and ``progress``: for a progress bar, as convert_mailbox has them. An
    mbox is read three times (checked, copied, the copy checked): one bar covers the three.
    """
    src, dst = inner_mbox(src), Path(dst)
    fmt = normalize_format(fmt) or detect_format(src)
    if os.path.lexists(dst):
        raise UsageError(f"{dst}: already exists; repair writes a new copy, never in place")
    if fmt == "eml":
        raise UsageError(f"{src}: message files are not repaired (each is one message): "
                         "convert them into a mailbox instead")
    report = RepairReport(str(src), str(dst), fmt)
    if fmt != "mbox":
        # other formats: a fresh copy through the converter fixes names, modes and empty files
        rep = convert_mailbox(src, dst, ConvertOptions(from_format=fmt, to_format=fmt, fsync=fsync,
                                                       lock=lock, lock_timeout=lock_timeout),
                              progress=progress, progress_total=progress_total)
        if rep.write_error is not None:                          # a full disk, say
            _remove_copy(dst)
            raise WriteFailed(f"{dst}: cannot write the repaired copy: "
                              f"{rep.write_error.strerror or rep.write_error}; the partial copy was removed")
        report.messages = rep.converted
        for e in rep.errors:                       # a message that could not be copied is left out
            report.remaining.append(Problem.entry("error", {"code": "message-not-copied", "severity": "error",
                                                            "message": e.message, "key": e.key}))
        for w in rep.warnings:
            what = "written between delimiters of its own" if w.code == "text-outside-messages" \
                else w.message if w.code == "unknown-flag" else "left out of the copy"
            report.fixed(w.code, f"{w.key or ''}: {what}", None, key=w.key)
        report.remaining += [p for p in validate_mailbox(dst, fmt).problems if p.severity == "error"]
        return report
    # one bar over the three passes, sized by the first reader (a compressed mbox is read
    # decompressed: its file size would be the wrong measure)
    three_passes = (lambda size, unit: progress_total(3 * size if size else None, unit)) if progress_total else None
    lost = _repair_mbox(src, dst, source_variant, variant, dedupe, fsync, lock, lock_timeout, report, progress,
                        three_passes)
    check = validate_mailbox(dst, "mbox", variant or None, lock=False, progress=progress)
    report.remaining = [p for p in lost + check.problems if p.severity in ("error", "warning")]
    return report


def _remove_copy(dst: Path) -> None:
    """Remove a copy this run created (repair never writes into something that existed)."""
    import shutil
    if dst.is_dir() and not dst.is_symlink():
        shutil.rmtree(dst, ignore_errors=True)
    else:
        dst.unlink(missing_ok=True)


def _repair_mbox(src: Path, dst: Path, source_variant: str | None, variant: str | None, dedupe: bool,
                 fsync: bool, lock: bool, lock_timeout: float, report: RepairReport,
                 progress: Callable[[int], None] | None,
                 progress_total: Callable[[int | None, str], None] | None) -> list:
    """Write the repaired copy; return the source's problems no copy can mend (mail lost
    where compressed data breaks off)."""
    pre = validate_mailbox(src, "mbox", source_variant, lock, lock_timeout, progress=progress,
                           progress_total=progress_total)
    reader = MboxReader(src, variant=source_variant, lock=lock, lock_timeout=lock_timeout)
    with reader:
        write_variant = variant or (reader.variant if reader.variant in ("mboxrd", "mboxcl2") else "mboxrd")
        writer = MboxWriter(dst, write_variant, fsync=fsync, lock=False)
        writer.keep_from_lines = True
        writer.open()
        try:
            _copy(reader, writer, pre, dst, dedupe, report, progress)
            writer.commit()
        except BaseException as exc:
            _discard_copy(writer, dst, report)
            if isinstance(exc, OSError) and exc.filename is None:     # the copy's writes failed
                raise WriteFailed(f"{dst}: cannot write the repaired copy: {exc.strerror or exc}; "
                                  "the partial copy was removed") from exc
            raise
        writer.close()
    _note_source_fixes(pre, write_variant, report)
    return [p for p in pre.problems if p.code == "compressed-data-broken"]


def _copy(reader: MboxReader, writer: MboxWriter, pre: ValidationReport, dst: Path, dedupe: bool,
          report: RepairReport, progress: Callable[[int], None] | None) -> None:
    """Every message of the source into the copy, mended as ``pre`` (the source's problems) says."""
    phantoms = {int(p.key) for p in pre.problems if p.code == "possible-phantom-split" and p.key}
    truncated = {p.key for p in pre.problems if p.code == "truncated-message" and p.severity == "error"}
    ends = pre.line_ends
    mixed = ends.get("mixed", 0) or (ends.get("crlf", 0) and ends.get("lf", 0))
    eol = (b"\r\n" if ends.get("crlf", 0) > ends.get("lf", 0) else b"\n") if mixed else None
    seen: set[int] = set()
    held: tuple[ScannedMessage, MailMessage] | None = None
    # id(message) -> digests of the messages as read, before repair changed them
    originals: dict[int, list[int]] = {}
    for raw in reader.scanned():
        if progress:
            progress(len(raw.data))
        msg = reader.to_message(raw)
        msg.body_quotes = None                      # repair may edit the bytes
        as_read = short_digest(msg.data)
        if held is not None and raw.index in phantoms:
            # glue the phantom back: previous bytes, the empty line, the From_ line, the rest
            prev_raw, prev = held
            originals.setdefault(id(prev), []).append(as_read)
            prev.data = prev.data + b"\n" + raw.from_line + b"\n" + msg.data
            report.fixed("possible-phantom-split", f"body line {raw.from_line[:60].decode('latin-1')!r} "
                         f"merged back into message {prev_raw.index} and quoted", raw.line)
            continue
        if held is not None:
            _emit(writer, *held, report, seen, dedupe, originals.pop(id(held[1]), []))
        prepared = _prepare(raw, msg, reader, report, dst)
        held = None
        if prepared is not None:
            *before, held = _split_glued(*prepared, reader, report)
            for piece in before:
                _emit(writer, *piece, report, seen, dedupe, [as_read])
            originals[id(held[1])] = [as_read]
        if held is not None and str(raw.index) in truncated:
            _mark_truncated(held[1], raw.line, report)
        if held is not None and eol is not None:
            _normalize_eol(held[1], eol, raw.line, report)
    if held is not None:
        _emit(writer, *held, report, seen, dedupe, originals.pop(id(held[1]), []))


def _discard_copy(writer: MboxWriter, dst: Path, report: RepairReport) -> None:
    """A copy that could not be finished: removed, with the orphan file made for it."""
    writer.close()
    os.unlink(dst)
    if report.orphan:                      # made by this run, for a copy that is not there
        Path(report.orphan).unlink(missing_ok=True)
        report.orphan = None


def _note_source_fixes(pre: ValidationReport, write_variant: str, report: RepairReport) -> None:
    """The source's problems that writing the copy mended by itself (quoting, line ends...)."""
    for p in pre.problems:
        if p.code in ("unescaped-from-line",):
            report.fixed(p.code, "body 'From ' line quoted in the copy", p.line, offset=p.offset)
        elif p.code == "possible-phantom-split" and not p.key:     # a body line other readers split on
            report.fixed(p.code, "body 'From ' line quoted in the copy: no reader splits there now",
                         p.line, offset=p.offset)
        elif p.code == "from-line-without-blank":
            report.fixed(p.code, "empty line added before the From_ line", p.line)
        elif p.code == "content-length-mismatch":
            report.fixed(p.code, "wrong Content-Length removed"
                         + (" (recomputed)" if write_variant in ("mboxcl", "mboxcl2") else ""), p.line)
        elif p.code == "cr-line-endings":
            report.fixed(p.code, "CR line ends converted to LF", p.line)
        elif p.code == "missing-final-newline":
            report.fixed(p.code, "final newline added", p.line)
        elif p.code == "byte-order-mark":
            report.fixed(p.code, "byte-order mark before the first From_ line dropped", p.line)


def _normalize_eol(msg: MailMessage, eol: bytes, line: int, report: RepairReport) -> None:
    """Give a message the file's majority line ends (repair of mixed-line-endings)."""
    lf = msg.data.replace(b"\r\n", b"\n")
    fixed = lf if eol == b"\n" else lf.replace(b"\n", b"\r\n")
    if fixed != msg.data:
        msg.data = fixed
        style = "CRLF" if eol == b"\r\n" else "LF"
        report.fixed("mixed-line-endings", f"line ends made {style} like the rest of the file", line)


def _prepare(raw: ScannedMessage, msg: MailMessage, reader: MboxReader, report: RepairReport,
             dst: Path) -> tuple[ScannedMessage, MailMessage, list[tuple[int, int]]] | None:
    if raw.garbage:
        if is_header_line(msg.data.split(b"\n", 1)[0]):
            msg.sender = None
            report.fixed("garbage-before-first-from", "leading bytes kept as a message of their own "
                         "with a new From_ line", 1, offset=0)
            return raw, msg, []
        orphan = Path(str(dst) + ".orphan")
        fd = os.open(orphan, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(msg.data)
        report.orphan = str(orphan)
        report.fixed("garbage-before-first-from", f"{len(msg.data)} leading bytes that are no message "
                     f"saved to {orphan.name}", 1, offset=0)
        return None
    if raw.index == 1 and "pseudo" in (reader.skip_reason(raw, msg) or ""):
        report.fixed("pseudo-message", "folder-state pseudo-message dropped", raw.line)
        return None
    if is_empty_message(msg.data):                      # (unquoted: raw.body_offset may not fit)
        report.fixed("empty-message", "empty message dropped", raw.line)
        return None
    cuts = _cut_nul_runs(raw, msg, report)
    if cuts and not msg.data.endswith(b"\n"):
        _mark_truncated(msg, raw.line, report)
    return raw, msg, cuts


def _cut_nul_runs(raw: ScannedMessage, msg: MailMessage, report: RepairReport,
                  shift: int = 0) -> list[tuple[int, int]]:
    """Cut the NUL runs that are damage out of ``msg.data``; (where, how many) for each, in
    the new bytes. ``shift``: bytes cut out of the source before ``msg.data`` (for offsets)."""
    cuts: list[tuple[int, int]] = []
    for start, end, damage in reversed(nul_runs(msg.data)):
        # last run first: once a run at the end is cut, the one before may end the message too
        if damage or only_line_ends_after(msg.data, end):
            line = raw.line + msg.data.count(b"\n", 0, start) + 1
            report.fixed("nul-run", f"{end - start} NUL bytes removed", line,
                         offset=raw.data_offset + start + shift)
            msg.data = msg.data[:start] + msg.data[end:]
            cuts = [(c - (end - start), n) for c, n in cuts]     # later runs, cut first: shift them
            cuts.insert(0, (start, end - start))
    return cuts


def _mark_truncated(msg: MailMessage, line: int | None, report: RepairReport) -> None:
    """Keep a cut-off message whole and mark it with the keyword $Truncated (§5): the user's
    mail client shows which one it is, and validate then reports it as known (info)."""
    if TRUNCATED_KEYWORD in msg.keywords:
        return
    msg.keywords = (*msg.keywords, TRUNCATED_KEYWORD)
    report.fixed("truncated-message", f"the cut-off message was kept and marked with the keyword "
                 f"{TRUNCATED_KEYWORD}", line)


def _split_glued(raw: ScannedMessage, msg: MailMessage, cuts: list[tuple[int, int]], reader: MboxReader,
                 report: RepairReport) -> list[tuple[ScannedMessage, MailMessage]]:
    """The message, and the messages whose From_ line was glued into it: onto the end of a
    line (an append to a file without a final newline) or onto a NUL run cut out by
    _prepare (``cuts``: (where, how many bytes)). Each becomes a message of its own again,
    read as the scanner reads any."""
    data = msg.data
    at = _glued_separator(data, [c for c, _ in cuts])
    if at is None:
        return [(raw, msg)]
    shift = sum(n for c, n in cuts if c <= at)             # NUL bytes cut out before it: offsets are the source's
    line = raw.line + data.count(b"\n", 0, at)
    glued = data[at - 1] != 0x0A
    msg.data = data[:at] if not glued else data[:at] + (b"\r\n" if data[:at].endswith(b"\r") else b"\n")
    report.fixed("glued-from-line", "the From_ line " + ("glued onto the previous line" if glued else
                 "after the removed NUL bytes") + " starts a message of its own again", line + 1,
                 offset=raw.data_offset + at + shift)
    # a NUL run the From_ line was glued onto ends this message now: cut as any run at an end
    _cut_nul_runs(raw, msg, report, sum(n for c, n in cuts if c < at))
    if msg.data.endswith(b"\n\r\n"):                     # the separating empty line is not content
        msg.data = msg.data[:-2]
    elif msg.data.endswith(b"\n\n"):
        msg.data = msg.data[:-1]
    # the outer scan took off the empty line that ended the message: give it back, for the
    # inner scan to take off in its turn (else a final empty line of the content would go)
    rest = data[at:] + (b"\n" if data.endswith(b"\n") else b"")
    pieces: list[tuple[ScannedMessage, MailMessage]] = [(raw, msg)]
    later = [(c - at, n) for c, n in cuts if c > at]
    for part in MboxScanner(io.BytesIO(rest), len(rest), count_lines=True, start_line=line + 1):
        part.offset += raw.data_offset + at + shift
        part.data_offset += raw.data_offset + at + shift
        part.index = raw.index
        piece = reader.to_message(part)
        piece.data, piece.body_quotes = part.data, None    # unquoted by the outer read already: not twice
        mine = [(c - (part.data_offset - raw.data_offset - at - shift), n) for c, n in later]
        pieces += _split_glued(part, piece, mine, reader, report)
    return pieces


def _glued_separator(data: bytes, cuts: tuple[int, ...] | list[int]) -> int | None:
    """Where a dated From_ line followed by a header line starts mid-line, or right where
    a NUL run was cut out (data[cut:]), in ``data``; None when there is none."""
    found = [c for c in cuts if 0 < c < len(data) and SEPARATOR_LINES.match(data, c)]
    g = glued_from_line(data)
    if g is not None:
        found.append(g)
    return min(found) if found else None


def _emit(writer: MboxWriter, raw: ScannedMessage, msg: MailMessage, report: RepairReport,
          seen: set[int], dedupe: bool, originals: list[int] = ()) -> None:
    """Write one message of the copy. One whose bytes repair changed first names the
    message(s) it was read as (digest.REPAIRED_FROM), so that converting the copy into a
    destination that holds those already adds no duplicate."""
    if originals and short_digest(msg.data) not in originals:
        eol = b"\r\n" if msg.data.find(b"\n") > 0 and msg.data[msg.data.find(b"\n") - 1] == 0x0D else b"\n"
        msg.data = repaired_from_line(list(originals), eol) + msg.data
        msg.body_quotes = msg.body_froms = msg.headers = None
    if dedupe:
        digest = short_digest(msg.data)
        if digest in seen:
            report.fixed("duplicate-message", "duplicate of an earlier message dropped", raw.line)
            return
        seen.add(digest)
    report.messages += 1
    if writer.add(msg):
        writer.commit()
