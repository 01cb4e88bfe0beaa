"""``--notmuch-tags FILE``: the keywords of converted messages as a ``notmuch tag --batch`` file.

notmuch reads flags from Maildir file names but no keywords: ``notmuch new`` then
``notmuch tag --batch --input=FILE`` gives each message its labels. A line is
``+tag ... -- id:<message-id>``; notmuch decodes ``%XX`` in tags, so every byte of a tag
outside a small safe set is written that way (a blank or ``%`` must be).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from ..fs.durable import replace_file
from ..model.flags import keyword_bytes
from ..model.message import MailMessage, split_message

_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.@=,-")
_BRACKETED = re.compile(r"<([^<>]*)>")
_QUOTE_FREE = re.compile(r"[A-Za-z0-9_.@=,+$!#&*/?^{|}~'-]+")


def hex_encode(raw: bytes) -> str:
    """``raw`` with every byte outside the safe set as %XX (notmuch's batch quoting)."""
    return "".join(chr(b) if b in _SAFE else f"%{b:02X}" for b in raw)


def message_id(data: bytes) -> str | None:
    """The id notmuch files a message under: the Message-ID without its angle brackets and
    without blanks inside them, as notmuch parses it (the raw value when it has no brackets,
    as notmuch takes it then); None without a Message-ID."""
    raw = split_message(data)[0].get(b"message-id")
    if raw is None:
        return None
    value = " ".join(raw.split())
    m = _BRACKETED.search(value)
    found = "".join(m.group(1).split()) if m else value
    return found or None


def id_query(mid: str) -> str:
    """``id:<mid>`` as the query of a batch line: a Xapian boolean term, quoted with inner
    quotes doubled when it holds anything else than plain characters. notmuch tag takes the
    rest of the line as the query as it stands (no %XX decoding there: notmuch 0.37)."""
    return "id:" + (mid if _QUOTE_FREE.fullmatch(mid) else '"' + mid.replace('"', '""') + '"')


class TagFile:
    """Collects one batch line per message with keywords; saved whole by save()."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.lines: dict[str, dict[str, None]] = {}       # message id -> its tags, in order
        self.without_id = 0                               # messages with keywords and no Message-ID
        self.refused: Counter[str] = Counter()           # keyword -> messages: no notmuch tag can be it

    def add(self, msg: MailMessage) -> None:
        if not msg.keywords:
            return
        mid = message_id(msg.data)
        if mid is None:
            self.without_id += 1
            return
        tags = [k for k in msg.keywords if not k.startswith("-")]   # notmuch forbids a leading '-'
        self.refused.update(k for k in msg.keywords if k.startswith("-"))
        if tags:
            self.lines.setdefault(mid, {}).update(dict.fromkeys(tags))

    def save(self, fsync: bool = True) -> None:
        # a Message-ID's bytes arrive latin-1 decoded (message.Headers): written back as they were
        data = b"".join(" ".join("+" + hex_encode(keyword_bytes(tag)) for tag in tags).encode("ascii")
                        + b" -- " + id_query(mid).encode("latin-1") + b"\n" for mid, tags in self.lines.items())
        replace_file(self.path.name, data, self.path.parent, None, fsync)

    def warnings(self) -> list[dict]:
        """What the file could not hold: never left out in silence."""
        said = [{"code": "notmuch-tag-not-kept", "keyword": word, "messages": n, "message": (
                 f"{self.path}: keyword {word!r} of {n} message(s) is not in it: notmuch forbids "
                 "a tag that starts with '-'")} for word, n in self.refused.items()]
        if self.without_id:
            said.append({"code": "notmuch-tags-without-id", "messages": self.without_id, "message": (
                f"{self.path}: {self.without_id} message(s) with keywords have no Message-ID, by "
                "which the batch file names messages: their keywords are not in it")})
        return said
