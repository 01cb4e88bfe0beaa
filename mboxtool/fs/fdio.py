"""Writing a list of buffers to a file descriptor without joining them first."""

from __future__ import annotations

import os

IOV_BATCH = 512                 # buffers per call, well under IOV_MAX (1024 on Linux)


def write_buffers(fd: int, buffers, offset: int | None = None, when_full=None) -> None:
    """Write ``buffers`` in order (at ``offset`` with pwritev, else writev), finishing short writes.

    ``when_full``: for a non-blocking ``fd``, called whenever it cannot take more (a full
    pipe); the write goes on when it returns."""
    if offset is None and type(buffers) is tuple and len(buffers) <= 2:
        # a Maildir message (one or two buffers): the usual whole write, without the general loop
        n = os.writev(fd, buffers)
        if n == sum(map(len, buffers)):
            return
        buffers = _after(buffers, n)                   # a short write: the rest, below
    bufs = buffers if isinstance(buffers, (list, tuple)) else list(buffers)
    private = bufs is not buffers                      # ours to change after a short write
    i = 0
    while i < len(bufs):
        chunk = bufs[i:i + IOV_BATCH] if i or len(bufs) > IOV_BATCH else bufs
        size = sum(map(len, chunk))
        if not size:
            i += len(chunk)
            continue
        try:
            n = os.writev(fd, chunk) if offset is None else os.pwritev(fd, chunk, offset)
        except BlockingIOError:
            if when_full is None:
                raise
            when_full()
            continue
        if offset is not None:
            offset += n
        if n == size:                                  # the usual case: all of it, one call
            i += len(chunk)
            continue
        while n:                                       # a short write: skip what went out
            length = len(bufs[i])
            if n >= length:
                n -= length
                i += 1
            else:
                if not private:
                    bufs, private = list(bufs), True   # never change the caller's list
                bufs[i] = memoryview(bufs[i])[n:]
                n = 0


def _after(buffers, n: int) -> list:
    """What is left of ``buffers`` once their first ``n`` bytes are written."""
    rest = []
    for buf in buffers:
        if n >= len(buf):
            n -= len(buf)
            continue
        rest.append(memoryview(buf)[n:] if n else buf)
        n = 0
    return rest
