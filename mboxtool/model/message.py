"""The message model shared by every reader and writer, and raw header helpers.

Messages stay raw bytes from reading to writing: parsing into
``email.message.Message`` and serialising again changes bytes (CRLF, folding,
MIME delimiters), so only the header block is looked at, as bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Headers that hold mailbox state rather than message content (§1.6). They are
# removed before digesting and when writing, and rewritten from the flags.
METADATA_HEADERS = (
    b"status", b"x-status", b"x-keywords", b"x-uid", b"x-imap", b"x-imapbase",
    b"content-length", b"lines", b"x-mozilla-status", b"x-mozilla-status2",
    b"x-mozilla-keys", b"x-rmail-attributes", b"x-rmail-keywords", b"x-evolution",
)
_FIELD = re.compile(rb"[\x21-\x39\x3B-\x7E]+[ \t]*:")


@dataclass(slots=True)
class MailMessage:
    """One message: raw bytes plus the mailbox state around them."""

    data: bytes
    flags: str = ""                      # Maildir letters, sorted: D F P R S T
    new: bool = True                     # never seen by a MUA (Maildir new/, no mbox O)
    keywords: tuple[str, ...] = ()
    date: int | None = None              # delivery time, epoch seconds UTC
    date_source: str = "none"            # from-line, mtime, date-header, received, name, none
    sender: str | None = None            # envelope sender of the From_ line, as read
    key: str = ""                        # position in the source: index or file name
    offset: int | None = None            # byte offset in the source file (single-file formats)
    line: int | None = None              # 1-based line of the From_ line
    from_line: bytes | None = None       # the From_ line as read, without its line end
    notes: list[str] = field(default_factory=list)  # what the reader had to guess
    stripped: bool = False               # metadata headers already removed from ``data``
    size: int | None = None              # bytes as read, when ``data`` has been let go
    headers: Headers | None = None       # the header block, when the reader parsed it already
    quoted: bool = False                 # ``data`` still has its mboxrd >From quoting (core_bytes undoes it)
    body_quotes: list[int] | None = None # where the body's >+From lines of ``data`` start, if the reader knows
    # (data, its header_end, its header block without metadata or None when it has none to
    # cut, where its body's >*From lines start, quoted or not): found once by the digest, for
    # an mbox writer to build by; used only while ``data`` is still that very object
    body_froms: tuple[bytes, int, bytes | None, list[int]] | None = None
    exact: int | None = None             # --verify: exact_digest of the bytes DST is to hold


def header_end(data: bytes) -> int:
    """Offset of the body: just after the empty line that ends the header block.

    Returns ``len(data)`` when the message has no empty line (headers only).
    """
    if data.startswith(b"\n"):
        return 1
    if data.startswith(b"\r\n"):
        return 2
    lf = data.find(b"\n\n")
    # a CRLF blank line may end just after the LF pair starts ("\r\n\r\n\n"): look up to lf + 2
    crlf = data.find(b"\n\r\n", 0, lf + 2 if lf >= 0 else len(data))
    if crlf >= 0:
        return crlf + 3
    return lf + 2 if lf >= 0 else len(data)


def lacks_empty_line(data: bytes, end: int | None = None) -> bool:
    """True for a message that is header lines only, with no empty line to end them
    (``end``: ``header_end(data)`` when the caller has it)."""
    end = header_end(data) if end is None else end
    return end == len(data) and not data.endswith((b"\n\n", b"\n\r\n")) and data not in (b"\n", b"\r\n")


_NOT_BLANK = re.compile(rb"[^\r\n\t ]")


def is_empty_message(data: bytes, body: int | None = None) -> bool:
    """Nothing but empty lines and mailbox state headers (Status, X-Keywords, ...): what a
    crashed delivery leaves after a From_ line, no message to any reader. ``body``: where
    the body starts, when the reader knows already. Searches, never copies, the body."""
    body = header_end(data) if body is None else body
    if body < len(data) and data[body] not in b" \t\r\n" or _NOT_BLANK.search(data, body):
        return False                                      # (the usual body: its first byte says so)
    return not _NOT_BLANK.search(strip_head(data[:body]))


NUL_RUN_MIN = 512                     # a NUL run this long is damage wherever it is (§5 nul-run)
_NULS = re.compile(rb"\x00+")
_ONLY_LINE_ENDS = re.compile(rb"[\r\n]*\Z")


def nul_runs(data: bytes) -> list[tuple[int, int, bool]]:
    """Every run of NUL bytes in ``data`` as (start, end, damage): damage when it is
    NUL_RUN_MIN bytes or longer, when only line ends follow it (a cut-off write), or when a
    From_ line follows it at once (where a separator belongs). The one
    rule validate reports, repair cuts and convert warns by."""
    if b"\x00" not in data:                               # memchr: nearly free on clean mail
        return []
    return [(m.start(), m.end(), m.end() - m.start() >= NUL_RUN_MIN or only_line_ends_after(data, m.end())
             or SEPARATOR_LINES.match(data, m.end()) is not None)
            for m in _NULS.finditer(data)]


# an asctime-dated From_ line with a header line under it: a message starts there wherever it
# stands (glued onto a line without its newline, or right after a run of NULs)
SEPARATOR_LINES = re.compile(rb"From \S+ +(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) +[A-Z][a-z]{2} +\d{1,2} +"
                             rb"\d{1,2}:\d\d(?::\d\d)? +(?:[A-Z]{3,4} +)?\d{4}[^\n]*\n[\x21-\x39\x3B-\x7E]+[ \t]*:")


def only_line_ends_after(data: bytes, pos: int) -> bool:
    """True when nothing but line ends follows ``pos`` in ``data`` (looked at in place)."""
    return _ONLY_LINE_ENDS.match(data, pos) is not None


_NAMES = re.compile(rb"\n([\x21-\x39\x3B-\x7E]+):")


class Headers:
    """Read-only access to a raw header block, by case-insensitive name."""

    __slots__ = ("raw", "_low", "names")

    def __init__(self, raw: bytes):
        self.raw = raw
        self._low = b"\n" + raw.lower()
        # every field name present, found in one pass: most lookups then end here
        self.names = frozenset(_NAMES.findall(self._low))

    def __contains__(self, name: bytes) -> bool:
        return name in self.names

    def _span(self, pos: int, name: bytes) -> tuple[int, int]:
        """Where the value of the field whose name starts at ``pos`` (an index into ``raw``) lies."""
        raw = self.raw
        start = pos + len(name) + 1
        end = raw.find(b"\n", start)
        while end >= 0 and raw[end + 1:end + 2] in (b" ", b"\t"):      # a continuation line follows
            end = raw.find(b"\n", end + 1)
        return start, end if end >= 0 else len(raw)

    def _value(self, pos: int, name: bytes) -> str:
        """The unfolded value of the field whose name starts at ``pos``."""
        start, end = self._span(pos, name)
        return " ".join(self.raw[start:end].decode("latin-1").split())

    def tail_span(self, name: bytes, sep: bytes) -> tuple[int, int] | None:
        """Where in ``raw`` the text after the last ``sep`` of the first ``name`` field lies,
        folding included (the date of a Received: field); None without such a field or separator."""
        if name not in self.names:
            return None
        start, end = self._span(self._low.find(b"\n" + name + b":"), name)
        cut = self.raw.rfind(sep, start, end)
        return None if cut < 0 else (cut + 1, end)

    def _positions(self, name: bytes) -> list[int]:
        """Where each field called ``name`` starts in ``raw``, in order."""
        if name not in self.names:
            return []
        needle = b"\n" + name + b":"
        found = []
        pos = self._low.find(needle)
        while pos >= 0:
            found.append(pos)
            pos = self._low.find(needle, pos + 1)
        return found

    def get_all(self, name: bytes) -> list[str]:
        """Every value of header ``name``, unfolded, decoded as latin-1 (byte-preserving)."""
        return [self._value(pos, name) for pos in self._positions(name)]

    def get_all_raw(self, name: bytes) -> list[bytes]:
        """Every value of header ``name`` as bytes, folding included (what keywords are read from:
        decoding first would lose the bytes of a non-ASCII keyword)."""
        spans = (self._span(pos, name) for pos in self._positions(name))
        return [self.raw[start:end] for start, end in spans]

    def get(self, name: bytes) -> str | None:
        """The first value of header ``name``, or None."""
        if name not in self.names:
            return None
        return self._value(self._low.find(b"\n" + name + b":"), name)


def split_message(data: bytes) -> tuple[Headers, int]:
    """The header block of ``data`` and the offset where its body starts."""
    end = header_end(data)
    return Headers(data[:end]), end


def is_header_line(line: bytes) -> bool:
    """True when ``line`` is a header field line (``Name:``), by the §8 byte pattern."""
    return _FIELD.match(line) is not None


OUTSIDE_NOTES = ("garbage-before-first-from", "outside-delimiters")


def starts_like_a_message(data: bytes) -> bool:
    """True when ``data`` starts with a header field (looked at in place, never copied)."""
    nl = data.find(b"\n", 0, 1000)
    return is_header_line(data[:nl if nl >= 0 else 1000])


def outside_any_message(msg: MailMessage) -> bool:
    """True for an entry a reader made of bytes outside any message (before an mbox's first
    From_ line, between MMDF or Babyl delimiters) that do not start like a message: no message
    to count or convert. Such bytes that start with a header field are a message whose
    separator was lost, and count as one."""
    return any(n in msg.notes for n in OUTSIDE_NOTES) and not starts_like_a_message(msg.data)


_ANY_METADATA = re.compile(b"\n(?:" + b"|".join(re.escape(n) for n in METADATA_HEADERS) + b")[ \t]*:")


def core_bytes(msg: MailMessage) -> bytes:
    """The message's bytes without metadata headers or mboxrd quoting (cached on the message)."""
    if not msg.stripped:
        data = unquote_mboxrd(msg.data) if msg.quoted else msg.data
        msg.data = strip_metadata(data)
        msg.stripped, msg.quoted, msg.body_quotes, msg.body_froms = True, False, None, None
    return msg.data


