"""Files that appear under their final name only once they are complete.

A Maildir delivery writes in tmp/ and links into new/ or cur/ (§2.4); an MH
message is written the same way inside its folder and linked to its number.
Either way a reader, a crash or a full disk never leaves a partial message
under a name a mail client reads. Where Linux and the file system have
O_TMPFILE, the file being written has no name at all until the link: nothing
to clean up after a crash, and two directory updates fewer per message.
Elsewhere (NFS, FUSE, other systems) it has a temporary name, unlinked after
the link.
"""

from __future__ import annotations

import errno
import os
import re
import socket

from .locking import pid_alive

# O_TMPFILE refused: by the file system (EOPNOTSUPP), or by a kernel older than 3.11, which
# reads the flag as O_DIRECTORY (EISDIR) or rejects it (EINVAL)
_NO_TMPFILE = (errno.EOPNOTSUPP, errno.ENOTSUP, errno.EISDIR, errno.EINVAL, errno.ENOSYS)
# naming an unnamed file through /proc failed where a named temporary file still works
_NO_PROC_LINK = (errno.ENOENT, errno.EPERM, errno.EACCES, errno.EXDEV, errno.EOPNOTSUPP, errno.ENOTSUP)


class Stager:
    """Creates files to write in ``dirfd`` and links them to their final names."""

    def __init__(self, dirfd: int, anonymous: bool = True):
        self.dirfd = dirfd
        self.anonymous = anonymous and hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")

    def create(self, tmpname: str) -> tuple[int, str | None]:
        """An fd to write (mode 0600), and its temporary name: None when it has none."""
        if self.anonymous:
            try:
                return os.open(".", os.O_WRONLY | os.O_TMPFILE, 0o600, dir_fd=self.dirfd), None
            except OSError as exc:
                if exc.errno not in _NO_TMPFILE:
                    raise
                self.anonymous = False
        fd = os.open(tmpname, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=self.dirfd)
        return fd, tmpname

    def publish(self, fd: int, tmpname: str | None, dst_dirfd: int, name: str) -> bool:
        """Link the written file as ``name`` in ``dst_dirfd``: FileExistsError rather than an
        overwrite. False when an unnamed file cannot be linked here (named files from now on:
        write it again)."""
        if tmpname is None:
            try:
                # linkat(AT_SYMLINK_FOLLOW) of /proc/self/fd/N names an O_TMPFILE file (open(2))
                os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=dst_dirfd)
                return True
            except OSError as exc:
                if exc.errno not in _NO_PROC_LINK:
                    raise
                self.anonymous = False
                return False
        try:
            os.link(tmpname, name, src_dir_fd=self.dirfd, dst_dir_fd=dst_dirfd)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            # no hard links here: rename, after making sure the name is free
            if _exists(name, dst_dirfd):
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), name) from None
            os.rename(tmpname, name, src_dir_fd=self.dirfd, dst_dir_fd=dst_dirfd)
            return True
        self.discard(tmpname)
        return True

    def discard(self, tmpname: str | None) -> None:
        """Remove a temporary name (after a failure, or once linked)."""
        if tmpname is not None:
            try:
                os.unlink(tmpname, dir_fd=self.dirfd)
            except FileNotFoundError:
                pass


def _exists(name: str, dirfd: int) -> bool:
    try:
        os.stat(name, dir_fd=dirfd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False


def host_name() -> str:
    """This host as temporary and Maildir names carry it ('/' and ':' escaped, §2.1)."""
    return socket.gethostname().replace("/", "\\057").replace(":", "\\072")


def remove_abandoned(dirfd: int, pattern: re.Pattern[str], host: str) -> int:
    """Remove the temporary files a killed mboxtool run on this host left in ``dirfd``: names
    that ``pattern`` matches whole, whose groups ``host`` and ``pid`` name this host and a
    process that is gone. Never another host's (its pids mean nothing here), never ours."""
    removed = 0
    for name in os.listdir(dirfd):
        m = pattern.fullmatch(name)
        if m and m["host"] == host and int(m["pid"]) != os.getpid() and not pid_alive(int(m["pid"])):
            try:
                os.unlink(name, dir_fd=dirfd)
                removed += 1
            except FileNotFoundError:
                pass
    return removed
