"""Folder trees: a directory of mbox files (NAME.sbd/ or NAME/ subfolders) <-> Maildir++ (.NAME.SUB).

Which mailboxes a tree holds is formats/foldertree.py; how the destination tree is laid out
is its format's row (``tree_layout``, ``sbd_parent_mailbox``); each folder is converted by
convert_mailbox.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import InputError, MboxtoolError, UsageError
from ..formats import fslayout, registry
from ..formats.foldertree import mailboxes
from ..formats.mutf7 import mutf7_encode
from ..formats.subscriptions import storage_name
from ..fs.durable import create_empty_file
from ..fs.ownership import owner_for
from ..fs.privsep import run_as
from ..fs.staging import host_name
from .folders import mark_maildir_folder, save_tag_file, subscribe_folders
from .mailbox import convert_mailbox, owner_plan, refuse_destination_inside
from .options import ConvertOptions
from .report import ConvertReport

__all__ = ["convert_tree"]

NAME_MAX = 255                                  # bytes of one file name (Linux, the BSDs, macOS)


def _name_problem(parts: list[str], maildirpp: bool) -> str | None:
    """Why the folder ``parts`` cannot be made under the destination, or None. Each name
    (decoded from a Maildir++ name, where ``&AC8-`` is ``/``) must be exactly one path
    component, and short enough for the files mboxtool puts beside it."""
    for part in parts:
        if "/" in part or "\x00" in part or part in ("", ".", ".."):
            return f"the folder name {part!r} is not a single file name"
    if maildirpp:
        names = ["." + ".".join(mutf7_encode(p.replace(".", "_")) for p in parts)] if parts else []
        room = 0
    else:
        names = [p + ".sbd" for p in parts[:-1]] + parts[-1:]
        # the leaf mbox gets PATH.lock's temporary PATH.lock.HOST.PID.RANDOM and the append
        # journal's temporary .PATH.mboxtool-append.RANDOM.tmp beside it
        room = max(len(".lock.") + len(host_name().encode()) + len(".4194304.") + 8,
                   len("..mboxtool-append.") + 16 + len(".tmp"))
    for i, name in enumerate(names):
        try:
            size = len(os.fsencode(name)) + (room if i == len(names) - 1 else 0)
        except UnicodeError:
            return f"the folder name {name!r} cannot be written as a file name"
        if size > NAME_MAX:
            return f"the folder name {name[:40]!r}... is too long for a file name here ({NAME_MAX} bytes)"
    return None


def _target(parts: list[str], dst: Path, maildirpp: bool) -> Path:
    """Where folder ``parts`` goes: a Maildir++ ``.A.B`` folder, else ``A.sbd/B`` (INBOX at the top)."""
    if maildirpp:
        if not parts or len(parts) == 1 and parts[0].upper() == "INBOX":   # IMAP: any case (Thunderbird's "Inbox")
            return dst
        # Maildir++ flattens the hierarchy with '.', so a '.' inside a name cannot stay
        return dst / ("." + ".".join(mutf7_encode(p.replace(".", "_")) for p in parts))
    if not parts:
        return dst / "INBOX"
    *parents, leaf = parts
    return dst.joinpath(*[p + ".sbd" for p in parents], leaf)


def convert_tree(src: Path, dst: Path, options: ConvertOptions, owner: str | None = None,
                 **kwargs: Any) -> ConvertReport:
    """Convert every mailbox of a folder tree; one summed report, errors prefixed by folder.
    Run as root, the whole tree is converted as its owner (``owner``, else the owner of
    the tree's root directory), as convert_mailbox does for one mailbox."""
    src, dst = Path(src), Path(dst)
    work = owner_plan(src, dst, options, owner)
    if work is not None:
        return run_as(work, convert_tree, src, dst, options, callbacks={
            name: kwargs.pop(name, None) for name in ("progress", "warn", "progress_total")}, **kwargs)
    if options.missing_ok and not os.path.lexists(src):
        peer = registry.get(registry.SPOOL_FORMAT).default_peer
        return ConvertReport(str(src), str(dst), "tree", (options.to_format or peer) + "-tree",
                             dry_run=options.dry_run)
    refuse_destination_inside(src, dst)
    strangers: list[Path] = []
    boxes = mailboxes(src, strangers)
    if not boxes:
        raise InputError(f"{src}: no mailboxes found in this folder tree")
    # a tree whose root is a mailbox is a Maildir++ tree; any other, a tree of mbox files
    src_kind = boxes[0][2] if boxes[0][0] == [] else registry.SPOOL_FORMAT
    dst_format = options.to_format or registry.get(src_kind).default_peer
    row = registry.get(dst_format)
    total = ConvertReport(str(src), str(dst), "tree", dst_format + "-tree", dry_run=options.dry_run)
    total.verified = True if options.verify else None
    _note_strangers(src, strangers, total)
    maildirpp = row.tree_layout == "maildir++"
    if maildirpp and not options.dry_run:        # the Maildir++ root is a Maildir too
        registry.make_writer(dst, dst_format, fsync=options.fsync).open().close()
    tag_file = None
    if options.notmuch_tags is not None and not options.dry_run:
        from .notmuch import TagFile
        tag_file = TagFile(options.notmuch_tags)      # one file for every folder
        options = replace(options, notmuch_tags=tag_file)
    if options.layout == "fs" and not maildirpp:
        raise UsageError(f"--layout fs makes Maildir folders; the destination here is {dst_format}")
    placed = _placements(boxes, dst, maildirpp, options.layout == "fs")
    folders = _convert_each(boxes, placed, src, dst, dst_format, options, total, kwargs)
    if tag_file is not None:
        save_tag_file(tag_file, options, total)
    if folders and options.subscribe:
        subscribe_folders(dst, folders, options, total)
    if row.sbd_parent_mailbox and not options.dry_run:
        _give_sbd_dirs_their_mailbox(dst, [t for t, _ in placed if t is not None])
    return total


def _note_strangers(src: Path, strangers: list[Path], total: ConvertReport) -> None:
    """Warn of the links not followed and the files that are no mailbox: never left out in silence."""
    links = [p for p in strangers if p.is_symlink()]
    if links:
        shown = ", ".join(str(p.relative_to(src)) for p in links[:5])
        total.warn({"code": "symlink-not-followed", "message": (
            f"{len(links)} symbolic link(s) in the tree were not followed (the tree is converted, "
            f"nothing outside it): {shown}{', ...' if len(links) > 5 else ''}"),
            "files": [str(p) for p in links]})
        strangers = [p for p in strangers if p not in links]
    if strangers:
        shown = ", ".join(str(p.relative_to(src)) for p in strangers[:5])
        total.warn({"code": "files-not-converted", "message": (
            f"{len(strangers)} file(s) in the tree are no mailbox and were not converted: {shown}"
            f"{', ...' if len(strangers) > 5 else ''}"), "files": [str(p) for p in strangers]})


def _placements(boxes: list[tuple[list[str], Path, str]], dst: Path, maildirpp: bool,
                fs: bool) -> list[tuple[Path | None, str | None]]:
    """(target, None) for each mailbox of the tree, or (None, why it has no safe name)."""
    if fs:
        return [fslayout.fs_target(parts, dst) for parts, _, _ in boxes]
    # each name one path component, or no target
    return [(None, why) if (why := _name_problem(parts, maildirpp)) else (_target(parts, dst, maildirpp), None)
            for parts, _, _ in boxes]


def _convert_each(boxes: list[tuple[list[str], Path, str]], placed: list[tuple[Path | None, str | None]],
                  src: Path, dst: Path, dst_format: str, options: ConvertOptions, total: ConvertReport,
                  kwargs: dict[str, Any]) -> list[str]:
    """Convert each mailbox into its target, summing into ``total``; the Maildir++ folders
    made or added to (for the subscriptions). A write error stops the tree."""
    fs = options.layout == "fs"
    maildirpp = registry.get(dst_format).tree_layout == "maildir++"
    folders: list[str] = []
    for n, ((parts, path, fmt), (target, unsafe)) in enumerate(zip(boxes, placed, strict=True)):
        target = target or dst
        folder = "/".join(parts) or "INBOX"
        if unsafe is not None:                      # no safe name: said, and left out (that folder only)
            shown = folder if folder.isprintable() else str(path.relative_to(src))
            total.error(f"{shown}: not converted: {unsafe}", code="folder-name-unsafe")
            continue
        opts = replace(options, from_format=fmt, to_format=dst_format, in_tree=True)
        rep = _convert_folder(path, target, opts, folder, total, kwargs)
        if rep is None:
            continue
        if fs and target != dst and not options.dry_run and target.is_dir():
            folders.append(fslayout.storage_name(parts))
        elif maildirpp and target != dst and not options.dry_run and target.is_dir():
            mark_maildir_folder(target)
            folders.append(storage_name(target))
        _add_folder(total, rep, folder)
        if rep.write_error is not None and n + 1 < len(boxes):
            # a write error (a full disk, a quota, a read-only mount) would fail every folder
            total.stopped = True
            left = len(boxes) - n - 1
            total.error(f"{folder}: the run stopped here; {left} more folder(s) not attempted "
                        "(a re-run continues where this one stopped)")
            break
    return folders


def _convert_folder(path: Path, target: Path, opts: ConvertOptions, folder: str, total: ConvertReport,
                    kwargs: dict[str, Any]) -> ConvertReport | None:
    """One folder of the tree; None, with an error in ``total``, when it could not be converted
    (whatever one folder meets, the others go on)."""
    try:
        return convert_mailbox(path, target, opts, **kwargs)
    except MboxtoolError as exc:
        total.failed += 1
        total.error(f"{folder}: {exc}")
    except PermissionError as exc:             # a folder the owner may not read: that folder only
        total.failed += 1
        total.error(f"{folder}: {exc.filename or path}: permission denied")
    except OSError as exc:
        total.failed += 1
        total.error(f"{folder}: {exc.strerror or exc}")
    return None


def _add_folder(total: ConvertReport, rep: ConvertReport, folder: str) -> None:
    """Sum the report of one folder into the tree's, each entry naming its folder."""
    for name in ("converted", "skipped", "failed", "bytes", "quarantined"):
        setattr(total, name, getattr(total, name) + getattr(rep, name))
    total.quarantine_files += rep.quarantine_files
    total.quarantine_spans += [{**s, "folder": folder} for s in rep.quarantine_spans]
    total.errors += [e.amended(message=f"{folder}: {e.message}") for e in rep.errors]
    total.excluded += [e.amended(folder=folder) for e in rep.excluded]
    total.warnings += [e.amended(folder=folder) for e in rep.warnings]
    if rep.verified is False:
        total.verified = False
    total.moved = total.moved or rep.moved
    total.stopped = total.stopped or rep.stopped


def _give_sbd_dirs_their_mailbox(dst: Path, targets: list[Path]) -> None:
    """An empty mbox beside every ``NAME.sbd/`` that has none: Thunderbird finds subfolders
    only through their parent's mailbox file, and a Maildir++ tree may hold ``.A.B`` without
    ``.A`` (Dovecot makes no parent folder), which left ``A.sbd/B`` out of its sight."""
    for target in targets:
        for parent in target.parents:
            if parent == dst or dst not in parent.parents:
                break
            if not parent.name.endswith(".sbd") or not parent.is_dir():
                continue
            try:
                create_empty_file(parent.with_name(parent.name[:-len(".sbd")]), owner_for(parent))
            except OSError:
                break                              # only a convenience: the mail is in
