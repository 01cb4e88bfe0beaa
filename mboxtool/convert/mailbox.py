"""convert_mailbox(): stream every message of SRC into DST, durably, idempotently."""

from __future__ import annotations

import errno
import os
import time
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, UsageError
from ..formats import registry
from ..formats.compression import MAX_RATIO
from ..formats.detect import detect_format, inner_mbox, normalize_format
from ..formats.mailboxes import make_reader, make_writer, progress_size
from ..formats.maildir import being_made
from ..formats.mbox import VARIANTS
from ..fs.durable import create_empty_file
from ..fs.ownership import owner_for, parse_owner
from ..fs.privsep import Plan, plan, run_as
from ..model import flags
from ..model.digest import exact_digest, replaces_known, short_digest
from ..model.digesttable import DigestTable
from ..model.message import OUTSIDE_NOTES, MailMessage, is_empty_message, nul_runs, outside_any_message
from ..problems import Problem
from . import checkpoint
from .sinks import BatchResult, ForkSink, InlineSink, ThreadSink, WriterStopped

BATCH_MESSAGES = 256
BATCH_BYTES = 2 << 20          # held by the reading process until its writer has taken it

Progress = Callable[[int], None]


@dataclass
class ConvertOptions:
    """Everything ``mboxtool convert`` can be asked for."""

    from_format: str | None = None
    to_format: str | None = None
    variant: str = "mboxrd"
    source_variant: str | None = None
    fsync: bool = True
    lock: bool = True
    lock_timeout: float = 30
    dry_run: bool = False
    verify: bool = False
    move: bool = False
    from_tz: str = "auto"
    include_expunged: bool = False
    dotlock: bool = True                  # False: fcntl only (spool directory not writable)
    in_tree: bool = False                 # one folder of a --recursive run: its subfolders are taken care of
    missing_ok: bool = False              # a missing SRC is an empty mailbox (a spool before its first mail)
    subscribe: bool = True                # a new Maildir++ folder goes into Dovecot's subscriptions
    thunderbird: bool = False             # mbox: also X-Mozilla-Status / X-Mozilla-Keys
    keywords: str = "dovecot"             # Maildir, MH: where keywords go (flags.KEYWORD_PLACES)
    layout: str = "maildir++"             # --recursive Maildir: maildir++ (.A.B) or fs (A/B, fslayout.py)
    notmuch_tags: Any = None              # a path (or a notmuch.TagFile a tree shares): --notmuch-tags
    max_ratio: float | None = MAX_RATIO   # a compressed mbox: bound of its copy (compression.py)
    quarantine: str | None = None         # --move: where to set aside what cannot be converted


@dataclass
class ConvertReport:
    """What a conversion did; ``to_dict()`` is the ``--json`` document of the contract."""

    source: str
    destination: str
    source_format: str
    destination_format: str
    converted: int = 0
    skipped: int = 0
    failed: int = 0
    bytes: int = 0
    seconds: float = 0.0
    verified: bool | None = None
    errors: list[Problem] = field(default_factory=list)
    source_variant: str | None = None
    variant_evidence: list[str] = field(default_factory=list)
    excluded: list[Problem] = field(default_factory=list)      # messages left out on purpose (their "reason")
    warnings: list[Problem] = field(default_factory=list)
    dry_run: bool = False
    moved: bool = False
    resumed_at: int | None = None         # byte offset where an unchanged source was resumed
    stopped: bool = False                 # a write error stopped the run: the rest of SRC was not attempted
    subscribed: list[str] = field(default_factory=list)   # Maildir++ folders added to Dovecot's list
    quarantined: int = 0                  # --move: failed parts set aside before the source was emptied
    quarantine_files: list[str] = field(default_factory=list)
    quarantine_spans: list[dict[str, Any]] = field(default_factory=list)   # source offset -> file offset
    write_error: OSError | None = field(default=None, repr=False)   # what stopped it (not in --json)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.verified is not False and not self.errors

    def error(self, message: str, key: str | None = None, **extra: Any) -> None:
        """An error: a message that failed, or a part of the run that could not be done."""
        entry: dict[str, Any] = {"message": message}
        if key is not None:
            entry["key"] = key
        entry.update({k: v for k, v in extra.items() if v is not None})
        self.errors.append(Problem.entry("error", entry))

    def warn(self, entry: dict[str, Any]) -> None:
        """A warning, given as its ``--json`` entry (``code`` first)."""
        self.warnings.append(Problem.entry("warning", entry))

    def add_warnings(self, entries: Iterable[dict[str, Any]]) -> None:
        """The warnings a reader, a writer or the notmuch tag file made, as their entries."""
        self.warnings += [Problem.entry("warning", entry) for entry in entries]

    def exclude(self, entry: dict[str, Any]) -> None:
        """A message left out on purpose, given as its ``--json`` entry (``key``, ``reason``)."""
        self.excluded.append(Problem.entry("warning", entry))

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "destination": self.destination,
            "source_format": self.source_format, "destination_format": self.destination_format,
            "source_variant": self.source_variant, "variant_evidence": self.variant_evidence,
            "converted": self.converted, "skipped": self.skipped, "failed": self.failed,
            "bytes": self.bytes, "seconds": round(self.seconds, 3), "verified": self.verified,
            "dry_run": self.dry_run, "moved": self.moved, "resumed_at": self.resumed_at,
            "stopped": self.stopped, "subscribed": self.subscribed,
            "quarantined": self.quarantined, "quarantine_files": self.quarantine_files,
            "quarantine_spans": self.quarantine_spans,
            "errors": [p.to_dict() for p in self.errors], "excluded": [p.to_dict() for p in self.excluded],
            "warnings": [p.to_dict() for p in self.warnings],
        }


