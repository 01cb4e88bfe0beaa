"""validate_mailbox(): find, in one streaming pass, the damage that breaks a mailbox (§5, §6)."""

from __future__ import annotations

import os
import re
import stat
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError
from .formats.maildirfiles import is_control_file, is_message_file, stale_tmp_files
from .formats.maildirkeywords import odd_flags, read_keyword_map
from .formats.registry import detect_format, inner_mbox, make_reader, normalize_format
from .formats.mbox import PSEUDO_SUBJECT, MboxReader
from .formats.mboxscan import ScannedMessage
from .formats.mboxseparator import multipart_boundary
from .fs.locking import dotlock_state
from .fs.safefs import open_regular
from .model.digest import short_digest
from .model.digesttable import DigestTable
from .model.flags import from_mbox_headers, parse_maildir_name
from .model.message import (
    SEPARATOR_LINES,
    is_empty_message,
    is_header_line,
    nul_runs,
    only_line_ends_after,
    outside_any_message,
    starts_like_a_message,
)

# code -> severity, as in the damage catalogue (docs/formats.md §5, §6; docs/problems.md)
SEVERITY = {
    "not-an-mbox": "error", "garbage-before-first-from": "error", "leading-blank-lines": "info",
    "byte-order-mark": "warning",
    "unescaped-from-line": "warning", "possible-phantom-split": "error",
    "from-line-without-blank": "warning", "from-line-in-header": "warning",
    "glued-from-line": "error", "bad-from-date": "warning", "non-ascii-from-line": "warning",
    "crlf-line-endings": "info", "mixed-line-endings": "warning", "cr-line-endings": "error",
    "nul-run": "error", "nul-byte": "warning", "missing-final-newline": "warning",
    "truncated-message": "error", "concatenated-mbox": "warning", "text-outside-messages": "error",
    "content-length-mismatch": "warning", "pseudo-message": "info", "stale-dotlock": "warning",
    "duplicate-message": "info", "header-8bit": "info", "header-invalid-utf8": "warning",
    "long-line": "warning", "very-long-line": "error", "missing-header-separator": "warning",
    "broken-mime-boundary": "warning", "mixed-quoting": "warning", "empty-message": "warning",
    "compressed-data-broken": "error",
    # Maildir
    "missing-subdir": "error", "stale-tmp-file": "info", "empty-file": "warning",
    "missing-info": "info", "info-in-new": "info", "duplicate-unique": "warning",
    "bad-flag-order": "info", "unknown-flag": "info", "keyword-without-mapping": "warning",
    "bad-size-field": "warning", "foreign-file": "warning", "unreadable-file": "error",
    "insecure-permissions": "warning", "bad-mtime": "info", "mtime-far-from-date": "warning",
    "uid-in-name": "info", "control-files": "info", "not-a-message": "warning",
    "symlink": "error",
}
TRUNCATED_KEYWORD = "$Truncated"        # the keyword repair marks a cut-off message with
_LONG = re.compile(rb"[^\n]{999,}")
_HUGE = 1 << 20


def _long_line(data: bytes, limit: int = 998) -> tuple[int, int] | None:
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


@dataclass
class Problem:
    """One finding: a stable code, a severity, a sentence, and where it is."""

    code: str
    severity: str
    message: str
    line: int | None = None
    offset: int | None = None
    key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"code": self.code, "severity": self.severity, "message": self.message}
        for name in ("line", "offset", "key"):
            if getattr(self, name) is not None:
                d[name] = getattr(self, name)
        return d


