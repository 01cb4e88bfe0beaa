"""mbox: reading with variant detection (§1.4, §1.5) and appending with locking (§1.6, §7.6)."""

from __future__ import annotations

import errno
import os
import re
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, SourceChanged
from ..fs.durable import fsync_dir, make_private_dir, replace_file
from ..fs.fdio import write_buffers
from ..fs.locking import MboxLock
from ..fs.ownership import give, owner_for
from ..fs.safefs import read_control
from ..model import dates, flags
from ..model.digest import short_digest
from ..model.digesttable import DigestTable
from ..model.message import (
    Headers,
    MailMessage,
    add_headers,
    core_bytes,
    from_line_starts,
    header_end,
    lacks_empty_line,
    split_message,
    strip_head,
    unquote_mboxrd,
)
from .base import MailboxReader, MailboxWriter
from .compression import MAX_RATIO, compression_of, decompress
from .mboxscan import CHUNK, Event, MboxScanner, ScannedMessage

VARIANTS = ("mboxo", "mboxrd", "mboxcl", "mboxcl2")
SNIFF_BYTES = 4 << 20
PSEUDO_SUBJECT = "FOLDER INTERNAL DATA"
_TWO_SPACES = re.compile(rb"^From \S+  \S")


class FdFile:
    """A read-only file object over an fd we keep open, using pread.

    Closing any descriptor of a file drops the process's fcntl locks on it
    (§7.7), so readers never dup or reopen a locked mailbox: they read
    through the one fd that holds the lock.
    """

    def __init__(self, fd: int):
        self.fd, self.pos = fd, 0

    def seek(self, pos: int, whence: int = 0) -> int:
        self.pos = pos if whence == 0 else self.pos + pos if whence == 1 else os.fstat(self.fd).st_size + pos
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = max(0, os.fstat(self.fd).st_size - self.pos)
        data = os.pread(self.fd, n, self.pos)
        self.pos += len(data)
        return data


@dataclass
class VariantGuess:
    """The variant an mbox was written in, and why we think so."""

    variant: str
    evidence: list[str] = field(default_factory=list)


def open_mbox_fd(path: Path, write: bool = False) -> tuple[int, os.stat_result]:
    """Open an existing mbox as the single fd we keep for it; refuse what is not a regular file."""
    try:
        # one written to (a destination, a --move source) is never reached through a link:
        # root would append to, or empty, whatever file the link names
        fd = os.open(path, (os.O_RDWR | os.O_NOFOLLOW if write else os.O_RDONLY) | os.O_NOCTTY | os.O_NONBLOCK)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{path}: is a directory, not an mbox file") from exc
    except PermissionError as exc:
        raise InputError(f"{path}: permission denied") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP and write:
            raise InputError(f"{path}: is a symbolic link; refusing to write through it") from exc
        raise InputError(f"{path}: cannot open: {exc.strerror}") from exc
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise InputError(f"{path}: not a regular file")
    os.set_blocking(fd, True)
    return fd, st


def sniff_variant(fh, size: int) -> VariantGuess:
    """Guess the variant from the first 4 MiB (§1.5); mboxrd when nothing is decisive."""
    limit = min(size, SNIFF_BYTES)
    # counted while streaming: a list of the sniffed messages would stay in the heap
    n = with_cl = bodiless = unescaped_in_cl = quoted = multi = imap = postfix = mozilla = 0
    for m in MboxScanner(fh, limit, count_lines=False):
        if m.garbage:
            continue
        n += 1
        data, headers = m.data, m.headers
        if m.cl_bounded:
            with_cl += 1
            unescaped_in_cl += data.find(b"\nFrom ", max(m.body_offset - 1, 0)) >= 0
            quoted += data.find(b"\n>From ", max(m.body_offset - 1, 0)) >= 0    # the body's, as mboxcl quotes
        elif m.body_offset >= len(data):
            bodiless += 1                   # no empty line, no body: mboxcl writers give it no Content-Length
        multi += b">>From " in data and bool(from_line_starts(data, b">>From "))
        imap += b"x-uid" in headers or b"x-imapbase" in headers
        postfix += bool(_TWO_SPACES.match(m.from_line)) and (b"delivered-to" in headers
                                                             or b"x-original-to" in headers)
        mozilla += b"x-mozilla-status" in headers
    fh.seek(0)
    if not n:
        return VariantGuess("mboxrd", ["no messages: mboxrd by default"])
    if with_cl and with_cl >= 0.9 * (n - bodiless):
        if unescaped_in_cl:
            return VariantGuess("mboxcl2", [f"valid Content-Length on {with_cl}/{n} messages",
                                            f"unescaped From lines inside {unescaped_in_cl} of them"])
        if quoted:
            return VariantGuess("mboxcl", [f"valid Content-Length on {with_cl}/{n} messages",
                                           f">From lines in {quoted} messages"])
        return VariantGuess("mboxcl2", [f"valid Content-Length on {with_cl}/{n} messages"])
    if multi:
        return VariantGuess("mboxrd", [f">>From lines in {multi} messages"])
    if imap:
        return VariantGuess("mboxcl2", [f"X-UID/X-IMAPbase headers (UW-IMAP/Dovecot) in {imap} messages"])
    if postfix >= 0.5 * n:
        return VariantGuess("mboxo", [f"Postfix-style From_ lines and Delivered-To in {postfix} messages"])
    if mozilla:
        return VariantGuess("mboxrd", [f"X-Mozilla-Status in {mozilla} messages (Thunderbird; "
                                       "mboxrd assumed)"])
    return VariantGuess("mboxrd", ["nothing decisive: mboxrd by default"])


