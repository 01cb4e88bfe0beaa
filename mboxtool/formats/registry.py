"""The one table of formats: which format a path is, and which classes serve it.

Adding a format is one module (a reader, and a writer if it can be written, built
on formats/base.py) and one row in FORMATS below (docs/contributing.md). Whatever
the converter does differently for a format is a field of its row, never a test
of its name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, UsageError
from .babyl import BabylReader, BabylWriter
from .base import MailboxReader, MailboxWriter
from .compression import MAX_RATIO
from .detect import inner_mbox, sniff_format
from .eml import EmlReader
from .maildir import MaildirReader
from .maildirfiles import being_made, maildir_folders, stale_tmp_files
from .maildirwriter import MaildirWriter
from .mbox import MboxReader
from .mboxvariant import VARIANTS
from .mboxwriter import MboxWriter
from .mh import MHReader, MHWriter, mh_subfolders
from .mmdf import MMDFReader, MMDFWriter

__all__ = ["FORMATS", "SPOOL_FORMAT", "VARIANTS", "Format", "detect_format", "existing_format", "get", "inner_mbox",
           "make_reader", "make_writer", "normalize_format", "writable"]

SPOOL_FORMAT = "mbox"    # what a missing SRC under --missing-ok is (a spool before its first mail)

_FILE_READ = frozenset({"variant", "from_tz", "lock", "lock_timeout", "exclusive", "include_expunged",
                        "event", "warn", "dotlock", "max_ratio"})
_FILE_WRITE = frozenset({"variant", "fsync", "lock", "lock_timeout", "warn", "dotlock"})
_DIR_WRITE = frozenset({"fsync", "lock", "lock_timeout"})


def sbd_subfolders(path: Path) -> list[str]:
    """Thunderbird's ``NAME.sbd/`` beside a mailbox file, when it holds anything (a link is
    none: --recursive never follows it, and what it leads to is not listed)."""
    sbd = path.with_name(path.name + ".sbd")
    return [sbd.name] if not sbd.is_symlink() and sbd.is_dir() and any(sbd.iterdir()) else []


def _message_files_subfolders(path: Path) -> list[str]:
    """A folder of message files has directories for subfolders, as MH; one message file, an sbd."""
    return mh_subfolders(path) if path.is_dir() else sbd_subfolders(path)


@dataclass(frozen=True)
class Format:
    """One row: a format's name, its classes, the constructor options each takes, and
    what converting from or into it does differently (each field says what for)."""

    name: str
    reader: type[MailboxReader]
    writer: type[MailboxWriter] | None        # None: a source format only
    is_file: bool                             # one file (mbox, MMDF, Babyl), else a directory
    detected: bool = True                     # False: read only when asked for (--from)
    reader_options: frozenset[str] = frozenset({"event"})
    writer_options: frozenset[str] = _DIR_WRITE
    # as a source
    default_peer: str = "mbox"                # what convert writes when neither --to nor DST says
    subfolders: Callable[[Path], list[str]] = sbd_subfolders   # what a run without --recursive leaves out
    stale_files: Callable[[Path], list[str]] | None = None     # abandoned deliveries a run names, not reads
    resumable: bool = False                   # an unchanged source resumes where the last run stopped
    exact_spans: bool = False                 # a message's source bytes are exactly its data (between
                                              # delimiters); else they run to the next message's start
    # as a destination
    staging_subdir: str | None = None         # a copy of the source goes to DST/<this>; None: beside DST
    parallel_writer: bool = False             # written by writer processes (convert/forkwriter.py)
    thunderbird_headers: bool = False         # --thunderbird adds X-Mozilla-Status / X-Mozilla-Keys
    blind_variants: frozenset[str] = frozenset()  # variants whose From_ quoting --verify cannot see
    keeps_state: bool = False                 # flags and date come back as written: --verify compares them
    tree_layout: str = "sbd"                  # --recursive: "maildir++" (.A.B folders in a root that is a
                                              # mailbox too, subscribed) or "sbd" (A.sbd/B, Thunderbird's)
    sbd_parent_mailbox: bool = False          # --recursive: each NAME.sbd/ gets a mailbox NAME beside it
    einval_hint: str = ""                     # what EINVAL on a write most likely means here

    def make_reader(self, path: Path, **options: Any) -> MailboxReader:
        """An unopened reader; options this format has no use for are left out."""
        return self.reader(path, **{k: v for k, v in options.items() if k in self.reader_options})

    def make_writer(self, path: Path, **options: Any) -> MailboxWriter:
        """An unopened writer; options this format has no use for are left out."""
        assert self.writer is not None, self.name
        return self.writer(path, **{k: v for k, v in options.items() if k in self.writer_options})

    def staging(self, dst: Path) -> Path:
        """Where a private copy of a source converted into ``dst`` goes: the file system the
        converted mail goes to, which needs the room anyway."""
        return dst.parent if self.staging_subdir is None else dst / self.staging_subdir


FORMATS: dict[str, Format] = {row.name: row for row in (
    Format("mbox", MboxReader, MboxWriter, is_file=True,
           reader_options=_FILE_READ, writer_options=_FILE_WRITE,
           default_peer="maildir", resumable=True, thunderbird_headers=True,
           blind_variants=frozenset({"mboxo", "mboxcl"}), keeps_state=True, sbd_parent_mailbox=True),
    Format("maildir", MaildirReader, MaildirWriter, is_file=False, writer_options=_DIR_WRITE | {"folder"},
           subfolders=maildir_folders, stale_files=stale_tmp_files,
           staging_subdir="tmp", parallel_writer=True, keeps_state=True, tree_layout="maildir++",
           # Maildir names hold a ':' before their flags, which FAT and exFAT refuse
           einval_hint=" (a file system that refuses ':' in file names, such as FAT or exFAT? Maildir needs it)"),
    Format("mh", MHReader, MHWriter, is_file=False, subfolders=mh_subfolders, staging_subdir=""),
    Format("mmdf", MMDFReader, MMDFWriter, is_file=True,
           reader_options=_FILE_READ, writer_options=_FILE_WRITE, exact_spans=True, keeps_state=True),
    Format("babyl", BabylReader, BabylWriter, is_file=True, writer_options=_FILE_WRITE),
    Format("eml", EmlReader, None, is_file=False, detected=False, subfolders=_message_files_subfolders),
)}


def get(name: str) -> Format:
    """The row of format ``name`` (KeyError for an unknown name)."""
    return FORMATS[name]


def writable() -> tuple[str, ...]:
    """The names of the formats mboxtool can write."""
    return tuple(name for name, row in FORMATS.items() if row.writer is not None)


def detected() -> tuple[str, ...]:
    """The names of the formats recognised from content (the rest only when asked for)."""
    return tuple(name for name, row in FORMATS.items() if row.detected)


def detect_format(path: Path) -> str:
    """The format of the mailbox at ``path``, from its content (detect.py); InputError naming
    what was found otherwise."""
    return sniff_format(path)


def existing_format(dst: Path, requested: str | None = None) -> str | None:
    """The format of what a destination holds already; None when it holds nothing yet (it does
    not exist, is an empty directory, or is an empty file while ``requested`` names a format)."""
    empty_dir = dst.is_dir() and not any(dst.iterdir())
    # an empty file (or one a run waiting for its lock has just created) takes the format asked for
    empty_file = bool(requested) and dst.is_file() and dst.stat().st_size == 0
    if being_made(dst):                            # an overlapping run is making it a Maildir
        return "maildir"
    if dst.exists() and not empty_dir and not empty_file:
        return detect_format(dst)
    return None


def normalize_format(name: str | None) -> str | None:
    """Lower-cased format name; InputError for an unknown one."""
    if name is None:
        return None
    low = name.lower()
    if low not in FORMATS:
        raise InputError(f"unknown format {name!r}: use one of {', '.join(FORMATS)}")
    return low


def make_reader(path: Path, fmt: str, *, variant: str | None = None, from_tz: str = "auto",
                lock: bool = True, lock_timeout: float = 30, exclusive: bool = False,
                include_expunged: bool = False, event=None, warn=None, dotlock: bool = True,
                max_ratio: float | None = MAX_RATIO):
    """An unopened reader for ``path`` in format ``fmt`` (``max_ratio``: compression.decompress)."""
    return get(fmt).make_reader(
        path, variant=variant, from_tz=from_tz, lock=lock, lock_timeout=lock_timeout, exclusive=exclusive,
        include_expunged=include_expunged, event=event, warn=warn, dotlock=dotlock, max_ratio=max_ratio)


def make_writer(path: Path, fmt: str, *, variant: str = "mboxrd", fsync: bool = True,
                lock: bool = True, lock_timeout: float = 30, warn=None, folder: bool = False,
                dotlock: bool = True):
    """An unopened writer for ``path`` in format ``fmt``."""
    row = get(fmt)
    if row.writer is None:
        *others, last = writable()
        raise UsageError(f"{path}: {fmt} is a source format only; write {', '.join(others)} or {last}")
    return row.make_writer(path, variant=variant, fsync=fsync, lock=lock, lock_timeout=lock_timeout,
                           warn=warn, folder=folder, dotlock=dotlock)
