"""What a destination already holds, by message digest, so re-runs add nothing twice.

For a Maildir destination the digests live in ``DST/.mboxtool-index``. Each
batch is recorded *before* its files are linked into place, then confirmed
with a ``commit`` line once the batch is durable. Entries left unconfirmed by
a killed run are trusted only if their file really exists, so a crash at any
point neither loses nor duplicates a message. Other destinations are read
back at start (their own content is the index).
"""

from __future__ import annotations

import os
from pathlib import Path

from .flags import parse_maildir_name
from .message import content_digest

INDEX_NAME = ".mboxtool-index"
HEADER = "mboxtool-index 1\n"


def short_digest(data: bytes) -> int:
    """A 64-bit digest of the message content, kept in memory as a small int."""
    return int.from_bytes(content_digest(data)[:8], "big")


class MaildirIndex:
    """Digests of the messages mboxtool delivered into one Maildir."""

    def __init__(self, maildir: Path, fsync: bool = True):
        self.maildir = Path(maildir)
        self.path = self.maildir / INDEX_NAME
        self.fsync = fsync
        self.known: set[int] = set()
        self.fd: int | None = None

    def load(self) -> MaildirIndex:
        pending: list[tuple[int, str]] = []
        try:
            with open(self.path, encoding="ascii", errors="replace") as fh:
                for line in fh:
                    if line.startswith("+ "):
                        parts = line.split()
                        if len(parts) == 3:
                            try:
                                pending.append((int(parts[1], 16), parts[2]))
                            except ValueError:
                                pass
                    elif line.startswith("commit"):
                        self.known.update(d for d, _ in pending)
                        pending = []
        except FileNotFoundError:
            pass
        if pending:
            self.known.update(d for d, name in pending if self._exists(name))
        return self

    def _exists(self, relpath: str) -> bool:
        if (self.maildir / relpath).exists():
            return True
        # moved by a MUA since (new/ -> cur/, flags changed): match the unique part
        unique = parse_maildir_name(relpath.split("/", 1)[1]).unique
        for sub in ("new", "cur"):
            try:
                if any(parse_maildir_name(n).unique == unique for n in os.listdir(self.maildir / sub)):
                    return True
            except FileNotFoundError:
                continue
        return False

    def _open(self) -> int:
        if self.fd is None:
            new = not self.path.exists()
            self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            if new:
                os.write(self.fd, HEADER.encode())
        return self.fd

    def record(self, entries: list[tuple[int, str]]) -> None:
        """Note a batch about to be linked into place; durable before any of it is visible."""
        fd = self._open()
        os.write(fd, "".join(f"+ {d:016x} {name}\n" for d, name in entries).encode())
        if self.fsync:
            os.fsync(fd)

    def commit(self, entries: list[tuple[int, str]]) -> None:
        """The batch is durable: confirm it (flushed together with the next batch)."""
        os.write(self._open(), b"commit\n")
        self.known.update(d for d, _ in entries)

    def close(self) -> None:
        if self.fd is not None:
            if self.fsync:
                os.fsync(self.fd)
            os.close(self.fd)
            self.fd = None