def quote_points(data: bytes, variant: str, begin: int = 0, froms: list[int] | None = None) -> list[int]:
    """Where ``variant`` puts a ``>``: the starts of the lines of ``data`` (from ``begin``, a
    line start) that would be read as From_ lines. ``froms``: where every ``>*From `` line
    from ``begin`` on starts, when the caller found them already."""
    if variant == "mboxcl2":
        return []
    if froms is None:
        if data.find(b"From ", begin) < 0:
            return []
        froms = from_line_starts(data, b"From ", begin)
    if variant in ("mboxo", "mboxcl"):
        froms = [s for s in froms if data[s] == 0x46]         # only unquoted 'From ' lines
    return froms


def quoted_parts(data: bytes | memoryview, points: list[int], begin: int = 0) -> list[bytes | memoryview]:
    """``data[begin:]`` as buffers with a ``>`` before each of ``points``."""
    parts: list[bytes | memoryview] = []
    last = begin
    for start in points:
        parts += (data[last:start], b">")
        last = start
    parts.append(data[last:])
    return parts


def quote(data: bytes, variant: str) -> bytes:
    """Quote the lines of ``data`` that would be read as From_ lines, as ``variant`` does."""
    points = quote_points(data, variant)
    return b"".join(quoted_parts(data, points)) if points else data


class DateResolver:
    """Delivery time of a message: From_ date, then Date:, then the newest Received: (§3.6).

    A zoneless From_ date is read in the ``from_tz`` zone; with ``auto``, in the zone a
    Received: line of the same message proves (dates.proven_zone), else in the zone last
    proven in the same file, else as UTC (RFC 4155).
    """

    def __init__(self, from_tz: str = "auto"):
        self.from_tz = from_tz
        self.proven: int | None = None
        self.fixed = _fixed_offset(from_tz)

    def resolve(self, parsed: dates.FromLine, headers) -> tuple[int | None, str]:
        epoch = parsed.date
        if epoch is not None and dates.plausible(epoch + 14 * 3600) and epoch not in dates.PLACEHOLDER_DATES:
            if not parsed.has_zone:
                epoch -= self._offset(epoch, headers)
            # time -1 printed in some zone ("Wed Dec 31 23:59:59 1969": a tool that had no
            # date, mblaze's mexport among them) is no date either
            if epoch > 0:
                return epoch, "from-line"
        if headers is not None:
            date = dates.parse_header_date(headers.get(b"date"))
            if dates.plausible(date):
                return date, "date-header"
            received = dates.received_date(headers.get_all(b"received"))
            if received is not None:
                return received, "received"
        return None, "none"

    def _offset(self, epoch: int, headers) -> int:
        if self.fixed is not None:
            return self.fixed
        zone = _zone_of_received(epoch, headers) if headers is not None and b"received" in headers else None
        if zone is not None:
            self.proven = zone
            return zone
        return self.proven or 0


def _zone_of_received(epoch: int, headers: Headers) -> int | None:
    """The zone the top-most Received: line of ``headers`` (the final hop, written where the
    message was delivered, §3.6) proves for the From_ date ``epoch`` read as UTC."""
    top = headers.tail_span(b"received", b";")
    return dates.proven_zone(epoch, dates.header_wall_clock_in(headers.raw, *top) if top else None)


