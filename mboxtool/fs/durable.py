"""Durability helpers: fsync of files and directories, and one filesystem flush per batch.

fsync is priced per call, not per byte (docs/performance.md): one ``syncfs(2)`` per
group of messages costs about one journal commit, where an fsync per file costs
one commit each. Where syncfs is unavailable, fall back to per-file fsync.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterable
from pathlib import Path

from .fdio import write_buffers
from .ownership import Owner, give
from .safefs import create_temp

_libc = None
_syncfs_ok: bool | None = None


def _libc_handle():
    global _libc
    if _libc is None:
        try:                            # the running program's symbols include libc's (POSIX)
            _libc = ctypes.CDLL(None, use_errno=True)
        except OSError:
            _libc = False
    return _libc or None


def _syncfs_fn():
    return getattr(_libc_handle(), "syncfs", None)


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


def reuse_large_buffers() -> None:
    """Let glibc serve multi-megabyte buffers from its heap instead of a fresh mmap each time.

    By default glibc maps every large allocation anew and unmaps it on free, so
    each read chunk, each batch and each big message page-faults its
    memory in again: about 40,000 faults, a third of a pass over a 166 MB mbox.
    A process-wide setting, so only the command-line entry point calls it.
    """
    fn = getattr(_libc_handle(), "mallopt", None)
    if fn is None:
        return
    fn(-3, 32 << 20)             # M_MMAP_THRESHOLD: up to 32 MiB from the heap
    fn(-1, 128 << 20)            # M_TRIM_THRESHOLD: keep freed heap for the next chunk


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


def create_empty_file(path: str | os.PathLike[str], owner: Owner = None) -> bool:
    """Create the empty file ``path`` (mode 0600, given to ``owner``) unless something is
    there; True when it was created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    give(owner, fd)
    os.close(fd)
    return True


def make_private_dir(path: str | os.PathLike[str], owner: Owner = None) -> bool:
    """Create ``path`` with mode 0700 (and its missing parents, alike) if missing, given to
    ``owner`` (ownership.py); True when ``path`` itself was created."""
    parent = Path(path).parent
    if not parent.exists() and parent != parent.parent:
        make_private_dir(parent, owner)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return False
    os.chmod(path, 0o700)            # umask may have removed bits we never wanted anyway
    give(owner, path)
    return True


def replace_file(name: str, data: bytes | Iterable[bytes], dir_fd: int | str | os.PathLike[str], owner: Owner = None,
                 fsync: bool = True, tmp: str | None = None) -> None:
    """Give the control file ``name`` in ``dir_fd`` (an fd, or a directory's path) the
    contents ``data``, whole or not at all (a temporary file renamed over it; on a full disk
    the old file stays as it was).

    For the small files beside the mail: ``dovecot-keywords``, ``.mh_sequences``, the
    state file, Claws' marks, Courier's keyword updates, the subscription lists. Rename is
    right for them; mail itself is linked, never renamed over. ``tmp``: the temporary name,
    where the file's owner has a convention for it (a prefix its reader passes over), to
    which a random part is added.
    """
    if not isinstance(dir_fd, int):
        fd = os.open(dir_fd, os.O_RDONLY | os.O_DIRECTORY)
        try:
            return replace_file(name, data, fd, owner, fsync, tmp)
        finally:
            os.close(fd)
    # a random name created exclusively: a link planted under a guessable name is never opened
    fd, tmp = create_temp(dir_fd, tmp or f".{name.lstrip('.')}")
    try:
        give(owner, fd)
        if isinstance(data, (bytes, bytearray, memoryview)):
            write_buffers(fd, (data,))
        else:                                       # pieces, never joined (a digests file)
            for piece in data:
                write_buffers(fd, (piece,))
        if fsync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp, dir_fd=dir_fd)
        raise
    os.close(fd)
    os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
