"""Durability helpers: fsync of files and directories, and one filesystem flush per batch.

fsync is priced per call, not per byte (performance.md): one ``syncfs(2)`` per
group of messages costs about one journal commit, where an fsync per file costs
one commit each. Where syncfs is unavailable, fall back to per-file fsync.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_libc = None
_syncfs_ok: bool | None = None


def _syncfs_fn():
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        _libc = ctypes.CDLL(name, use_errno=True) if name else False
    return getattr(_libc, "syncfs", None) if _libc else None


def syncfs(fd: int) -> bool:
    """Flush the whole filesystem holding ``fd``; False when syncfs is not available."""
    global _syncfs_ok
    if _syncfs_ok is False:
        return False
    fn = _syncfs_fn()
    if fn is None:
        _syncfs_ok = False
        return False
    if fn(fd) != 0:
        err = ctypes.get_errno()
        if err in (38, 95):           # ENOSYS, EOPNOTSUPP
            _syncfs_ok = False
            return False
        raise OSError(err, os.strerror(err))
    _syncfs_ok = True
    return True


def fsync_dir(path_or_fd: str | os.PathLike[str] | int) -> None:
    """fsync a directory, so that names created in it survive a crash."""
    if isinstance(path_or_fd, int):
        os.fsync(path_or_fd)
        return
    fd = os.open(path_or_fd, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_private_dir(path: str | os.PathLike[str]) -> bool:
    """Create ``path`` with mode 0700 if missing; True when it was created."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return False
    os.chmod(path, 0o700)            # umask may have removed bits we never wanted anyway
    return True
