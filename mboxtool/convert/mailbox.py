"""convert_mailbox(): stream every message of SRC into DST, durably, idempotently.

This module checks the request and opens the source; the run itself is run.py, what
DST holds and --verify known.py, --move move.py, what surrounds the mailbox folders.py.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import InputError, UsageError
from ..formats import registry
from ..fs.ownership import parse_owner
from ..fs.privsep import Plan, plan, run_as
from . import run
from .folders import join_maildirpp_root, note_stale_files, note_subfolders, save_tag_file
from .options import ConvertOptions
from .report import ConvertReport

__all__ = ["ConvertOptions", "ConvertReport", "convert_mailbox", "destination_format", "owner_plan",
           "refuse_destination_inside"]

Progress = Callable[[int], None]
# reader events that a conversion reports as warnings (validate reports them all)
WARNED_EVENTS = frozenset({"garbage-before-first-from", "cr-line-endings", "truncated-message",
                           "duplicate-unique", "empty-file", "foreign-file", "vanished-file", "not-a-message"})


def destination_format(src_format: str, dst: Path, requested: str | None) -> str:
    """``--to``, else the format of an existing DST, else the source format's default peer
    (maildir for mbox, mbox for the rest)."""
    existing = registry.existing_format(dst, requested)
    if requested and existing and requested != existing:
        raise InputError(f"{dst}: exists and is {existing}, not {requested}")
    return requested or existing or registry.get(src_format).default_peer


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
    src, dst = registry.inner_mbox(src), Path(dst)
    if opts.missing_ok and not os.path.lexists(src):        # nothing delivered yet: nothing to do
        src_format = registry.normalize_format(opts.from_format) or registry.SPOOL_FORMAT
        return ConvertReport(str(src), str(dst), src_format, registry.normalize_format(opts.to_format)
                             or registry.get(registry.SPOOL_FORMAT).default_peer, dry_run=opts.dry_run)
    src_format, dst_format = _formats(src, dst, opts)
    report = ConvertReport(str(src), str(dst), src_format, dst_format, dry_run=opts.dry_run)
    tag_file = None
    if opts.notmuch_tags is not None and not opts.dry_run and not hasattr(opts.notmuch_tags, "add"):
        from .notmuch import TagFile
        tag_file = TagFile(opts.notmuch_tags)
        opts = replace(opts, notmuch_tags=tag_file)
    _read(src, src_format, dst, dst_format, opts, report, progress, warn, progress_total)
    if tag_file is not None:
        save_tag_file(tag_file, opts, report)
    if not opts.in_tree:
        note_subfolders(src, src_format, report)
        if registry.get(dst_format).tree_layout == "maildir++" and not opts.dry_run:
            join_maildirpp_root(dst, opts, report)
    note_stale_files(src, src_format, report)
    report.seconds = time.monotonic() - started
    return report


def _formats(src: Path, dst: Path, opts: ConvertOptions) -> tuple[str, str]:
    """The source and destination formats, once the request is known to make sense."""
    src_format = registry.normalize_format(opts.from_format) or registry.detect_format(src)
    if opts.from_format and not src.exists():
        raise InputError(f"{src}: no such file or directory")
    dst_format = destination_format(src_format, dst, registry.normalize_format(opts.to_format))
    if src.exists() and dst.exists() and os.path.samefile(src, dst):
        raise UsageError(f"{dst}: is the source itself")
    refuse_destination_inside(src, dst)
    if opts.variant not in registry.VARIANTS:
        raise UsageError(f"unknown variant {opts.variant!r}")
    if opts.move and src.is_symlink():              # what it names may be someone else's mail
        raise UsageError(f"{src}: is a symbolic link; --move removes mail only from the mailbox itself")
    if opts.move and registry.get(src_format).reader.move_refusal:
        raise UsageError(registry.get(src_format).reader.move_refusal)
    return src_format, dst_format


def _read(src: Path, src_format: str, dst: Path, dst_format: str, opts: ConvertOptions,
          report: ConvertReport, progress: Progress | None, warn: Any,
          progress_total: Callable[[int | None, str], None] | None) -> None:
    """Open the source and run (or dry-run) the conversion; what the reader could not read
    or left out goes into the report."""
    def on_event(code: str, **info: Any) -> None:
        if code == "compressed-data-broken":            # mail was there and cannot be had: exit 1
            report.error(f"{src}: {info['reason']}", offset=info.get("offset"))
            return
        if code in WARNED_EVENTS:
            report.warn({"code": code, **{k: v for k, v in info.items()
                                           if isinstance(v, (int, str, bool))}})

    reader = registry.make_reader(
        src, src_format, variant=opts.source_variant, from_tz=opts.from_tz, lock=opts.lock,
        lock_timeout=opts.lock_timeout, exclusive=opts.move and registry.get(src_format).reader.removes_whole_file,
        include_expunged=opts.include_expunged, event=on_event, warn=warn, dotlock=opts.dotlock,
        max_ratio=opts.max_ratio)
    reader.count_lines = False           # convert reports byte offsets; line numbers are validate's
    reader.defer_unquote = True          # writers unquote through core_bytes (in the writer process)
    with reader:
        report.source_variant = reader.variant
        if reader.guess is not None:
            report.variant_evidence = list(reader.guess.evidence)
        if progress_total:
            progress_total(*reader.progress_size())
        if opts.dry_run:
            run.dry_run(reader, src_format, dst, dst_format, report, progress)
        else:
            run.write_all(reader, src_format, dst, dst_format, opts, report, progress, warn)
        for key, why in reader.unreadable_files:   # there, but cannot be had: failed
            report.failed += 1
            report.error(f"cannot be read: {why}", key)
        for msg, reason in reader.skipped:
            report.exclude({"key": msg.key, "reason": reason,
                            **({"offset": msg.offset} if msg.offset is not None else {})})
