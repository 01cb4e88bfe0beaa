"""The run loop of one conversion: read SRC, hand its messages to a sink in batches, count
what comes back, then ``--move``, the resume state and ``--verify`` (also the dry run, which
only counts)."""

from __future__ import annotations

import errno
import os
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..formats import registry
from ..model.digest import exact_digest, replaces_known, short_digest
from ..model.digesttable import DigestTable
from ..model.message import OUTSIDE_NOTES, MailMessage, is_empty_message, nul_runs, outside_any_message
from . import checkpoint, move
from .known import Known, packed, quoting_blind, verify_destination
from .options import ConvertOptions
from .report import ConvertReport
from .sinks import BatchResult, ForkSink, InlineSink, ThreadSink, WriterStopped

BATCH_MESSAGES = 256
BATCH_BYTES = 2 << 20          # held by the reading process until its writer has taken it

# How long a conversion reads an mbox under its shared lock. After that the rest of the
# file is copied under the lock and read from the copy, so that a delivery waits seconds,
# never the whole of a long run: Postfix defers a message after about 20 s of failed
# attempts (§7.3). Shorter runs never pay for the copy.
LOCK_HOLD_SECONDS = 5.0

Progress = Callable[[int], None]


def _note_nul_run(msg: MailMessage, report: ConvertReport) -> None:
    """Warn of a NUL run in an mbox message (§5 nul-run): a crashed or racing append left it,
    and a From_ line right after it is no separator, so the next message is merged into this
    one. The bytes are converted as they are; 'mboxtool repair' cuts the run out first."""
    if msg.offset is None:
        return
    run = next(((start, end) for start, end, damage in nul_runs(msg.data) if damage), None)
    if run is None:
        return
    at = msg.offset + (len(msg.from_line) + 1 if msg.from_line is not None else 0) + run[0]
    report.warn({"code": "nul-run", "key": msg.key, "offset": at, "message":
                 f"message {msg.key} holds a run of {run[1] - run[0]} NUL bytes (damage from a "
                 "crashed write; a message after it may be merged into this one; "
                 "'mboxtool repair' cuts the run out)"})


def _note_unknown_flags(msg: MailMessage, report: ConvertReport) -> None:
    """Say which characters after a Maildir name's ``:2,`` were no flags (§6 unknown-flag):
    they are kept, as keywords ``$MaildirFlag_<c>`` that a Maildir destination writes back
    into the name, never dropped unsaid."""
    note = next((n for n in msg.notes if n.startswith("unknown-flag:")), None)
    if note is None:
        return
    chars = note.split(":", 1)[1]
    report.warn({"code": "unknown-flag", "key": msg.key, "message":
                 f"{chars!r} after ':2,' are no Maildir flags; kept as keywords "
                 + ", ".join(f"$MaildirFlag_{c}" for c in chars)})


def _exclude_if_empty(msg: MailMessage, report: ConvertReport) -> bool:
    """Leave out an empty message (message.is_empty_message), reported as excluded; True when
    left out. An empty Maildir file is no message to any reader (mboxtool's included), so
    writing one would only make --verify fail."""
    body = len(msg.headers.raw) if msg.headers is not None else None    # parsed by the reader
    if not is_empty_message(msg.data, body):
        return False
    report.exclude({"key": msg.key, "reason": "empty message (no content besides mailbox state)",
                    **({"offset": msg.offset} if msg.offset is not None else {})})
    return True


def _refuse_garbage(msg: MailMessage, report: ConvertReport) -> bool:
    """Count bytes outside any message (before an mbox's first From_ line, between MMDF
    delimiter pairs) that are no message as failed; True when refused. Bytes that start like
    a message (a header line) are converted: a lost separator left them there."""
    where = next((n for n in OUTSIDE_NOTES if n in msg.notes), None)
    if where is None:
        return False
    if not outside_any_message(msg):
        if where == "outside-delimiters":
            report.warn({"code": "text-outside-messages", "key": msg.key, "offset": msg.offset,
                         "message": f"message {msg.key} lay outside the delimiters of any message "
                                    "(a lost or broken delimiter line); converted, as it starts "
                                    "like a message"})
        return False
    report.failed += 1
    if where == "outside-delimiters":
        report.error("bytes between messages, outside their delimiters, are not a message",
                     msg.key, offset=msg.offset, length=len(msg.data))
    else:
        report.error(f"{len(msg.data)} bytes before the first From_ line are not a message and were not "
                     "converted; 'mboxtool repair' keeps them", msg.key, offset=msg.offset, length=len(msg.data))
    return True


