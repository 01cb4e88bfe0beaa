"""Compressed mbox files, as archives ship them: gzip, bzip2 and xz, read through the stdlib.

A compressed mbox is only ever read (never appended to or shrunk); the reader
decompresses it into a private copy first, so offsets refer to the mbox bytes.
"""

from __future__ import annotations

import errno
import os
import zlib
from typing import BinaryIO

from ..errors import InputError

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


MAX_RATIO = 100                 # decompressed bytes per compressed byte, beyond the first 16 MiB
RATIO_GRACE = 16 << 20          # small archives may be as repetitive as they like: no bomb
ROOM_CHECK_EVERY = 16 << 20     # bytes written between two looks at the free space


def decompress(fileobj: BinaryIO, kind: str, name: object, out: BinaryIO, limit: int | None = None,
               compressed_size: int | None = None, max_ratio: float | None = MAX_RATIO) -> str | None:
    """Write the decompressed bytes of ``fileobj`` (all, or the first ``limit``) into ``out``.

    Returns None, or why the data breaks off after what was written (a download cut short:
    what came before it is kept). InputError when nothing could be read, or when the disk
    failed rather than the data. Read in small steps, so little is lost at a break.

    With ``compressed_size`` (a copy to disk), the copy is refused (InputError) once it
    holds more than 16 MiB plus ``max_ratio`` times that size (a decompression bomb; None:
    no bound), or would leave less than 5 % of its file system free (the reserve the spool
    copy keeps): it never fills the disk that deliveries write to.
    """
    written, next_look = 0, ROOM_CHECK_EVERY
    bound = None if compressed_size is None or not max_ratio else RATIO_GRACE + max_ratio * compressed_size
    try:
        with open_decompressed(fileobj, kind, name) as stream:
            while limit is None or written < limit:
                chunk = stream.read1(1 << 16 if limit is None else min(1 << 16, limit - written))
                if not chunk:
                    break
                if bound is not None and written + len(chunk) > bound:
                    raise InputError(f"{name}: decompresses to more than {max_ratio:g} times its size "
                                     f"({compressed_size} bytes): refused as a decompression bomb "
                                     "(--max-ratio raises the bound, 0 lifts it)")
                if compressed_size is not None and written + len(chunk) >= next_look:
                    _keep_reserve(out, name, written)
                    next_look += ROOM_CHECK_EVERY
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


def _keep_reserve(out: BinaryIO, name: object, written: int) -> None:
    """InputError when the next stretch of the copy would leave its file system less than
    5 % free (or the stretch itself does not fit)."""
    try:
        st = os.fstatvfs(out.fileno())
    except (OSError, AttributeError, ValueError):     # not a file on disk (a test's BytesIO)
        return
    free, total = st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize
    if free - ROOM_CHECK_EVERY < total // 20:
        raise InputError(f"{name}: cannot decompress it: after {written} bytes its copy in $TMPDIR "
                         "would leave less than 5 % of that file system free (set TMPDIR to a "
                         "larger one, or decompress it yourself)")
