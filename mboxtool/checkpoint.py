"""Where the last run over an mbox source stopped, so an unchanged source costs almost nothing.

Delivery agents only append to an mbox. After a complete run, the destination
remembers the source's identity, the size read and a hash of the 64 KiB before
it. The next run starts there when the same file still has the same bytes
before that point; otherwise (a MUA rewrote the file) it reads from the start,
and message digests keep the result free of duplicates either way (§7.4).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from collections.abc import Sequence
from pathlib import Path

from .digesttable import DigestTable
from .durable import replace_file
from .ownership import owner_for
from .safefs import LARGE_CONTROL_CAP, read_control

STATE_NAME = ".mboxtool-state"
TAIL = 64 << 10


def state_path(dst: Path, dst_format: str) -> Path | None:
    """The state file of a directory destination; None where there is nowhere private to put it."""
    return dst / STATE_NAME if dst_format in ("maildir", "mh") else None


def _load(state: Path) -> object:
    """The state file's entries; OSError for a link, a FIFO or a huge file (safefs.py)."""
    return json.loads(read_control(state, cap=LARGE_CONTROL_CAP))


def _tail_hash(fd: int, offset: int) -> str:
    start = max(0, offset - TAIL)
    return hashlib.sha1(os.pread(fd, offset - start, start)).hexdigest()


def resume_point(state: Path | None, src: Path, fd: int, size: int, variant: str,
                 ident: os.stat_result | None = None) -> int | None:
    """The byte offset to resume reading ``src`` at, or None to read it all.

    ``fd`` holds the bytes; ``ident`` is the source file itself when ``fd`` is a
    private copy of it (a decompressed or snapshot copy).
    """
    if state is None:
        return None
    try:
        entries = _load(state)
        entry = entries.get(str(src.resolve()))
    except (OSError, ValueError, AttributeError):
        return None
    if not entry:
        return None
    st = ident or os.fstat(fd)
    offset = entry.get("offset", 0)
    if (entry.get("dev"), entry.get("ino")) != (st.st_dev, st.st_ino) or offset > size \
            or entry.get("variant") != variant or offset <= 0:
        return None
    if _tail_hash(fd, offset) != entry.get("tail"):
        return None
    return offset


def messages_before(state: Path | None, src: Path) -> int:
    """How many messages of ``src`` lie before its recorded offset, all in the destination
    (0 when a state file from before this count was kept does not say)."""
    if state is None:
        return 0
    try:
        entry = json.loads(state.read_text()).get(str(src.resolve()))
        count = entry.get("messages", 0)
    except (OSError, ValueError, AttributeError):
        return 0
    return count if isinstance(count, int) and count >= 0 else 0


def delivered(state: Path | None, src: Path) -> DigestTable:
    """Digests of the messages earlier complete runs took from ``src`` (none if unknown)."""
    if state is None:
        return DigestTable()
    try:
        entries = _load(state)
        return _unpacked(entries.get(str(src.resolve())))
    except (OSError, ValueError, AttributeError):
        return DigestTable()


def _unpacked(entry: object) -> DigestTable:
    try:
        raw = base64.b64decode(entry.get("delivered", ""), validate=True)     # type: ignore[union-attr]
    except (ValueError, AttributeError, TypeError):
        return DigestTable()
    return DigestTable(d for (d,) in struct.iter_unpack(">Q", raw[:len(raw) - len(raw) % 8]))


def _packed(digests: DigestTable) -> str:
    """8 bytes per digest, sorted, base64: about 11 bytes of state file per message."""
    packed = bytearray()
    for digest in digests:                         # ascending, without a list of them all
        packed += digest.to_bytes(8, "big")
    return base64.b64encode(packed).decode()


def save(state: Path | None, src: Path, fd: int, size: int, variant: str, fsync: bool,
         ident: os.stat_result | None = None, taken: Sequence[int] = (), messages: int = 0) -> None:
    """Remember that ``src`` was converted completely up to ``size`` (after the last commit),
    the digests of the messages ``taken`` from it (added to those of earlier runs), and how
    many ``messages`` lie before ``size`` (a resumed run counts them as already there)."""
    if state is None or not state.parent.exists():
        return
    try:
        entries = _load(state)
        if not isinstance(entries, dict):
            entries = {}
    except (OSError, ValueError):
        entries = {}
    st = ident or os.fstat(fd)
    key = str(src.resolve())
    before = entries.get(key)
    if len(taken) or not isinstance(before, dict):
        delivered = _unpacked(before)
        delivered |= taken
        delivered_text = _packed(delivered)
    else:                                          # nothing read this time: keep the list as it is
        delivered_text = before.get("delivered", "")
    entry = {"dev": st.st_dev, "ino": st.st_ino, "offset": size, "tail": _tail_hash(fd, size), "variant": variant,
             "delivered": delivered_text, "messages": messages}
    if entries.get(key) == entry:
        return                                     # a re-run that found nothing new: nothing to record
    entries[key] = entry
    where = os.open(state.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        replace_file(state.name, json.dumps(entries, indent=1).encode(), where, owner_for(state.parent), fsync)
    finally:
        os.close(where)