def destination_format(src_format: str, dst: Path, requested: str | None) -> str:
    """``--to``, else the format of an existing DST, else maildir for mbox and mbox for the rest."""
    existing = None
    empty_dir = dst.is_dir() and not any(dst.iterdir())
    # an empty file (or one a run waiting for its lock has just created) takes the format asked for
    empty_file = bool(requested) and dst.is_file() and dst.stat().st_size == 0
    if being_made(dst):                            # an overlapping run is making it a Maildir
        existing = "maildir"
    elif dst.exists() and not empty_dir and not empty_file:
        existing = detect_format(dst)
    if requested and existing and requested != existing:
        raise InputError(f"{dst}: exists and is {existing}, not {requested}")
    return requested or existing or ("maildir" if src_format == "mbox" else "mbox")


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


def _empty(msg: MailMessage, report: ConvertReport) -> bool:
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


class _Known:
    """Digests already in the destination: from our Maildir names, or DST read back."""

    def __init__(self) -> None:
        self.digests = DigestTable()

    def read_back(self, dst: Path, fmt: str, writer: Any = None) -> None:
        """Digest every message already in DST: through the writer (and its lock) where it can,
        else through a reader. A dry run opens nothing for writing: it asks an unopened writer."""
        if not dst.exists():
            return
        if writer is None:
            found = make_writer(dst, fmt).known_digests(save=False)
        else:
            found = writer.known_digests()
            writer.clean_own_tmp()
        if found is not None:
            self.digests.update(found)
            return
        with make_reader(dst, fmt, lock=False) as reader:
            self.digests.update(short_digest(m.data) for m in reader)


def owner_plan(src: Path, dst: Path, opts: ConvertOptions, owner: str | None = None) -> Plan | None:
    """Whom converting ``src`` into ``dst`` runs as (privsep.plan), None for the caller.
    The group of a spool directory is kept for the dotlocks of --move, and of an mbox
    destination's directory."""
    if opts.missing_ok and not os.path.lexists(src):
        if owner:
            parse_owner(owner)                       # a wrong --owner is said even on a quiet day
        return None                                  # nothing to read: nothing to make either
    locked = []
    if opts.lock and opts.dotlock:
        locked = [dst] + ([src] if opts.move and os.path.isfile(src) else [])
    return plan(src, owner, dst, tuple(locked), dry_run=opts.dry_run)


def refuse_destination_inside(src: Path, dst: Path) -> None:
    """A destination inside a directory source would be read as part of it (a Maildir's
    cur/ would list the new mbox as a message; a tree would convert its own output)."""
    if not src.is_dir():
        return
    try:
        dst.resolve().relative_to(src.resolve())
    except ValueError:
        return
    raise UsageError(f"{dst}: is inside the source {src}; choose a destination outside it")


