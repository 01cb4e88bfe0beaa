"""Quarantine for ``convert --move``: source bytes that cannot be converted are set aside.

An mbox spool is emptied as a whole (§7.5). Keeping the whole spool because one
part of it cannot be converted would block that mailbox for good: the spool only
grows, and the next delivery lands glued to the damaged part. So the parts that
cannot be converted (bytes before the first From_ line, a message the destination
refuses) are copied, byte for byte, into a quarantine file, made durable (fsync of
the file and its directory), and only then is the spool emptied. A crash between
the two steps leaves the spool whole and a spare copy of those bytes.

Where: ``DST/.mboxtool-quarantine/`` for a Maildir or MH destination (a dot
directory without ``cur/``, which no mail reader takes for a folder), else
``DST.quarantine/`` beside an mbox, MMDF or Babyl file; ``--quarantine DIR``
names another. One file a run, named after the source and the time (UTC).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..formats import registry
from ..fs.durable import fsync_dir, make_private_dir
from ..fs.fdio import write_buffers
from ..fs.ownership import give, owner_for

QUARANTINE_DIR = ".mboxtool-quarantine"
_CHUNK = 1 << 20


@dataclass
class Span:
    """Bytes ``offset:offset+length`` of the source, which could not be converted."""

    key: str
    offset: int
    length: int


def quarantine_dir(dst: Path, dst_format: str) -> Path:
    """Where a conversion into ``dst`` sets aside what it cannot convert."""
    if not registry.get(dst_format).is_file:
        return dst / QUARANTINE_DIR
    return dst.with_name(dst.name + ".quarantine")


def spans_of(failed: list[tuple[str, int, int | None]], starts: list[int], size: int) -> list[Span]:
    """The source bytes of each failed message (key, offset, length): where the length is not
    known, from its offset to the next message's start (the messages of an mbox follow each
    other), or to ``size``."""
    import bisect
    ordered = sorted(set(starts) | {offset for _, offset, _ in failed})
    spans = []
    for key, offset, length in sorted(failed, key=lambda item: item[1]):
        if length is None:
            i = bisect.bisect_right(ordered, offset)
            length = (ordered[i] if i < len(ordered) else size) - offset
        spans.append(Span(key, offset, max(0, min(offset + length, size) - offset)))
    return spans


def set_aside(fd: int, spans: list[Span], source: Path, where: Path) -> tuple[Path, list[dict[str, Any]]]:
    """Copy ``spans`` of the source open as ``fd`` into a new file under ``where``, durably
    (always fsynced: it is the only copy once the spool is emptied). Returns the file and, per
    span, where it came from and where it is in the file."""
    owner = owner_for(where)
    created = make_private_dir(where, owner)
    dir_fd = os.open(where, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        name, out = _create(dir_fd, f"{source.name}.{stamp}")
        placed: list[dict[str, Any]] = []
        try:
            give(owner, out)
            at = 0
            for span in spans:
                _copy(fd, out, span.offset, span.length, at)
                placed.append({"key": span.key, "offset": span.offset, "length": span.length,
                               "file": str(where / name), "file_offset": at})
                at += span.length
            os.fsync(out)
        except BaseException:
            os.close(out)
            os.unlink(name, dir_fd=dir_fd)
            raise
        os.close(out)
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    if created:
        fsync_dir(where.parent)
    return where / name, placed


def _create(dir_fd: int, base: str) -> tuple[str, int]:
    """A new file named ``base`` (or ``base.N`` when taken), 0600, never through a symlink."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    n = 0
    while True:
        name = base if n == 0 else f"{base}.{n}"
        try:
            return name, os.open(name, flags, 0o600, dir_fd=dir_fd)
        except FileExistsError:
            n += 1


def _copy(src: int, dst: int, start: int, length: int, at: int) -> None:
    pos, stop = start, start + length
    while pos < stop:
        chunk = os.pread(src, min(_CHUNK, stop - pos), pos)
        if not chunk:
            raise OSError(5, "the source shrank while its unconverted bytes were set aside")
        write_buffers(dst, [chunk], at + pos - start)
        pos += len(chunk)
