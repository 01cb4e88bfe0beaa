"""Compact tables of 64-bit message digests: 8 bytes a digest, not a Python int and a hash slot.

A Python ``set`` of two million digests costs about 140 MB (an int object of 36
bytes and a slot of 16 bytes each, at two-thirds load); a conversion or a
validation of a large archive would grow by that much. A table starts as a set
(or a dict, with values), which is fastest, and past ``SMALL`` digests moves
them into buckets of bytes chosen by each digest's top bits, 8 bytes a digest
(12 with a value), found by a C-speed search of its bucket. Digests are SHA-1
prefixes, so the buckets fill evenly; they double when the average passes ``FILL``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

SMALL = 16384                    # digests kept as Python objects (about 1.5 MB) before packing
FILL = 64                        # average entries a bucket before the buckets double


class DigestTable:
    """A set of 64-bit digests, each optionally with a 32-bit value (``values=True``).

    Supports ``in``, ``len``, ``add``, ``update``, ``|=``, ``get``, ``setdefault`` and
    iteration in ascending order.
    """

    def __init__(self, digests: Iterable[int] = (), values: bool = False):
        self._width = 12 if values else 8
        self._small: dict[int, int] | None = {}
        self._buckets: list[bytearray] = []
        self._bits = 0
        self._count = 0
        self.update(digests)

    def __len__(self) -> int:
        return self._count

    def __contains__(self, digest: object) -> bool:
        if self._small is not None:
            return digest in self._small
        return isinstance(digest, int) and self._find(digest)[1] >= 0

    def __iter__(self) -> Iterator[int]:
        if self._small is not None:
            yield from sorted(self._small)
            return
        for bucket in self._buckets:                 # buckets are in digest order: sort each alone
            yield from sorted(self._digests(bucket))

    def __ior__(self, other: Iterable[int]) -> DigestTable:
        self.update(other)
        return self

    def add(self, digest: int, value: int = 0) -> None:
        self.setdefault(digest, value)

    def update(self, digests: Iterable[int]) -> None:
        for digest in digests:
            self.setdefault(digest, 0)

    def get(self, digest: int, default: int | None = None) -> int | None:
        if self._small is not None:
            return self._small.get(digest, default)
        bucket, at = self._find(digest)
        return default if at < 0 else int.from_bytes(bucket[at + 8:at + 12], "little")

    def setdefault(self, digest: int, value: int) -> int:
        """The value held for ``digest``; ``value``, stored, when there was none."""
        if self._small is not None:
            held = self._small.setdefault(digest, value)
            if len(self._small) > self._count:       # it was new
                self._count += 1
                if self._count > SMALL:
                    self._pack()
            return held
        bucket, at = self._find(digest)
        if at >= 0:
            return int.from_bytes(bucket[at + 8:at + 12], "little")
        bucket += digest.to_bytes(8, "little")
        if self._width == 12:
            bucket += value.to_bytes(4, "little")
        self._count += 1
        if self._count > FILL << self._bits:
            self._split()
        return value

    def _find(self, digest: int) -> tuple[bytearray, int]:
        bucket = self._buckets[digest >> (64 - self._bits)]
        key = digest.to_bytes(8, "little")
        at = bucket.find(key)
        while at >= 0 and at % self._width:          # a match across two entries: look on
            at = bucket.find(key, at + 1)
        return bucket, at

    def _digests(self, bucket: bytearray) -> Iterator[int]:
        for at in range(0, len(bucket), self._width):
            yield int.from_bytes(bucket[at:at + 8], "little")

    def _pack(self) -> None:
        """From Python objects to buckets of bytes, sized so each holds about FILL / 2."""
        small, self._small = self._small, None
        assert small is not None
        self._bits = max(1, (len(small) * 2 // FILL).bit_length())
        self._buckets = [bytearray() for _ in range(1 << self._bits)]
        shift, values = 64 - self._bits, self._width == 12
        for digest, value in small.items():
            bucket = self._buckets[digest >> shift]
            bucket += digest.to_bytes(8, "little")
            if values:
                bucket += value.to_bytes(4, "little")

    def _split(self) -> None:
        """Twice the buckets: each old one splits in two by the next bit (one bucket at a time,
        so the table never needs twice its memory)."""
        bits, w = self._bits + 1, self._width
        shift = 64 - bits
        buckets = []
        for old in self._buckets:
            low, high = bytearray(), bytearray()
            for at in range(0, len(old), w):
                entry = old[at:at + w]
                (high if (int.from_bytes(entry[:8], "little") >> shift) & 1 else low).extend(entry)
            old.clear()
            buckets += (low, high)
        self._buckets, self._bits = buckets, bits