@dataclass
class ValidationReport:
    path: str
    format: str
    variant: str | None = None
    variant_evidence: list[str] = field(default_factory=list)
    messages: int = 0
    problems: list[Problem] = field(default_factory=list)
    line_ends: dict[str, int] = field(default_factory=dict)   # messages by header line-end style

    def add(self, code: str, message: str, severity: str | None = None, **where: Any) -> None:
        self.problems.append(Problem(code, severity or SEVERITY[code], message, **where))

    def count(self, severity: str) -> int:
        return sum(1 for p in self.problems if p.severity == severity)

    def ok(self, strict: bool = False) -> bool:
        return not self.count("error") and not (strict and self.count("warning"))

    def to_dict(self, strict: bool = False) -> dict[str, Any]:
        return {"path": self.path, "format": self.format, "variant": self.variant,
                "variant_evidence": self.variant_evidence, "messages": self.messages,
                "ok": self.ok(strict),
                "counts": {s: self.count(s) for s in ("error", "warning", "info")},
                "line_ends": self.line_ends,
                "problems": [p.to_dict() for p in self.problems]}

    def to_text(self, strict: bool = False, shown: int = 5) -> str:
        head = f"{self.path}: {self.format}"
        if self.variant:
            head += f" ({self.variant}: {'; '.join(self.variant_evidence)})"
        lines = [head, f"  {self.messages} messages; {self.count('error')} errors, "
                       f"{self.count('warning')} warnings, {self.count('info')} notes"]
        by_code: dict[str, list[Problem]] = {}
        for p in self.problems:
            by_code.setdefault(p.code, []).append(p)
        order = {"error": 0, "warning": 1, "info": 2}
        for code, items in sorted(by_code.items(), key=lambda kv: (order[kv[1][0].severity], kv[0])):
            lines.append(f"  {items[0].severity.upper():7} {code} ({len(items)})")
            for p in items[:shown]:
                where = ", ".join(f"{n} {v}" for n, v in (("line", p.line), ("offset", p.offset),
                                                          ("key", p.key)) if v is not None)
                lines.append(f"           {where + ': ' if where else ''}{p.message}")
            if len(items) > shown:
                lines.append(f"           ... and {len(items) - shown} more")
        lines.append("  OK" if self.ok(strict) else "  NOT OK")
        return "\n".join(lines)


def validate_mailbox(path: Path, fmt: str | None = None, variant: str | None = None,
                     lock: bool = True, lock_timeout: float = 30,
                     progress: Callable[[int], None] | None = None,
                     progress_total: Callable[[int | None, str], None] | None = None) -> ValidationReport:
    """Check ``path`` for damage; every problem found, in one pass.

    ``progress_total`` is told the size of the work once (bytes of an mbox or MMDF file,
    else no total and a count of messages), ``progress`` each message's bytes as it is
    checked: as convert_mailbox does, for a progress bar.
    """
    path = inner_mbox(path)
    fmt = normalize_format(fmt) or detect_format(path)
    report = ValidationReport(str(path), fmt)
    bar = _Progress(progress, progress_total)
    if fmt == "mbox":
        _MboxCheck(path, report, variant, lock, lock_timeout, bar).run()
    elif fmt == "maildir":
        _check_maildir(path, report, bar)
    else:
        _check_other(path, fmt, report, lock, lock_timeout, bar)
    return report


class _Progress:
    """The two progress callables, either of which may be missing."""

    def __init__(self, update: Callable[[int], None] | None, total: Callable[[int | None, str], None] | None):
        self.update = update or (lambda n: None)
        self.start = total or (lambda size, unit: None)


