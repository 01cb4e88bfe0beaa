"""Which shard a mailbox belongs to, the same on every host and every run.

The shard of a row is decided by its source path as written (its bytes, as
``os.fsencode`` gives them): the first 8 bytes of the SHA-256 of those bytes,
read as a big-endian unsigned integer, modulo N, plus one. So ``--shard K/N``
for K = 1..N splits any manifest into N disjoint parts that together hold every
row, without any coordination between the hosts that run them.
"""

from __future__ import annotations

import hashlib
import os

from ..errors import UsageError


def shard_of(source: str, count: int) -> int:
    """The shard (1..count) of the mailbox whose source path is ``source``."""
    digest = hashlib.sha256(os.fsencode(source)).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` as (K, N) with 1 <= K <= N; a UsageError otherwise."""
    k, sep, n = text.partition("/")
    if not sep or not k.strip().isdigit() or not n.strip().isdigit():
        raise UsageError(f"--shard: {text!r} is not K/N (e.g. 1/3)")
    shard, count = int(k), int(n)
    if not 1 <= shard <= count:
        raise UsageError(f"--shard: {text!r}: K must be between 1 and N")
    return shard, count