def strip_metadata(data: bytes) -> bytes:
    """``data`` without the mailbox-metadata headers (and their continuation lines)."""
    end = header_end(data)
    head = strip_head(data[:end])
    return data if len(head) == end else head + data[end:]


def strip_head(head: bytes) -> bytes:
    """A header block without its metadata fields; the same object when it has none."""
    parts, last = [], 0
    # one pass over the lower-cased block: usually one or two fields to cut (Status, X-Status)
    for m in _ANY_METADATA.finditer(b"\n" + head.lower()):
        start = m.start()                      # index in head: the pattern's own \n is one byte before
        if start < last:
            continue
        end = start
        while True:
            nl = head.find(b"\n", end)
            end = len(head) if nl < 0 else nl + 1
            if end >= len(head) or head[end] not in (0x20, 0x09):   # no continuation line follows
                break
        parts.append(head[last:start])
        last = end
    if not parts:
        return head
    parts.append(head[last:])
    return b"".join(parts)


def unquote_mboxrd(data: bytes) -> bytes:
    """Remove one ``>`` from every ``>+From `` line (mboxrd quoting is reversible)."""
    if b">From " not in data:
        return data
    starts = [s for s in from_line_starts(data, b">From ") if data[s] == 0x3E]
    if not starts:
        return data
    parts, last = [], 0
    for s in starts:
        parts.append(data[last:s])
        last = s + 1                                          # drop one '>'
    parts.append(data[last:])
    return b"".join(parts)