def _fixed_offset(from_tz: str) -> int | None:
    if from_tz == "utc":
        return 0
    if from_tz == "local":
        return -time.timezone if not time.daylight else -time.altzone
    m = re.fullmatch(r"([+-])(\d\d)(\d\d)", from_tz)
    if m:
        return (1 if m.group(1) == "+" else -1) * (int(m.group(2)) * 3600 + int(m.group(3)) * 60)
    return None


def _room_for_copy(directory: Path | None, size: int) -> bool:
    """True when ``size`` bytes can be copied into ``directory`` and still leave room for the
    converted mail (about as much again) and 5 % of the file system: a snapshot must never
    fill the disk that deliveries and this conversion itself write to."""
    import tempfile
    try:
        st = os.statvfs(directory if directory is not None else tempfile.gettempdir())
    except OSError:
        return False
    free, total = st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize
    return free - 2 * size >= total // 20


def copy_range(src: int, dst: int, start: int, stop: int) -> None:
    """Bytes ``start:stop`` of ``src`` to the same offsets of ``dst``, in the kernel where it can."""
    pos = start
    while pos < stop:
        try:
            n = os.copy_file_range(src, dst, stop - pos, pos, pos)
        except (AttributeError, OSError) as exc:        # old kernel, or a file system without it
            if isinstance(exc, OSError) and exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL,
                                                               errno.EOPNOTSUPP, errno.EBADF):
                raise
            while pos < stop:
                chunk = os.pread(src, min(CHUNK, stop - pos), pos)
                if not chunk:
                    raise OSError(errno.EIO, "the mbox shrank while it was copied") from None
                write_buffers(dst, [chunk], pos)
                pos += len(chunk)
            return
        if n == 0:                                      # the source shrank under us
            raise OSError(errno.EIO, "the mbox shrank while it was copied")
        pos += n


