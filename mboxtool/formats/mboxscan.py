"""The streaming mbox scanner: finds message boundaries in raw bytes (§1.4).

One scanner serves convert, validate, repair, info, list and show. It reads
the file in large chunks through a sliding window (mboxwindow.py), keeps only
the current message in memory, and classifies every line that begins ``From ``
by the separator rule of mboxseparator.py (docs/formats.md §1.4).

A Content-Length header is honoured only when it lands exactly on the next
separator or on EOF. Before the first separator, the same rule applies with
the leading bytes as the message before; when those bytes start like a
message, the empty line before the separator is not theirs (§1.4 step 7).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ..model.dates import FromLine, has_date_shape, parse_from_line
from ..model.message import Headers, header_end, is_header_line, split_message, starts_like_a_message
from .mboxseparator import HEADER_LIMIT, classify, multipart_boundary
from .mboxwindow import ScanWindow, after_empty_line, drop_blank, two_lines

BOM = b"\xef\xbb\xbf"             # a UTF-8 byte-order mark an editor put before the first From_ line
_CL = re.compile(rb"\s*(\d{1,12})\s*$")

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
    window = ScanWindow(fh, len(head), detect_cr_only(head))
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
    def _line_of(self, b: ScanWindow, offset: int) -> int:
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
        b = ScanWindow(self.fh, self.size, self.cr_only)
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
                stop = drop_blank(b, self.start, first) if starts_like_a_message(lead) else first
                yield self._garbage(b, self.start, stop)
            else:
                self.event("leading-blank-lines", offset=self.start, line=self.start_line)
        start = first
        while start is not None:
            msg, start = self._message(b, start)
            yield msg

    # -- the pieces --------------------------------------------------------
    def _first_separator(self, b: ScanWindow) -> int | None:
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
            line, line_end, nxt = two_lines(b, cand)
            opened = boundary if 0 <= lead_body <= cand else None
            if classify(b, self.size, cand, line, line_end, nxt, parse_from_line(line),
                        after_empty_line(b, cand), opened, lead_body, None)[0]:
                return cand
            pos = cand + 1

    def _garbage(self, b: ScanWindow, start: int, stop: int) -> ScannedMessage:
        b.fill(stop)
        data = b.get(start, stop)
        self.messages += 1
        self.event("garbage-before-first-from", offset=start, line=self.start_line,
                   size=stop - start)
        headers, body = split_message(data)
        return ScannedMessage(self.messages, start, self.start_line, b"", FromLine("", None, False),
                              data, headers, body, start, garbage=True, blank_before=True)

    def _message(self, b: ScanWindow, start: int) -> tuple[ScannedMessage, int | None]:
        """Read the message whose From_ line is at ``start``; return it and the next start."""
        b.keep = start
        line_no = self._line_of(b, start)
        cached = self._parsed
        if cached is not None and cached[0] == start:       # classified already: reuse the work
            _, parsed, from_nl, blank_before = cached
        else:
            parsed = None
            blank_before = start == self.start or after_empty_line(b, start)
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
            end = drop_blank(b, data_start, end)
        else:
            nxt = self._parsed
            blank_next = nxt[3] if nxt is not None and nxt[0] == next_start \
                else after_empty_line(b, next_start)
            if blank_next:
                end = drop_blank(b, data_start, end)
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

    def _separator_in_header(self, b: ScanWindow, data_start: int, hdr_end: int) -> int | None:
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
            line, line_end, nxt = two_lines(b, cand)
            if nxt is None or not is_header_line(nxt):
                continue
            parsed = parse_from_line(line)
            if parsed.date is None and not has_date_shape(line):
                continue
            if multipart_boundary(Headers(bytes(b.buf[data_start - b.base:cand - 1 - b.base]))):
                return None                             # a multipart has a body: not header-only
            self._parsed = (cand, parsed, line_end, False)
            return cand

    def _content_length_end(self, b: ScanWindow, headers: Headers, body_abs: int | None,
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

    def _find_separator(self, b: ScanWindow, start: int, data_start: int, body_abs: int | None,
                        headers: Headers, cl_target: int | None) -> tuple[int, int | None, list[int] | None]:
        """(end of data, next From_ offset or None at EOF, where the body's >From lines start
        in the data) by classifying candidates."""
        boundary = multipart_boundary(headers)
        pos = data_start
        # one pass finds both the From_ candidates and the body's >From lines: the Maildir
        # writer then needs no pass of its own to unquote and digest (digest.core_digest)
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
            line, line_end, nxt = two_lines(b, cand)
            blank = after_empty_line(b, cand)
            # no end of the header found within HEADER_LIMIT: an empty line before the
            # candidate ends the header all the same (else a message with a 3 MB header
            # line would swallow every message after it)
            if cand < body_abs if body_abs is not None else not blank:
                self.event("from-line-in-header", offset=cand, line=self._line_of(b, cand))
                continue
            parsed = parse_from_line(line)
            separator, phantom, in_multipart = classify(b, self.size, cand, line, line_end, nxt, parsed,
                                                        blank, boundary, body_abs, cl_target)
            if separator:
                self._parsed = (cand, parsed, line_end, blank)     # _message() needs it again
                if not blank:
                    self.event("from-line-without-blank", offset=cand, line=self._line_of(b, cand))
                return cand, cand, quotes
            self.event("unescaped-from-line", offset=cand, line=self._line_of(b, cand),
                       dated=parsed.date is not None, blank_before=blank, in_multipart=in_multipart,
                       phantom=phantom)


def _find_header_end(b: ScanWindow, data_start: int) -> int:
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
