"""The one table of formats: which format a path is, and which classes serve it.

Adding a format is one module (a reader, and a writer if it can be written, built
on formats/base.py) and one row in FORMATS below (docs/contributing.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .babyl import BabylReader, BabylWriter
from .base import MailboxReader, MailboxWriter
from .eml import EmlReader
from .maildir import MaildirReader
from .maildirwriter import MaildirWriter
from .mbox import MboxReader
from .mboxwriter import MboxWriter
from .mh import MHReader, MHWriter
from .mmdf import MMDFReader, MMDFWriter

_FILE_READ = frozenset({"variant", "from_tz", "lock", "lock_timeout", "exclusive", "include_expunged",
                        "event", "warn", "dotlock", "max_ratio"})
_FILE_WRITE = frozenset({"variant", "fsync", "lock", "lock_timeout", "warn", "dotlock"})
_DIR_WRITE = frozenset({"fsync", "lock", "lock_timeout"})


@dataclass(frozen=True)
class Format:
    """One row: a format's name, its classes, and the constructor options each takes."""

    name: str
    reader: type[MailboxReader]
    writer: type[MailboxWriter] | None        # None: a source format only
    is_file: bool                             # one file (mbox, MMDF, Babyl), else a directory
    detected: bool = True                     # False: read only when asked for (--from)
    reader_options: frozenset[str] = frozenset({"event"})
    writer_options: frozenset[str] = _DIR_WRITE

    def make_reader(self, path: Path, **options: Any) -> MailboxReader:
        """An unopened reader; options this format has no use for are left out."""
        return self.reader(path, **{k: v for k, v in options.items() if k in self.reader_options})

    def make_writer(self, path: Path, **options: Any) -> MailboxWriter:
        """An unopened writer; options this format has no use for are left out."""
        assert self.writer is not None, self.name
        return self.writer(path, **{k: v for k, v in options.items() if k in self.writer_options})


FORMATS: dict[str, Format] = {row.name: row for row in (
    Format("mbox", MboxReader, MboxWriter, is_file=True,
           reader_options=_FILE_READ, writer_options=_FILE_WRITE),
    Format("maildir", MaildirReader, MaildirWriter, is_file=False, writer_options=_DIR_WRITE | {"folder"}),
    Format("mh", MHReader, MHWriter, is_file=False),
    Format("mmdf", MMDFReader, MMDFWriter, is_file=True,
           reader_options=_FILE_READ, writer_options=_FILE_WRITE),
    Format("babyl", BabylReader, BabylWriter, is_file=True, writer_options=_FILE_WRITE),
    Format("eml", EmlReader, None, is_file=False, detected=False),
)}


def get(name: str) -> Format:
    """The row of format ``name`` (KeyError for an unknown name)."""
    return FORMATS[name]


def writable() -> tuple[str, ...]:
    """The names of the formats mboxtool can write."""
    return tuple(name for name, row in FORMATS.items() if row.writer is not None)
