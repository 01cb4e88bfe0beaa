"""Readers and writers by format name: the one place that knows which class serves which format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UsageError
from . import registry
from .compression import MAX_RATIO

READERS = {name: row.reader for name, row in registry.FORMATS.items()}
WRITERS = {name: row.writer for name, row in registry.FORMATS.items() if row.writer is not None}


def make_reader(path: Path, fmt: str, *, variant: str | None = None, from_tz: str = "auto",
                lock: bool = True, lock_timeout: float = 30, exclusive: bool = False,
                include_expunged: bool = False, event=None, warn=None, dotlock: bool = True,
                max_ratio: float | None = MAX_RATIO):
    """An unopened reader for ``path`` in format ``fmt`` (``max_ratio``: compression.decompress)."""
    return registry.get(fmt).make_reader(
        path, variant=variant, from_tz=from_tz, lock=lock, lock_timeout=lock_timeout, exclusive=exclusive,
        include_expunged=include_expunged, event=event, warn=warn, dotlock=dotlock, max_ratio=max_ratio)


def make_writer(path: Path, fmt: str, *, variant: str = "mboxrd", fsync: bool = True,
                lock: bool = True, lock_timeout: float = 30, warn=None, folder: bool = False,
                dotlock: bool = True):
    """An unopened writer for ``path`` in format ``fmt``."""
    row = registry.get(fmt)
    if row.writer is None:
        *others, last = registry.writable()
        raise UsageError(f"{path}: {fmt} is a source format only; write {', '.join(others)} or {last}")
    return row.make_writer(path, variant=variant, fsync=fsync, lock=lock, lock_timeout=lock_timeout,
                           warn=warn, folder=folder, dotlock=dotlock)


def progress_size(reader: Any, fmt: str) -> tuple[int | None, str]:
    """The size of a read for a progress bar: the bytes of an mbox or MMDF file, else the
    number of messages where the reader can tell it before reading (Maildir, MH), else None."""
    return reader.progress_size()
