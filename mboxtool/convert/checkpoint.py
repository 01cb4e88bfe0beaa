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
from collections.abc import Collection
from pathlib import Path

from ..formats import registry
from ..formats.common import STATE_NAME
from ..fs.durable import replace_file
from ..fs.ownership import owner_for
from ..fs.safefs import LARGE_CONTROL_CAP, NotRegularFile, open_regular, read_control
from ..model.digesttable import DigestTable

TAIL = 64 << 10


def state_path(dst: Path, dst_format: str) -> Path | None:
    """The state file of a directory destination; None where there is nowhere private to put it."""
    return None if registry.get(dst_format).is_file else dst / STATE_NAME


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
        entry = _load(state).get(str(src.resolve()))
        count = entry.get("messages", 0)
    except (OSError, ValueError, AttributeError):
        return 0
    return count if isinstance(count, int) and count >= 0 else 0


def delivered(state: Path | None, src: Path) -> DigestTable:
    """Digests of the messages earlier complete runs took from ``src`` (none if unknown)."""
    if state is None:
        return DigestTable()
    try:
        return _delivered(state, _load(state).get(str(src.resolve())))
    except (OSError, ValueError, AttributeError):
        return DigestTable()


def digests_name(key: str) -> str:
    """The file beside the state file that holds one source's delivered digests: 8 bytes
    each, big-endian, ascending. Kept out of the JSON, so that neither side ever holds them
    as text (2 million digests would be 22 MB of base64, and several copies of it)."""
    return f"{STATE_NAME}.{hashlib.sha1(key.encode('utf-8', 'surrogateescape')).hexdigest()[:16]}"


def _delivered(state: Path, entry: object) -> DigestTable:
    table = DigestTable()
    if not isinstance(entry, dict):
        return table
    if entry.get("delivered"):                     # written by an earlier version: base64 in the JSON
        try:
            raw = base64.b64decode(entry["delivered"], validate=True)
            table.update(d for (d,) in struct.iter_unpack(">Q", raw[:len(raw) - len(raw) % 8]))
        except (ValueError, TypeError):
            pass
    name = entry.get("digests")
    if isinstance(name, str) and name == digests_name(_key_of(entry)):
        try:
            fd, st = open_regular(state.parent / name)
        except FileNotFoundError:
            return table
        try:
            if st.st_size > LARGE_CONTROL_CAP:
                raise NotRegularFile(name, "control-file-too-large", f"larger than {LARGE_CONTROL_CAP} bytes")
            rest = b""
            while chunk := os.read(fd, 1 << 20):         # a piece at a time: never the whole file
                chunk = rest + chunk
                cut = len(chunk) - len(chunk) % 8
                table.update(d for (d,) in struct.iter_unpack(">Q", memoryview(chunk)[:cut]))
                rest = chunk[cut:]
        finally:
            os.close(fd)
    return table


def _key_of(entry: dict) -> str:
    return entry.get("source", "")


def _packed(digests: DigestTable):
    """The digests file's bytes, in pieces of 64 KiB (see digests_name)."""
    piece = bytearray()
    for digest in digests:                         # ascending, without a list of them all
        piece += digest.to_bytes(8, "big")
        if len(piece) >= 64 << 10:
            yield bytes(piece)
            piece.clear()
    yield bytes(piece)


def save(state: Path | None, src: Path, fd: int, size: int, variant: str, fsync: bool,
         ident: os.stat_result | None = None, taken: Collection[int] = (), messages: int = 0) -> None:
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
    entry = {"source": key, "dev": st.st_dev, "ino": st.st_ino, "offset": size, "tail": _tail_hash(fd, size),
             "variant": variant, "digests": digests_name(key), "messages": messages}
    new_digests = len(taken) > 0 or not isinstance(before, dict) or before.get("digests") != entry["digests"]
    if entries.get(key) == entry and not new_digests:
        return                                     # a re-run that found nothing new: nothing to record
    entries[key] = entry
    where = os.open(state.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        owner = owner_for(state.parent)
        if new_digests:
            delivered = taken if isinstance(taken, DigestTable) else DigestTable(taken)
            delivered |= _delivered(state, before)
            replace_file(entry["digests"], _packed(delivered), where, owner, fsync)
        replace_file(state.name, json.dumps(entries, indent=1).encode(), where, owner, fsync)
    finally:
        os.close(where)
