"""Every mailbox of a folder tree, and the format of each: Maildir++ roots and their
``.Name`` folders, mbox files with ``NAME.sbd/`` (Thunderbird), Apple Mail bundles, MH and
message-file folders, KMail's ``.NAME.directory/``, notmuch mail roots (docs/convert.md)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from .detect import inner_mbox
from .eml import SYSTEM_FILES, is_message_file
from .maildirfiles import is_control_file, is_maildir, maildir_folders
from .mutf7 import mutf7_decode
from .registry import detect_format

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
