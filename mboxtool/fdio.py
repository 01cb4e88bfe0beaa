"""Writing a list of buffers to a file descriptor without joining them first."""

from __future__ import annotations

import os
from collections import deque
from itertools import islice

IOV_BATCH = 512                 # buffers per call, well under IOV_MAX (1024 on Linux)


def write_buffers(fd: int, buffers, offset: int | None = None) -> None:
    """Write ``buffers`` in order (at ``offset`` with pwritev, else writev), finishing short writes."""
    views = deque(memoryview(b) for b in buffers if len(b))
    while views:
        chunk = list(islice(views, IOV_BATCH))
        if offset is None:
            n = os.writev(fd, chunk)
        else:
            n = os.pwritev(fd, chunk, offset)
            offset += n
        while n:
            if n >= len(views[0]):
                n -= len(views.popleft())
            else:
                views[0] = views[0][n:]
                n = 0
