"""Compressed mbox files, as archives ship them: gzip, bzip2 and xz, read through the stdlib.

A compressed mbox is only ever read (never appended to or shrunk); the reader
decompresses it into a private copy first, so offsets refer to the mbox bytes.
"""

from __future__ import annotations

import errno
import zlib
from typing import BinaryIO

from .errors import InputError

_MAGICS = ((b"\x1f\x8b", "gzip"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"))


def compression_of(head: bytes) -> str | None:
    """The compression the file starting with ``head`` uses ("gzip", "bzip2", "xz", "zstd"), or None."""
    for magic, name in _MAGICS:
        if head.startswith(magic):
            return name
    # "BZh" and a block size digit, then the block magic (pi in BCD): not text that starts "BZh"
    if head[:3] == b"BZh" and head[3:4] in b"123456789" and head[4:10] in (b"1AY&SY", b"\x17rE8P\x90"):
        return "bzip2"
    return None


def open_decompressed(fileobj: BinaryIO, kind: str, name: object) -> BinaryIO:
    """A reader of the decompressed bytes of ``fileobj``; InputError for what the stdlib cannot read."""
    if kind == "gzip":
        import gzip
        return gzip.GzipFile(fileobj=fileobj, mode="rb")
    if kind == "bzip2":
        import bz2
        return bz2.BZ2File(fileobj, mode="rb")
    if kind == "xz":
        try:
            import lzma
        except ImportError:                    # a Python built without liblzma
            raise InputError(f"{name}: is xz-compressed, and this Python has no lzma module: "
                             "decompress it first (unxz)") from None
        return lzma.LZMAFile(fileobj, mode="rb")
    command = {"zstd": "unzstd"}.get(kind, "")
    raise InputError(f"{name}: is {kind}-compressed, which mboxtool does not read: decompress it first"
                     + (f" ({command})" if command else ""))


def decompression_errors() -> tuple[type[BaseException], ...]:
    """What broken compressed data raises while it is read."""
    errors: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error)
    try:
        import lzma
        errors += (lzma.LZMAError,)
    except ImportError:
        pass
    return errors


def decompress(fileobj: BinaryIO, kind: str, name: object, out: BinaryIO, limit: int | None = None) -> str | None:
    """Write the decompressed bytes of ``fileobj`` (all, or the first ``limit``) into ``out``.

    Returns None, or why the data breaks off after what was written (a download cut short:
    what came before it is kept). InputError when nothing could be read, or when the disk
    failed rather than the data. Read in small steps, so little is lost at a break.
    """
    written = 0
    try:
        with open_decompressed(fileobj, kind, name) as stream:
            while limit is None or written < limit:
                chunk = stream.read1(1 << 16 if limit is None else min(1 << 16, limit - written))
                if not chunk:
                    break
                out.write(chunk)
                written += len(chunk)
    except decompression_errors() as exc:
        if isinstance(exc, OSError) and exc.errno is not None:      # not the data: the disk
            where = " (the copy goes to $TMPDIR)" if exc.errno == errno.ENOSPC else ""
            raise InputError(f"{name}: cannot decompress it: {exc.strerror}{where}") from exc
        if not written:
            raise InputError(f"{name}: broken {kind} data: {exc}") from exc
        return f"the {kind} data breaks off after {written} bytes of mail ({exc}): what follows is lost"
    return None