def convert_mailbox(src: Path, dst: Path, options: ConvertOptions | None = None,
                    progress: Progress | None = None, warn: Callable[[str], None] | None = None,
                    progress_total: Callable[[int | None, str], None] | None = None,
                    owner: str | None = None) -> ConvertReport:
    """Convert every message of ``src`` into ``dst``; see docs/convert.md for the rules.

    Run as root, the work is done as the mailbox's owner (``owner``, "USER[:GROUP]", else
    the owner of ``src``; ownership.acting_user), in a forked child (privsep.run_as); a
    destination that owner cannot be given raises UsageError before anything is read.
    """
    opts = options or ConvertOptions()
    if not opts.in_tree:                             # a tree's folders run as the tree's owner
        work = owner_plan(src, dst, opts, owner)
        if work is not None:
            return run_as(work, convert_mailbox, src, dst, opts, callbacks={
                "progress": progress, "warn": warn, "progress_total": progress_total})
    started = time.monotonic()
    src, dst = inner_mbox(src), Path(dst)
    if opts.missing_ok and not os.path.lexists(src):        # nothing delivered yet: nothing to do
        return ConvertReport(str(src), str(dst), normalize_format(opts.from_format) or "mbox",
                             normalize_format(opts.to_format) or "maildir", dry_run=opts.dry_run)
    src_format = normalize_format(opts.from_format) or detect_format(src)
    if opts.from_format and not src.exists():
        raise InputError(f"{src}: no such file or directory")
    dst_format = destination_format(src_format, dst, normalize_format(opts.to_format))
    if src.exists() and dst.exists() and os.path.samefile(src, dst):
        raise UsageError(f"{dst}: is the source itself")
    refuse_destination_inside(src, dst)
    if opts.variant not in VARIANTS:
        raise UsageError(f"unknown variant {opts.variant!r}")
    if opts.move and src.is_symlink():              # what it names may be someone else's mail
        raise UsageError(f"{src}: is a symbolic link; --move removes mail only from the mailbox itself")
    if opts.move and registry.get(src_format).reader.move_refusal:
        raise UsageError(registry.get(src_format).reader.move_refusal)
    report = ConvertReport(str(src), str(dst), src_format, dst_format, dry_run=opts.dry_run)
    tag_file = None
    if opts.notmuch_tags is not None and not opts.dry_run and not hasattr(opts.notmuch_tags, "add"):
        from dataclasses import replace

        from .notmuch import TagFile
        tag_file = TagFile(opts.notmuch_tags)
        opts = replace(opts, notmuch_tags=tag_file)

    def on_event(code: str, **info: Any) -> None:
        if code == "compressed-data-broken":            # mail was there and cannot be had: exit 1
            report.error(f"{src}: {info['reason']}", offset=info.get("offset"))
            return
        if code in ("garbage-before-first-from", "cr-line-endings", "truncated-message",
                    "duplicate-unique", "empty-file", "foreign-file", "vanished-file", "not-a-message"):
            report.warn({"code": code, **{k: v for k, v in info.items()
                                           if isinstance(v, (int, str, bool))}})

    reader = make_reader(src, src_format, variant=opts.source_variant, from_tz=opts.from_tz,
                         lock=opts.lock, lock_timeout=opts.lock_timeout,
                         exclusive=opts.move and registry.get(src_format).reader.removes_whole_file,
                         include_expunged=opts.include_expunged, event=on_event, warn=warn,
                         dotlock=opts.dotlock, max_ratio=opts.max_ratio)
    reader.count_lines = False           # convert reports byte offsets; line numbers are validate's
    reader.defer_unquote = True          # writers unquote through core_bytes (in the writer process)
    with reader:
        report.source_variant = reader.variant
        if reader.guess is not None:
            report.variant_evidence = list(reader.guess.evidence)
        if progress_total:
            progress_total(*progress_size(reader, src_format))
        if opts.dry_run:
            _dry_run(reader, src_format, dst, dst_format, report, progress)
        else:
            _run(reader, src_format, dst, dst_format, opts, report, progress, warn)
        for key, why in reader.unreadable_files:   # there, but cannot be had: failed
            report.failed += 1
            report.error(f"cannot be read: {why}", key)
        for msg, reason in reader.skipped:
            report.exclude({"key": msg.key, "reason": reason,
                            **({"offset": msg.offset} if msg.offset is not None else {})})
    if tag_file is not None:
        save_tag_file(tag_file, opts, report)
    if not opts.in_tree:
        _note_subfolders(src, src_format, report)
        if dst_format == "maildir" and not opts.dry_run:
            _join_maildirpp_root(dst, opts, report)
    if src_format == "maildir":
        _note_stale_tmp(src, report)
    report.seconds = time.monotonic() - started
    return report


