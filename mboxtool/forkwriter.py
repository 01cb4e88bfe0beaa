"""A child process that creates the Maildir files while the parent reads and parses.

Creating 20,000 small files is mostly kernel time, and parsing is mostly Python
time; a thread cannot overlap them (the GIL comes back after every system
call), a second process can. The parent streams each message (bytes, flags,
keywords, date) through a pipe; the child digests it, skips what the Maildir
already holds, writes the rest through tmp/ into new/ or cur/ and, at each
batch end, makes the batch durable and acknowledges it with the fate of every
message. The parent counts a message as converted only after that. If either
side dies, nothing is half-counted: linked files carry their digest in their
names, so a re-run skips them.
"""

from __future__ import annotations

import json
import os
import select
import struct
import warnings
from typing import Any

from .index import short_digest
from .message import MailMessage, core_bytes

_FRAME = struct.Struct("!BII")        # kind, len(meta json), len(data)
_ACK = struct.Struct("!I")            # length of the JSON acknowledgement that follows
MESSAGE, COMMIT = 1, 2
PIPE_SIZE = 1 << 20


def _read_exact(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class ForkedMaildirWriter:
    """Delivers messages through a child process; ``acks()`` tells what is durable."""

    def __init__(self, writer: Any, known: set[int], verify: bool):
        self.writer, self.known, self.verify = writer, known, verify
        self.batch = 0
        self.pid = 0
        self.closed = True
        self.buf = b""

    def start(self) -> ForkedMaildirWriter:
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        try:                                                # a deep pipe smooths out disk latency
            import fcntl
            fcntl.fcntl(self.to_child, 1031, PIPE_SIZE)       # F_SETPIPE_SZ (Linux)
        except OSError:
            pass
        with warnings.catch_warnings():
            # Python >= 3.12 warns about fork() with threads (tqdm's monitor, the dotlock
            # refresher); the child only writes files and never touches their locks
            warnings.simplefilter("ignore", DeprecationWarning)
            self.pid = os.fork()
        if self.pid == 0:                                   # the child: write until EOF
            os.close(self.to_child)
            os.close(self.from_child)
            code = 0
            try:
                self._child(to_child_r, from_child_w)
            except BaseException:
                code = 1
            os._exit(code)                                  # never run the parent's cleanup
        os.close(to_child_r)
        os.close(from_child_w)
        os.set_blocking(self.from_child, False)
        self.closed = False
        return self

    # -- the child ---------------------------------------------------------------
    def _child(self, rfd: int, wfd: int) -> None:
        writer = self.writer
        batch, status, digests, reasons = 0, [], [], {}
        failed = False
        while True:
            try:
                kind, lm, ld = _FRAME.unpack(_read_exact(rfd, _FRAME.size))
                meta = json.loads(_read_exact(rfd, lm)) if lm else {}
                data = _read_exact(rfd, ld) if ld else b""
            except EOFError:
                return
            if failed:
                continue                                    # drain until the parent stops
            try:
                if kind == MESSAGE:
                    msg = MailMessage(data, meta["f"], meta["n"], tuple(meta["k"]), meta["d"],
                                      key=meta["key"])
                    digest = short_digest(core_bytes(msg), stripped=True)
                    digests.append(digest if self.verify else 0)
                    if digest in self.known:
                        status.append("s")
                        continue
                    try:
                        writer.add(msg, writer.plan(msg, digest))
                        status.append("w")
                    except ValueError as exc:
                        status.append("r")
                        reasons[msg.key] = str(exc)
                else:
                    batch += 1
                    writer.commit()
                    self._ack(wfd, {"batch": batch, "status": "".join(status), "digests": digests,
                                    "reasons": reasons})
                    status, digests, reasons = [], [], {}
            except OSError as exc:
                failed = True
                self._ack(wfd, {"batch": batch + 1, "errno": exc.errno or 5})

    @staticmethod
    def _ack(wfd: int, doc: dict) -> None:
        body = json.dumps(doc).encode()
        _write_all(wfd, _ACK.pack(len(body)) + body)

    # -- the parent ----------------------------------------------------------------
    def send(self, msg: MailMessage) -> None:
        meta = json.dumps({"f": msg.flags, "n": msg.new, "k": list(msg.keywords), "d": msg.date,
                           "key": msg.key}).encode()
        _write_all(self.to_child, _FRAME.pack(MESSAGE, len(meta), len(msg.data)) + meta)
        _write_all(self.to_child, msg.data)

    def commit(self) -> int:
        """Ask for the current batch to be made durable; returns its number."""
        self.batch += 1
        _write_all(self.to_child, _FRAME.pack(COMMIT, 0, 0))
        return self.batch

    def acks(self, wait_for: int | None = None) -> list[dict]:
        """Acknowledgements so far; with ``wait_for``, block until that batch is answered."""
        out: list[dict] = []
        while True:
            try:
                chunk = os.read(self.from_child, 1 << 16)
            except BlockingIOError:
                chunk = None
            if chunk:
                self.buf += chunk
            while len(self.buf) >= _ACK.size:
                (n,) = _ACK.unpack(self.buf[:_ACK.size])
                if len(self.buf) < _ACK.size + n:
                    break
                out.append(json.loads(self.buf[_ACK.size:_ACK.size + n]))
                self.buf = self.buf[_ACK.size + n:]
            if chunk:
                continue
            if chunk == b"":                                # the child is gone
                return out
            if wait_for is None or any(a["batch"] >= wait_for or a.get("errno") for a in out):
                return out
            select.select([self.from_child], [], [], 1.0)

    def close(self) -> int:
        """Stop the child (it finishes what it was given) and return its exit status."""
        self.closed = True
        try:
            os.close(self.to_child)
        except OSError:
            pass
        _, status = os.waitpid(self.pid, 0)
        os.close(self.from_child)
        return os.waitstatus_to_exitcode(status)
