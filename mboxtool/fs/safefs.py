"""Opening what a mailbox's user controls without letting a name lead anywhere else.

A mailbox's user can put a symbolic link, a FIFO or a huge file wherever mboxtool
looks. Message and control files are therefore opened with ``O_NOFOLLOW`` (a link
is refused, never followed) and ``O_NONBLOCK`` (a FIFO cannot hang the open), and
must be regular files; directories inside a mailbox are opened with
``O_DIRECTORY|O_NOFOLLOW`` and worked on through their descriptor, so a ``cur/``
swapped for a link cannot redirect the walk. Temporary files are created
exclusively under a random name, never through a name someone may have planted.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat

CONTROL_CAP = 64 << 20          # bytes of a control file (keywords, lists, marks, sequences)
LARGE_CONTROL_CAP = 256 << 20   # the state and digest files: 11 and ~80 bytes a message


class NotRegularFile(OSError):
    """A name that is not a regular file (a link, a FIFO, a device, a directory): refused.
    ``code`` names the problem: ``symlink`` or ``not-a-regular-file``."""

    def __init__(self, path: object, code: str, why: str):
        super().__init__(errno.ELOOP if code == "symlink" else errno.EINVAL, why, str(path))
        self.code = code


def _refusal(path: object, exc: OSError) -> OSError:
    if exc.errno == errno.ELOOP:
        return NotRegularFile(path, "symlink", "a symbolic link: not followed")
    return exc


def open_regular(path: str | os.PathLike[str], dir_fd: int | None = None, follow: bool = False,
                 check: bool = True) -> tuple[int, os.stat_result | None]:
    """An fd (read-only) of the regular file ``path`` and its stat; NotRegularFile for
    anything else. ``follow``: a link given by the user on the command line may be followed
    (never one found inside a mailbox). ``check=False``: no fstat (the caller listed the file
    as regular already; a swap since then is harmless once the open neither follows nor blocks)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags, dir_fd=dir_fd)
    except OSError as exc:
        raise _refusal(path, exc) from None
    if not check:
        return fd, None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise NotRegularFile(path, "not-a-regular-file", "not a regular file")
    return fd, st


def read_control(path: str | os.PathLike[str], dir_fd: int | None = None, cap: int = CONTROL_CAP) -> bytes:
    """The bytes of a control file that must be a regular file of at most ``cap`` bytes;
    FileNotFoundError when there is none, NotRegularFile (an OSError) for a link, a FIFO, a
    device or a larger file: never read whole, never waited on."""
    fd, st = open_regular(path, dir_fd)
    try:
        if st.st_size > cap:
            raise NotRegularFile(path, "control-file-too-large", f"larger than {cap} bytes: not read")
        chunks, size = [], 0
        while chunk := os.read(fd, min(1 << 20, cap + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:                           # it grew while read
                raise NotRegularFile(path, "control-file-too-large", f"larger than {cap} bytes: not read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def open_dir(path: str | os.PathLike[str], dir_fd: int | None = None, follow: bool = False) -> int:
    """An fd of the directory ``path`` (relative to ``dir_fd``); NotRegularFile (code
    ``symlink``) when it is a symbolic link, which is never followed unless ``follow``
    (a directory named by the user). NotADirectoryError for a file."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        return os.open(path, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ENOTDIR and not follow:   # Linux says ENOTDIR for a link here
            try:
                if stat.S_ISLNK(os.lstat(path, dir_fd=dir_fd).st_mode):
                    raise NotRegularFile(path, "symlink", "a symbolic link: not followed") from None
            except FileNotFoundError:
                pass
        raise _refusal(path, exc) from None


def create_temp(dir_fd: int, prefix: str, mode: int = 0o600) -> tuple[int, str]:
    """A new file in ``dir_fd`` under a random name starting with ``prefix``, created
    exclusively (``O_EXCL|O_NOFOLLOW``, like mkstemp): nothing planted under a guessable
    name (a link to another file) is ever opened. Returns (write fd, name)."""
    while True:
        name = f"{prefix}.{secrets.token_hex(8)}.tmp"
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                           mode, dir_fd=dir_fd), name
        except FileExistsError:
            continue
