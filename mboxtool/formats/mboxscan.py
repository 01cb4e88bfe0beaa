"""The streaming mbox scanner: finds message boundaries in raw bytes (§1.4).

One scanner serves convert, validate, repair, info, list and show. It reads
the file in large chunks, keeps only the current message in memory, and
classifies every line that begins ``From `` (docs/formats.md §1.4):

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

A Content-Length header is honoured only when it lands exactly on the next
separator or on EOF. Before the first separator, the same rule applies with
the leading bytes as the message before; when those bytes start like a
message, the empty line before the separator is not theirs (§1.4 step 7).
"""

from __future__ import annotations

import io
import os
import re
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ..model.dates import FromLine, has_date_shape, parse_from_line
from ..model.message import Headers, header_end, is_header_line, split_message, starts_like_a_message

CHUNK = 1 << 20
BOM = b"\xef\xbb\xbf"             # a UTF-8 byte-order mark an editor put before the first From_ line
HEADER_LIMIT = 1 << 20          # a header block longer than this is not looked for
LOOKAHEAD_LIMIT = 32 << 20      # how far the open-multipart test may read ahead
_BOUNDARY = re.compile(rb'(?i)boundary\s*=\s*(?:"([^"\r\n]+)"|([^\s;"]+))')
_CL = re.compile(rb"\s*(\d{1,12})\s*$")
_MESSAGE_EVIDENCE = frozenset({b"date", b"message-id", b"from", b"received", b"return-path"})
_DELIVERY_EVIDENCE = frozenset({b"received", b"return-path", b"delivered-to", b"x-original-to"})
BLOCK, MESSAGE, DELIVERY = 1, 2, 4        # what _header_block found (bits)

Event = Callable[..., None]


@dataclass(slots=True)
class ScannedMessage:
    """One message as found in the file, before unquoting."""

    index: int                   # 1-based, in file order
    offset: int                  # byte offset of the From_ line (or of garbage)
    line: int                    # 1-based line number of that offset
    from_line: bytes             # without line end; b"" for leading garbage
    parsed: FromLine
    data: bytes                  # message bytes, separator blank removed, still quoted
    headers: Headers
    body_offset: int             # offset of the body inside ``data``
    data_offset: int             # byte offset of ``data`` in the file
    cl_bounded: bool = False     # its end came from a valid Content-Length
    garbage: bool = False        # bytes before the first From_ line
    blank_before: bool = True    # an empty line preceded its From_ line
    body_quotes: list[int] | None = None   # where the body's >+From lines start in ``data``; None: not looked for


_WINDOWS: weakref.WeakSet = weakref.WeakSet()


def _drop_windows() -> None:
    """In a forked writer process: free the scanner windows it inherited. It never reads
    them, and the pages of a window holding a large message would otherwise stay its own
    for the whole run once the reading process moves on."""
    for window in list(_WINDOWS):
        window.buf = bytearray()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_windows)


