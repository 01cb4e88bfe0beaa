"""The mbox scanner's sliding window over the file (mboxscan.py), and the reads of lines the
scanner asks it for: a line and the next, whether an empty line comes before an offset, and
where the empty line that separates a message from the next From_ line begins."""

from __future__ import annotations

import os
import weakref
from typing import BinaryIO

CHUNK = 1 << 20                 # bytes read at a time
_WINDOWS: weakref.WeakSet = weakref.WeakSet()


def _drop_windows() -> None:
    """In a forked writer process: free the scanner windows it inherited. It never reads
    them, and the pages of a window holding a large message would otherwise stay its own
    for the whole run once the reading process moves on."""
    for window in list(_WINDOWS):
        window.buf = bytearray()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_windows)


class ScanWindow:
    """A sliding window over the file, dropping what lies before ``keep``.

    The window is a bytearray: it grows in place as a large message is read
    and drops its front without a copy, so a message of M bytes costs about M
    for the window and M for the message's own bytes (``get``). With an
    immutable bytes window every read copied the whole window, and the peak
    was twice that during the growth of a large message.
    """

    def __init__(self, fh: BinaryIO, size: int, cr_only: bool):
        self.fh, self.size, self.cr_only = fh, size, cr_only
        self.buf = bytearray()
        self.base = 0
        self.keep = 0
        self.read_to = 0
        _WINDOWS.add(self)

    @property
    def end(self) -> int:
        return self.base + len(self.buf)

    @property
    def eof(self) -> bool:
        return self.read_to >= self.size

    def fill(self, upto: int) -> bool:
        """Read until the window reaches absolute offset ``upto`` (or EOF)."""
        while self.end < upto and not self.eof:
            self._read()
        return self.end >= upto

    def more(self) -> bool:
        if self.eof:
            return False
        self._read()
        return True

    def _read(self) -> None:
        chunk = self.fh.read(min(CHUNK, self.size - self.read_to))
        if not chunk:
            self.size = self.read_to           # file shrank under us: stop here
            return
        self.read_to += len(chunk)
        if self.cr_only:
            chunk = chunk.replace(b"\r", b"\n")
        cut = self.keep - self.base
        if cut > 0:
            del self.buf[:cut]                 # bytearray: the front is dropped without a copy
            self.base = self.keep
        self.buf += chunk                      # grows in place (amortised)

    def find(self, needle: bytes, start: int, stop: int | None = None) -> int:
        """Absolute offset of ``needle`` at or after ``start``, reading on as needed; -1 if none."""
        while True:
            rel = self.buf.find(needle, start - self.base,
                                None if stop is None else stop - self.base)
            if rel >= 0:
                return rel + self.base
            scanned_to = self.end
            if (stop is not None and scanned_to >= stop) or not self.more():
                return -1
            start = max(start, scanned_to - len(needle) + 1)   # re-scan only the seam

    def get(self, start: int, stop: int) -> bytes:
        """Bytes ``start:stop`` (absolute offsets) as an immutable copy of their own."""
        a, z = start - self.base, stop - self.base
        if z - a < 65536:
            return bytes(self.buf[a:z])        # small: two quick copies beat a view
        with memoryview(self.buf) as view:     # large (a whole message): one copy, released at once
            return view[a:z].tobytes()

    def line_at(self, start: int) -> bytes:
        """The line starting at ``start``, without its line end."""
        nl = self.find(b"\n", start)
        stop = self.end if nl < 0 else nl
        return self.get(start, stop).rstrip(b"\r")

    def startswith(self, prefix: bytes, at: int) -> bool:
        self.fill(at + len(prefix))
        return self.buf.startswith(prefix, at - self.base)


def two_lines(b: ScanWindow, cand: int) -> tuple[bytes, int, bytes | None]:
    """The line at ``cand`` (no line end), the offset of its newline (or EOF), and the next line."""
    buf, base = b.buf, b.base
    r = cand - base
    e1 = buf.find(b"\n", r)
    e2 = buf.find(b"\n", e1 + 1) if e1 >= 0 else -1
    if e2 >= 0:                                      # the usual case: both lines are buffered
        return bytes(buf[r:e1]).rstrip(b"\r"), e1 + base, bytes(buf[e1 + 1:e2]).rstrip(b"\r")
    e1 = b.find(b"\n", cand)                         # near the window's end: read on
    if e1 < 0:
        return b.get(cand, b.end).rstrip(b"\r"), b.end, None
    line = b.get(cand, e1).rstrip(b"\r")
    b.fill(e1 + 2)
    if e1 + 1 >= b.end:
        return line, e1, None
    return line, e1, b.line_at(e1 + 1)


def after_empty_line(b: ScanWindow, at: int) -> bool:
    """True when the line before offset ``at`` is empty (``\\n`` or ``\\r\\n``)."""
    before = b.get(max(b.base, at - 3), at)
    return before.endswith(b"\n\n") or before.endswith(b"\n\r\n") or at - b.base <= 1 and \
        before in (b"\n", b"")


def drop_blank(b: ScanWindow, start: int, end: int) -> int:
    """The end of ``start:end`` without the one empty line that separates it from the next From_ line."""
    tail = b.get(max(start, end - 3), end)
    if tail.endswith(b"\n\r\n"):
        return end - 2
    if tail.endswith(b"\n\n"):
        return end - 1
    if end - start == len(tail) and tail in (b"\n", b"\r\n"):
        return start
    return end
