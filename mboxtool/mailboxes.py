"""Readers and writers by format name: the one place that knows which class serves which format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .compression import MAX_RATIO
from .errors import UsageError
from .formats.babyl import BabylReader, BabylWriter
from .formats.eml import EmlReader
from .formats.maildir import MaildirReader, MaildirWriter
from .formats.mbox import MboxReader, MboxWriter
from .formats.mh import MHReader, MHWriter
from .formats.mmdf import MMDFReader, MMDFWriter

READERS = {"mbox": MboxReader, "mmdf": MMDFReader, "maildir": MaildirReader,
           "mh": MHReader, "babyl": BabylReader, "eml": EmlReader}
WRITERS = {"mbox": MboxWriter, "mmdf": MMDFWriter, "maildir": MaildirWriter,
           "mh": MHWriter, "babyl": BabylWriter}


def make_reader(path: Path, fmt: str, *, variant: str | None = None, from_tz: str = "auto",
                lock: bool = True, lock_timeout: float = 30, exclusive: bool = False,
                include_expunged: bool = False, event=None, warn=None, dotlock: bool = True,
                max_ratio: float | None = MAX_RATIO):
    """An unopened reader for ``path`` in format ``fmt`` (``max_ratio``: compression.decompress)."""
    if fmt in ("mbox", "mmdf"):
        return READERS[fmt](path, variant=variant, from_tz=from_tz, lock=lock,
                            lock_timeout=lock_timeout, exclusive=exclusive,
                            include_expunged=include_expunged, event=event, warn=warn,
                            dotlock=dotlock, max_ratio=max_ratio)
    return READERS[fmt](path, event=event)


def make_writer(path: Path, fmt: str, *, variant: str = "mboxrd", fsync: bool = True,
                lock: bool = True, lock_timeout: float = 30, warn=None, folder: bool = False,
                dotlock: bool = True):
    """An unopened writer for ``path`` in format ``fmt``."""
    if fmt not in WRITERS:
        raise UsageError(f"{path}: {fmt} is a source format only; write mbox, maildir, mh, mmdf or babyl")
    if fmt in ("mbox", "mmdf", "babyl"):
        return WRITERS[fmt](path, variant=variant, fsync=fsync, lock=lock,
                            lock_timeout=lock_timeout, warn=warn, dotlock=dotlock)
    if fmt == "maildir":
        return MaildirWriter(path, fsync=fsync, folder=folder, lock=lock, lock_timeout=lock_timeout)
    return WRITERS[fmt](path, fsync=fsync, lock=lock, lock_timeout=lock_timeout)


def progress_size(reader: Any, fmt: str) -> tuple[int | None, str]:
    """The size of a read for a progress bar: the bytes of an mbox or MMDF file, else the
    number of messages where the reader can tell it before reading (Maildir, MH), else None."""
    if fmt in ("mbox", "mmdf"):
        return getattr(reader, "size", None), "B"
    return (reader.message_count() if hasattr(reader, "message_count") else None), "msg"