class _Buffer:
    """A sliding window over the file, dropping what lies before ``keep``.

    The window is a bytearray: it grows in place as a large message is read
    and drops its front without a copy, so a message of M bytes costs about M
    for the window and M for the message's own bytes (``get``). With an
    immutable bytes window every read copied the whole window, and the peak
    was twice that during the growth of a large message.
    """

    def __init__(self, fh: BinaryIO, size: int, cr_only: bool):
        self.fh, self.size, self.cr_only = fh, size, cr_only
        self.buf = bytearray()
        self.base = 0
        self.keep = 0
        self.read_to = 0
        _WINDOWS.add(self)

    @property
    def end(self) -> int:
        return self.base + len(self.buf)

    @property
    def eof(self) -> bool:
        return self.read_to >= self.size

    def fill(self, upto: int) -> bool:
        """Read until the window reaches absolute offset ``upto`` (or EOF)."""
        while self.end < upto and not self.eof:
            self._read()
        return self.end >= upto

    def more(self) -> bool:
        if self.eof:
            return False
        self._read()
        return True

    def _read(self) -> None:
        chunk = self.fh.read(min(CHUNK, self.size - self.read_to))
        if not chunk:
            self.size = self.read_to           # file shrank under us: stop here
            return
        self.read_to += len(chunk)
        if self.cr_only:
            chunk = chunk.replace(b"\r", b"\n")
        cut = self.keep - self.base
        if cut > 0:
            del self.buf[:cut]                 # bytearray: the front is dropped without a copy
            self.base = self.keep
        self.buf += chunk                      # grows in place (amortised)

    def find(self, needle: bytes, start: int, stop: int | None = None) -> int:
        """Absolute offset of ``needle`` at or after ``start``, reading on as needed; -1 if none."""
        while True:
            rel = self.buf.find(needle, start - self.base,
                                None if stop is None else stop - self.base)
            if rel >= 0:
                return rel + self.base
            scanned_to = self.end
            if (stop is not None and scanned_to >= stop) or not self.more():
                return -1
            start = max(start, scanned_to - len(needle) + 1)   # re-scan only the seam

    def get(self, start: int, stop: int) -> bytes:
        """Bytes ``start:stop`` (absolute offsets) as an immutable copy of their own."""
        a, z = start - self.base, stop - self.base
        if z - a < 65536:
            return bytes(self.buf[a:z])        # small: two quick copies beat a view
        with memoryview(self.buf) as view:     # large (a whole message): one copy, released at once
            return view[a:z].tobytes()

    def line_at(self, start: int) -> bytes:
        """The line starting at ``start``, without its line end."""
        nl = self.find(b"\n", start)
        stop = self.end if nl < 0 else nl
        return self.get(start, stop).rstrip(b"\r")

    def startswith(self, prefix: bytes, at: int) -> bool:
        self.fill(at + len(prefix))
        return self.buf.startswith(prefix, at - self.base)


def detect_cr_only(head: bytes) -> bool:
    """A file with CR but no LF in its first 64 KiB uses classic Mac line ends."""
    sample = head[: 64 << 10]
    return b"\n" not in sample and b"\r" in sample


def first_separator(head: bytes) -> int | None:
    """Where the first message starts in a file that begins with ``head`` (a byte-order mark
    passed over), by the scanner's own rule; None when no From_ line there starts one. Format
    detection asks this, so that every command takes the same files for an mbox."""
    head = head.removeprefix(BOM)
    fh = io.BytesIO(head)
    window = _Buffer(fh, len(head), detect_cr_only(head))
    window.fill(1)
    return MboxScanner(fh, len(head))._first_separator(window)