def dry_run(reader: Any, src_format: str, dst: Path, dst_format: str,
            report: ConvertReport, progress: Progress | None) -> None:
    """Count what a run would convert and skip, writing nothing."""
    known = Known()
    if dst.exists():
        known.read_back(dst, dst_format)
    known.digests |= checkpoint.delivered(_state(src_format, dst, dst_format), reader.path)
    for msg in reader:
        if progress:
            progress(len(msg.data))
        if _refuse_garbage(msg, report) or _exclude_if_empty(msg, report):
            continue
        _note_nul_run(msg, report)
        _note_unknown_flags(msg, report)
        if short_digest(msg.data) in known.digests or replaces_known(msg.data, known.digests):
            report.skipped += 1
        else:
            report.converted += 1
            report.bytes += len(msg.data)


def _state(src_format: str, dst: Path, dst_format: str) -> Path | None:
    """The state file of this conversion: kept for resumable sources only (checkpoint.py)."""
    return checkpoint.state_path(dst, dst_format) if registry.get(src_format).resumable else None


def _resume(reader: Any, src_format: str, dst: Path, dst_format: str) -> Path | None:
    """Start an unchanged source where the last complete run stopped (checkpoint.py)."""
    state = _state(src_format, dst, dst_format)
    if state is None:
        return None
    point = checkpoint.resume_point(state, reader.path, reader.fd, reader.size, reader.variant,
                                    reader.identity)
    if point is not None:
        reader.resume_at = (point, 1)        # convert counts no lines: the line is a placeholder
    return state


@dataclass
class _Tally:
    """What a run keeps besides the report: for --verify, the state file and --move."""

    exact_spans: bool                      # a source message's bytes are exactly its data
    spans_needed: bool                     # --move out of one file: where each message starts, and
                                           # which failed, so the failed bytes can be set aside first
    expected: dict[int, Any] = field(default_factory=dict)   # --verify: digest -> packed(...), a list for copies
    taken: DigestTable = field(default_factory=DigestTable)  # digests taken from SRC: 8 bytes a message
    moved_keys: list[str] = field(default_factory=list)
    starts: array = field(default_factory=lambda: array("Q"))
    failed_at: list[tuple[str, int, int | None]] = field(default_factory=list)
    failures: list[BatchResult] = field(default_factory=list)
    aborted: bool = False
    read_to_end: bool = False

    def note_failed(self, msg: MailMessage) -> None:
        if self.spans_needed and msg.offset is not None:
            # an MMDF message is its bytes between delimiters; an mbox one runs to the next From_ line
            self.failed_at.append((msg.key, msg.offset, len(msg.data) if self.exact_spans else None))


