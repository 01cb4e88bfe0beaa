"""Subscribe the folders a conversion made, in Dovecot's list of a Maildir++ root.

IMAP clients show only subscribed folders by default (Thunderbird among them),
so folders converted into a Maildir++ root would look missing until the user
subscribed them one by one. Dovecot keeps the list in the root's
``subscriptions`` file: version 2 is ``V<TAB>2``, an empty line, then one
folder per line, its levels joined by a TAB (names in modified UTF-7, as in the
directory names); version 1, which Dovecot still reads, has the folder names as
they are listed. The file is replaced the way Dovecot replaces it: the new
content is written into the dotlock ``subscriptions.lock``, created
exclusively, which is then renamed over the file. A Maildir Courier-IMAP serves also
gets the folders into Courier's own list, ``courierimapsubscribed``.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

from ..fs.durable import fsync_dir, replace_file
from ..fs.fdio import write_buffers
from ..fs.ownership import give, owner_for
from ..fs.safefs import read_control

FILE = "subscriptions"
STALE_LOCK = 30             # seconds: Dovecot takes over a subscriptions.lock this old


def maildirpp_root(folder: Path) -> Path | None:
    """The Maildir++ root of ``folder`` when it is one of its ``.Name`` folders, else None."""
    folder = Path(os.path.abspath(folder))
    parent = folder.parent
    if folder.name.startswith(".") and len(folder.name) > 1 \
            and (parent / "cur").is_dir() and (parent / "new").is_dir():
        return parent
    return None


def storage_name(folder: Path) -> str:
    """The name Dovecot's version 2 list gives the Maildir++ folder ``folder`` (``.A.B``: ``A<TAB>B``)."""
    return "\t".join(Path(folder).name[1:].split("."))


def subscribe(root: Path, names: list[str], timeout: float = 30, fsync: bool = True) -> list[str]:
    """Add ``names`` (version 2 storage names) to the list of ``root``; return those added.

    OSError when the list cannot be written, TimeoutError when Dovecot holds its lock.
    """
    names = [n for n in names if n and not any(c in n for c in "\r\n\x00\x01")]
    lock = root / (FILE + ".lock")
    lock_fd = _take_lock(lock, timeout)
    try:
        old = _read_text(root / FILE)
        lines = old.split("\n")
        v2 = not old or lines[0] == "V\t2"
        body = [line for line in (lines[2:] if v2 and old else lines) if line]
        present = set(body) if v2 else {line.replace(".", "\t") for line in body}
        added = [n for n in dict.fromkeys(names) if n not in present]
    except BaseException:
        os.close(lock_fd)
        lock.unlink(missing_ok=True)
        raise
    if not added:
        os.close(lock_fd)
        lock.unlink(missing_ok=True)
        return []
    body += added if v2 else [n.replace("\t", ".") for n in added]
    # the new list is written into the lock file (through the fd that created it, never
    # through its name), which is then renamed over the list
    text = ("V\t2\n\n" if v2 else "") + "".join(line + "\n" for line in body)
    try:
        give(owner_for(root), lock_fd)
        write_buffers(lock_fd, (text.encode("utf-8", "surrogateescape"),))
        if fsync:
            os.fsync(lock_fd)
    except BaseException:
        lock.unlink(missing_ok=True)
        raise
    finally:
        os.close(lock_fd)
    os.replace(lock, root / FILE)
    if fsync:
        fsync_dir(root)
    return added


COURIER_FILE = "courierimapsubscribed"


def is_courier_root(root: Path) -> bool:
    """A Maildir Courier-IMAP serves: its own files are there."""
    return any((root / name).exists() for name in (COURIER_FILE, "courierimapkeywords", "courierimapuiddb"))


def subscribe_courier(root: Path, names: list[str], fsync: bool = True) -> list[str]:
    """Add ``names`` (version 2 storage names, as for Dovecot) to Courier-IMAP's list, which
    names each folder in full, ``INBOX.A.B``, one a line; return those added. The file is
    replaced through a temporary file, as Courier replaces it."""
    lines = [line for line in _read_text(root / COURIER_FILE).split("\n") if line]
    wanted = ["INBOX." + n.replace("\t", ".") for n in names if n and not any(c in n for c in "\r\n\x00")]
    added = [n for n in dict.fromkeys(wanted) if n not in lines]
    if not added:
        return []
    _replace(root, COURIER_FILE, "".join(line + "\n" for line in lines + added), fsync)
    return [n[len("INBOX."):].replace(".", "\t") for n in added]


def _read_text(path: Path) -> str:
    """The list's text; OSError for a link, a FIFO or a device put in its place (safefs.py)."""
    try:
        return read_control(path).decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        return ""


def _replace(root: Path, name: str, text: str, fsync: bool) -> None:
    replace_file(name, text.encode("utf-8", "surrogateescape"), root, owner_for(root), fsync)
    if fsync:
        fsync_dir(root)


def _take_lock(lock: Path, timeout: float) -> int:
    """Create ``lock`` exclusively (Dovecot's dotlock), waiting up to ``timeout``; its fd."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            pass
        try:
            if time.time() - os.lstat(lock).st_mtime > STALE_LOCK:
                os.unlink(lock)                    # left by a killed process: Dovecot does the same
                continue
        except FileNotFoundError:
            continue
        if time.monotonic() >= deadline:
            raise TimeoutError(errno.ETIMEDOUT, f"{lock} is held by another program")
        time.sleep(0.1)
