"""Compressed mbox files, as archives ship them: gzip, bzip2 and xz, read through the stdlib.

A compressed mbox is only ever read (never appended to or shrunk); the reader
decompresses it into a private copy first, so offsets refer to the mbox bytes.
"""

from __future__ import annotations

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
