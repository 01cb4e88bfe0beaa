"""The mbox variants (§1.5): which one a file was written in, guessed from its first messages,
and the From quoting each one applies when it writes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..model.message import from_line_starts
from .mboxscan import MboxScanner

VARIANTS = ("mboxo", "mboxrd", "mboxcl", "mboxcl2")
SNIFF_BYTES = 4 << 20
_TWO_SPACES = re.compile(rb"^From \S+  \S")


@dataclass
class VariantGuess:
    """The variant an mbox was written in, and why we think so."""

    variant: str
    evidence: list[str] = field(default_factory=list)


def sniff_variant(fh, size: int) -> VariantGuess:
    """Guess the variant from the first 4 MiB (§1.5); mboxrd when nothing is decisive."""
    limit = min(size, SNIFF_BYTES)
    # counted while streaming: a list of the sniffed messages would stay in the heap
    n = with_cl = bodiless = unescaped_in_cl = quoted = multi = imap = postfix = mozilla = 0
    for m in MboxScanner(fh, limit, count_lines=False):
        if m.garbage:
            continue
        n += 1
        data, headers = m.data, m.headers
        if m.cl_bounded:
            with_cl += 1
            unescaped_in_cl += data.find(b"\nFrom ", max(m.body_offset - 1, 0)) >= 0
            quoted += data.find(b"\n>From ", max(m.body_offset - 1, 0)) >= 0    # the body's, as mboxcl quotes
        elif m.body_offset >= len(data):
            bodiless += 1                   # no empty line, no body: mboxcl writers give it no Content-Length
        multi += b">>From " in data and bool(from_line_starts(data, b">>From "))
        imap += b"x-uid" in headers or b"x-imapbase" in headers
        postfix += bool(_TWO_SPACES.match(m.from_line)) and (b"delivered-to" in headers
                                                             or b"x-original-to" in headers)
        mozilla += b"x-mozilla-status" in headers
    fh.seek(0)
    if not n:
        return VariantGuess("mboxrd", ["no messages: mboxrd by default"])
    if with_cl and with_cl >= 0.9 * (n - bodiless):
        if unescaped_in_cl:
            return VariantGuess("mboxcl2", [f"valid Content-Length on {with_cl}/{n} messages",
                                            f"unescaped From lines inside {unescaped_in_cl} of them"])
        if quoted:
            return VariantGuess("mboxcl", [f"valid Content-Length on {with_cl}/{n} messages",
                                           f">From lines in {quoted} messages"])
        return VariantGuess("mboxcl2", [f"valid Content-Length on {with_cl}/{n} messages"])
    if multi:
        return VariantGuess("mboxrd", [f">>From lines in {multi} messages"])
    if imap:
        return VariantGuess("mboxcl2", [f"X-UID/X-IMAPbase headers (UW-IMAP/Dovecot) in {imap} messages"])
    if postfix >= 0.5 * n:
        return VariantGuess("mboxo", [f"Postfix-style From_ lines and Delivered-To in {postfix} messages"])
    if mozilla:
        return VariantGuess("mboxrd", [f"X-Mozilla-Status in {mozilla} messages (Thunderbird; "
                                       "mboxrd assumed)"])
    return VariantGuess("mboxrd", ["nothing decisive: mboxrd by default"])


def quote_points(data: bytes, variant: str, begin: int = 0, froms: list[int] | None = None) -> list[int]:
    """Where ``variant`` puts a ``>``: the starts of the lines of ``data`` (from ``begin``, a
    line start) that would be read as From_ lines. ``froms``: where every ``>*From `` line
    from ``begin`` on starts, when the caller found them already."""
    if variant == "mboxcl2":
        return []
    if froms is None:
        if data.find(b"From ", begin) < 0:
            return []
        froms = from_line_starts(data, b"From ", begin)
    if variant in ("mboxo", "mboxcl"):
        froms = [s for s in froms if data[s] == 0x46]         # only unquoted 'From ' lines
    return froms


def quoted_parts(data: bytes | memoryview, points: list[int], begin: int = 0) -> list[bytes | memoryview]:
    """``data[begin:]`` as buffers with a ``>`` before each of ``points``."""
    parts: list[bytes | memoryview] = []
    last = begin
    for start in points:
        parts += (data[last:start], b">")
        last = start
    parts.append(data[last:])
    return parts


def quote(data: bytes, variant: str) -> bytes:
    """Quote the lines of ``data`` that would be read as From_ lines, as ``variant`` does."""
    points = quote_points(data, variant)
    return b"".join(quoted_parts(data, points)) if points else data