class MboxReader(MailboxReader):
    """Messages of an mbox file, streaming, under a shared (or, for --move, exclusive) lock."""

    format = "mbox"
    can_snapshot = True
    removes_whole_file = True

    def __init__(self, path: Path, variant: str | None = None, from_tz: str = "auto",
                 lock: bool = True, lock_timeout: float = 30, exclusive: bool = False,
                 include_expunged: bool = False, event: Event | None = None, warn=None,
                 dotlock: bool = True, max_ratio: float | None = MAX_RATIO):
        self.path = Path(path)
        self.dotlock = dotlock
        self.max_ratio = max_ratio                  # bound of a compressed mbox's copy (compression.py)
        self.forced_variant = variant
        self.dates = DateResolver(from_tz)
        self.lock_wanted, self.lock_timeout, self.exclusive = lock, lock_timeout, exclusive
        self.include_expunged = include_expunged
        self.event = event or (lambda *a, **k: None)
        self.warn = warn
        self.fd: int | None = None
        self.lock: MboxLock | None = None
        self.size = 0
        self.guess = VariantGuess("mboxrd")
        self.skipped: list[tuple[MailMessage, str]] = []
        self.resume_at: tuple[int, int] = (0, 1)    # (offset, line) of a From_ line to start at
        self.count_lines = True
        # leave mboxrd quoting in MailMessage.data for core_bytes() to undo: a converter
        # that hands the bytes to a writer process then unquotes over there
        self.defer_unquote = False
        self.snapshotted = False        # reading a private copy; the source is closed and unlocked

    def open(self) -> MboxReader:
        self.fd, st = open_mbox_fd(self.path, write=self.exclusive)
        self.st = st
        try:
            if self.lock_wanted:
                self.lock = MboxLock(self.path, self.fd, self.exclusive, self.lock_timeout,
                                     dotlock=self.exclusive and self.dotlock, warn=self.warn).acquire()
                # the path may name another file now (rename over the spool): start over
                if os.stat(self.path).st_ino != st.st_ino:
                    self.close()
                    return self.open()
            kind = compression_of(os.pread(self.fd, 16, 0))
            if kind is not None:
                self._decompress(kind)
            self.size = os.fstat(self.fd).st_size
            self.fh = FdFile(self.fd)
            self._detect_variant()
        except BaseException:
            self.close()
            raise
        return self

    def _detect_variant(self) -> None:
        if self.forced_variant:
            self.guess = VariantGuess(self.forced_variant, ["forced with --source-variant"])
        else:
            self.guess = sniff_variant(self.fh, self.size)

    @property
    def variant(self) -> str:
        return self.guess.variant

    def _decompress(self, kind: str) -> None:
        """A compressed mbox (list archives): read a private decompressed copy, under the lock.

        Offsets and line numbers then refer to the decompressed bytes. Compressed data that
        breaks off (a download or copy cut short) still gives what it held up to there, with a
        ``compressed-data-broken`` event: an archive is never refused for its damaged end.
        """
        if self.exclusive:
            raise InputError(f"{self.path}: is {kind}-compressed; --move cannot shrink it")
        import tempfile
        copy = tempfile.TemporaryFile(prefix="mboxtool-")
        try:
            broken = decompress(FdFile(self.fd), kind, self.path, copy,
                                compressed_size=os.fstat(self.fd).st_size, max_ratio=self.max_ratio)
            copy.flush()
        except BaseException:
            copy.close()
            raise
        self.compressed_fd, self.fd = self.fd, os.dup(copy.fileno())   # lock stays on the original
        copy.close()
        if broken is not None:
            self.event("compressed-data-broken", offset=os.fstat(self.fd).st_size, reason=broken)

    def progress_size(self) -> tuple[int | None, str]:
        return self.size, "B"

    def remove_all(self) -> None:
        truncate_source(self, self.size)

    def read_through(self, fd: int, size: int) -> MboxReader:
        """Read the first ``size`` bytes of ``fd``, held open and locked by a writer, in place
        of opening the path (a second fd closed would drop the writer's fcntl lock, §7.7)."""
        self.fd, self.size, self.fh = fd, size, FdFile(fd)
        return self

    @property
    def identity(self) -> os.stat_result:
        """The source file as opened and locked (not a private copy read in its place)."""
        return self.st

    def snapshot(self, directory: Path | None = None, keep_tail: int = 0) -> bool:
        """Go on reading from a private copy of the rest of the file, and let go of the lock (§7.3).

        A shared lock held for the whole of a long read delays deliveries. Under
        the lock, the bytes not read yet are copied (in the kernel: far faster
        than converting them) to an unlinked file in ``directory``, at their own
        offsets (the copy is sparse before them), together with the last
        ``keep_tail`` bytes of the file (for the checkpoint's hash). Reading then
        continues from the copy, and nothing done to the spool afterwards
        changes what this run reads. Returns False, keeping the lock and
        reading on from the source, when the copy cannot be made (a full disk).
        """
        if self.lock is None or self.exclusive or self.fd is None or self.snapshotted:
            return False
        if getattr(self, "compressed_fd", None) is not None:
            # a compressed mbox is read from its private decompressed copy already
            self._let_go(self.compressed_fd)
            self.compressed_fd = None
            return True
        import tempfile
        start = min(self.fh.pos, max(0, self.size - keep_tail))
        if not _room_for_copy(directory, self.size - start):
            return False
        try:
            with tempfile.TemporaryFile(prefix=".mboxtool-snapshot-", dir=directory) as copy:
                copy_range(self.fd, copy.fileno(), start, self.size)
                fd = os.dup(copy.fileno())
        except OSError:
            return False
        self._let_go(self.fd)
        self.fd = self.fh.fd = fd                         # the scanner reads on through self.fh
        return True

    def _let_go(self, source_fd: int) -> None:
        self._restore_atime()                             # still under the lock
        self.lock.release()
        self.lock = None
        os.close(source_fd)                               # the one fd of the spool (§7.3 step 5)
        self.snapshotted = True

    def _restore_atime(self) -> None:
        """Put back the access time our reads changed, so "new mail" (mtime > atime) stays true (§7.4)."""
        st = getattr(self, "st", None)
        fd = getattr(self, "compressed_fd", None) or self.fd
        if st is None or fd is None or self.exclusive or self.snapshotted:
            return
        try:
            now = os.fstat(fd)
            if now.st_atime_ns != st.st_atime_ns:
                os.utime(fd, ns=(st.st_atime_ns, now.st_mtime_ns))
        except OSError:                                   # not our file: nothing we may do
            pass

    def close(self) -> None:
        self.fh = None
        self._restore_atime()                             # still under the lock: no delivery in between
        if self.lock is not None:
            self.lock.release()
            self.lock = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if getattr(self, "compressed_fd", None) is not None:
            os.close(self.compressed_fd)
            self.compressed_fd = None

    def __enter__(self) -> MboxReader:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def scanned(self) -> Iterator[ScannedMessage]:
        """Raw scanner output: every message including garbage and pseudo-messages."""
        self.fh.seek(0)
        start, line = self.resume_at
        yield from MboxScanner(self.fh, self.size, event=self.event, start=start, start_line=line,
                               count_lines=self.count_lines)

    def __iter__(self) -> Iterator[MailMessage]:
        for raw in self.scanned():
            msg = self.to_message(raw)
            reason = self.skip_reason(raw, msg)
            if reason:
                self.skipped.append((msg, reason))
                continue
            yield msg

    def skip_reason(self, raw: ScannedMessage, msg: MailMessage) -> str | None:
        if raw.index == 1 and b"x-imap" in raw.headers and \
                PSEUDO_SUBJECT in (raw.headers.get(b"subject") or ""):
            return "pseudo-message"
        if "expunged" in msg.notes and not self.include_expunged:
            return "expunged"
        return None

    def to_message(self, raw: ScannedMessage) -> MailMessage:
        """A MailMessage from scanner output: unquoted bytes, flags, keywords, delivery date."""
        quoted = self.variant == "mboxrd" and not raw.cl_bounded
        data = raw.data if not quoted or self.defer_unquote else unquote_mboxrd(raw.data)
        state = flags.from_mbox_headers(raw.headers)
        date, source = self.dates.resolve(raw.parsed, raw.headers)
        msg = MailMessage(data, state.flags, state.new, state.keywords, date, source,
                          raw.parsed.sender if not raw.garbage else None, str(raw.index),
                          raw.offset, raw.line or None, raw.from_line if not raw.garbage else None)
        msg.headers = raw.headers                         # parsed once, by the scanner
        msg.quoted = quoted and self.defer_unquote
        if data is raw.data:
            msg.body_quotes = raw.body_quotes             # found by the scanner: valid for these bytes
        if state.expunged:
            msg.flags = flags.normalize(msg.flags + "T")
            msg.notes.append("expunged")
        if raw.garbage:
            msg.notes.append("garbage-before-first-from")
        return msg


