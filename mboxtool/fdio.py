"""Writing a list of buffers to a file descriptor without joining them first."""

from __future__ import annotations

import os

IOV_BATCH = 512                 # buffers per call, well under IOV_MAX (1024 on Linux)


def write_buffers(fd: int, buffers, offset: int | None = None) -> None:
    """Write ``buffers`` in order (at ``offset`` with pwritev, else writev), finishing short writes."""
    bufs = [b for b in buffers if len(b)]
    i = 0
    while i < len(bufs):
        chunk = bufs[i:i + IOV_BATCH]
        if offset is None:
            n = os.writev(fd, chunk)
        else:
            n = os.pwritev(fd, chunk, offset)
            offset += n
        if n == sum(map(len, chunk)):                  # the usual case: all of it
            i += len(chunk)
            continue
        while n:                                       # a short write: skip what went out
            size = len(bufs[i])
            if n >= size:
                n -= size
                i += 1
            else:
                bufs[i] = memoryview(bufs[i])[n:]
                n = 0
