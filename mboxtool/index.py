"""Message identity: a 64-bit digest of the content without metadata headers.

Re-runs skip messages whose digest is already in the destination. A Maildir
written by mboxtool carries each digest in the R field of its file names (so
the directory is its own index and a killed run leaves nothing to reconcile);
other destinations are read back at start.
"""

from __future__ import annotations

import hashlib

from .message import MailMessage, content_digest, drop_from_quoting, header_end, strip_head, unquote_mboxrd


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
    if data.find(b">From ", end) < 0:                  # the usual body: nothing to unquote or ignore
        body: bytes | memoryview = memoryview(data)[end:]
        hashed_body = body
    else:
        body = unquote_mboxrd(data[end:]) if quoted else memoryview(data)[end:]
        hashed_body = drop_from_quoting(bytes(body))
    hashed_head = drop_from_quoting(head) if b">From " in head else head
    h = hashlib.sha1(hashed_head)
    h.update(hashed_body)
    last = body[-1:] if len(body) else head[-1:]
    if last != b"\n":
        h.update(b"\n")
    return int.from_bytes(h.digest()[:8], "big"), (head, body)