def add_headers(data: bytes, lines: list[bytes]) -> bytes:
    """Insert header ``lines`` (without line ends) at the end of the header block."""
    if not lines:
        return data
    if not data:
        return b"".join(line + b"\n" for line in lines)
    end = header_end(data)
    if lacks_empty_line(data, end):
        # headers only, no empty line: append after the last header line
        eol = b"\r\n" if data.endswith(b"\r\n") else b"\n"
        base = data if data.endswith(b"\n") else data + eol
        return base + b"".join(line + eol for line in lines)
    # the empty line itself tells the header block's line end
    eol = b"\r\n" if data[:end].endswith(b"\r\n") else b"\n"
    blank = len(eol)
    # one join: a multi-megabyte message is copied once, not once per concatenation
    return b"".join((data[: end - blank], *(line + eol for line in lines), memoryview(data)[end - blank:]))


def from_line_starts(data: bytes, needle: bytes = b"From ", begin: int = 0) -> list[int]:
    """Offsets of the lines of ``data`` (from a line start ``begin`` on) that are ``>*`` + ``needle``.

    A regex with ``^`` in multiline mode tests every byte and is slow on large
    messages; the few candidate lines are found with bytes.find instead.
    """
    starts = []
    pos = data.find(needle, begin)
    while pos >= 0:
        start = pos
        while start > 0 and data[start - 1] == 0x3E:          # walk back over '>' quoting
            start -= 1
        if start == 0 or data[start - 1] == 0x0A:
            starts.append(start)
        pos = data.find(needle, pos + len(needle))
    return starts


def drop_from_quoting(data: bytes) -> bytes:
    """``data`` with every ``>+From `` line turned into ``From `` (how digests ignore quoting)."""
    parts, last = [], 0
    for start in from_line_starts(data, b">From "):
        if data[start] == 0x3E:
            parts.append(data[last:start])
            last = data.index(b"From ", start)
    parts.append(data[last:])
    return b"".join(parts)
