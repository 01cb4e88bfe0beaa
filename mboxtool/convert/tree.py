"""Folder trees: a directory of mbox files (NAME.sbd/ or NAME/ subfolders) <-> Maildir++ (.NAME.SUB)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import InputError, MboxtoolError, UsageError
from ..formats.detect import detect_format, inner_mbox
from ..formats.eml import SYSTEM_FILES, is_message_file
from ..formats.maildir import is_control_file, is_maildir, maildir_folders
from ..formats.mutf7 import mutf7_decode, mutf7_encode
from ..formats.subscriptions import storage_name
from ..fs.durable import create_empty_file
from ..fs.ownership import owner_for
from ..fs.privsep import run_as
from ..fs.staging import host_name
from .mailbox import (
    ConvertOptions,
    ConvertReport,
    convert_mailbox,
    mark_maildir_folder,
    owner_plan,
    refuse_destination_inside,
    save_tag_file,
    subscribe_folders,
)

LOCK_SUFFIXES = (".lock", ".mboxtool-append")           # never mail, whatever they hold
# mail clients' own files, not reported (an mbox is still taken whatever its name):
# Thunderbird's (.msf, .dat, .json, .html), Evolution's summaries and indexes beside each mbox
# folder and its folders.db, Netscape's .snm summaries, Eudora's .toc and descmap.pce, Apple
# Mail's Info.plist in each mailbox of its store, and what else Thunderbird passes over
# (nsShouldIgnoreFile: mailfilt.log, filters.js, the feeds' .rdf files and their .tmp,
# .backup and .corrupt copies)
CLIENT_SUFFIXES = (".msf", ".dat", ".json", ".html", ".ev-summary", ".ev-summary-meta", ".cmeta",
                   ".ibex.index", ".ibex.index.data", ".db", ".snm", ".toc", ".pce", ".plist",
                   ".log", ".js", ".rdf", ".tmp", ".backup", ".corrupt")
SKIP_SUFFIXES = LOCK_SUFFIXES + CLIENT_SUFFIXES
# mail clients' own directories: Thunderbird's NAME.mozmsgs/, its copies of folder NAME's
# messages for the desktop search (Windows Search, Spotlight), which would add every message twice
CLIENT_DIR_SUFFIXES = (".mozmsgs",)
BUNDLE_FILES = ("mbox", "Info.plist", "table_of_contents")  # an Apple Mail bundle's own files
NAME_MAX = 255                                  # bytes of one file name (Linux, the BSDs, macOS)


def _file_format(path: Path) -> str | None:
    """The format of a mailbox file in a tree, or None. The content decides, so an mbox named
    ``mail.dat`` is still mail; only an empty file with a client's suffix is not one."""
    if path.name.startswith(".") or path.name.endswith(LOCK_SUFFIXES):
        return None
    try:
        fmt = detect_format(path)
    except InputError:
        return None
    if path.name.endswith(CLIENT_SUFFIXES) and path.stat().st_size == 0:
        return None
    return fmt


def _kmail_subfolders(name: str, path: Path) -> bool:
    """True for KMail's ``.NAME.directory/``, which holds the subfolders of folder NAME (and is
    no Maildir++ folder of that name: that one has its cur/)."""
    return (name.startswith(".") and name.endswith(".directory") and len(name) > len("..directory")
            and path.is_dir() and not (path / "cur").is_dir())


