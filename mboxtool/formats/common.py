"""Pieces shared by the readers of formats that keep no delivery date of their own."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError
from ..fs.safefs import open_dir, open_regular, read_control
from ..model import dates
from ..model.message import Headers, MailMessage
from .base import MailboxReader

# mboxtool's state file in a Maildir or MH destination (checkpoint.py); an MH folder holding
# only it is still an empty folder
STATE_NAME = ".mboxtool-state"


def check_directory_destination(path: Path, a_kind: str, holds_it: Callable[[Path], bool]) -> None:
    """Refuse to write a directory mailbox (``a_kind``: "a Maildir", "an MH folder") into
    ``path`` when it is a link (the mail would land wherever it leads; nothing is looked at
    through it), a file, or a non-empty directory that is no such mailbox (``holds_it``)."""
    kind = a_kind.split(" ", 1)[1]
    if path.is_symlink():
        raise InputError(f"{path}: is a symbolic link; refusing to write through it (name the real {kind})")
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: exists and is not a directory (not {a_kind})")
    if path.is_dir() and any(path.iterdir()) and not holds_it(path):
        raise InputError(f"{path}: exists, is not empty and is not {a_kind}")


def read_regular_file(path: Path, dir_fd: int | None = None) -> bytes:
    """The bytes of a small side file (keywords, marks) that must be a regular file; OSError
    for anything else: a FIFO would block the run, a link could point anywhere."""
    return read_control(path, dir_fd)


class Reader(MailboxReader):
    """What every reader shares: a path, an event callback, the skipped list, context management."""

    format = ""
    variant: str | None = None
    guess = None

    def __init__(self, path: Path, event=None, **_: object):
        self.path = Path(path)
        self.event = event or (lambda *a, **k: None)
        self.skipped: list = []                      # (message, why): left out on purpose
        self.unreadable_files: list[tuple[str, str]] = []   # (key, why): there, but not readable

    dirfd: int | None = None                       # a folder of message files, opened once

    def folder_fd(self) -> int:
        """The folder's descriptor (MH, eml): every read and --move removal goes through it, so a
        folder swapped for a link during the run cannot redirect them."""
        if self.dirfd is None:
            try:
                self.dirfd = open_dir(self.path, follow=True)      # named by the user
            except OSError as exc:
                raise InputError(f"{self.path}: cannot open: {exc.strerror}") from exc
        return self.dirfd

    def close(self) -> None:
        if self.dirfd is not None:
            os.close(self.dirfd)
            self.dirfd = None

    def vanished(self, key: str) -> None:
        """A message file deleted (expunged by a mail client) while the run read the folder."""
        self.event("vanished-file", key=key)
        self.skipped.append((MailMessage(b"", key=key), "vanished: deleted from the source during the run"))

    def unreadable(self, key: str, exc: OSError | str) -> None:
        """A message file that is there but cannot be read (``exc``: why): convert counts it
        as failed."""
        why = exc if isinstance(exc, str) else exc.strerror or str(exc)
        self.event("unreadable-file", key=key, reason=why)
        self.unreadable_files.append((key, why))

    def read_file(self, path: Path | str, key: str, dir_fd: int | None = None) -> tuple[bytes, int] | None:
        """The bytes and mtime of the message file ``path`` (in ``dir_fd``); None, with the
        event said, when it went during the run (a client expunged it) or cannot be read. A
        symbolic link, a FIFO or a device is never opened as a message (safefs.py)."""
        try:
            fd, st = open_regular(path, dir_fd)
        except FileNotFoundError:
            self.vanished(key)
            return None
        except OSError as exc:
            self.unreadable(key, exc)
            return None
        try:
            with os.fdopen(fd, "rb") as fh:
                return fh.read(), int(st.st_mtime)
        except OSError as exc:
            self.unreadable(key, exc)
        return None


def header_date(headers: Headers, mtime: int | None = None) -> tuple[int | None, str]:
    """Delivery date from the newest Received:, then Date:, then the file mtime."""
    received = dates.received_date(headers.get_all(b"received"))
    if received is not None:
        return received, "received"
    date = dates.parse_header_date(headers.get(b"date"))
    if dates.plausible(date):
        return date, "date-header"
    if mtime is not None and dates.plausible(mtime):
        return mtime, "mtime"
    return None, "none"
