"""mbox: the bytes of one entry (§1.6), and appending them under an exclusive lock, durably,
batch by batch (§7.6)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from ..fs.durable import fsync_dir, make_private_dir, replace_file
from ..fs.fdio import write_buffers
from ..fs.locking import MboxLock
from ..fs.ownership import give, owner_for
from ..fs.safefs import read_control
from ..model import flags
from ..model.digest import short_digest
from ..model.digesttable import DigestTable
from ..model.message import (
    MailMessage,
    add_headers,
    core_bytes,
    header_end,
    lacks_empty_line,
    strip_head,
    unquote_mboxrd,
)
from .base import MailboxWriter
from .fromline import from_line_for
from .mbox import FdFile, open_mbox_fd
from .mboxscan import MboxScanner
from .mboxvariant import quote, quote_points, quoted_parts


def render_mbox_message(msg: MailMessage, variant: str, now: float | None = None,
                        keep_from_line: bool = False) -> bytes:
    """The bytes of one mbox entry: From_ line, message with fresh metadata, empty line.

    With ``keep_from_line``, a From_ line that was read with a good date and plain ASCII is
    written back exactly (sender, local time, spacing), as repair does.
    """
    return b"".join(render_mbox_parts(msg, variant, now, keep_from_line))


def render_mbox_parts(msg: MailMessage, variant: str, now: float | None = None,
                      keep_from_line: bool = False, mozilla: bool = False) -> list[bytes | memoryview]:
    """``render_mbox_message`` as buffers to write one after the other.

    The body (nearly all of a message) is never copied: it is passed on as views
    around the lines that need a ``>``. Only the header block is built anew.
    """
    data = unquote_mboxrd(msg.data) if msg.quoted else msg.data
    known = msg.body_froms
    if known is not None and known[0] is data:            # the digest looked at these bytes already
        _, end, stripped, froms = known
    else:
        end, stripped, froms = header_end(data), None, None
        if not msg.stripped:
            stripped = strip_head(data[:end])
    if end >= len(data):                          # no body: small, and the rules for where headers go differ
        body = _render_joined(msg, variant, mozilla)
        return [from_line_for(msg, now, keep_from_line), body, b"\n"]
    head = quote(data[:end] if stripped is None else stripped, variant)
    # the body, quoted as ``variant`` does, as views between the quoted lines
    points = quote_points(data, variant, end, froms)
    body = quoted_parts(memoryview(data), points, end)
    if data[-1] != 0x0A:
        body.append(b"\n")
    meta = flags.to_mbox_headers(msg.flags, msg.new, msg.keywords, mozilla)
    if variant in ("mboxcl", "mboxcl2"):
        # the line end added after a message without one is not counted: read back, the
        # message ends where it ended (§1.4 step 6)
        meta.append(b"Content-Length: %d" % (len(data) - end + len(points)))
    # the metadata lines go just before the empty line that ends the header block
    eol = b"\r\n" if head.endswith(b"\r\n") else b"\n"
    header_block = b"".join((head[: len(head) - len(eol)], *(line + eol for line in meta), eol))
    return [from_line_for(msg, now, keep_from_line, head), header_block, *body, b"\n"]


def _render_joined(msg: MailMessage, variant: str, mozilla: bool = False) -> bytes:
    """Message bytes with fresh metadata, for a message without a body."""
    body = quote(core_bytes(msg), variant)
    added = not body.endswith(b"\n")
    if added:
        body += b"\n"
    meta = flags.to_mbox_headers(msg.flags, msg.new, msg.keywords, mozilla)
    # a Content-Length needs the empty line that ends the header; a message without one gets
    # none (the empty line after it, the separator's, would be read as its own otherwise)
    end = header_end(body)
    if variant in ("mboxcl", "mboxcl2") and not lacks_empty_line(body, end):
        meta.append(b"Content-Length: %d" % (len(body) - end - added))   # the added line end not counted
    return add_headers(body, meta)


class MboxWriter(MailboxWriter):
    """Appends messages to an mbox under an exclusive lock, durably, batch by batch (§7.6)."""

    format = "mbox"
    writes_in_thread = True

    def __init__(self, path: Path, variant: str = "mboxrd", fsync: bool = True, lock: bool = True,
                 lock_timeout: float = 30, warn=None, batch_bytes: int = 8 << 20, dotlock: bool = True):
        self.path = Path(path)
        self.dotlock = dotlock
        self.variant = variant
        self.fsync, self.lock_wanted, self.lock_timeout = fsync, lock, lock_timeout
        self.warn = warn
        self.batch_bytes = batch_bytes
        self.fd: int | None = None
        self.lock: MboxLock | None = None
        self.created = False
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.committed = 0
        self.warnings: list[dict] = []                # read by convert once the run is done

    def fit_keywords(self, msg: MailMessage) -> None:
        """Keywords as a blank- or comma-separated list can hold them: one with a comma or a
        blank (a Dovecot or MH keyword may have a comma) is written with ``_`` there and
        reported, instead of coming back as several keywords or not at all."""
        if not msg.keywords:
            return
        fitted = tuple(flags.as_separated_keyword(k) for k in msg.keywords)
        if fitted == msg.keywords:
            return
        for old, new in zip(msg.keywords, fitted, strict=True):
            if old != new and not any(w.get("keyword") == old for w in self.warnings):
                self.warnings.append({"code": "keyword-renamed", "key": msg.key, "keyword": old, "message": (
                    f"keyword {old!r} written as {new!r} in {self.path}: {self.format} keyword lists "
                    "are split at blanks and commas")})
        msg.keywords = tuple(dict.fromkeys(fitted))

    def open(self) -> MboxWriter:
        try:
            owner = owner_for(self.path)             # root creating a user's mbox: the user's file
            if not self.path.parent.exists():
                make_private_dir(self.path.parent, owner)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOCTTY, 0o600)
            self.created = True
            give(owner, self.fd)
        except FileExistsError:
            self.fd, st = open_mbox_fd(self.path, write=True)
            if st.st_nlink != 1:
                os.close(self.fd)
                raise InputError(f"{self.path}: has {st.st_nlink} hard links; refusing to append") from None
        except PermissionError as exc:
            raise InputError(f"{self.path}: cannot create: permission denied") from exc
        except OSError as exc:
            raise InputError(f"{self.path}: cannot create: {exc.strerror}") from exc
        try:
            if self.lock_wanted:
                self.lock = MboxLock(self.path, self.fd, True, self.lock_timeout,
                                     dotlock=self.dotlock, warn=self.warn).acquire()
                # while we waited, a MUA may have renamed a new file over the path (§7.3 step 3)
                if os.lstat(self.path).st_ino != os.fstat(self.fd).st_ino:
                    self.lock.release()
                    self.lock = None
                    os.close(self.fd)
                    self.fd, self.created = None, False
                    return self.open()
            if self.created and self.fsync:
                fsync_dir(self.path.parent)
            self._recover_journal()
            self.committed = os.lseek(self.fd, 0, os.SEEK_END)
            self.pending.append(self._ending_fix())
        except BaseException:
            self.close(remove_if_empty=True)
            raise
        return self

    @property
    def journal(self) -> Path:
        return self.path.with_name(self.path.name + ".mboxtool-append")

    def _recover_journal(self) -> None:
        """Undo a partial append left by a killed run (its journal names the length before it)."""
        try:
            text = read_control(self.journal, cap=4096).decode("ascii", "replace").split()
        except FileNotFoundError:
            return
        except OSError as exc:                       # a link, a FIFO, a huge file: never ours
            raise InputError(f"{self.journal}: {exc.strerror}; remove it, it is no journal "
                             "mboxtool wrote") from exc
        try:
            ino, before, after = (int(x) for x in text[:3])
        except ValueError:
            ino, before, after = -1, 0, 0
        st = os.fstat(self.fd)
        if st.st_ino == ino and before <= st.st_size < after:
            os.ftruncate(self.fd, before)     # the batch never completed: it was never counted
            os.fsync(self.fd)
        self.journal.unlink(missing_ok=True)

    def _ending_fix(self) -> bytes:
        """Bytes that make the file end in an empty line before we append (§1.6 step 6)."""
        size = self.committed
        if size == 0:
            return b""
        tail = os.pread(self.fd, 3, max(0, size - 3))
        if tail.endswith(b"\n\n") or tail.endswith(b"\n\r\n"):
            return b""
        return b"\n" if tail.endswith(b"\n") else b"\n\n"

    keep_from_lines = False                  # repair writes good From_ lines back as they were
    mozilla = False                          # convert --thunderbird: X-Mozilla-Status / -Keys too

    @property
    def adds_final_newline(self) -> bool:
        """True when a message without a final newline is stored with one: every entry ends
        with a line end, and only a Content-Length (mboxcl, mboxcl2) tells where it began."""
        return self.variant not in ("mboxcl", "mboxcl2")

    def add(self, msg: MailMessage) -> bool:
        """Queue one message; True when the batch is full and commit() should follow."""
        self.fit_keywords(msg)
        return self._queue(*render_mbox_parts(msg, self.variant, keep_from_line=self.keep_from_lines,
                                              mozilla=self.mozilla))

    def _queue(self, *parts: bytes | memoryview) -> bool:
        """Queue an entry's bytes (in one buffer or several) for the next commit()."""
        self.pending += parts
        self.pending_size += sum(map(len, parts))
        return self.pending_size >= self.batch_bytes

    def commit(self) -> None:
        """Write the queued messages and make them durable; on error, cut back to before them."""
        self.write_out(self.detach())

    def detach(self) -> list[bytes | memoryview]:
        """Take the queued entries away for write_out(), which a thread may run while this
        writer queues the next batch (sinks.ThreadSink)."""
        pending, self.pending, self.pending_size = self.pending, [], 0
        return pending

    def write_out(self, pending: list[bytes | memoryview]) -> None:
        """Append ``pending`` at the end of what is committed and make it durable; on error,
        cut the file back to before it. One call at a time: each starts where the last ended."""
        total = sum(len(entry) for entry in pending)
        if not total:
            return
        start = self.committed
        wrote_journal = False
        try:
            if self.fsync:                       # renamed into place: its name is never opened
                replace_file(self.journal.name, f"{os.fstat(self.fd).st_ino} {start} {start + total}\n".encode(),
                             self.journal.parent, fsync=False)
                wrote_journal = True
            write_buffers(self.fd, pending, start)    # no joined copy of the batch in memory
            if self.fsync:
                os.fsync(self.fd)
        except OSError:
            try:
                os.ftruncate(self.fd, start)
                os.fsync(self.fd)
            except OSError:
                pass
            raise
        finally:
            if wrote_journal:
                self.journal.unlink(missing_ok=True)
        self.committed = start + total

    def known_digests(self, save: bool = True) -> DigestTable | None:
        """Digests of the messages already in the file, read through the locked fd."""
        if self.fd is None:
            return None
        found = DigestTable()
        for raw in MboxScanner(FdFile(self.fd), self.committed, count_lines=False):
            found.add(short_digest(raw.data))       # the digest ignores From quoting
        return found

    def rollback(self) -> None:
        self.pending, self.pending_size = [], 0

    def close(self, remove_if_empty: bool = False) -> None:
        if self.fd is None:
            return
        if remove_if_empty and self.created and os.fstat(self.fd).st_size == 0:
            try:
                os.unlink(self.path)
            except OSError:
                pass
        if self.lock is not None:
            self.lock.release()
            self.lock = None
        os.close(self.fd)
        self.fd = None