class MboxScanner:
    """Iterate the messages of an open mbox file, streaming."""

    def __init__(self, fh: BinaryIO, size: int, event: Event | None = None,
                 start: int = 0, start_line: int = 1, count_lines: bool = True):
        self.fh, self.size = fh, size
        self.event = event or (lambda *a, **k: None)
        self.start, self.start_line = start, start_line
        self.count_lines = count_lines          # line numbers cost a pass over the bytes
        self.cr_only = False
        self.messages = 0
        self._parsed: tuple[int, FromLine] | None = None

    # -- line numbers ----------------------------------------------------
    def _line_of(self, b: _Buffer, offset: int) -> int:
        if not self.count_lines:
            return 0
        self._line += b.buf.count(b"\n", self._line_pos - b.base, offset - b.base)
        self._line_pos = offset
        return self._line

    def __iter__(self) -> Iterator[ScannedMessage]:
        self.fh.seek(self.start)
        head = self.fh.read(min(64 << 10, self.size - self.start))
        if self.start == 0 and head.startswith(BOM):       # no message's bytes: reported, passed over
            self.event("byte-order-mark", offset=0, line=1)
            self.start, head = len(BOM), head[len(BOM):]
        self.fh.seek(self.start)
        self.cr_only = detect_cr_only(head)
        if self.cr_only:
            self.event("cr-line-endings", offset=self.start, line=self.start_line)
        b = _Buffer(self.fh, self.size, self.cr_only)
        b.base = b.keep = b.read_to = self.start
        self.fh.seek(self.start)
        b.fill(self.start + 1)
        self._line, self._line_pos = self.start_line, self.start
        first = self._first_separator(b)
        if first is None:
            if self.size > self.start:
                yield self._garbage(b, self.start, self.size)
            return
        if first > self.start:
            lead = b.get(self.start, first)
            if lead.strip(b"\r\n\t "):
                # bytes that start like a message end before the separator's empty line, as
                # every message does; other bytes are kept whole, up to the From_ line
                stop = _drop_blank(b, self.start, first) if starts_like_a_message(lead) else first
                yield self._garbage(b, self.start, stop)
            else:
                self.event("leading-blank-lines", offset=self.start, line=self.start_line)
        start = first
        while start is not None:
            msg, start = self._message(b, start)
            yield msg

    # -- the pieces --------------------------------------------------------
    def _first_separator(self, b: _Buffer) -> int | None:
        """The first From_ line: at the start (after blank lines), else the first one the
        separator rule accepts, the bytes before it taken for the message before."""
        pos = self.start
        only_blank = True
        lead_body: int | None = None            # where the leading bytes' body starts (-1: no header)
        boundary = None
        while True:
            if b.startswith(b"From ", pos):
                cand = pos
            else:
                nl = b.find(b"\nFrom ", pos)
                if nl < 0:
                    return None
                cand = nl + 1
            only_blank = only_blank and not b.get(self.start, cand).strip(b"\r\n\t ")
            if only_blank:
                return cand
            if lead_body is None:
                lead_body = _find_header_end(b, self.start) \
                    if starts_like_a_message(b.get(self.start, min(cand, self.start + 1000))) else -1
                if lead_body >= 0:
                    boundary = multipart_boundary(Headers(b.get(self.start, lead_body)))
            line, line_end, nxt = _two_lines(b, cand)
            opened = boundary if 0 <= lead_body <= cand else None
            if self._classify(b, cand, line, line_end, nxt, parse_from_line(line), _blank_before(b, cand),
                              opened, lead_body, None)[0]:
                return cand
            pos = cand + 1

    def _garbage(self, b: _Buffer, start: int, stop: int) -> ScannedMessage:
        b.fill(stop)
        data = b.get(start, stop)
        self.messages += 1
        self.event("garbage-before-first-from", offset=start, line=self.start_line,
                   size=stop - start)
        headers, body = split_message(data)
        return ScannedMessage(self.messages, start, self.start_line, b"", FromLine("", None, False),
                              data, headers, body, start, garbage=True, blank_before=True)

    def _message(self, b: _Buffer, start: int) -> tuple[ScannedMessage, int | None]:
        """Read the message whose From_ line is at ``start``; return it and the next start."""
        b.keep = start
        line_no = self._line_of(b, start)
        cached = self._parsed
        if cached is not None and cached[0] == start:       # classified already: reuse the work
            _, parsed, from_nl, blank_before = cached
        else:
            parsed = None
            blank_before = start == self.start or _blank_before(b, start)
            from_nl = b.find(b"\n", start)
        if from_nl < 0:                                   # a lone From_ line at EOF
            from_line = b.get(start, b.end).rstrip(b"\r")
            self.messages += 1
            return ScannedMessage(self.messages, start, line_no, from_line,
                                  parse_from_line(from_line), b"", Headers(b""), 0, b.end,
                                  blank_before=blank_before), None
        from_line = b.get(start, from_nl).rstrip(b"\r")
        if parsed is None:
            parsed = parse_from_line(from_line)
        data_start = from_nl + 1
        hdr_end = _find_header_end(b, data_start)
        cut = self._separator_in_header(b, data_start, hdr_end)
        if cut is not None:                             # a header-only message, no empty line after it
            data = b.get(data_start, cut)
            self.messages += 1
            self.event("from-line-without-blank", offset=cut, line=self._line_of(b, cut))
            return ScannedMessage(self.messages, start, line_no, from_line, parsed, data, Headers(data),
                                  len(data), data_start, blank_before=blank_before), cut
        headers = Headers(b.get(data_start, hdr_end if hdr_end >= 0 else data_start))
        body_abs = hdr_end if hdr_end >= 0 else None

        end, next_start, cl_bounded, cl_target = self._content_length_end(b, headers, body_abs, line_no)
        quotes = None
        if end is None:
            end, next_start, quotes = self._find_separator(b, start, data_start, body_abs, headers, cl_target)
        if cl_bounded:
            pass                    # Content-Length already left the separating empty line out
        elif next_start is None:
            end = _drop_blank(b, data_start, end)
        else:
            nxt = self._parsed
            blank_next = nxt[3] if nxt is not None and nxt[0] == next_start else _blank_before(b, next_start)
            if blank_next:
                end = _drop_blank(b, data_start, end)
        data = b.get(data_start, end)                     # the one copy of the message's bytes
        self.messages += 1
        if body_abs is None and len(data) > HEADER_LIMIT:  # a header beyond the limit: now its end is known
            body_abs = data_start + header_end(data)
            headers = Headers(data[:body_abs - data_start])
        body_offset = (body_abs - data_start) if body_abs is not None else len(data)
        msg = ScannedMessage(self.messages, start, line_no, from_line, parsed, data, headers,
                             min(body_offset, len(data)), data_start, bool(cl_bounded),
                             blank_before=blank_before, body_quotes=quotes)
        return msg, next_start

    def _separator_in_header(self, b: _Buffer, data_start: int, hdr_end: int) -> int | None:
        """A From_ line that starts the next message inside what reads as this one's header block:
        dated, after one of this message's header fields and before another field, under a
        header that declares no multipart (which would need a body). Messages without a body,
        written with no empty line between them (mblaze's mexport does so), follow one another
        that way; the envelope lines old mailers stack right under the From_ line come before
        any field and are left alone."""
        stop = hdr_end if hdr_end >= 0 else min(b.end, data_start + HEADER_LIMIT)
        pos = data_start
        while True:
            buf, base = b.buf, b.base                   # (reading on may move the window's base)
            hit = buf.find(b"\nFrom ", pos - base, stop - base)
            if hit < 0:
                return None
            pos = hit + base + 1
            prev = bytes(buf[buf.rfind(b"\n", 0, hit) + 1:hit])
            if not (is_header_line(prev) or prev[:1] in (b" ", b"\t")):
                continue
            cand = hit + base + 1
            line, line_end, nxt = _two_lines(b, cand)
            if nxt is None or not is_header_line(nxt):
                continue
            parsed = parse_from_line(line)
            if parsed.date is None and not has_date_shape(line):
                continue
            if multipart_boundary(Headers(bytes(b.buf[data_start - b.base:cand - 1 - b.base]))):
                return None                             # a multipart has a body: not header-only
            self._parsed = (cand, parsed, line_end, False)
            return cand

    def _content_length_end(self, b: _Buffer, headers: Headers, body_abs: int | None,
                            line_no: int) -> tuple[int | None, int | None, bool, int | None]:
        """(end of data, next From_ offset, True, where it points) when Content-Length checks out
        (§1.4 step 6); (None, None, False, where it points) when it does not."""
        value = headers.get(b"content-length")
        if value is None or body_abs is None:
            return None, None, False, None
        m = _CL.match(value.encode("latin-1"))
        if not m:
            self.event("content-length-mismatch", offset=body_abs, line=line_no, declared=value,
                       reason="not a number")
            return None, None, False, None
        target = body_abs + int(m.group(1))
        if target == self.size:
            return target, None, True, target
        if target < self.size:
            b.fill(target + 8)
            skips: tuple[bytes, ...] = (b"\n", b"\r\n", b"")
            if target > body_abs and b.get(target - 1, target) != b"\n":
                # a message without a final newline: the line end written after it, then
                # the empty line before the next From_ line (§1.6 step 4)
                skips += (b"\n\n", b"\r\n\r\n")
            for skip in skips:
                at = target + len(skip)
                if b.get(target, at) != skip:
                    continue
                if at >= self.size:
                    return target, None, True, target
                if b.startswith(b"From ", at) and (skip or parse_from_line(b.line_at(at)).date):
                    return target, at, True, target
        self.event("content-length-mismatch", offset=body_abs, line=line_no, declared=int(m.group(1)),
                   reason="past end of file" if target > self.size else "does not end on a From_ line")
        return None, None, False, target

    def _find_separator(self, b: _Buffer, start: int, data_start: int, body_abs: int | None,
                        headers: Headers, cl_target: int | None) -> tuple[int, int | None, list[int] | None]:
        """(end of data, next From_ offset or None at EOF, where the body's >From lines start
        in the data) by classifying candidates."""
        boundary = multipart_boundary(headers)
        pos = data_start
        # one pass finds both the From_ candidates and the body's >From lines: the Maildir
        # writer then needs no pass of its own to unquote and digest (index.core_digest)
        quotes: list[int] | None = [] if body_abs is not None else None
        while True:
            hit = b.find(b"From ", pos)
            if hit < 0:
                b.fill(self.size)
                return b.end, None, quotes
            pos = hit + 1
            buf, base = b.buf, b.base
            before = buf[hit - base - 1]                      # the From_ line's own \n at data_start
            if before != 0x0A:
                if before == 0x3E and quotes is not None and hit > body_abs:
                    at = hit - 1
                    while at > body_abs and buf[at - base - 1] == 0x3E:
                        at -= 1
                    if buf[at - base - 1] == 0x0A:          # a >From line of the body
                        quotes.append(at - data_start)
                continue
            cand = hit
            line, line_end, nxt = _two_lines(b, cand)
            blank = _blank_before(b, cand)
            # no end of the header found within HEADER_LIMIT: an empty line before the
            # candidate ends the header all the same (else a message with a 3 MB header
            # line would swallow every message after it)
            if cand < body_abs if body_abs is not None else not blank:
                self.event("from-line-in-header", offset=cand, line=self._line_of(b, cand))
                continue
            parsed = parse_from_line(line)
            separator, phantom, in_multipart = self._classify(b, cand, line, line_end, nxt, parsed, blank,
                                                              boundary, body_abs, cl_target)
            if separator:
                self._parsed = (cand, parsed, line_end, blank)     # _message() needs it again
                if not blank:
                    self.event("from-line-without-blank", offset=cand, line=self._line_of(b, cand))
                return cand, cand, quotes
            self.event("unescaped-from-line", offset=cand, line=self._line_of(b, cand),
                       dated=parsed.date is not None, blank_before=blank, in_multipart=in_multipart,
                       phantom=phantom)

    def _classify(self, b: _Buffer, cand: int, line: bytes, line_end: int, nxt: bytes | None,
                  parsed: FromLine, blank: bool, boundary: bytes | None, body_abs: int | None,
                  cl_target: int | None) -> tuple[bool, bool, bool]:
        """(separator, possible phantom split, inside an open multipart) for the From_ line at
        ``cand``, past the header of the message before it: the rule of the module docstring."""
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
            evidence = _header_block(b, line_end + 1) if header_next else 0
            separator = bool(evidence) if dated else blank and bool(evidence & MESSAGE)
        if not separator:
            return False, False, False
        if boundary and self._inside_open_multipart(b, body_abs, cand, boundary):
            if evidence < 0:
                evidence = _header_block(b, line_end + 1) if header_next else 0
            if evidence & DELIVERY:
                return True, False, True            # a delivery: the open multipart was never closed
            return False, dated and blank, True
        if dated and blank and cl_target is not None and cl_target > cand:
            if evidence < 0:
                evidence = _header_block(b, line_end + 1) if header_next else 0
            if not evidence & MESSAGE:
                return False, True, False           # two signs of a body line (§5)
        return True, False, False

    def _inside_open_multipart(self, b: _Buffer, body_abs: int | None, cand: int,
                               boundary: bytes) -> bool:
        """True when ``--boundary--`` is missing before ``cand`` and appears after it."""
        closing = b"--" + boundary + b"--"
        if body_abs is None or b.buf.find(closing, body_abs - b.base, cand - b.base) >= 0:
            return False
        limit = min(self.size, cand + LOOKAHEAD_LIMIT)
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


