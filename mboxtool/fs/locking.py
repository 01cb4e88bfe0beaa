"""mbox locking as mail delivery agents do it on Debian (docs/formats.md §7.3).

Read-only work takes a shared fcntl lock. Modifying work takes an exclusive
fcntl lock plus a ``PATH.lock`` dotlock created with the NFS-safe link()
method, refreshed while held, and broken only when stale. Both are taken
non-blocking and retried with jittered back-off until the timeout.
"""

from __future__ import annotations

import errno
import fcntl
import math
import os
import random
import socket
import threading
import time
from pathlib import Path

from ..errors import InputError, LockTimeout, UsageError
from .safefs import open_regular

STALE_AFTER = 600          # seconds without change before a dotlock counts as stale
REFRESH_EVERY = 30         # seconds between utime() of our dotlock (others break at 120 s+)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lock_head(lock: Path) -> bytes:
    """The first 200 bytes of a dotlock; OSError for a link, a FIFO or a device in its place
    (never read whole, never waited on)."""
    fd, _ = open_regular(lock)
    try:
        return os.read(fd, 200)
    finally:
        os.close(fd)


def check_timeout(timeout: float) -> float:
    """``timeout`` when it is a number of seconds a wait can end after; UsageError for
    NaN (every comparison false: a wait for ever), infinity or a negative number."""
    if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout >= 0):
        raise UsageError(f"lock timeout {timeout!r}: must be a finite number of seconds, 0 or more")
    return timeout


def dotlock_state(path: Path, now: float | None = None) -> tuple[bool, str]:
    """(stale?, why) for ``PATH.lock`` of mailbox ``path``; (False, '') when there is none."""
    lock = Path(str(path) + ".lock")
    try:
        st = lock.lstat()
    except FileNotFoundError:
        return False, ""
    now = time.time() if now is None else now
    try:
        content = _lock_head(lock).split()
        pid = int(content[0]) if content else None
        host = content[1].decode("ascii", "replace") if len(content) > 1 else None
    except (OSError, ValueError):
        pid, host = None, None
    if pid and (host is None or host == socket.gethostname()) and not pid_alive(pid):
        return True, f"it names process {pid}, which is not running"
    try:
        box_mtime = path.stat().st_mtime
    except OSError:
        box_mtime = 0
    age = now - st.st_mtime
    if age > STALE_AFTER and now - box_mtime > STALE_AFTER:
        return True, f"it is {int(age)} s old and the mailbox has not changed meanwhile"
    return False, f"held, {int(age)} s old"


class MboxLock:
    """A held lock on one open mbox file descriptor; release() or use as a context manager."""

    def __init__(self, path: Path, fd: int, exclusive: bool, timeout: float,
                 dotlock: bool | None = None, warn=None):
        self.path, self.fd, self.exclusive, self.timeout = path, fd, exclusive, check_timeout(timeout)
        self.want_dotlock = exclusive if dotlock is None else dotlock
        self.warn = warn or (lambda msg: None)
        self.lockpath = Path(str(path) + ".lock")
        self.dotlock_ino: int | None = None
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None

    def acquire(self) -> MboxLock:
        deadline = time.monotonic() + self.timeout
        kind = fcntl.F_WRLCK if self.exclusive else fcntl.F_RDLCK
        while True:
            if self._try_fcntl(kind):
                if not self.want_dotlock or self._try_dotlock():
                    self._start_refresh()
                    return self
                self._unlock_fcntl()
            if time.monotonic() >= deadline:
                what = "an exclusive" if self.exclusive else "a shared"
                holder = dotlock_state(self.path)[1] if self.lockpath.exists() else ""
                raise LockTimeout(f"{self.path}: could not get {what} lock within "
                                  f"{self.timeout:g} s" + (f" ({self.lockpath.name} {holder})"
                                                           if holder else "") + "; try again later")
            time.sleep(min(random.uniform(0.1, 0.5) if self.timeout < 5 else random.uniform(0.5, 2.0),
                           max(0.0, deadline - time.monotonic()) + 0.01))

    def _try_fcntl(self, kind: int) -> bool:
        try:
            fcntl.lockf(self.fd, (fcntl.LOCK_EX if kind == fcntl.F_WRLCK else fcntl.LOCK_SH)
                        | fcntl.LOCK_NB)
            return True
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                return False
            if exc.errno == errno.EBADF:      # shared lock on a write-only fd or the reverse
                raise InputError(f"{self.path}: cannot lock: {exc.strerror}") from exc
            raise

    def _unlock_fcntl(self) -> None:
        fcntl.lockf(self.fd, fcntl.LOCK_UN)

    def _try_dotlock(self) -> bool:
        host = socket.gethostname()
        tmp = Path(f"{self.lockpath}.{host}.{os.getpid()}.{random.getrandbits(32):08x}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
                # never a matter of waiting: exit 2 (cannot be used), not 75 (try again later)
                raise InputError(f"{self.path}: cannot create the dotlock {self.lockpath.name}: "
                                 f"{exc.strerror} (the directory is not writable; --fcntl-only "
                                 "locks without it when every writer uses fcntl)") from exc
            raise
        try:
            self._content = f"{os.getpid()} {host}\n".encode()
            os.write(fd, self._content)
            os.close(fd)
            try:
                os.link(tmp, self.lockpath)
            except OSError:
                pass
            # NFS may report EEXIST on success: the link count is what tells (§7.1)
            if os.stat(tmp).st_nlink == 2:
                self.dotlock_ino = os.stat(tmp).st_ino
                return True
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        stale, why = dotlock_state(self.path)
        if stale:
            # lstat again right before breaking it, as Postfix does
            if dotlock_state(self.path)[0]:
                try:
                    os.unlink(self.lockpath)
                    self.warn(f"{self.lockpath}: removed a stale dotlock ({why})")
                except FileNotFoundError:
                    pass
                return self._try_dotlock()
        return False

    def _start_refresh(self) -> None:
        if self.dotlock_ino is None:
            return

        def refresh() -> None:
            while not self._stop.wait(REFRESH_EVERY):
                try:
                    os.utime(self.lockpath)
                except OSError:
                    return
        self._refresher = threading.Thread(target=refresh, daemon=True)
        self._refresher.start()

    def release(self) -> None:
        self._stop.set()
        if self.dotlock_ino is not None:
            try:
                # only ours: same inode (numbers are reused at once) and the content we wrote
                if os.lstat(self.lockpath).st_ino == self.dotlock_ino and \
                        _lock_head(self.lockpath) == self._content:
                    os.unlink(self.lockpath)
            except OSError:                  # gone, or no longer our file: not ours to remove
                pass
            self.dotlock_ino = None
        try:
            self._unlock_fcntl()
        except OSError:
            pass

    def __enter__(self) -> MboxLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_directory(path: Path, timeout: float) -> int | None:
    """An exclusive flock(2) on a destination directory (Maildir, MH), held while mboxtool
    writes into it; the fd to close when done.

    Nothing else locks these directories (deliveries into a Maildir need no lock), so this
    only keeps two mboxtool runs apart: each reads what the destination holds when it
    starts, so two at once (an overlapping cron job) would both deliver every new message.
    Where the file system has no flock (some network file systems), None: no lock.
    """
    deadline = time.monotonic() + check_timeout(timeout)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise LockTimeout(f"{path}: another mboxtool run is writing into it; still busy after "
                                  f"{timeout:g} s, try again later") from None
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic()) + 0.01))
        except OSError:
            os.close(fd)
            return None
