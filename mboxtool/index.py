"""Message identity: a 64-bit digest of the content without metadata headers.

Re-runs skip messages whose digest is already in the destination. A Maildir
written by mboxtool carries each digest in the R field of its file names (so
the directory is its own index and a killed run leaves nothing to reconcile);
other destinations are read back at start.
"""

from __future__ import annotations

from .message import content_digest


def short_digest(data: bytes, stripped: bool = False) -> int:
    """A 64-bit digest of the message content, kept in memory as a small int."""
    return int.from_bytes(content_digest(data, stripped)[:8], "big")