def save_tag_file(tag_file: Any, opts: ConvertOptions, report: ConvertReport) -> None:
    """Write the --notmuch-tags file; a failure is an error (the labels would be lost)."""
    try:
        tag_file.save(opts.fsync)
    except OSError as exc:
        report.error(f"{tag_file.path}: cannot write the notmuch tags: {exc.strerror or exc}")
    report.add_warnings(tag_file.warnings())


def _join_maildirpp_root(dst: Path, opts: ConvertOptions, report: ConvertReport) -> None:
    """DST is a ``.Name`` folder of a Maildir++ root: mark it as a folder (``maildirfolder``,
    which Courier's and Dovecot's quota code look for) and subscribe it."""
    from ..formats.subscriptions import maildirpp_root, storage_name
    root = maildirpp_root(dst)
    if root is None or not dst.is_dir():
        return
    mark_maildir_folder(dst)
    if opts.subscribe:
        subscribe_folders(root, [storage_name(dst)], opts, report)


def mark_maildir_folder(folder: Path) -> None:
    """The ``maildirfolder`` file that tells a Maildir++ folder from its root (the owner's)."""
    try:
        create_empty_file(folder / "maildirfolder", owner_for(folder))
    except OSError:
        pass                                   # only a marker: the mail is in


def subscribe_folders(root: Path, names: list[str], opts: ConvertOptions, report: ConvertReport) -> None:
    """Add ``names`` to Dovecot's subscriptions of ``root`` (and Courier-IMAP's, where Courier
    serves it); a warning when that cannot be done."""
    from ..formats.subscriptions import is_courier_root, subscribe, subscribe_courier
    try:
        added = subscribe(root, names, timeout=min(opts.lock_timeout, 10), fsync=opts.fsync)
        if is_courier_root(root):
            added += [n for n in subscribe_courier(root, names, fsync=opts.fsync) if n not in added]
    except OSError as exc:
        shown = ", ".join(n.replace("\t", ".") for n in names[:3]) + (", ..." if len(names) > 3 else "")
        report.warn({"code": "folders-not-subscribed", "message": (
            f"{root / 'subscriptions'}: cannot add {shown} ({exc.strerror or exc}); IMAP clients "
            "that show only subscribed folders will not list them until subscribed "
            "(doveadm mailbox subscribe)")})
        return
    from ..formats.mutf7 import mutf7_decode
    report.subscribed += [".".join(mutf7_decode(level) for level in n.split("\t")) for n in added]


def _note_stale_tmp(src: Path, report: ConvertReport) -> None:
    """Name the deliveries a Maildir source's tmp/ holds abandoned: not converted, by the
    Maildir rules, but perhaps whole messages a crashed program never moved into new/."""
    from ..formats.maildir import stale_tmp_files
    stale = stale_tmp_files(src)
    if stale:
        shown = ", ".join(stale[:3]) + (", ..." if len(stale) > 3 else "")
        report.warn({"code": "stale-tmp-files", "message": (
            f"{len(stale)} file(s) in tmp/ older than 36 hours were not converted: deliveries "
            f"abandoned before they reached new/ ({shown}); 'mboxtool validate' lists them")})


def _note_subfolders(src: Path, src_format: str, report: ConvertReport) -> None:
    """Warn that subfolders were left out: Maildir++ ``.Name`` folders, an MH folder's
    subfolders, or Thunderbird's ``NAME.sbd/`` beside an mbox file. Only --recursive converts
    a folder tree."""
    if src_format in ("maildir", "mh") or (src_format == "eml" and src.is_dir()):
        from ..formats.maildir import maildir_folders
        from ..formats.mh import mh_subfolders
        try:                                   # an eml folder's subfolders are directories, as MH's
            names = maildir_folders(src) if src_format == "maildir" else mh_subfolders(src)
        except OSError:
            return
    else:
        sbd = src.with_name(src.name + ".sbd")
        names = [sbd.name] if sbd.is_dir() and any(sbd.iterdir()) else []
    if names:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        report.warn({"code": "subfolders-not-converted",
                     "message": f"{len(names)} subfolder(s) not converted ({shown}); "
                                "--recursive converts the whole folder tree"})


