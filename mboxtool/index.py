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


def message_digest(msg: MailMessage) -> tuple[int, tuple[bytes | memoryview, ...]]:
    """The identity of ``msg``, and ``core_bytes(msg)`` as buffers to write (``msg`` is left as it was)."""
    return core_digest(msg.data, msg.quoted)


def core_digest(data: bytes, quoted: bool) -> tuple[int, tuple[bytes | memoryview, ...]]:
    """(identity, core bytes as buffers) of message bytes as read (``quoted``: still mboxrd-quoted).

    The one implementation of message identity. It works on the header block
    and the body apart, so that a body is never copied: it is hashed (SHA-1:
    identity, not security) and written as views around its ``>From`` lines.
    """
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
