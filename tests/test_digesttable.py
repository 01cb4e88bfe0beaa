"""DigestTable: a set (or a digest -> index map) of 64-bit digests at 8 (12) bytes a digest."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mboxtool.model import digesttable
from mboxtool.model.digesttable import DigestTable

digests = st.lists(st.integers(min_value=0, max_value=(1 << 64) - 1), max_size=400)


@pytest.fixture
def tiny_limits(monkeypatch):
    """Pack after 16 digests and split past 4 a bucket, so small inputs take every path."""
    monkeypatch.setattr(digesttable, "SMALL", 16)
    monkeypatch.setattr(digesttable, "FILL", 4)


@settings(max_examples=60, deadline=None)
@given(items=digests, probes=digests)
def test_behaves_as_a_dict_of_first_values_on_every_path(items, probes):
    for small, fill in ((1 << 30, 64), (16, 4), (0, 1)):          # as a dict, packed, split often
        digesttable.SMALL, digesttable.FILL = small, fill
        try:
            table, model = DigestTable(values=True), {}
            for i, d in enumerate(items):
                assert table.setdefault(d, i) == model.setdefault(d, i)
            assert len(table) == len(model)
            assert list(table) == sorted(model)
            for d in probes + items:
                assert (d in table) == (d in model)
                assert table.get(d) == model.get(d)
        finally:
            digesttable.SMALL, digesttable.FILL = 16384, 64


def test_a_set_packs_and_splits_without_losing_or_repeating(tiny_limits):
    rnd = random.Random(7)
    values = [rnd.getrandbits(64) for _ in range(5000)]
    table = DigestTable(values[:100])
    table |= values                                              # repeats are one entry
    assert len(table) == len(set(values))
    assert list(table) == sorted(set(values))
    assert all(v in table for v in values)
    assert not any(rnd.getrandbits(64) in table for _ in range(2000))
    assert "not a digest" not in table


def test_a_match_across_two_entries_is_no_match(tiny_limits):
    """The search runs over raw bytes: a digest whose bytes straddle two stored entries
    (the tail of one and the head of the next) must not be found."""
    a = int.from_bytes(bytes([1, 2, 3, 4, 5, 6, 7, 8]), "little")
    b = int.from_bytes(bytes([9, 10, 11, 12, 13, 14, 15, 16]), "little")
    table = DigestTable([a, b])
    straddle = int.from_bytes(bytes([5, 6, 7, 8, 9, 10, 11, 12]), "little")
    assert a in table and b in table and straddle not in table
    with_values = DigestTable(values=True)
    with_values.setdefault(a, 0x0D0C0B0A)
    inside = int.from_bytes(bytes([5, 6, 7, 8, 10, 11, 12, 13]), "little")
    assert with_values.get(inside) is None and with_values.get(a) == 0x0D0C0B0A


def test_digests_take_about_eight_bytes_each():
    """The point of the table: 400,000 digests in about 3.5 MB, where a set takes ~28 MB
    (benchmarks/bench.py --memory shows 2,000,000 messages end to end)."""
    import tracemalloc
    rnd = random.Random(3)
    tracemalloc.start()
    try:
        table = DigestTable(rnd.getrandbits(64) for _ in range(400_000))
        size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(table) == 400_000
    assert size < 400_000 * 10, size                   # 8 bytes a digest, and the buckets' slack
    assert peak < size + 2_500_000, peak                # packing and splitting never double it
