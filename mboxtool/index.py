"""Message identity: a 64-bit digest of the content without metadata headers.

Re-runs skip messages whose digest is already in the destination. A Maildir
written by mboxtool carries each digest in the R field of its file names (so
the directory is its own index and a killed run leaves nothing to reconcile);
other destinations are read back at start.
"""

from __future__ import annotations

import hashlib

from .message import MailMessage, content_digest, core_bytes, split_core


def short_digest(data: bytes, stripped: bool = False) -> int:
    """A 64-bit digest of the message content, kept in memory as a small int."""
    return int.from_bytes(content_digest(data, stripped)[:8], "big")


def message_digest(msg: MailMessage) -> tuple[int, tuple[bytes | memoryview, ...]]:
    """The digest of ``core_bytes(msg)``, and those bytes as buffers to write one after another.

    The usual message has no ``>From `` line at all: then unquoting changes
    nothing, only the header block needs a new copy, and the body stays a view
    of the bytes as read, digested in place and written with writev. Anything
    else takes the general path, as one buffer.
    """
    if msg.stripped or b">From " in msg.data:
        core = core_bytes(msg)
        return short_digest(core, stripped=True), (core,)
    head, body = split_core(msg.data)
    return parts_digest(head, body), (head, body)


def parts_digest(head: bytes, body: bytes | memoryview) -> int:
    """``short_digest(head + body, stripped=True)`` for parts without any ``>From `` line."""
    h = hashlib.sha1(head)
    if body:
        h.update(body)
    last = body[-1:] if len(body) else head[-1:]
    if last != b"\n":
        h.update(b"\n")
    return int.from_bytes(h.digest()[:8], "big")
