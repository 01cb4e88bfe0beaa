"""Message identity: a 64-bit digest of the content without metadata headers.

Re-runs skip messages whose digest is already in the destination. A Maildir
written by mboxtool carries each digest in the R field of its file names (so
the directory is its own index and a killed run leaves nothing to reconcile);
other destinations are read back at start.
"""

from __future__ import annotations

import hashlib

from .message import MailMessage, drop_from_quoting, from_line_starts, header_end, strip_head, unquote_mboxrd


def short_digest(data: bytes) -> int:
    """The 64-bit identity of a message, kept in memory as a small int.

    Metadata headers are left out, the final newline is made sure, and ``>From``
    quoting of any depth is ignored, so a message reads back with the same
    identity whichever format or mbox variant (even lossy mboxo) stored it.
    """
    return core_digest(data, False)[0]


# The first header line repair gives a message whose bytes it changed: the digests of the
# damaged message(s) it replaces. A conversion of the repaired copy into a destination that
# holds those already skips it, so that the recovery path (convert, repair, convert) leaves
# no duplicates.
REPAIRED_FROM = b"X-Mboxtool-Repaired-From: "


def repaired_from_line(originals: list[int], eol: bytes = b"\n") -> bytes:
    return REPAIRED_FROM + b" ".join(b"%016x" % d for d in originals) + eol


def repaired_from(data: bytes | memoryview) -> list[int]:
    """The digests a repaired message names as the damaged ones it replaces ([] for others)."""
    if bytes(data[:len(REPAIRED_FROM)]) != REPAIRED_FROM:
        return []
    head = bytes(data[len(REPAIRED_FROM):len(REPAIRED_FROM) + 17 * 64])
    try:
        return [int(word, 16) for word in head.split(b"\n", 1)[0].split()]
    except ValueError:
        return []


def replaces_known(data: bytes | memoryview, known: set[int]) -> bool:
    """True for a repaired message all of whose damaged originals are in ``known``."""
    originals = repaired_from(data)
    return bool(originals) and all(d in known for d in originals)


def exact_digest(data: bytes, quoted: bool, quoting_blind: bool = False) -> int:
    """A 64-bit digest of the message's exact bytes without metadata headers, for --verify:
    unlike ``short_digest`` a missing final newline counts. ``quoted``: ``data`` is still
    mboxrd-quoted; ``quoting_blind``: ``>From`` quoting of any depth is ignored (what an
    mboxo or mboxcl file cannot keep apart)."""
    if quoting_blind:
        end = header_end(data)
        head = strip_head(data[:end])
        sha = hashlib.sha1(drop_from_quoting(head) if b">From " in head else head)
        body = data[end:]
        sha.update(drop_from_quoting(body) if b">From " in body else body)
    else:
        sha = hashlib.sha1()
        for part in core_digest(data, quoted)[1]:
            sha.update(part)
    return int.from_bytes(sha.digest()[:8], "big")


def message_digest(msg: MailMessage) -> tuple[int, tuple[bytes | memoryview, ...]]:
    """The identity of ``msg``, and ``core_bytes(msg)`` as buffers to write (``msg`` is left as it was,
    but for ``body_froms``)."""
    data, quotes = msg.data, msg.body_quotes
    if quotes is not None or msg.quoted:
        return core_digest(data, msg.quoted, quotes)
    # one scan of the body for every From line: its >From lines are the digest's, and an
    # mbox writer quotes by all of them (a second pass over a large body costs as much); the
    # writer also takes the header block's end and its metadata-free copy from here
    end = header_end(data)
    froms = from_line_starts(data, b"From ", end)
    digest, written = core_digest(data, False, [s for s in froms if data[s] == 0x3E], end)
    msg.body_froms = (data, end, written[0] if len(written) > 1 else None, froms)
    return digest, written


def core_digest(data: bytes, quoted: bool, body_quotes: list[int] | None = None, end: int | None = None
                ) -> tuple[int, tuple[bytes | memoryview, ...]]:
    """(identity, core bytes as buffers) of message bytes as read (``quoted``: still mboxrd-quoted).

    The one implementation of message identity. It works on the header block
    and the body apart, so that a body is never copied: it is hashed (SHA-1:
    identity, not security) and written as views around its ``>From`` lines.
    ``body_quotes``: where the body's ``>+From`` lines start, when the reader
    found them already (the mbox scanner does, on its way to the next From_
    line); None to look for them here. ``end``: ``header_end(data)``, when known.
    Written as more than one buffer, the first is the header block without metadata.
    """
    end = header_end(data) if end is None else end
    head = cut = data[:end]
    if quoted and b">From " in head:
        head = unquote_mboxrd(head)
    head = strip_head(head)                                # the same object when nothing is cut
    hashed_head = drop_from_quoting(head) if b">From " in head else head
    starts = from_line_starts(data, b">From ", end) if body_quotes is None else body_quotes
    if not starts:                                         # the usual message: no >From line
        if hashed_head is cut:                             # the header as read: one piece
            sha, written = hashlib.sha1(data), (data,)
        else:
            body = _tail(data, end)
            sha, written = hashlib.sha1(hashed_head), (head, body)
            sha.update(body)
    else:
        # written (unquoted) and hashed (every '>' of the run dropped) as views between the
        # >From lines, never as copies
        view = memoryview(data)
        written_parts, hashed = [head], [hashed_head]
        w = h = end
        for start in starts:
            if quoted:
                written_parts.append(view[w:start])
                w = start + 1                              # mboxrd: one '>' less
            hashed.append(view[h:start])
            h = data.index(b"From ", start)                # the digest ignores quoting of any depth
        written_parts.append(view[w:])
        hashed.append(view[h:])
        sha = hashlib.sha1()
        for part in hashed:
            sha.update(part)
        written = tuple(written_parts)
    last = data[-1:] if len(data) > end else head[-1:]     # a '>' dropped is never the last byte
    if last != b"\n":
        sha.update(b"\n")
    return int.from_bytes(sha.digest()[:8], "big"), written


def _tail(data: bytes, end: int) -> bytes | memoryview:
    """``data[end:]``: a copy when small (cheaper than a view), a view when large."""
    return data[end:] if len(data) - end < 65536 else memoryview(data)[end:]