def _dry_run(reader: Any, src_format: str, dst: Path, dst_format: str,
             report: ConvertReport, progress: Progress | None) -> None:
    known = _Known()
    if dst.exists():
        known.read_back(dst, dst_format)
    known.digests |= checkpoint.delivered(_state(src_format, dst, dst_format), reader.path)
    for msg in reader:
        if progress:
            progress(len(msg.data))
        if _refuse_garbage(msg, report) or _empty(msg, report):
            continue
        _note_nul_run(msg, report)
        _note_unknown_flags(msg, report)
        if short_digest(msg.data) in known.digests or replaces_known(msg.data, known.digests):
            report.skipped += 1
        else:
            report.converted += 1
            report.bytes += len(msg.data)


def _state(src_format: str, dst: Path, dst_format: str) -> Path | None:
    """The state file of this conversion: kept for mbox sources only (checkpoint.py)."""
    return checkpoint.state_path(dst, dst_format) if src_format == "mbox" else None


def _resume(reader: Any, src_format: str, dst: Path, dst_format: str) -> Path | None:
    """Start an unchanged mbox source where the last complete run stopped (checkpoint.py)."""
    state = _state(src_format, dst, dst_format)
    if state is None:
        return None
    point = checkpoint.resume_point(state, reader.path, reader.fd, reader.size, reader.variant,
                                    reader.identity)
    if point is not None:
        reader.resume_at = (point, 1)        # convert counts no lines: the line is a placeholder
    return state


# How long a conversion reads an mbox under its shared lock. After that the rest of the
# file is copied under the lock and read from the copy, so that a delivery waits seconds,
# never the whole of a long run: Postfix defers a message after about 20 s of failed
# attempts (§7.3). Shorter runs never pay for the copy.
LOCK_HOLD_SECONDS = 5.0


def _let_go_of_lock(reader: Any, dst: Path, dst_format: str) -> None:
    """Read the rest of an mbox source from a private copy and release its lock."""
    # the copy goes where the converted mail goes: that file system needs the room anyway
    where = dst / "tmp" if dst_format == "maildir" else dst if dst_format == "mh" else dst.parent
    reader.snapshot(where, keep_tail=checkpoint.TAIL)


