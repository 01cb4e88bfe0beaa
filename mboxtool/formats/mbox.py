"""mbox: reading, streaming, with variant detection (§1.4, §1.5), under a lock or from a private
copy made under it (§7.3). Writing is mboxwriter.py; the From_ line, fromline.py; the variants
and their quoting, mboxvariant.py; finding the messages, mboxscan.py."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError, SourceChanged
from ..fs.fdio import write_buffers
from ..fs.locking import MboxLock
from ..model import flags
from ..model.message import MailMessage, unquote_mboxrd
from .base import MailboxReader
from .compression import MAX_RATIO, compression_of, decompress
from .fromline import DateResolver
from .mboxscan import Event, MboxScanner, ScannedMessage
from .mboxvariant import VariantGuess, sniff_variant
from .mboxwindow import CHUNK

PSEUDO_SUBJECT = "FOLDER INTERNAL DATA"


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
