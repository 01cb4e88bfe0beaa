"""Single-message files: one ``.eml`` file, or a directory of them (``--from eml``).

What Outlook Express, Windows Live Mail, Thunderbird's "Save As" and ImportExportTools,
or a mail archive's download give: each file one RFC 822 message, named freely. It
is a source only, and never detected (a directory of files is too easily something
else): ``--from eml`` asks for it. State comes from the metadata headers a client may
have left (Thunderbird's X-Mozilla-Status, a Status line); the delivery date from a
leading From_ line (tools that split an mbox keep it), else Received:, Date:, mtime.
Apple Mail's ``.emlx`` files are read here too, their state from their plist (emlx.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError
from ..fs.safefs import open_regular
from ..model import dates, flags
from ..model.message import MailMessage, is_header_line, split_message
from .common import Reader, header_date
from .emlx import EmlxError, is_emlx, is_partial, parse_emlx

SYSTEM_FILES = ("desktop.ini", "thumbs.db")        # Windows' own, in any exported folder


def is_message_file(path: Path | str, dir_fd: int | None = None) -> bool:
    """True when ``path`` (in ``dir_fd``) holds one message: named .eml (what it holds is then
    the message, as its maker meant) or .emlx (Apple Mail's, emlx.py), or starting with a
    header field. A link or a FIFO is no message file (and is never opened: safefs.py)."""
    if os.fspath(path).lower().endswith((".eml", ".emlx")):
        return True
    try:
        fd, _ = open_regular(path, dir_fd)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "rb") as fh:
            return is_header_line(fh.readline(1000))
    except OSError:
        return False


class EmlReader(Reader):
    """The message files at ``path`` (a file, or every file of a directory), in name order."""

    format = "eml"

    def open(self) -> EmlReader:
        if not self.path.exists():
            raise InputError(f"{self.path}: no such file or directory")
        if not (self.path.is_file() or self.path.is_dir()):
            raise InputError(f"{self.path}: not a message file or a directory of them")
        return self

    def files(self) -> list[str]:
        """The message files' names (the key of each message), in name order; what else the
        directory holds is named in an event, never passed over in silence."""
        if self.path.is_file():
            return [self.path.name]
        names = []
        with os.scandir(self.folder_fd()) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                name = entry.name
                if name.startswith(".") or name.lower() in SYSTEM_FILES:
                    continue
                if entry.is_symlink():                  # never followed: it may lead anywhere
                    self.unreadable(name, "a symbolic link: not followed")
                    continue
                if entry.is_dir(follow_symlinks=False):
                    continue                            # a subfolder: convert names it, --recursive takes it
                if entry.is_file(follow_symlinks=False) and (is_message_file(name, self.dirfd)
                                                             or not entry.stat(follow_symlinks=False).st_size):
                    names.append(name)                  # (an empty one is reported below)
                else:
                    self.event("foreign-file", key=name, reason=f"{name}: not a message file")
        return names

    def file_path(self, key: str) -> Path:
        return self.path if self.path.is_file() else self.path / key

    def remove(self, key: str) -> int:
        """Remove message file ``key`` (--move) through the folder's descriptor, so a folder
        swapped for a link meanwhile cannot redirect it; 0 (no quota here)."""
        if self.path.is_file():                    # the one file named by the user
            os.unlink(self.path)
        else:
            os.unlink(key, dir_fd=self.folder_fd())
        return 0

    def __iter__(self) -> Iterator[MailMessage]:
        for name in self.files():
            if self.dirfd is None:                     # the one file named
                read = self.read_file(self.path, name)
            else:
                read = self.read_file(name, name, self.dirfd)
            if read is None:
                continue
            data, mtime = read
            received, state = None, None
            if is_emlx(name):
                if is_partial(name):
                    self.unreadable(name, "Apple Mail keeps this message's attachments apart (a .partial.emlx): "
                                          "export the mailbox from Apple Mail to have it whole")
                    continue
                try:
                    data, letters, keywords, received = parse_emlx(data)
                except EmlxError as exc:
                    self.unreadable(name, str(exc))
                    continue
                state = flags.header_state(letters, keywords)     # from its plist, not its headers
            if not data.strip():
                self.event("empty-file", key=name)
                self.skipped.append((MailMessage(data, key=name), "empty file"))
                continue
            date, source, sender = None, "none", None
            if data.startswith(b"From "):                   # a one-message mbox: an envelope line
                line_end = data.find(b"\n") + 1 or len(data)
                envelope = dates.parse_from_line(data[:line_end])
                sender = envelope.sender or None
                if dates.plausible(envelope.date):         # zoneless: taken as UTC (RFC 4155)
                    date, source = envelope.date, "from-line"
                data = data[line_end:]
            headers, _ = split_message(data)
            if date is None and dates.plausible(received):
                date, source = received, "received"
            if date is None:
                date, source = header_date(headers, mtime)
            if state is None:
                state = flags.from_mbox_headers(headers)
            yield MailMessage(data, state.flags, state.new, state.keywords, date, source, sender=sender,
                              key=name)