def _run(reader: Any, src_format: str, dst: Path, dst_format: str, opts: ConvertOptions,
         report: ConvertReport, progress: Progress | None, warn: Any) -> None:
    known = _Known()
    state = _resume(reader, src_format, dst, dst_format) if not opts.move else None
    if state is not None and reader.resume_at[0] > 0:
        report.resumed_at = reader.resume_at[0]
        report.skipped += checkpoint.messages_before(state, reader.path)   # all in DST already
    writer = make_writer(dst, dst_format, variant=opts.variant, fsync=opts.fsync, lock=opts.lock,
                         lock_timeout=opts.lock_timeout, warn=warn, dotlock=opts.dotlock)
    if opts.thunderbird and dst_format == "mbox":
        writer.mozilla = True
    writer.keyword_places = opts.keywords          # --keywords (Maildir, MH place them)
    writer.open()
    expected: dict[int, Any] = {}                  # --verify: digest -> _packed(flags, date), a list for copies
    taken = DigestTable()                          # digests taken from SRC: 8 bytes a message
    moved_keys: list[str] = []
    # --move out of one file: where each message starts, and which failed (key, offset), so
    # that the failed bytes can be set aside before the file is emptied (quarantine.py)
    spans_needed = opts.move and reader.removes_whole_file
    starts = array("Q")
    failed_at: list[tuple[str, int, int | None]] = []

    def note_failed(msg: MailMessage) -> None:
        if spans_needed and msg.offset is not None:
            # an MMDF message is its bytes between delimiters; an mbox one runs to the next From_ line
            failed_at.append((msg.key, msg.offset, len(msg.data) if src_format == "mmdf" else None))
    aborted = False
    try:
        known.read_back(dst, dst_format, writer)
        # what earlier runs took from this source: a message deleted from DST since then is
        # not brought back when a rewritten source is read again from the start
        known.digests |= checkpoint.delivered(state, reader.path)
        if dst_format == "maildir" and hasattr(os, "fork"):
            sink = ForkSink
        elif writer.writes_in_thread:
            sink = ThreadSink
        else:
            sink = InlineSink
        adds_newline = writer.adds_final_newline
        blind = _quoting_blind(dst_format, opts.variant)
        with sink(writer, known.digests) as pipe:

            failures: list[BatchResult] = []

            def account(result: BatchResult) -> None:
                nonlocal aborted
                if not _account(result, report, expected, moved_keys, opts, taken, adds_newline):
                    failures.append(result)
                    aborted = True
                for msg, _ in result.refused:
                    note_failed(msg)

            batch: list[MailMessage] = []
            size = 0
            read_to_end = False
            let_go_at = time.monotonic() + LOCK_HOLD_SECONDS if reader.can_snapshot else None
            for msg in reader:
                if let_go_at is not None and time.monotonic() >= let_go_at:
                    _let_go_of_lock(reader, dst, dst_format)
                    let_go_at = None
                if progress:
                    progress(len(msg.data))
                if spans_needed and msg.offset is not None:
                    starts.append(msg.offset)
                if _refuse_garbage(msg, report):
                    note_failed(msg)
                    continue
                if _empty(msg, report):
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
                    if aborted:
                        break
            else:
                read_to_end = True
            if batch and not aborted:
                for result in pipe.submit(batch):
                    account(result)
            for result in pipe.finish():
                account(result)
        if failures:
            _report_write_failure(failures, report, read_to_end)
        report.add_warnings(writer.keyword_warnings())   # keywords beyond Dovecot's 26 letters
        report.add_warnings(writer.warnings)
        if opts.move and not aborted:
            if report.failed and spans_needed:
                starts.extend(m.offset for m, _ in reader.skipped if m.offset is not None)
                _quarantine(reader, failed_at, starts, dst, dst_format, opts, report)
            _remove_moved(reader, moved_keys, report)
        if state is not None and not aborted and not report.failed:
            try:
                checkpoint.save(state, reader.path, reader.fd, reader.size, reader.variant, opts.fsync,
                                reader.identity, taken, report.converted + report.skipped)
            except OSError as exc:                 # the mail is in; only the shortcut for next time is not
                report.warn({"code": "state-not-saved", "message":
                             f"{state}: cannot record how far this run read ({exc.strerror or exc}); "
                             "the next run reads the whole source again, converting nothing twice"})
    finally:
        writer.close()
    if opts.verify and not aborted:
        _verify(dst, dst_format, expected, report, _quoting_blind(dst_format, opts.variant))


def _quoting_blind(fmt: str, variant: str) -> bool:
    """mboxo and mboxcl write a body's ``From `` line as ``>From ``, which reads back the same
    as a ``>From `` line of the message: --verify cannot hold such a copy to that difference."""
    return fmt == "mbox" and variant in ("mboxo", "mboxcl")


def _note_final_newline(msg: MailMessage, report: ConvertReport) -> None:
    """The destination ends every entry with a line end (an mboxo or mboxrd entry, MMDF,
    Babyl): a message without a final newline is stored one byte longer, and said so."""
    report.warn({"code": "final-newline-added", "key": msg.key, "message":
                 f"a message without a final newline; {report.destination_format} adds one "
                 "(an mbox written with --variant mboxcl2 keeps such a message exactly)"})


def _account(result: BatchResult, report: ConvertReport, expected: dict, moved_keys: list[str],
             opts: ConvertOptions, taken: DigestTable, adds_newline: bool = False) -> bool:
    """Count a written batch, and note the digests ``taken`` from the source (for the state
    file); False when the run must stop (disk full, I/O error). ``adds_newline``: the
    destination gives a message without a final newline one (_note_final_newline)."""
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
            value = _packed(msg.flags, msg.date, msg.exact or 0)
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
    if exc.errno == errno.EINVAL and report.destination_format == "maildir":
        # Maildir names hold a ':' before their flags, which FAT and exFAT refuse
        why += " (a file system that refuses ':' in file names, such as FAT or exFAT? Maildir needs it)"
    report.error(f"{report.destination}: write failed: {why}; {lost} messages on their "
                 f"way were not counted{rest} (a re-run continues where this one stopped)",
                 key=first.key, offset=first.offset, errno=errno.errorcode.get(exc.errno or 0))