class _MboxCheck:
    """Everything §5 lists, from the one scanner's events and a look at each message."""

    def __init__(self, path: Path, report: ValidationReport, variant: str | None, lock: bool,
                 lock_timeout: float, progress: _Progress):
        self.path, self.report, self.progress = path, report, progress
        self.reader = MboxReader(path, variant=variant, lock=lock, lock_timeout=lock_timeout,
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
        long_at = _long_line(data)
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


def _check_maildir(path: Path, report: ValidationReport, progress: _Progress) -> None:
    r = report
    for sub in ("cur", "new", "tmp"):
        if not (path / sub).is_dir():
            r.add("missing-subdir", f"{sub}/ is missing", key=sub)
    keyword_map = read_keyword_map(path)
    now = time.time()
    for name in sorted(os.listdir(path)):
        if is_control_file(name):
            r.add("control-files", f"{name}: a control file, not a message", key=name)
    uniques: dict[str, str] = {}
    for sub in ("new", "cur"):
        if (path / sub).is_symlink():                # never walked: it may lead anywhere (/etc)
            r.add("symlink", f"{sub}/ is a symbolic link: not followed, its files never converted", key=sub)
    listed = {sub: sorted(n for n in os.listdir(path / sub) if not n.startswith("."))
              for sub in ("new", "cur") if (path / sub).is_dir() and not (path / sub).is_symlink()}
    progress.start(sum(map(len, listed.values())), "msg")
    for sub, names in listed.items():
        for name in names:
            _check_maildir_file(path / sub / name, sub, name, f"{sub}/{name}", keyword_map, uniques, now, r)
            progress.update(1)
    for name in stale_tmp_files(path, now):
        r.add("stale-tmp-file", "a delivery abandoned in tmp/ (older than 36 h; never converted)",
              key=f"tmp/{name}")
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        r.add("insecure-permissions", f"the Maildir directory is mode {mode:04o}, not 0700", key=".")


def _check_maildir_file(p: Path, sub: str, name: str, key: str, keyword_map: dict, uniques: dict,
                        now: float, r: ValidationReport) -> None:
    try:
        st = p.lstat()
    except OSError as exc:
        r.add("unreadable-file", f"cannot stat: {exc.strerror}", key=key)
        return
    if stat.S_ISLNK(st.st_mode):
        r.add("symlink", "a symbolic link: not followed (convert does not take it)", key=key)
        return
    if not stat.S_ISREG(st.st_mode):
        r.add("foreign-file", "not a regular file", key=key)
        return
    info = parse_maildir_name(name)
    if info.unique in uniques:
        r.add("duplicate-unique", f"the same unique name as {uniques[info.unique]}", key=key)
    uniques[info.unique] = key
    r.messages += 1
    if sub == "cur" and not info.has_info:
        r.add("missing-info", "in cur/ without a ':2,' info part", key=key)
    if sub == "new" and info.has_info:
        r.add("info-in-new", "in new/ with an info part", key=key)
    chars = name[len(info.unique) + 3:].split(",", 1)[0] if info.has_info else ""
    letters = [c for c in chars if c.isupper()]
    if letters != sorted(set(letters)):
        r.add("bad-flag-order", f"flags {''.join(letters)!r} not in ASCII order or repeated", key=key)
    unknown = odd_flags(name, info)
    if unknown:
        r.add("unknown-flag", f"{unknown!r} after ':2,' are no Maildir flags (convert and repair keep them "
              "as keywords $MaildirFlag_<c>)", key=key)
    for c in info.keyword_letters:
        if ord(c) - ord("a") not in keyword_map:
            r.add("keyword-without-mapping", f"keyword letter {c!r} has no entry in dovecot-keywords", key=key)
            break
    m = re.search(r",S=(\d+)", info.unique)
    if m and int(m.group(1)) != st.st_size:
        r.add("bad-size-field", f",S={m.group(1)} but the file has {st.st_size} bytes", key=key)
    if ",U=" in info.unique:
        r.add("uid-in-name", "an mbsync ,U= UID in the name (never copy such names)", key=key)
    if stat.S_IMODE(st.st_mode) & 0o077:
        r.add("insecure-permissions", f"mode {stat.S_IMODE(st.st_mode):04o}: readable by others", key=key)
    if st.st_size == 0:
        r.add("empty-file", "an empty file (a failed delivery or copy)", key=key)
        return
    try:
        fd, _ = open_regular(p)                         # a link or a FIFO swapped in: refused
        with open(fd, "rb") as fh:
            head = fh.read(64 << 10)
    except OSError as exc:
        r.add("unreadable-file", f"cannot read: {exc.strerror}", key=key)
        return
    if not is_message_file(head):
        r.add("not-a-message", "does not start with a header field (convert and repair leave it out)", key=key)
    if st.st_mtime <= 0 or st.st_mtime > now + 86400:
        r.add("bad-mtime", "the file time (delivery time) is impossible", key=key)
    else:
        from .model.dates import parse_header_date
        from .model.message import Headers, header_end
        d = parse_header_date(Headers(head[:header_end(head)]).get(b"date"))
        if d is not None and abs(d - st.st_mtime) > 7 * 86400:
            r.add("mtime-far-from-date", f"delivery time (mtime) is {abs(d - st.st_mtime) / 86400:.0f} days "
                  "from the Date: header (copied without keeping times?)", key=key)


def _check_other(path: Path, fmt: str, report: ValidationReport, lock: bool, lock_timeout: float,
                 progress: _Progress) -> None:
    """MH, MMDF, Babyl: structure and messages that cannot be read."""
    def event(code: str, **info: Any) -> None:
        sev = SEVERITY.get(code, "warning")
        report.add(code if code in SEVERITY else "foreign-file",
                   info.get("reason") or code.replace("-", " "), sev,
                   key=info.get("key"), offset=info.get("offset"))
    try:
        reader = make_reader(path, fmt, lock=lock, lock_timeout=lock_timeout, event=event)
        with reader:
            progress.start(*reader.progress_size())
            for msg in reader:
                progress.update(len(msg.data))
                if outside_any_message(msg):             # reported by the reader, not a message
                    continue
                report.messages += 1
                first = msg.data.split(b"\n", 1)[0].rstrip(b"\r")
                if is_empty_message(msg.data):
                    report.add("empty-message", "an empty message", key=msg.key, offset=msg.offset)
                elif not is_header_line(first):
                    report.add("missing-header-separator", "the message does not start with a header field",
                               key=msg.key, offset=msg.offset)
    except InputError:
        raise
    except Exception as exc:                       # the stdlib Babyl reader raises many kinds
        report.add("not-a-message", f"cannot be read as {fmt}: {exc}", "error")
