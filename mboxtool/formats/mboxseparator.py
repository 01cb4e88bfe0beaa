"""Which ``From `` line starts a message: the separator rule of the mbox scanner (§1.4).

The scanner (mboxscan.py) asks ``classify`` about every line that begins ``From ``, past the
header of the message before it (docs/formats.md §1.4):

* A *header block* follows a From_ line when the very next line is a header
  field (or a legacy ``>From `` line), there are at least two header fields,
  and the block ends at an empty line, at the next ``From `` line or at the
  end of the file. *Message evidence*: the block holds ``Date:``,
  ``Message-ID:``, ``From:``, ``Received:`` or ``Return-Path:``. *Delivery
  evidence*: it holds ``Received:``, ``Return-Path:``, ``Delivered-To:`` or
  ``X-Original-To:`` (what a delivery adds and a pasted or attached message
  lacks).
* A dated From_ line (placeholder dates such as ``Mon Jan 00 00:00:00 0000``
  included) at the start of the file or after an empty line is a separator;
  a dated one without the empty line is a separator when a header block
  follows (``from-line-without-blank``); an undated or garbage-dated one at
  the start or after an empty line is a separator when a header block with
  message evidence follows (``bad-from-date``). Anything else is body text
  (``unescaped-from-line``).
* Inside an open multipart of the message before (its boundary declared, the
  closing delimiter not seen yet but further on), a From_ line that would be a
  separator is one only when its header block carries delivery evidence: a
  message that never closes its multipart cannot swallow later deliveries,
  and an attached ``git format-patch`` or mbox still does not split. A dated
  From_ line after an empty line left in the body this way is reported as a
  possible phantom split (other readers split there), any other as
  ``unescaped-from-line``.
* Outside a multipart, a dated From_ line after an empty line is body text
  (a possible phantom split) only on two signs at once: no header block with
  message evidence follows, and the message's Content-Length runs past it.
"""

from __future__ import annotations

import re

from ..model.dates import FromLine, has_date_shape, parse_from_line
from ..model.message import Headers, is_header_line
from .mboxwindow import ScanWindow

HEADER_LIMIT = 1 << 20          # a header block longer than this is not looked for
LOOKAHEAD_LIMIT = 32 << 20      # how far the open-multipart test may read ahead
_BOUNDARY = re.compile(rb'(?i)boundary\s*=\s*(?:"([^"\r\n]+)"|([^\s;"]+))')
_MESSAGE_EVIDENCE = frozenset({b"date", b"message-id", b"from", b"received", b"return-path"})
_DELIVERY_EVIDENCE = frozenset({b"received", b"return-path", b"delivered-to", b"x-original-to"})
BLOCK, MESSAGE, DELIVERY = 1, 2, 4        # what header_block found (bits)


def classify(b: ScanWindow, size: int, cand: int, line: bytes, line_end: int, nxt: bytes | None,
             parsed: FromLine, blank: bool, boundary: bytes | None, body_abs: int | None,
             cl_target: int | None) -> tuple[bool, bool, bool]:
    """(separator, possible phantom split, inside an open multipart) for the From_ line at
    ``cand``, past the header of the message before it: the rule of the module docstring.
    ``size``: the scanner's file size, the end of the open-multipart lookahead."""
    dated = parsed.date is not None
    if dated and blank and not boundary and (cl_target is None or cl_target <= cand):
        return True, False, False               # the usual separator: nothing more to look at
    header_next = nxt is not None and (is_header_line(nxt) or nxt.startswith(b">From "))
    if not blank and not header_next:
        return False, False, False              # the usual body line: no header block under it
    dated = dated or has_date_shape(line)
    evidence = -1                              # the header block under it: read when needed
    if dated and blank:
        separator = True
    else:
        evidence = header_block(b, line_end + 1) if header_next else 0
        separator = bool(evidence) if dated else blank and bool(evidence & MESSAGE)
    if not separator:
        return False, False, False
    if boundary and _inside_open_multipart(b, size, body_abs, cand, boundary):
        if evidence < 0:
            evidence = header_block(b, line_end + 1) if header_next else 0
        if evidence & DELIVERY:
            return True, False, True            # a delivery: the open multipart was never closed
        return False, dated and blank, True
    if dated and blank and cl_target is not None and cl_target > cand:
        if evidence < 0:
            evidence = header_block(b, line_end + 1) if header_next else 0
        if not evidence & MESSAGE:
            return False, True, False           # two signs of a body line (§5)
    return True, False, False