def write_all(reader: Any, src_format: str, dst: Path, dst_format: str, opts: ConvertOptions,
              report: ConvertReport, progress: Progress | None, warn: Any) -> None:
    """Convert everything ``reader`` yields into DST: resume, write, --move, state, --verify."""
    known = Known()
    state = _resume(reader, src_format, dst, dst_format) if not opts.move else None
    if state is not None and reader.resume_at[0] > 0:
        report.resumed_at = reader.resume_at[0]
        report.skipped += checkpoint.messages_before(state, reader.path)   # all in DST already
    writer = registry.make_writer(dst, dst_format, variant=opts.variant, fsync=opts.fsync, lock=opts.lock,
                                  lock_timeout=opts.lock_timeout, warn=warn, dotlock=opts.dotlock)
    if opts.thunderbird and registry.get(dst_format).thunderbird_headers:
        writer.mozilla = True
    writer.keyword_places = opts.keywords          # --keywords (Maildir, MH place them)
    writer.open()
    tally = _Tally(registry.get(src_format).exact_spans, opts.move and reader.removes_whole_file)
    try:
        known.read_back(dst, dst_format, writer)
        # what earlier runs took from this source: a message deleted from DST since then is
        # not brought back when a rewritten source is read again from the start
        known.digests |= checkpoint.delivered(state, reader.path)
        _write(reader, writer, known.digests, dst, dst_format, opts, report, progress, tally)
        if tally.failures:
            _report_write_failure(tally.failures, report, tally.read_to_end)
        report.add_warnings(writer.keyword_warnings())   # keywords beyond Dovecot's 26 letters
        report.add_warnings(writer.warnings)
        if opts.move and not tally.aborted:
            if report.failed and tally.spans_needed:
                tally.starts.extend(m.offset for m, _ in reader.skipped if m.offset is not None)
                move.quarantine_failed(reader, tally.failed_at, tally.starts, dst, dst_format,
                                       opts.quarantine, report)
            move.remove_moved(reader, tally.moved_keys, report)
        if state is not None and not tally.aborted and not report.failed:
            _save_state(state, reader, opts, report, tally.taken)
    finally:
        writer.close()
    if opts.verify and not tally.aborted:
        verify_destination(dst, dst_format, tally.expected, report, quoting_blind(dst_format, opts.variant))


def _save_state(state: Path, reader: Any, opts: ConvertOptions, report: ConvertReport,
                taken: DigestTable) -> None:
    """Record how far this run read, so that the next starts there (checkpoint.py)."""
    try:
        checkpoint.save(state, reader.path, reader.fd, reader.size, reader.variant, opts.fsync,
                        reader.identity, taken, report.converted + report.skipped)
    except OSError as exc:                 # the mail is in; only the shortcut for next time is not
        report.warn({"code": "state-not-saved", "message":
                     f"{state}: cannot record how far this run read ({exc.strerror or exc}); "
                     "the next run reads the whole source again, converting nothing twice"})


def _write(reader: Any, writer: Any, digests: DigestTable, dst: Path, dst_format: str, opts: ConvertOptions,
           report: ConvertReport, progress: Progress | None, tally: _Tally) -> None:
    """Read every message and hand it to the sink in batches, counting what comes back.

    The per-message loop of a conversion, kept in one piece (its locals are the hot path)."""
    if registry.get(dst_format).parallel_writer and hasattr(os, "fork"):
        sink = ForkSink
    elif writer.writes_in_thread:
        sink = ThreadSink
    else:
        sink = InlineSink
    adds_newline = writer.adds_final_newline
    blind = quoting_blind(dst_format, opts.variant)
    spans_needed, starts = tally.spans_needed, tally.starts
    with sink(writer, digests) as pipe:

        def account(result: BatchResult) -> None:
            if not _account(result, report, tally, opts, adds_newline):
                tally.failures.append(result)
                tally.aborted = True
            for msg, _ in result.refused:
                tally.note_failed(msg)

        batch: list[MailMessage] = []
        size = 0
        let_go_at = time.monotonic() + LOCK_HOLD_SECONDS if reader.can_snapshot else None
        for msg in reader:
            if let_go_at is not None and time.monotonic() >= let_go_at:
                # read the rest from a private copy and release the lock
                reader.snapshot(registry.get(dst_format).staging(dst), keep_tail=checkpoint.TAIL)
                let_go_at = None
            if progress:
                progress(len(msg.data))
            if spans_needed and msg.offset is not None:
                starts.append(msg.offset)
            if _refuse_garbage(msg, report):
                tally.note_failed(msg)
                continue
            if _exclude_if_empty(msg, report):
                continue
            _note_nul_run(msg, report)
            _note_unknown_flags(msg, report)
            if opts.verify:                    # before a writer process takes the bytes
                held = msg.data + b"\n" if adds_newline and msg.data[-1:] != b"\n" else msg.data
                msg.exact = exact_digest(held, msg.quoted, blind)
            if opts.notmuch_tags is not None:
                opts.notmuch_tags.add(msg)
            # the sink digests and skips what DST holds; identical copies inside one
            # source are all converted (users keep copies on purpose)
            batch.append(msg)
            size += len(msg.data)
            if len(batch) >= BATCH_MESSAGES or size >= BATCH_BYTES:
                for result in pipe.submit(batch):
                    account(result)
                batch, size = [], 0
                if tally.aborted:
                    break
        else:
            tally.read_to_end = True
        if batch and not tally.aborted:
            for result in pipe.submit(batch):
                account(result)
        for result in pipe.finish():
            account(result)


