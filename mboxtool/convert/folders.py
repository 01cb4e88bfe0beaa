"""What a conversion does around the mailbox it converts: Maildir++ folder marks and
Dovecot's subscriptions, the ``--notmuch-tags`` file, and warnings about what it leaves
out (subfolders, abandoned deliveries)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..formats import registry
from ..formats.mutf7 import mutf7_decode
from ..formats.subscriptions import is_courier_root, maildirpp_root, storage_name, subscribe, subscribe_courier
from ..fs.durable import create_empty_file
from ..fs.ownership import owner_for
from .options import ConvertOptions
from .report import ConvertReport


def save_tag_file(tag_file: Any, opts: ConvertOptions, report: ConvertReport) -> None:
    """Write the --notmuch-tags file; a failure is an error (the labels would be lost)."""
    try:
        tag_file.save(opts.fsync)
    except OSError as exc:
        report.error(f"{tag_file.path}: cannot write the notmuch tags: {exc.strerror or exc}")
    report.add_warnings(tag_file.warnings())


def join_maildirpp_root(dst: Path, opts: ConvertOptions, report: ConvertReport) -> None:
    """DST is a ``.Name`` folder of a Maildir++ root: mark it as a folder (``maildirfolder``,
    which Courier's and Dovecot's quota code look for) and subscribe it."""
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
    report.subscribed += [".".join(mutf7_decode(level) for level in n.split("\t")) for n in added]


def note_stale_files(src: Path, src_format: str, report: ConvertReport) -> None:
    """Name the deliveries a Maildir source's tmp/ holds abandoned: not converted, by the
    Maildir rules, but perhaps whole messages a crashed program never moved into new/."""
    stale_files = registry.get(src_format).stale_files
    stale = stale_files(src) if stale_files is not None else []
    if stale:
        shown = ", ".join(stale[:3]) + (", ..." if len(stale) > 3 else "")
        report.warn({"code": "stale-tmp-files", "message": (
            f"{len(stale)} file(s) in tmp/ older than 36 hours were not converted: deliveries "
            f"abandoned before they reached new/ ({shown}); 'mboxtool validate' lists them")})


def note_subfolders(src: Path, src_format: str, report: ConvertReport) -> None:
    """Warn that subfolders were left out: Maildir++ ``.Name`` folders, an MH folder's
    subfolders, or Thunderbird's ``NAME.sbd/`` beside an mbox file (the format's row says
    which). Only --recursive converts a folder tree."""
    try:
        names = registry.get(src_format).subfolders(src)
    except OSError:
        return
    if names:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        report.warn({"code": "subfolders-not-converted",
                     "message": f"{len(names)} subfolder(s) not converted ({shown}); "
                                "--recursive converts the whole folder tree"})
