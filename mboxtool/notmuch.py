"""``--notmuch-tags FILE``: the keywords of converted messages as a ``notmuch tag --batch`` file.

notmuch reads flags from Maildir file names but no keywords: ``notmuch new`` then
``notmuch tag --batch --input=FILE`` gives each message its labels. A line is
``+tag ... -- id:<message-id>``; notmuch decodes ``%XX`` in tags and query terms, so every
byte outside a small safe set is written that way (a blank or ``%`` must be).
"""

from __future__ import annotations

import re
from pathlib import Path

from .durable import replace_file
from .flags import keyword_bytes
from .message import MailMessage, split_message

_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.@=,-")
_BRACKETED = re.compile(r"<([^<>]*)>")
_QUOTE_FREE = re.compile(r"[A-Za-z0-9_.@=,+$!#&*/?^{|}~'-]+")


def hex_encode(raw: bytes) -> str:
    """``raw`` with every byte outside the safe set as %XX (notmuch's batch quoting)."""
    return "".join(chr(b) if b in _SAFE else f"%{b:02X}" for b in raw)


def message_id(data: bytes) -> str | None:
    """The id notmuch files a message under: the Message-ID without its angle brackets (the
    raw value when it has none, as notmuch takes it); None without a Message-ID."""
    raw = split_message(data)[0].get(b"message-id")
    if raw is None:
        return None
    value = " ".join(raw.split())
    m = _BRACKETED.search(value)
    found = m.group(1).strip() if m else value
    return found or None


def id_query(mid: str) -> str:
    """``id:<mid>`` as one query term of a batch line (a Xapian boolean term: quoted, with
    inner quotes doubled, when it holds anything else than plain characters)."""
    term = mid if _QUOTE_FREE.fullmatch(mid) else '"' + mid.replace('"', '""') + '"'
    return "id:" + hex_encode(term.encode("latin-1", "surrogateescape"))


class TagFile:
    """Collects one batch line per message with keywords; saved whole by save()."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.lines: dict[str, dict[str, None]] = {}       # message id -> its tags, in order
        self.without_id = 0                               # messages with keywords and no Message-ID

    def add(self, msg: MailMessage) -> None:
        if not msg.keywords:
            return
        mid = message_id(msg.data)
        if mid is None:
            self.without_id += 1
            return
        self.lines.setdefault(mid, {}).update(dict.fromkeys(msg.keywords))

    def save(self, fsync: bool = True) -> None:
        text = "".join(" ".join("+" + hex_encode(keyword_bytes(tag)) for tag in tags)
                       + " -- " + id_query(mid) + "\n" for mid, tags in self.lines.items())
        parent = self.path.parent if str(self.path.parent) else Path(".")
        replace_file(self.path.name, text.encode("ascii"), parent, None, fsync)

    def warning(self) -> dict | None:
        if not self.without_id:
            return None
        return {"code": "notmuch-tags-without-id", "messages": self.without_id, "message": (
            f"{self.path}: {self.without_id} message(s) with keywords have no Message-ID, by which "
            "the batch file names messages: their keywords are not in it")}
