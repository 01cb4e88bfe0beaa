"""What the destination holds already (so a re-run converts nothing twice), and ``--verify``:
DST read back and every converted message checked against what was written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..formats import registry
from ..model import flags
from ..model.digest import exact_digest, short_digest
from ..model.digesttable import DigestTable
from .report import ConvertReport


class Known:
    """Digests already in the destination: from our Maildir names, or DST read back."""

    def __init__(self) -> None:
        self.digests = DigestTable()

    def read_back(self, dst: Path, fmt: str, writer: Any = None) -> None:
        """Digest every message already in DST: through the writer (and its lock) where it can,
        else through a reader. A dry run opens nothing for writing: it asks an unopened writer."""
        if not dst.exists():
            return
        if writer is None:
            found = registry.make_writer(dst, fmt).known_digests(save=False)
        else:
            found = writer.known_digests()
            writer.clean_own_tmp()
        if found is not None:
            self.digests.update(found)
            return
        with registry.make_reader(dst, fmt, lock=False) as reader:
            self.digests.update(short_digest(m.data) for m in reader)


def quoting_blind(fmt: str, variant: str) -> bool:
    """mboxo and mboxcl write a body's ``From `` line as ``>From ``, which reads back the same
    as a ``>From `` line of the message: --verify cannot hold such a copy to that difference."""
    return variant in registry.get(fmt).blind_variants


_DATE_BITS = 42


def packed(flags_: str, date: int | None, exact: int = 0) -> int:
    """Flags, date and exact digest of a converted message in one int: --verify keeps one per message."""
    bits = 0
    for i, letter in enumerate(flags.LETTERS):
        if letter in flags_:
            bits |= 1 << i
    if date is None or not 0 <= date < 1 << _DATE_BITS:
        return (exact << _DATE_BITS) << 7 | bits
    return (exact << _DATE_BITS | date) << 7 | 1 << 6 | bits


def _unpacked(value: int) -> tuple[str, int | None, int]:
    letters = "".join(letter for i, letter in enumerate(flags.LETTERS) if value >> i & 1)
    date = value >> 7 & ((1 << _DATE_BITS) - 1) if value >> 6 & 1 else None
    return letters, date, value >> (7 + _DATE_BITS)


def verify_destination(dst: Path, fmt: str, expected: dict[int, Any], report: ConvertReport,
                       quoting_blind: bool = False) -> None:
    """Re-read DST and check every converted message: exact bytes (but for the metadata
    headers), flags and date.

    Each message is checked as it is read and then forgotten, so the only state
    is one int per converted message. New-ness is not compared: a seen-but-new
    mbox message rightly lands in cur/ (§2.4).
    """
    mismatches = 0
    checks_state = registry.get(fmt).keeps_state

    def agrees(msg: Any, value: int, exact: int) -> bool:
        flags_, date, expected_exact = _unpacked(value)
        return exact == expected_exact and (
            not checks_state or (msg.flags == flags_ and (date is None or msg.date == date)))

    # mboxtool writes From_ dates in UTC (§1.6): what it wrote is read back as such
    with registry.make_reader(dst, fmt, lock=True, from_tz="utc") as reader:
        for msg in reader:
            digest = short_digest(msg.data)
            held = expected.get(digest)
            if held is None:                       # there before this run, or checked already
                continue
            exact = exact_digest(msg.data, msg.quoted, quoting_blind)
            if isinstance(held, list):             # copies: this one is whichever agrees
                value = next((v for v in held if agrees(msg, v, exact)), held[0])
                held.remove(value)
                if len(held) == 1:
                    expected[digest] = held[0]
            else:
                value = expected.pop(digest)
            if not agrees(msg, value, exact):
                flags_, date, expected_exact = _unpacked(value)
                mismatches += 1
                what = "" if exact == expected_exact else "bytes that differ from the source's, "
                report.error(f"verify: message {digest:016x} has {what}flags {msg.flags!r} date "
                             f"{msg.date} in {dst}, expected {flags_!r} {date}")
    for digest, held in expected.items():          # converted, but not found in DST
        mismatches += len(held) if isinstance(held, list) else 1
        report.error(f"verify: a converted message ({digest:016x}) is missing from {dst}")
    report.verified = mismatches == 0
