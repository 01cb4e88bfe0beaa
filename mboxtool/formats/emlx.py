"""Apple Mail's own message files (``.emlx``): a byte count line, the message, a plist.

Mail.app keeps every message of its store
(``~/Library/Mail/V*/ACCOUNT/NAME.mbox/UUID/Data/.../Messages/N.emlx``) in such a
file. The first line is the length of the message that follows; after it, an
XML property list holds the message's state as a bit field, ``flags``, and its
delivery time, ``date-received`` (epoch seconds). The bits are those Thunderbird's
Apple Mail importer decodes (nsEmlxHelperUtils), with deleted, draft and the junk
marks besides. Read through ``--from eml``. A ``.partial.emlx`` lacks the
attachments Mail.app keeps apart (``Attachments/N/``): it is refused, never
converted without them.
"""

from __future__ import annotations

import plistlib
from typing import NamedTuple

# bit -> Maildir letter: read, deleted, answered, flagged, draft, forwarded
FLAG_BITS = {1 << 0: "S", 1 << 1: "T", 1 << 2: "R", 1 << 4: "F", 1 << 6: "D", 1 << 8: "P"}
JUNK_BITS = {1 << 24: "$Junk", 1 << 25: "$NotJunk"}


class EmlxError(ValueError):
    """A file named .emlx that is not one (its message cannot be told apart)."""


class Emlx(NamedTuple):
    data: bytes                   # the message, byte for byte
    flags: str
    keywords: tuple[str, ...]
    received: int | None          # date-received, when the plist gives one


def is_emlx(name: str) -> bool:
    return name.lower().endswith(".emlx")


def is_partial(name: str) -> bool:
    return name.lower().endswith(".partial.emlx")


def parse_emlx(raw: bytes) -> Emlx:
    """The message and state of an .emlx file's bytes; EmlxError when they are not one."""
    nl = raw.find(b"\n")
    head = raw[:nl if nl >= 0 else len(raw)].strip()
    if not head.isdigit():
        raise EmlxError("its first line is not the byte count of an Apple Mail message file")
    count, start = int(head), nl + 1
    if start + count > len(raw):
        raise EmlxError(f"it declares a {count}-byte message but holds {len(raw) - start} bytes (cut short?)")
    data, tail = raw[start:start + count], raw[start + count:]
    meta: object = {}
    if tail.strip():
        try:
            meta = plistlib.loads(tail.lstrip())
        except Exception as exc:           # plistlib raises several kinds on a broken plist
            raise EmlxError(f"the property list after the message cannot be read ({exc})") from exc
    if not isinstance(meta, dict):
        meta = {}
    bits = meta.get("flags")
    bits = bits if isinstance(bits, int) and not isinstance(bits, bool) else 0
    letters = "".join(letter for bit, letter in FLAG_BITS.items() if bits & bit)
    keywords = tuple(word for bit, word in JUNK_BITS.items() if bits & bit)
    received = meta.get("date-received")
    received = int(received) if isinstance(received, (int, float)) and not isinstance(received, bool) else None
    return Emlx(data, letters, keywords, received)
