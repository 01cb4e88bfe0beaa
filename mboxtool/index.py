"""Message identity: a 64-bit digest of the content without metadata headers.

Re-runs skip messages whose digest is already in the destination. A Maildir
written by mboxtool carries each digest in the R field of its file names (so
the directory is its own index and a killed run leaves nothing to reconcile);
other destinations are read back at start.
"""

from __future__ import annotations

import hashlib

from .message import (
    MailMessage,
    content_digest,
    drop_from_quoting,
    from_line_starts,
    header_end,
    strip_head,
    unquote_mboxrd,
)


def short_digest(data: bytes, stripped: bool = False) -> int:
    """A 64-bit digest of the message content, kept in memory as a small int."""
    return int.from_bytes(content_digest(data, stripped)[:8], "big")


def message_digest(msg: MailMessage) -> tuple[int, tuple[bytes | memoryview, ...]]:
    """``short_digest(core_bytes(msg), stripped=True)``, and those core bytes as buffers to write.

    Done on the header block and the body separately, so that the body is
    copied only when it has ``>From`` lines to unquote: otherwise it stays a
    view of the bytes as read, digested in place and written with writev.
    ``msg`` itself is left as it was.
    """
    if msg.stripped:
        return short_digest(msg.data, stripped=True), (msg.data,)
    return core_digest(msg.data, msg.quoted)


def core_digest(data: bytes, quoted: bool) -> tuple[int, tuple[bytes | memoryview, ...]]:
    """``message_digest`` of message bytes as read (``quoted``: still mboxrd-quoted)."""
    end = header_end(data)
    head = data[:end]
    if quoted and b">From " in head:
        head = unquote_mboxrd(head)
    head = strip_head(head)
    view = memoryview(data)
    # the body's >From lines, found in one pass: usually none at all. Written (unquoted) and
    # hashed (every '>' of the run dropped) as views between them, never as copies
    written, hashed = [head], [drop_from_quoting(head) if b">From " in head else head]
    w = h = end
    for start in from_line_starts(data, b">From ", end):
        if quoted:
            written.append(view[w:start])
            w = start + 1                                  # mboxrd: one '>' less
        hashed.append(view[h:start])
        h = data.index(b"From ", start)                    # the digest ignores quoting of any depth
    written.append(view[w:])
    hashed.append(view[h:])
    sha = hashlib.sha1()
    for part in hashed:
        sha.update(part)
    last = data[-1:] if len(data) > end else head[-1:]     # a '>' dropped is never the last byte
    if last != b"\n":
        sha.update(b"\n")
    return int.from_bytes(sha.digest()[:8], "big"), tuple(written)