def _inside_open_multipart(b: ScanWindow, size: int, body_abs: int | None, cand: int,
                           boundary: bytes) -> bool:
    """True when ``--boundary--`` is missing before ``cand`` and appears after it."""
    closing = b"--" + boundary + b"--"
    if body_abs is None or b.buf.find(closing, body_abs - b.base, cand - b.base) >= 0:
        return False
    limit = min(size, cand + LOOKAHEAD_LIMIT)
    found = b.find(closing, cand, limit)
    if found < 0:
        return False
    # A dated separator after an empty line between the two may start a real message
    # whose own multipart that closing delimiter ends (the open one was never closed:
    # splitting there loses nothing). Only the last such line could own it, and it does
    # when its header declares the same boundary. Otherwise the delimiter can only close
    # the open multipart, and every From_ line up to it is body text: an mbox attached
    # as a message/rfc822 or text part, several messages long.
    last = None
    pos = cand + 1
    while True:
        nl = b.buf.find(b"\n\nFrom ", pos - b.base, found - b.base)
        if nl < 0:
            break
        at = nl + b.base + 2
        if parse_from_line(b.line_at(at)).date is not None:
            last = at
        pos = at
    return last is None or not _declares_boundary(b, last, found, boundary)


def _declares_boundary(b: ScanWindow, at: int, stop: int, boundary: bytes) -> bool:
    """True when the header block under the From_ line at ``at`` (read no further than
    ``stop``) is a multipart one with ``boundary``."""
    buf, base = b.buf, b.base
    start = buf.find(b"\n", at - base, stop - base)
    if start < 0:
        return False
    end = buf.find(b"\n\n", start, stop - base)
    crlf = buf.find(b"\n\r\n", start, stop - base if end < 0 else end)
    if crlf >= 0:
        end = crlf
    head = bytes(buf[start + 1:(stop - base) if end < 0 else end + 1])
    return multipart_boundary(Headers(head)) == boundary


def header_block(b: ScanWindow, start: int) -> int:
    """What the header block starting at ``start`` (the line after a From_ line) holds: 0 when
    there is none, else BLOCK with the MESSAGE and DELIVERY evidence bits."""
    fields = evidence = 0
    pos, limit = start, start + HEADER_LIMIT
    while True:
        nl = b.find(b"\n", pos, limit)
        if nl < 0 and b.end < limit and b.eof:
            stop = b.end                            # the last line of the file
        elif nl < 0:
            return 0                                # no end within the limit: no header block
        else:
            stop = nl
        line = b.get(pos, stop).rstrip(b"\r")
        if not line or line.startswith(b"From "):
            break                                   # an empty line, or the next From_ line, ends it
        if line[:1] in (b" ", b"\t"):
            if pos == start:
                return 0
        elif not line.startswith(b">From "):
            if not is_header_line(line):
                return 0
            fields += 1
            name = line[:line.index(b":")].rstrip(b" \t").lower()
            if name in _MESSAGE_EVIDENCE:
                evidence |= MESSAGE
            if name in _DELIVERY_EVIDENCE:
                evidence |= DELIVERY
        if nl < 0:
            break
        pos = nl + 1
    return BLOCK | evidence if fields >= 2 else 0


def multipart_boundary(headers: Headers) -> bytes | None:
    """The boundary a multipart Content-Type declares; None for any other message."""
    ctype = headers.get(b"content-type")
    if not ctype or "multipart" not in ctype.lower():
        return None
    m = _BOUNDARY.search(ctype.encode("latin-1"))
    if not m:
        return None
    return m.group(1) or m.group(2)