def _declares_boundary(b: _Buffer, at: int, stop: int, boundary: bytes) -> bool:
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


def _header_block(b: _Buffer, start: int) -> int:
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


def _two_lines(b: _Buffer, cand: int) -> tuple[bytes, int, bytes | None]:
    """The line at ``cand`` (no line end), the offset of its newline (or EOF), and the next line."""
    buf, base = b.buf, b.base
    r = cand - base
    e1 = buf.find(b"\n", r)
    e2 = buf.find(b"\n", e1 + 1) if e1 >= 0 else -1
    if e2 >= 0:                                      # the usual case: both lines are buffered
        return bytes(buf[r:e1]).rstrip(b"\r"), e1 + base, bytes(buf[e1 + 1:e2]).rstrip(b"\r")
    e1 = b.find(b"\n", cand)                         # near the window's end: read on
    if e1 < 0:
        return b.get(cand, b.end).rstrip(b"\r"), b.end, None
    line = b.get(cand, e1).rstrip(b"\r")
    b.fill(e1 + 2)
    if e1 + 1 >= b.end:
        return line, e1, None
    return line, e1, b.line_at(e1 + 1)


def _blank_before(b: _Buffer, at: int) -> bool:
    """True when the line before offset ``at`` is empty (``\\n`` or ``\\r\\n``)."""
    before = b.get(max(b.base, at - 3), at)
    return before.endswith(b"\n\n") or before.endswith(b"\n\r\n") or at - b.base <= 1 and \
        before in (b"\n", b"")


