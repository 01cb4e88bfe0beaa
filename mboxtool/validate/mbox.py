"""validate, mbox files: everything §5 lists, from the scanner's events and a look at each message."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

from ..formats.mbox import PSEUDO_SUBJECT, MboxReader
from ..formats.mboxscan import ScannedMessage
from ..formats.mboxseparator import multipart_boundary
from ..fs.locking import dotlock_state
from ..model.digest import short_digest
from ..model.digesttable import DigestTable
from ..model.flags import from_mbox_headers
from ..model.message import (
    SEPARATOR_LINES,
    is_empty_message,
    is_header_line,
    nul_runs,
    only_line_ends_after,
    starts_like_a_message,
)
from .report import TRUNCATED_KEYWORD, Progress, ValidationReport

_HUGE = 1 << 20


def long_line(data: bytes, limit: int = 998) -> tuple[int, int] | None:
    """(start, length) of the first line longer than ``limit`` bytes, or None.

    A regex over every byte is slow in CPython; any line of 999+ bytes covers a
    whole aligned 500-byte window with no newline, so only those are looked at.
    """
    step = 500
    for i in range(0, len(data) - step + 1, step):
        if data.find(b"\n", i, i + step) < 0:
            start = data.rfind(b"\n", 0, i) + 1
            end = data.find(b"\n", i)
            end = len(data) if end < 0 else end
            n = len(data[start:end].rstrip(b"\r"))
            if n > limit:
                return start, n
    return None


def glued_from_line(data: bytes) -> int | None:
    """Offset of a full From_ line that starts mid-line (glued onto the previous line), or None."""
    pos = data.find(b"From ", 1)
    while pos > 0:
        if data[pos - 1] not in b"\n> \t" and SEPARATOR_LINES.match(data, pos):
            return pos
        pos = data.find(b"From ", pos + 5)
    return None


class MboxCheck:
    """Everything §5 lists, from the one scanner's events and a look at each message."""

    def __init__(self, path: Path, report: ValidationReport, source_variant: str | None, lock: bool,
                 lock_timeout: float, progress: Progress):
        self.path, self.report, self.progress = path, report, progress
        self.reader = MboxReader(path, variant=source_variant, lock=lock, lock_timeout=lock_timeout,
                                 event=self.event)
        self.eols: Counter[str] = Counter()
        self.digests = DigestTable(values=True)       # digest -> first message with it: 12 bytes each
        self.prev: ScannedMessage | None = None
        self.quoted = self.unescaped = 0

    def event(self, code: str, offset: int | None = None, line: int | None = None, **info: Any) -> None:
        text = {
            "unescaped-from-line": "a From_ line inside an open multipart (its closing delimiter "
                                   "follows): read as body, but naive readers split here"
                                   if info.get("in_multipart") else
                                   "a body line begins 'From ' unquoted; mboxo readers split the message here",
            "from-line-without-blank": "a From_ line without an empty line before it",
            "from-line-in-header": "a header line begins 'From ' (malformed header; mboxo writers mangle it)",
            "garbage-before-first-from": f"{info.get('size', 0)} bytes before the first From_ line",
            "leading-blank-lines": "empty lines before the first From_ line",
            "byte-order-mark": "a UTF-8 byte-order mark before the first From_ line (an editor's; "
                               "mail readers do not skip it; 'mboxtool repair' drops it)",
            "cr-line-endings": "CR-only line ends (classic Mac): read with CR as line end",
            "content-length-mismatch": f"Content-Length {info.get('declared')} is wrong "
                                       f"({info.get('reason')}); ignored",
            "compressed-data-broken": info.get("reason"),
        }.get(code)
        if text is None:
            return
        if code == "unescaped-from-line":
            self.unescaped += 1
            if info.get("phantom"):
                code = "possible-phantom-split"
                text = ("a From_ line inside an open multipart, with no delivery headers under it: body "
                        "text, but Python's mailbox, Dovecot and mutt split the message here"
                        if info.get("in_multipart") else
                        "a From_ line after an empty line, with no message header under it, inside the "
                        "span the message's Content-Length gives: body text, but Python's mailbox, "
                        "Dovecot and mutt split the message here")
        if code == "content-length-mismatch":
            self.pending_cl = (text, line, offset)
            return
        self.report.add(code, text, line=line, offset=offset)

    def run(self) -> None:
        self.pending_cl: tuple | None = None
        with self.reader:
            self.report.variant = self.reader.variant
            self.report.variant_evidence = list(self.reader.guess.evidence)
            size = self.reader.size
            self.progress.start(size, "B")
            self.cl_total = 0
            last = None
            for raw in self.reader.scanned():
                self._message(raw)
                self.progress.update(len(raw.data))
                last = raw
            self._file_end(last, size)
        self._style_checks()
        self._dotlock()

    def _message(self, raw: ScannedMessage) -> None:
        r = self.report
        if raw.garbage:
            # reported as garbage-before-first-from; counted as convert counts it: a message
            # when it starts with a header field (its From_ line was lost)
            r.messages += starts_like_a_message(raw.data)
            return
        r.messages += 1
        where = {"line": raw.line, "offset": raw.offset, "key": str(raw.index)}
        if self.pending_cl:
            text, line, offset = self.pending_cl
            r.add("content-length-mismatch", text, line=raw.line, offset=offset, key=str(raw.index))
            self.pending_cl = None
        if raw.cl_bounded or b"content-length" in raw.headers:
            self.cl_total += 1
        fl = raw.from_line
        if raw.parsed.date is None and raw.index > 0:
            r.add("bad-from-date", "the From_ line has no date that can be read; the date comes from "
                  "the headers", **where)
        if not fl.isascii():
            r.add("non-ascii-from-line", "8-bit bytes in the From_ line", **where)
        data = raw.data
        if is_empty_message(data, raw.body_offset):
            r.add("empty-message", "a From_ line with no message after it", **where)
            self.prev = raw
            return
        if raw.index == 1 and b"x-imap" in raw.headers and PSEUDO_SUBJECT in (raw.headers.get(b"subject") or ""):
            r.add("pseudo-message", "the UW-IMAP/Dovecot folder-state message (not mail)", **where)
        self._concatenation(raw, where)
        self._phantom(raw, where)
        self._lines(raw, where)
        self._header(raw, where)
        digest = short_digest(data)                # the digest ignores From quoting
        first = self.digests.setdefault(digest, raw.index)
        if first != raw.index:
            r.add("duplicate-message", f"the same message as message {first}", **where)
        if b"\n>From " in data or data.startswith(b">From "):
            self.quoted += 1
        self.prev = raw

    def _concatenation(self, raw: ScannedMessage, where: dict) -> None:
        """Signs that two mbox files were joined (`cat a b > c`): folder state or time going back."""
        if raw.index > 1 and (b"x-imapbase" in raw.headers or (
                b"x-imap" in raw.headers and PSEUDO_SUBJECT in (raw.headers.get(b"subject") or ""))):
            self.report.add("concatenated-mbox", "folder-state headers (X-IMAPbase / X-IMAP) after the "
                            "first message: another mbox file starts here", **where)
        date = raw.parsed.date
        if date is None:
            return
        last = getattr(self, "_last_date", None)
        run = getattr(self, "_monotonic", 0)
        if last is not None and date < last - 86400 and run >= 3:
            self.report.add("concatenated-mbox", "From_ dates jump back by "
                            f"{(last - date) // 86400} days after being in order: another mbox may start "
                            "here", "info", **where)
            run = 0
        self._monotonic = run + 1 if last is None or date >= last else 0
        self._last_date = date

    def _phantom(self, raw: ScannedMessage, where: dict) -> None:
        """A split that evidence says is a body line of the previous message (§5, ≥ 2 signals)."""
        if self.prev is None or self.prev.garbage:
            return
        signals = []
        if not any(name in raw.headers for name in (b"date", b"message-id", b"received", b"from")):
            signals.append("the new message has no Date:, Message-ID:, Received: or From:")
        first = raw.data.split(b"\n", 1)[0].rstrip(b"\r")
        if first and not is_header_line(first) and not first.startswith(b">From "):
            signals.append("the From_ line is followed by text, not a header")
        boundary = multipart_boundary(self.prev.headers)
        if boundary and b"--" + boundary + b"--" not in self.prev.data and b"--" + boundary + b"--" in raw.data:
            signals.append("the previous message's multipart closes after it")
        if len(signals) >= 2:
            self.report.add("possible-phantom-split", "a body line 'From ...' split message "
                            f"{self.prev.index} in two: " + "; ".join(signals), **where)

    def _lines(self, raw: ScannedMessage, where: dict) -> None:
        r, data = self.report, raw.data
        head = data[:raw.body_offset]
        crlf = head.count(b"\r\n")
        lf = head.count(b"\n") - crlf
        self.eols["crlf" if crlf and not lf else "lf" if lf and not crlf else "mixed" if crlf else "none"] += 1
        if crlf and lf:
            r.add("mixed-line-endings", f"header block mixes CRLF ({crlf}) and LF ({lf}) line ends", **where)
        if b"\x00" in data:                     # the regex only when there is something to find
            self._nuls(raw, data)
        long_at = long_line(data)
        if long_at is not None:
            start, n = long_at
            r.add("very-long-line" if n > _HUGE else "long-line",
                  f"a line of {n} bytes (RFC 5322 allows 998)",
                  line=raw.line + data.count(b"\n", 0, start) + 1,
                  offset=raw.data_offset + start, key=str(raw.index))
        g = glued_from_line(data)
        if g is not None:
            r.add("glued-from-line", "a From_ line glued to the end of the previous line (an append "
                  "to a file without a final newline)", line=raw.line + data.count(b"\n", 0, g) + 1,
                  offset=raw.data_offset + g, key=str(raw.index))

    def _nuls(self, raw: ScannedMessage, data: bytes) -> None:
        r = self.report
        for start, end, damage in nul_runs(data):
            n = end - start
            at = raw.data_offset + start
            at_end = only_line_ends_after(data, end)
            line = raw.line + data.count(b"\n", 0, start) + 1
            if damage:
                r.add("nul-run", f"a run of {n} NUL bytes" + (" at the end of the message" if at_end else ""),
                      line=line, offset=at, key=str(raw.index))
            else:
                r.add("nul-byte", f"{n} NUL byte(s) inside the message (IMAP servers reject NUL)",
                      line=line, offset=at, key=str(raw.index))
                break

    def _header(self, raw: ScannedMessage, where: dict) -> None:
        r = self.report
        head = raw.data[:raw.body_offset]
        if not head.isascii():
            try:
                head.decode("utf-8")
                r.add("header-8bit", "8-bit (UTF-8) bytes in the header", **where)
            except UnicodeDecodeError:
                r.add("header-invalid-utf8", "8-bit bytes in the header that are not UTF-8", **where)
        for n, line in enumerate(head.split(b"\n")):
            line = line.rstrip(b"\r")
            if not line or line[:1] in (b" ", b"\t") or is_header_line(line):
                continue
            if line.startswith((b"From ", b">From ")):
                continue
            r.add("missing-header-separator", f"header line {n + 1} is not a header field: "
                  f"{line[:40].decode('latin-1')!r}", line=raw.line + n + 1, offset=raw.data_offset,
                  key=str(raw.index))
            break
        boundary = multipart_boundary(raw.headers)
        if boundary and b"--" + boundary + b"--" not in raw.data:
            r.add("broken-mime-boundary", "multipart message without its closing delimiter", **where)

    def _file_end(self, last: ScannedMessage | None, size: int) -> None:
        if last is None or size == 0:
            return
        tail = os.pread(self.reader.fd, 1, size - 1) if self.reader.fd is not None else b"\n"
        where = {"line": last.line, "offset": last.offset, "key": str(last.index)}
        if tail != b"\n" and not self.reader_cr_only():
            self.report.add("missing-final-newline", "the file does not end with a newline", **where)
        reasons = []
        boundary = multipart_boundary(last.headers)
        if boundary and b"--" + boundary + b"--" not in last.data:
            reasons.append("its multipart has no closing delimiter")
        if tail not in (b"\n", b"\r"):
            reasons.append("the file ends in the middle of a line")
        if last.data.endswith(b"\x00") or last.data.rstrip(b"\n").endswith(b"\x00" * 512):
            reasons.append("it ends in NUL bytes")
        if reasons and not last.garbage:
            if TRUNCATED_KEYWORD in from_mbox_headers(last.headers).keywords:
                # repair kept it and said so: known damage, nothing left to do
                self.report.add("truncated-message", f"the last message is cut off and marked {TRUNCATED_KEYWORD} "
                                "(kept by repair): " + "; ".join(reasons), severity="info", **where)
            else:
                self.report.add("truncated-message", "the last message looks cut off: " + "; ".join(reasons), **where)

    def reader_cr_only(self) -> bool:
        return any(p.code == "cr-line-endings" for p in self.report.problems)

    def _style_checks(self) -> None:
        r = self.report
        r.line_ends = {k: v for k, v in self.eols.items() if v}
        if self.eols["crlf"] and self.eols["lf"]:
            r.add("mixed-line-endings", f"{self.eols['crlf']} messages use CRLF and {self.eols['lf']} use LF")
        n = max(r.messages, 1)
        if self.eols["crlf"] == r.messages and r.messages:
            r.add("crlf-line-endings", "CRLF line ends throughout (Windows or Gmail Takeout style)")
        no_blank = [p for p in r.problems if p.code == "from-line-without-blank"]
        if no_blank and len(no_blank) >= 0.9 * (n - 1) and n > 2:
            for p in no_blank:
                p.severity = "info"                 # the file's own style, not damage
        if self.cl_total >= 0.9 * n:
            for p in r.problems:
                if p.code == "content-length-mismatch":
                    p.severity = "error"            # a Content-Length file: readers trust them
        if self.quoted and self.unescaped and r.variant != "mboxcl2":
            r.add("mixed-quoting", f"{self.quoted} messages have quoted >From lines and "
                  f"{self.unescaped} body From lines are unquoted: several writers appended here")
        if all(p.severity != "error" for p in r.problems if p.code == "bad-from-date") and \
                sum(p.code == "bad-from-date" for p in r.problems) == r.messages and r.messages:
            for p in r.problems:
                if p.code == "bad-from-date":
                    p.severity = "info"             # bare 'From ' separators are the file's style

    def _dotlock(self) -> None:
        stale, why = dotlock_state(self.path)
        if stale:
            self.report.add("stale-dotlock", f"{self.path}.lock is stale: {why}",
                            key=f"{self.path.name}.lock")
