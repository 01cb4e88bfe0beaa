"""A child process that creates the Maildir files while the parent reads and parses.

Creating 20,000 small files is mostly kernel time, and parsing is mostly Python
time; a thread cannot overlap them (the GIL comes back after every system
call), a second process can. The parent streams each message (flags,
keywords, date) through a pipe and its bytes through shared memory (or the
pipe, when the ring is full); the child digests it,
skips what the Maildir already holds, names the file and writes it through
tmp/ into new/ or cur/; a second thread of the child makes each
finished batch durable (while the first writes the next) and acknowledges it
with the fate of every message. The parent counts a message as converted only
after that. If either side dies, nothing is half-counted: linked files carry
their digest in their names, so a re-run skips them.
"""

from __future__ import annotations

import errno
import json
import mmap
import os
import queue
import select
import signal
import struct
import threading
import time
import warnings
from collections import deque
from typing import Any, BinaryIO

from ..fs.fdio import write_buffers
from ..model.digest import core_digest, replaces_known
from ..model.flags import keyword_bytes
from ..model.message import MailMessage

_BATCH = struct.Struct("!Iq")         # messages in the batch that follows, ring offset of its bytes
_FRAME = struct.Struct("!BqIII")      # new | quoted << 1 | in ring << 2, date (-1: none), len(state), len(bytes),
                                      # body >From lines known (+1; 0: not looked for)
_ACK = struct.Struct("!I")            # length of the JSON acknowledgement that follows, or:
RELEASED = 1 << 31                    # RELEASED | batch: its bytes are read out of the ring
PIPE_SIZE = 1 << 20
RING_SIZE = 8 << 20                   # shared memory per writer


class _Ring:
    """Shared memory that carries the parent's batches to one child.

    A pipe copies every byte twice in the kernel (into the pipe, out of it) and
    wakes the reader for every pipeful. Here the parent writes a batch's bytes
    into a memfd with one pwritev and sends only their offsets; the child,
    which maps the memfd, copies each message out and says when it has read
    the batch, which frees its region. The parent never maps the ring, so it
    adds nothing to the reading process's memory. Regions are taken first in,
    first out; a message that does not fit goes through the pipe.
    """

    def __init__(self, size: int | None = None):
        self.size = size or RING_SIZE
        self.used: deque[tuple[int, int, int]] = deque()  # (batch, start, end), oldest first
        self.mem: mmap.mmap | None = None
        self.fd = -1
        try:
            self.fd = os.memfd_create("mboxtool-ring")     # Linux
            os.ftruncate(self.fd, self.size)
        except (AttributeError, OSError):
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1
            self.mem = mmap.mmap(-1, self.size)            # elsewhere: an anonymous shared mapping

    def map(self) -> mmap.mmap:
        """The ring as the child reads it."""
        if self.mem is None:
            self.mem = mmap.mmap(self.fd, self.size, prot=mmap.PROT_READ)
        return self.mem

    def write(self, start: int, buffers: list) -> None:
        """The parent's side: ``buffers`` one after the other from ``start``."""
        if self.fd < 0:
            for buf in buffers:
                self.mem[start:start + len(buf)] = buf
                start += len(buf)
            return
        write_buffers(self.fd, buffers, start)

    def close(self) -> None:
        if self.mem is not None:
            self.mem.close()
            self.mem = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def free(self) -> tuple[int, int]:
        """The larger free region, as (start, end)."""
        if not self.used:
            return 0, self.size
        oldest, newest = self.used[0][1], self.used[-1]
        if newest[1] >= oldest:                           # not wrapped: free after newest, and before oldest
            return (newest[2], self.size) if self.size - newest[2] >= oldest else (0, oldest)
        return newest[2], oldest

    def release(self, batch: int) -> None:
        while self.used and self.used[0][0] <= batch:
            self.used.popleft()


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise EOFError
    return data


def _messages(stream: BinaryIO, ring: mmap.mmap):
    """(flag letters, new, keyword letters, extra header, date, quoted, body quotes, bytes,
    keywords for a Courier Maildir) of each message of the next batch, read one by one: the
    whole batch is never in memory at once."""
    count, pos = _BATCH.unpack(_read_exact(stream, _BATCH.size))
    for _ in range(count):
        bits, date, ls, ld, nq = _FRAME.unpack(_read_exact(stream, _FRAME.size))
        letters, kw_letters, names, extra = _read_exact(stream, ls).split(b"\0", 3)
        quotes = None if nq == 0 else [] if nq == 1 else \
            list(struct.unpack(f"!{nq - 1}I", _read_exact(stream, 4 * (nq - 1))))
        if bits & 4:
            data = ring[pos:pos + ld]
            pos += ld
        else:
            data = _read_exact(stream, ld)
        words = tuple(names.decode("utf-8", "surrogateescape").split("\n")) if names else ()
        yield letters.decode("ascii"), bool(bits & 1), kw_letters.decode("ascii"), extra or None, \
            None if date < 0 else date, bool(bits & 2), quotes, data, words


