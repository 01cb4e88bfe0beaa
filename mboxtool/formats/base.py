"""The reader and writer contract every format implements, declared once.

A reader yields ``MailMessage`` objects; a writer takes them. The optional
capabilities have defaults here, so callers call them instead of probing
with ``hasattr``: a format overrides only what it can do.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any


class MailboxReader:
    """Reads one mailbox: ``with reader: for msg in reader: ...``."""

    format = ""                     # the registry name of the format read
    variant: str | None = None      # the mbox quoting variant read, if any
    guess: Any = None               # how the variant was guessed, if it was
    identity: Any = None            # the stat of the source file a resume checkpoint names
    unreadable_files: Sequence[tuple[str, str]] = ()  # (key, why): there, but could not be read
    skipped: Sequence[tuple[Any, str]] = ()  # (message, why): left out on purpose (a list of its own per reader)
    can_snapshot = False            # snapshot() reads on from a private copy, letting go of the lock
    removes_whole_file = False      # --move empties the file (remove_all) rather than remove(key)
    move_refusal: str | None = None  # why --move cannot take mail out of this format, if it cannot

    def open(self) -> MailboxReader:
        """Open (and lock, where the format locks) the source; return self."""
        return self

    def close(self) -> None:
        """Release whatever open() took."""

    def __iter__(self) -> Iterator[Any]:
        """The messages of the mailbox, in order."""
        raise NotImplementedError

    def __enter__(self) -> MailboxReader:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def message_count(self) -> int | None:
        """How many messages a read will yield, where that is known before reading; else None."""
        return None

    def progress_size(self) -> tuple[int | None, str]:
        """The size of a read for a progress bar and its unit ("B" or "msg"); None if unknown."""
        return self.message_count(), "msg"

    def snapshot(self, directory: Any = None, keep_tail: int = 0) -> bool:
        """Copy the rest of the source aside and unlock it (only where ``can_snapshot``)."""
        raise NotImplementedError(f"{self.format} cannot snapshot")

    def remove(self, key: str) -> int:
        """Remove message ``key`` from the source (--move); the bytes removed, for a quota.
        FileNotFoundError when it is gone already."""
        raise NotImplementedError(f"{self.format} cannot remove single messages")

    def after_removing(self, keys: list[str], size: int, count: int) -> list[dict]:
        """Bring side files (quota, sequences, marks) up to date once ``keys`` are removed
        (``count`` of them, ``size`` bytes); warnings for the report."""
        return []

    def remove_all(self) -> None:
        """Empty the source in place once all it held is converted (--move, where
        ``removes_whole_file``)."""
        raise NotImplementedError(f"{self.format} is not emptied whole")


class MailboxWriter:
    """Writes one mailbox: ``open()``, ``add()`` messages, ``commit()`` durably, ``close()``."""

    format = ""                     # the registry name of the format written
    adds_final_newline = False      # a message not ending in a newline is given one
    writes_in_thread = False        # detach()/write_out() let a thread write while the run reads on
    keyword_places = "dovecot"      # --keywords: where keywords go, for writers that place them
    plans_by_digest = False         # add(msg, plan(msg, digest, parts)): a name made from the digest
    warnings: Sequence[dict] = ()   # warnings for the report, read once the run is done

    def open(self) -> MailboxWriter:
        """Create or open (and lock) the destination; return self."""
        return self

    def add(self, msg: Any) -> bool:
        """Queue one message for writing."""
        raise NotImplementedError

    def plan(self, msg: Any, digest: int | None = None, parts: Any = None) -> Any:
        """How add() is to store ``msg``, from the digest (and bytes) the caller has already
        (only where ``plans_by_digest``)."""
        raise NotImplementedError(f"{self.format} does not plan by digest")

    def commit(self) -> Any:
        """Make everything added so far durable."""
        raise NotImplementedError

    def rollback(self) -> None:
        """Undo what was added since the last commit, after a failed write."""

    def close(self) -> None:
        """Release the destination."""

    def write_out(self, pending: list) -> None:
        """Write what detach() handed over (only where ``writes_in_thread``)."""
        raise NotImplementedError(f"{self.format} does not write in a thread")

    def known_digests(self, save: bool = True) -> Any:
        """The digests (a DigestTable) of the messages already in the destination, read
        through this writer; None when the destination is read back through its reader
        instead. ``save``: False for a dry run, which writes nothing."""
        return None

    def clean_own_tmp(self) -> int:
        """Remove temporary files a killed run on this host left behind; how many."""
        return 0

    def keyword_warnings(self) -> list[dict]:
        """Warnings about keywords the destination could not keep as they were."""
        return []
