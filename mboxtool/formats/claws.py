"""Claws Mail's marks: the flags of an MH folder that ``.mh_sequences`` does not hold.

Claws Mail (and Sylpheed before it) keeps MH folders, writes only the unseen
sequence to ``.mh_sequences``, and keeps every message's flags in ``.claws_mark``
(Sylpheed: ``.sylpheed_mark``): a 32-bit version (2), then one pair of 32-bit
words per message, its number and its flags. Claws writes the file
little-endian; a file from an old big-endian machine has its version swapped.
A number listed twice (the file is appended to) takes its last flags.
"""

from __future__ import annotations

import struct
from pathlib import Path

from ..fs.durable import replace_file
from ..fs.ownership import owner_for
from .common import read_regular_file

MARK_FILES = (".claws_mark", ".sylpheed_mark")
MARK_VERSION = 2
NEW, UNREAD, MARKED, DELETED, REPLIED, FORWARDED = 1, 2, 4, 8, 16, 32
LETTERS = ((MARKED, "F"), (DELETED, "T"), (REPLIED, "R"), (FORWARDED, "P"))


def _mark_file(folder: Path) -> tuple[str, str, bytes] | None:
    """(file name, byte order, contents) of the folder's mark file, or None."""
    for name in MARK_FILES:
        try:
            data = read_regular_file(folder / name)
        except OSError:
            continue
        order = next((o for o in "<>" if len(data) >= 4 and struct.unpack(o + "i", data[:4])[0] == MARK_VERSION),
                     None)
        if order is not None:                          # another version: Claws discards it too
            return name, order, data
    return None


def _pairs(order: str, data: bytes) -> list[tuple[int, int]]:
    return list(struct.iter_unpack(order + "II", data[4:4 + (len(data) - 4) // 8 * 8]))


def read_claws_marks(folder: Path) -> dict[int, int]:
    """Message number -> Claws flag bits, from the folder's mark file; {} without one."""
    found = _mark_file(folder)
    return dict(_pairs(found[1], found[2])) if found else {}


def forget_marks(folder: Path, numbers: list[int]) -> None:
    """Take removed messages out of the mark file (--move): Claws gives a message the marks
    stored under its number, so a new message under a freed number would inherit them."""
    found = _mark_file(folder)
    if found is None:
        return
    name, order, data = found
    gone = set(numbers)
    pairs = _pairs(order, data)
    if not any(num in gone for num, _ in pairs):
        return
    kept = struct.pack(order + "i", MARK_VERSION) + b"".join(
        struct.pack(order + "II", num, bits) for num, bits in pairs if num not in gone)
    replace_file(name, kept, folder, owner_for(folder / name), fsync=True)


def mark_letters(bits: int) -> tuple[str, bool]:
    """(Maildir letters other than S, unread) of Claws flag bits; seen unless new or unread."""
    return "".join(l for bit, l in LETTERS if bits & bit), bool(bits & (NEW | UNREAD))
