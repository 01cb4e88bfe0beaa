"""Maildir++ quota: the ``maildirsize`` file at the root of a Maildir++ tree (§2.2).

Line 1 is the quota; every other line is a delta, ``<bytes> <count>``, that a
program delivering or removing messages appends, and the quota in use is their
sum. Courier's deliverquota and Dovecot's maildir quota trust that sum until the
file grows past 5120 bytes, so a conversion that adds or removes messages
without a line would leave the user's quota wrong until then. mboxtool appends
one line per durable batch (several messages in one line are summed the same).
It never creates the file: without one there is no Maildir++ quota to keep.
"""

from __future__ import annotations

import os
from pathlib import Path

from .subscriptions import maildirpp_root

QUOTA_FILE = "maildirsize"


def quota_file(maildir: str | os.PathLike[str]) -> Path | None:
    """The ``maildirsize`` that counts the messages of ``maildir``: at the Maildir++ root,
    which is the parent of a folder (a ``.Name`` Maildir there, or one holding
    ``maildirfolder``); None without one."""
    maildir = Path(os.path.abspath(maildir))
    is_folder = (maildir / "maildirfolder").exists() or maildirpp_root(maildir) is not None
    root = maildir.parent if is_folder else maildir
    path = root / QUOTA_FILE
    return path if path.is_file() else None


def record(path: Path, size: int, count: int) -> None:
    """Append the delta of ``count`` messages of ``size`` bytes (negative: removed) in one
    write, as concurrent deliverers do (O_APPEND keeps each line whole)."""
    if not count:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK)   # a FIFO: no wait
    try:
        os.write(fd, f"{size} {count}\n".encode())
    finally:
        os.close(fd)