def _drop_blank(b: _Buffer, start: int, end: int) -> int:
    """The end of ``start:end`` without the one empty line that separates it from the next From_ line."""
    tail = b.get(max(start, end - 3), end)
    if tail.endswith(b"\n\r\n"):
        return end - 2
    if tail.endswith(b"\n\n"):
        return end - 1
    if end - start == len(tail) and tail in (b"\n", b"\r\n"):
        return start
    return end


def _find_header_end(b: _Buffer, data_start: int) -> int:
    """Absolute offset where the body starts, or -1 when no empty line ends the header."""
    buf, base = b.buf, b.base
    r = data_start - base
    if buf[r:r + 1] not in (b"\n", b"\r", b""):            # the usual case, inside the window
        lf = buf.find(b"\n\n", r, r + HEADER_LIMIT)
        if lf >= 0:
            crlf = buf.find(b"\n\r\n", r, lf + 2)
            return (crlf + 3 if crlf >= 0 else lf + 2) + base
    b.fill(data_start + 2)
    if b.startswith(b"\n", data_start):
        return data_start + 1
    if b.startswith(b"\r\n", data_start):
        return data_start + 2
    limit = min(b.size, data_start + HEADER_LIMIT)
    lf = b.find(b"\n\n", data_start, limit)
    crlf = b.find(b"\n\r\n", data_start, lf + 2 if lf >= 0 else limit)
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf + 3
    return lf + 2 if lf >= 0 else -1


def multipart_boundary(headers: Headers) -> bytes | None:
    """The boundary a multipart Content-Type declares; None for any other message."""
    ctype = headers.get(b"content-type")
    if not ctype or "multipart" not in ctype.lower():
        return None
    m = _BOUNDARY.search(ctype.encode("latin-1"))
    if not m:
        return None
    return m.group(1) or m.group(2)