def _note_final_newline(msg: MailMessage, report: ConvertReport) -> None:
    """The destination ends every entry with a line end (an mboxo or mboxrd entry, MMDF,
    Babyl): a message without a final newline is stored one byte longer, and said so."""
    report.warn({"code": "final-newline-added", "key": msg.key, "message":
                 f"a message without a final newline; {report.destination_format} adds one "
                 "(an mbox written with --variant mboxcl2 keeps such a message exactly)"})


def _account(result: BatchResult, report: ConvertReport, tally: _Tally, opts: ConvertOptions,
             adds_newline: bool = False) -> bool:
    """Count a written batch, and note the digests taken from the source (for the state
    file); False when the run must stop (disk full, I/O error). ``adds_newline``: the
    destination gives a message without a final newline one (_note_final_newline)."""
    taken, moved_keys, expected = tally.taken, tally.moved_keys, tally.expected
    for msg, reason in result.refused:
        report.failed += 1
        report.error(f"cannot be stored in {report.destination_format}: {reason}", msg.key,
                     offset=msg.offset)
    for msg, digest in result.skipped:
        report.skipped += 1
        taken.add(digest)
        if opts.move:                              # only --move needs them: 20,000 keys otherwise
            moved_keys.append(msg.key)
    if result.error is not None:
        report.failed += len(result.batch) - len(result.refused) - len(result.skipped)
        return False                               # reported once, by _report_write_failure
    for msg, digest in result.written:
        report.converted += 1
        taken.add(digest)
        report.bytes += msg.size if msg.size is not None else len(msg.data)
        if opts.move:
            moved_keys.append(msg.key)
        if adds_newline and msg.data[-1:] != b"\n":
            _note_final_newline(msg, report)
        if opts.verify:
            value = packed(msg.flags, msg.date, msg.exact or 0)
            held = expected.get(digest)
            if held is None:
                expected[digest] = value
            else:                                  # copies of one message (kept on purpose): all checked
                expected[digest] = [*held, value] if isinstance(held, list) else [held, value]
    return True


def _report_write_failure(failures: list[BatchResult], report: ConvertReport, read_to_end: bool) -> None:
    """One error for what stopped the run. Each writer process fails on its own (two of them
    hit a full disk each), and batches already on their way to a stopped writer fail after
    it; the cause is the first error that is not such an echo, the place the earliest batch."""
    causes = [r.error for r in failures if not isinstance(r.error, WriterStopped)] or [failures[0].error]
    exc = causes[0]
    report.write_error = exc
    first = min((r.batch[0] for r in failures),
                key=lambda m: (m.offset is None, m.offset or 0, _key_order(m.key)))
    lost = sum(len(r.batch) - len(r.refused) - len(r.skipped) for r in failures)
    report.stopped = not read_to_end
    rest = "" if read_to_end else " and the rest of the source was not attempted"
    why = exc.strerror or str(exc)
    if exc.errno == errno.EINVAL:
        why += registry.get(report.destination_format).einval_hint
    report.error(f"{report.destination}: write failed: {why}; {lost} messages on their "
                 f"way were not counted{rest} (a re-run continues where this one stopped)",
                 key=first.key, offset=first.offset, errno=errno.errorcode.get(exc.errno or 0))


def _key_order(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (0, key)