def mailboxes(root: Path, skipped: list[Path] | None = None) -> list[tuple[list[str], Path, str]]:
    """Every mailbox under ``root`` as (folder name parts, path, format), parents first;
    ``skipped`` gets the files that are no mailbox (mail clients' own files aside)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: --recursive needs a directory")
    folders = maildir_folders(root)
    if skipped is not None:                             # .Name links to Maildirs: never followed
        skipped += [root / n for n in sorted(os.listdir(root))
                    if n.startswith(".") and (root / n).is_symlink() and is_maildir(root / n)]
    if is_maildir(root) or folders:                     # a Maildir++ root (INBOX) and its folders
        found = [([], root, "maildir")] if is_maildir(root) else []
        for name in folders:
            found.append(([mutf7_decode(p) for p in name[1:].split(".") if p], root / name, "maildir"))
        _walk(root, [], found, maildir=True, skipped=skipped)      # what else lies there
        return found
    found: list = []
    _walk(root, [], found, skipped=skipped)
    return found


def _walk(directory: Path, parts: list[str], found: list, bundle: bool = False, mh: bool = False,
          maildir: bool = False, eml: bool = False, skipped: list[Path] | None = None) -> None:
    """Add the mailboxes under ``directory``; ``mh``: it is an MH folder, whose files are its
    messages (taken already) and whose directories are its subfolders; ``maildir``: it is a
    Maildir (taken already), and what lies beside cur/, new/ and tmp/ is looked at too: a
    notmuch mail root nests Maildirs in plain directories and keeps loose message files;
    ``eml``: it is a folder of message files (taken already), its directories subfolders."""
    kmail: list[tuple[Path, list[str]]] = []
    for name in sorted(os.listdir(directory)):
        path = directory / name
        if path.is_symlink():                       # the walk never leaves the tree: reported
            if skipped is not None and not name.startswith("."):
                skipped.append(path)
            continue
        if _kmail_subfolders(name, path):
            # KMail keeps the subfolders of folder NAME (a Maildir or an mbox file) beside it,
            # in .NAME.directory/: walked after NAME, parents first
            kmail.append((path, parts + [name[1:-len(".directory")]]))
            continue
        # a bundle's mbox is taken already, and its index is no mbox even when empty
        if name.startswith(".") or (bundle and name in BUNDLE_FILES) or name.lower() in SYSTEM_FILES:
            continue
        if _out_of_reach(path):                    # a link to what the owner may not see: named, not read
            if skipped is not None:
                skipped.append(path)
            continue
        if name.endswith(CLIENT_DIR_SUFFIXES) and path.is_dir():
            continue
        if (mh or eml) and not path.is_dir():       # the folder's messages: taken already (an eml
            continue                                # folder is one whose files are all messages)
        if maildir and (name in ("cur", "new", "tmp") or is_control_file(name)):
            continue
        if path.is_dir() and inner_mbox(path) != path:      # an Apple Mail bundle, NAME.mbox/mbox
            found.append((parts + [name[:-5]], path / "mbox", "mbox"))
            # child mailboxes are nested bundles; the bundle's own files (Info.plist,
            # table_of_contents) are Apple Mail's, not mail left out: not reported
            _walk(path, parts + [name[:-5]], found, bundle=True)
            continue
        if path.is_file():
            fmt = _file_format(path)
            if fmt:
                base = name[:-5] if name.endswith(".mbox") else name
                found.append((parts + [base], path, fmt))
            elif skipped is not None and not name.endswith(SKIP_SUFFIXES):
                skipped.append(path)
        elif path.is_dir():
            base = name[:-4] if name.endswith(".sbd") else name
            fmt = _folder_format(path)
            if fmt:
                found.append((_apple_store_folder(parts + [base]) if fmt == "eml" else parts + [base], path, fmt))
            # folders nest in folders (nmh, Claws Mail, notmuch roots, Windows Live Mail exports)
            _walk(path, parts + [base], found, maildir=fmt == "maildir", mh=fmt == "mh", eml=fmt == "eml",
                  skipped=skipped)
    for path, folder in kmail:
        _walk(path, folder, found, skipped=skipped)


def _out_of_reach(path: Path) -> bool:
    try:
        os.stat(path)
    except PermissionError:
        return True
    except OSError:
        pass
    return False


def _apple_store_folder(parts: list[str]) -> list[str]:
    """The folder a directory of a tree stands for. Apple Mail's own store keeps mailbox
    NAME's messages in NAME.mbox/UUID/Data/[N/M/]Messages/ (as .emlx files): each such
    directory is folder NAME, its parents named without .mbox too."""
    if parts and parts[-1] == "Messages":
        for i in range(len(parts) - 2, -1, -1):
            if parts[i].endswith(".mbox"):
                return [p[:-5] if p.endswith(".mbox") else p for p in parts[:i + 1]]
    return parts


def _folder_format(path: Path) -> str | None:
    """What a directory of a tree holds as a mailbox of its own: "maildir" (``cur/`` alone: a
    damaged Maildir), "mh", "eml" (a folder of message files), or None (only subfolders)."""
    if is_maildir(path) or (path / "cur").is_dir():
        return "maildir"
    try:
        if detect_format(path) == "mh":
            return "mh"
    except (InputError, PermissionError):     # PermissionError: a link in it the owner may not follow
        pass
    return "eml" if _holds_message_files(path) else None


def _holds_message_files(directory: Path) -> bool:
    """A folder of single-message files, as Outlook Express and Windows Live Mail export
    folders: a plain directory (not Thunderbird's NAME.sbd) whose files are all messages,
    the system's own files aside. A message file beside mailboxes is no folder's message:
    it is named as not converted."""
    if directory.name.endswith(".sbd"):
        return False
    try:
        files = [directory / n for n in os.listdir(directory) if not n.startswith(".")
                 and n.lower() not in SYSTEM_FILES and not n.endswith(SKIP_SUFFIXES)]
    except OSError:
        return False
    files = [f for f in files if not _out_of_reach(f) and f.is_file() and not f.is_symlink()]   # a link: reported, not read
    return bool(files) and all(is_message_file(f) for f in files)


def _name_problem(parts: list[str], dst_format: str) -> str | None:
    """Why the folder ``parts`` cannot be made under the destination, or None. Each name
    (decoded from a Maildir++ name, where ``&AC8-`` is ``/``) must be exactly one path
    component, and short enough for the files mboxtool puts beside it."""
    for part in parts:
        if "/" in part or "\x00" in part or part in ("", ".", ".."):
            return f"the folder name {part!r} is not a single file name"
    if dst_format == "maildir":
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


def _target(parts: list[str], dst: Path, dst_format: str) -> Path:
    if dst_format == "maildir":
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
        return ConvertReport(str(src), str(dst), "tree", (options.to_format or "maildir") + "-tree",
                             dry_run=options.dry_run)
    refuse_destination_inside(src, dst)
    strangers: list[Path] = []
    boxes = mailboxes(src, strangers)
    if not boxes:
        raise InputError(f"{src}: no mailboxes found in this folder tree")
    src_kind = boxes[0][2] if boxes[0][0] == [] else "mbox"
    dst_format = options.to_format or ("mbox" if src_kind == "maildir" else "maildir")
    total = ConvertReport(str(src), str(dst), "tree", dst_format + "-tree", dry_run=options.dry_run)
    total.verified = True if options.verify else None
    links = [p for p in strangers if p.is_symlink()]
    if links:
        shown = ", ".join(str(p.relative_to(src)) for p in links[:5])
        total.warn({"code": "symlink-not-followed", "message": (
            f"{len(links)} symbolic link(s) in the tree were not followed (the tree is converted, "
            f"nothing outside it): {shown}{', ...' if len(links) > 5 else ''}"),
            "files": [str(p) for p in links]})
        strangers = [p for p in strangers if p not in links]
    if strangers:                                   # never left out in silence
        shown = ", ".join(str(p.relative_to(src)) for p in strangers[:5])
        total.warn({"code": "files-not-converted", "message": (
            f"{len(strangers)} file(s) in the tree are no mailbox and were not converted: {shown}"
            f"{', ...' if len(strangers) > 5 else ''}"), "files": [str(p) for p in strangers]})
    if dst_format == "maildir" and not options.dry_run:
        from ..formats.maildir import MaildirWriter
        MaildirWriter(dst, fsync=options.fsync).open().close()   # the Maildir++ root is a Maildir too
    tag_file = None
    if options.notmuch_tags is not None and not options.dry_run:
        from .notmuch import TagFile
        tag_file = TagFile(options.notmuch_tags)      # one file for every folder
        options = replace(options, notmuch_tags=tag_file)
    folders: list[str] = []                         # Maildir++ folders made or added to
    fs = options.layout == "fs"
    if fs and dst_format != "maildir":
        raise UsageError(f"--layout fs makes Maildir folders; the destination here is {dst_format}")
    if fs:
        from ..formats import fslayout
        placed = [fslayout.fs_target(parts, dst) for parts, _, _ in boxes]
    else:                                           # each name one path component, or no target
        placed = [(None, why) if (why := _name_problem(parts, dst_format)) else (_target(parts, dst, dst_format), None)
                  for parts, _, _ in boxes]
    targets = [target or dst for target, _ in placed]
    for n, ((parts, path, fmt), target) in enumerate(zip(boxes, targets, strict=True)):
        folder = "/".join(parts) or "INBOX"
        if placed[n][1] is not None:                # no safe name: said, and left out (that folder only)
            shown = folder if folder.isprintable() else str(path.relative_to(src))
            total.error(f"{shown}: not converted: {placed[n][1]}", code="folder-name-unsafe")
            continue
        opts = replace(options, from_format=fmt, to_format=dst_format, in_tree=True)
        try:
            rep = convert_mailbox(path, target, opts, **kwargs)
        except MboxtoolError as exc:
            total.failed += 1
            total.error(f"{folder}: {exc}")
            continue
        except PermissionError as exc:             # a folder the owner may not read: that folder only
            total.failed += 1
            total.error(f"{folder}: {exc.filename or path}: permission denied")
            continue
        except OSError as exc:                      # whatever one folder meets, the others go on
            total.failed += 1
            total.error(f"{folder}: {exc.strerror or exc}")
            continue
        if fs and target != dst and not options.dry_run and target.is_dir():
            folders.append(fslayout.storage_name(parts))
        elif dst_format == "maildir" and target != dst and not options.dry_run and target.is_dir():
            mark_maildir_folder(target)
            folders.append(storage_name(target))
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
        if rep.write_error is not None and n + 1 < len(boxes):
            # a write error (a full disk, a quota, a read-only mount) would fail every folder
            total.stopped = True
            left = len(boxes) - n - 1
            total.error(f"{folder}: the run stopped here; {left} more folder(s) not attempted "
                        "(a re-run continues where this one stopped)")
            break
    if tag_file is not None:
        save_tag_file(tag_file, options, total)
    if folders and options.subscribe:
        subscribe_folders(dst, folders, options, total)
    if dst_format == "mbox" and not options.dry_run:
        _give_sbd_dirs_their_mailbox(dst, [t for t, _ in placed if t is not None])
    return total


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