_ANGLE_ADDR = re.compile(r"<\s*([^<>\s]+@[^<>\s]+)\s*>")
_BARE_ADDR = re.compile(r"^\s*([^<>\s,;\"()]+@[^<>\s,;\"()]+)\s*$")


def addr_spec(value: str) -> str:
    """The addr-spec of an address header, quickly for the usual forms, else via email.utils."""
    m = _ANGLE_ADDR.search(value) or _BARE_ADDR.match(value)
    if m:
        return m.group(1)
    from email.utils import parseaddr
    return parseaddr(value)[1]


_BLANKS = re.compile(r"[ \t\r\n]+")


def envelope_sender(msg: MailMessage, head: bytes | None = None) -> str:
    """The sender for a From_ line: kept from an mbox source, else Return-Path, From:, MAILER-DAEMON.

    ``head``: the message's header block when the caller has cut it out already.
    """
    if msg.sender is not None and msg.sender.strip():
        sender = msg.sender
    else:
        headers = msg.headers or (Headers(head) if head is not None else split_message(msg.data)[0])
        sender = ""
        for name in (b"return-path", b"from"):
            value = headers.get(name)
            if value:
                sender = addr_spec(value)
                if sender:
                    break
        sender = sender or "MAILER-DAEMON"
    sender = _BLANKS.sub("-", sender.strip())
    if not sender.isascii() or not sender:
        return "MAILER-DAEMON"
    return sender


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
        return [_from_line(msg, now, keep_from_line), body, b"\n"]
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
    return [_from_line(msg, now, keep_from_line, head), header_block, *body, b"\n"]


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


def _from_line(msg: MailMessage, now: float | None, keep_from_line: bool, head: bytes | None = None) -> bytes:
    if keep_from_line and msg.from_line and msg.from_line.isascii() \
            and dates.parse_from_line(msg.from_line).date is not None:
        return msg.from_line + b"\n"
    date = msg.date if msg.date is not None else int(now if now is not None else time.time())
    return f"From {envelope_sender(msg, head)} {dates.asctime_utc(date)}\n".encode("ascii")


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


def truncate_source(reader: MboxReader, consumed: int) -> None:
    """After --move: empty the spool in place, under the lock held since it was read.

    ``consumed`` is the size read under that lock; if the file is not that size
    any more, someone ignored the lock and nothing is truncated. The inode,
    owner and mode stay (never rename a new file over a live spool, §7.5).
    """
    fd = reader.fd
    assert fd is not None
    st = os.fstat(fd)
    if st.st_size != consumed or os.stat(reader.path).st_ino != st.st_ino:
        raise SourceChanged(f"{reader.path}: changed although it was locked (a writer ignored the lock); "
                            "the converted messages are in the destination, the spool was not truncated")
    os.ftruncate(fd, 0)
    os.fsync(fd)