def _die_with_parent(parent: int) -> None:
    """If the parent is killed, stop at once rather than write what a re-run is writing too."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)              # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:                              # it died before prctl took effect
        os._exit(1)


class _Acknowledger:
    """The child's second thread: makes written batches durable, then acknowledges them.

    The delivering thread hands over each batch as soon as its files are
    linked and goes on with the next one while this thread waits in syncfs(2)
    (which releases the GIL), so the flush to disk overlaps the writing instead
    of stopping it. One syncfs covers every batch handed over before it began;
    acknowledgements go out in batch order, and a batch is acknowledged as
    written only after a flush that started after its last file was linked.
    """

    def __init__(self, writer: Any, wfd: int):
        self.writer, self.wfd = writer, wfd
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.lock = threading.Lock()                        # both threads write to the parent
        self.failed = False
        self.thread = threading.Thread(target=self._run, name="mboxtool-fsync", daemon=True)
        self.thread.start()

    def put(self, batch: int, files: list, doc: dict) -> None:
        self.queue.put((batch, files, doc))

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()

    def _run(self) -> None:
        done = False
        while not done:
            items = [self.queue.get()]
            while not self.queue.empty():                   # everything ready shares one flush
                items.append(self.queue.get())
            done = items[-1] is None
            items = [item for item in items if item is not None]
            files = [f for _, batch_files, _ in items for f in batch_files]
            try:
                self.writer.make_durable(files)
            except OSError as exc:
                for batch, _, _ in items:
                    self._ack({"batch": batch, "errno": exc.errno or 5})
                self.failed = True
                return
            if self.writer.warnings and items:              # e.g. the quota file: the parent reports them
                items[-1][2]["warnings"], self.writer.warnings = self.writer.warnings, []
            for _, _, doc in items:
                self._ack(doc)
                if doc.get("errno"):
                    self.failed = True
                    return

    def _ack(self, doc: dict) -> None:
        body = json.dumps(doc).encode()
        with self.lock:
            write_buffers(self.wfd, [_ACK.pack(len(body)), body])

    def released(self, batch: int) -> None:
        """Tell the parent the batch's bytes are read out of the shared ring."""
        with self.lock:
            write_buffers(self.wfd, [_ACK.pack(RELEASED | batch)])