def _key_order(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (0, key)


def _quarantine(reader: Any, failed_at: list[tuple[str, int, int | None]], starts: array, dst: Path,
                dst_format: str, opts: ConvertOptions, report: ConvertReport) -> None:
    """--move: set aside, durably, the bytes of every message that failed, so that the source
    can be emptied as usual (quarantine.py). When that cannot be done the source is kept."""
    from .quarantine import quarantine_dir, set_aside, spans_of
    if len(failed_at) != report.failed:            # a failure that is no span of the file
        return
    where = Path(opts.quarantine) if opts.quarantine else quarantine_dir(dst, dst_format)
    spans = spans_of(failed_at, list(starts), reader.size)
    try:
        path, placed = set_aside(reader.fd, spans, Path(report.source), where)
    except OSError as exc:
        report.error(f"{where}: cannot set aside the {len(spans)} part(s) that could not be converted "
                     f"({exc.strerror or exc}); the source was kept unchanged")
        return
    report.quarantined = len(placed)
    report.quarantine_files.append(str(path))
    report.quarantine_spans += placed


def _remove_moved(reader: Any, keys: list[str], report: ConvertReport) -> None:
    """--move: remove from SRC what is now durable in DST (§7.5)."""
    if reader.removes_whole_file:
        if report.failed > report.quarantined:
            report.warn({"code": "move-incomplete",
                         "message": f"{report.source}: kept unchanged because "
                                    f"{report.failed} messages could not be converted"})
            return
        reader.remove_all()
    else:
        size = count = 0
        for key in keys:
            try:
                size += reader.remove(key)          # through the directory fd it was read by
                count += 1
            except FileNotFoundError:
                pass
        report.add_warnings(reader.after_removing(keys, size, count))
    report.moved = True


_DATE_BITS = 42


def _packed(flags_: str, date: int | None, exact: int = 0) -> int:
    """Flags, date and exact digest of a converted message in one int: --verify keeps one per message."""
    bits = 0
    for i, letter in enumerate(flags.LETTERS):
        if letter in flags_:
            bits |= 1 << i
    if date is None or not 0 <= date < 1 << _DATE_BITS:
        return (exact << _DATE_BITS) << 7 | bits
    return (exact << _DATE_BITS | date) << 7 | 1 << 6 | bits


def _unpacked(value: int) -> tuple[str, int | None, int]:
    letters = "".join(letter for i, letter in enumerate(flags.LETTERS) if value >> i & 1)
    date = value >> 7 & ((1 << _DATE_BITS) - 1) if value >> 6 & 1 else None
    return letters, date, value >> (7 + _DATE_BITS)


def _verify(dst: Path, fmt: str, expected: dict[int, Any], report: ConvertReport,
            quoting_blind: bool = False) -> None:
    """Re-read DST and check every converted message: exact bytes (but for the metadata
    headers), flags and date.

    Each message is checked as it is read and then forgotten, so the only state
    is one int per converted message. New-ness is not compared: a seen-but-new
    mbox message rightly lands in cur/ (§2.4).
    """
    mismatches = 0
    checks_state = fmt in ("maildir", "mbox", "mmdf")

    def agrees(msg: Any, value: int, exact: int) -> bool:
        flags_, date, expected_exact = _unpacked(value)
        return exact == expected_exact and (
            not checks_state or (msg.flags == flags_ and (date is None or msg.date == date)))

    # mboxtool writes From_ dates in UTC (§1.6): what it wrote is read back as such
    with make_reader(dst, fmt, lock=True, from_tz="utc") as reader:
        for msg in reader:
            digest = short_digest(msg.data)
            held = expected.get(digest)
            if held is None:                       # there before this run, or checked already
                continue
            exact = exact_digest(msg.data, msg.quoted, quoting_blind)
            if isinstance(held, list):             # copies: this one is whichever agrees
                value = next((v for v in held if agrees(msg, v, exact)), held[0])
                held.remove(value)
                if len(held) == 1:
                    expected[digest] = held[0]
            else:
                value = expected.pop(digest)
            if not agrees(msg, value, exact):
                flags_, date, expected_exact = _unpacked(value)
                mismatches += 1
                what = "" if exact == expected_exact else "bytes that differ from the source's, "
                report.error(f"verify: message {digest:016x} has {what}flags {msg.flags!r} date "
                             f"{msg.date} in {dst}, expected {flags_!r} {date}")
    for digest, held in expected.items():          # converted, but not found in DST
        mismatches += len(held) if isinstance(held, list) else 1
        report.error(f"verify: a converted message ({digest:016x}) is missing from {dst}")
    report.verified = mismatches == 0