class ForkedMaildirWriter:
    """Delivers messages through a child process; ``acks()`` tells what is durable."""

    def __init__(self, writer: Any, known: set[int]):
        self.writer, self.known = writer, known
        self.batch = 0
        self.pid = 0
        self.closed = True
        self.buf = b""
        self.ring: _Ring | None = None                      # made by start(), before the fork

    def start(self, siblings: list[ForkedMaildirWriter] | None = None) -> ForkedMaildirWriter:
        """Fork the child. ``siblings``: writers started before this one, whose pipe ends the
        new child must close (a copy left open would keep a sibling from ever seeing EOF)."""
        if self.ring is None:
            self.ring = _Ring()
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        try:                                                # a deep pipe smooths out disk latency
            import fcntl
            fcntl.fcntl(self.to_child, 1031, PIPE_SIZE)       # F_SETPIPE_SZ (Linux)
        except OSError:
            pass
        parent = os.getpid()
        with warnings.catch_warnings():
            # Python >= 3.12 warns about fork() with threads (tqdm's monitor, the dotlock
            # refresher); the child only writes files and never touches their locks
            warnings.simplefilter("ignore", DeprecationWarning)
            self.pid = os.fork()
        if self.pid == 0:                                   # the child: write until EOF
            _die_with_parent(parent)
            # Ctrl-C and systemd's stop signal the whole group: the parent decides, and on its
            # way out closes the pipe, after which this child finishes what it was handed
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            self.writer.pid = os.getpid()                   # its own file names (P field), its own tmp/
            os.close(self.to_child)
            os.close(self.from_child)
            for sibling in siblings or ():
                os.close(sibling.to_child)
                os.close(sibling.from_child)
                sibling.ring.close()
            code = 0
            try:
                self._child(to_child_r, from_child_w)
            except BaseException:
                code = 1
            os._exit(code)                                  # never run the parent's cleanup
        os.close(to_child_r)
        os.close(from_child_w)
        os.set_blocking(self.from_child, False)
        os.set_blocking(self.to_child, False)             # see _while_full
        self.closed = False
        return self

    # -- the child ---------------------------------------------------------------
    def _child(self, rfd: int, wfd: int) -> None:
        writer = self.writer
        durable = _Acknowledger(writer, wfd)
        try:
            batch = 0
            stream = open(rfd, "rb", buffering=256 << 10, closefd=False)
            while not durable.failed:
                if not stream.peek(1):
                    return                                  # the parent closed the pipe: done
                batch += 1
                status, digests, reasons = [], [], {}
                known = self.known
                try:
                    for i, (letters, new, kw_letters, extra, date, quoted, quotes, data, words) in enumerate(
                            _messages(stream, self.ring.map())):
                        digest, parts = core_digest(data, quoted, quotes)
                        digests.append(digest)               # for --verify and the state file
                        if digest in known or replaces_known(data, known):
                            status.append("s")
                            continue
                        try:
                            tmpname, final, parts = writer.place(letters, new, kw_letters, digest, parts, extra,
                                                                 words)
                            writer.deliver(tmpname, final, parts, date, words)
                            status.append("w")
                        except ValueError as exc:
                            status.append("r")
                            reasons[i] = str(exc)
                except OSError as exc:
                    durable.put(batch, writer.take(), {"batch": batch, "errno": exc.errno or 5})
                    return
                except EOFError:                            # the parent died mid-batch: never acknowledged
                    return
                durable.released(batch)
                durable.put(batch, writer.take(), {"batch": batch, "status": "".join(status),
                                                   "digests": digests, "reasons": reasons})
        finally:
            durable.close()


    # -- the parent ----------------------------------------------------------------
    def send_batch(self, batch: list[MailMessage]) -> int:
        """Hand a batch to the child in one writev; returns its number (see acks())."""
        ring = self.ring
        start, end = ring.free()
        pos = start
        in_ring_data = []
        out = [_BATCH.pack(len(batch), start)]
        for msg in batch:
            # keyword letters are given out here, by the one process that owns dovecot-keywords
            kw_letters, extra = self.writer.keyword_letters(msg.keywords, msg.key, msg.flags)
            # a Courier Maildir's keywords go by name (one a line: a keyword holds no blank)
            names = b"\n".join(keyword_bytes(k) for k in msg.keywords) if self.writer.courier else b""
            state = b"%s\0%s\0%s\0%s" % (msg.flags.encode("ascii"), kw_letters.encode("ascii"), names,
                                          extra or b"")
            n = len(msg.data)
            in_ring = pos + n <= end
            quotes = msg.body_quotes
            if quotes and quotes[-1] >= 1 << 32:             # beyond the frame's field: the child looks
                quotes = None
            out += (_FRAME.pack(msg.new | msg.quoted << 1 | in_ring << 2, -1 if msg.date is None else msg.date,
                                len(state), n, 0 if quotes is None else len(quotes) + 1), state)
            if quotes:
                out.append(struct.pack(f"!{len(quotes)}I", *quotes))
            if in_ring:
                in_ring_data.append(msg.data)
                pos += n
            else:
                out.append(msg.data)
        self.batch += 1
        if pos > start:
            ring.write(start, in_ring_data)
            ring.used.append((self.batch, start, pos))
        write_buffers(self.to_child, out, when_full=self._while_full)   # no joined copy in memory
        return self.batch

    def _while_full(self) -> None:
        """The child's pipe is full: take in what the child says meanwhile. A child blocked
        writing an acknowledgement to a parent blocked writing the next batch would wait for
        ever; the acknowledgements are kept and read by acks() as usual."""
        readable, _, _ = select.select([self.from_child], [self.to_child], [], 1.0)
        if not readable:
            return
        try:
            chunk = os.read(self.from_child, 1 << 16)
        except BlockingIOError:
            return
        if not chunk:
            raise BrokenPipeError(errno.EPIPE, "the writer process ended")
        self.buf += chunk

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
                if n & RELEASED:
                    self.ring.release(n & ~RELEASED)
                    self.buf = self.buf[_ACK.size:]
                    continue
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
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                break
            # the child finishes what it was handed and acknowledges it: a full pipe to
            # this process would keep it from ever exiting
            readable, _, _ = select.select([self.from_child], [], [], 0.1)
            try:
                chunk = os.read(self.from_child, 1 << 16) if readable else None
            except BlockingIOError:
                chunk = None
            if chunk:
                self.buf += chunk
            elif chunk == b"":                             # its end is closed: it is exiting
                time.sleep(0.01)
        os.close(self.from_child)
        self.ring.close()
        return os.waitstatus_to_exitcode(status)
