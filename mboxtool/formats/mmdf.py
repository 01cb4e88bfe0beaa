"""MMDF: each message between two ``^A^A^A^A`` lines; flags in Status/X-Status as in mbox."""

from __future__ import annotations

import os
from collections.abc import Iterator

from ..model import dates, flags
from ..model.digest import short_digest
from ..model.digesttable import DigestTable
from ..model.message import MailMessage, add_headers, core_bytes, split_message
from .fromline import DateResolver, envelope_sender
from .mbox import MboxReader
from .mboxvariant import SNIFF_BYTES
from .mboxwriter import MboxWriter

DELIM = b"\x01\x01\x01\x01\n"
CHUNK = 4 << 20


class MMDFReader(MboxReader):
    """Messages of an MMDF file, streaming; an optional From_ line after the delimiter is the envelope."""

    format = "mmdf"

    stdlib_written = False

    def _detect_variant(self) -> None:
        """MMDF has no variants: messages are delimited, never quoted. But Python's
        ``mailbox.MMDF`` writes one line end of its own before each closing delimiter (and its
        reader drops one): a file whose every entry ends with an empty line was written so."""
        event, self.event = self.event, lambda *a, **k: None    # damage is said once, when read
        try:
            self.stdlib_written = _extra_line_ends(self.raw_messages())
        finally:
            self.event = event

    @property
    def variant(self) -> None:  # type: ignore[override]
        return None

    def raw_messages(self) -> Iterator[tuple[int, bytes, bool]]:
        """(offset, bytes between the delimiters, False) for each message, and (offset, bytes,
        True) for text outside any pair of delimiters: what a lost delimiter leaves (the next
        message, read as the gap between two), never dropped in silence."""
        self.fh.seek(0)
        buf, base = b"", 0                 # buf holds the file from offset base on
        start: int | None = None           # where the open message's bytes start in buf
        gap = 0                            # where the text after the last closing delimiter starts
        pos = 0                            # where the next delimiter search starts in buf
        read = 0
        while True:
            while True:
                i = buf.find(DELIM, pos)
                if i < 0:
                    break
                if base + i > 0 and buf[i - 1] != 0x0A:      # not at the start of a line
                    pos = i + 1
                    continue
                if start is not None:
                    yield base + start, buf[start:i], False
                    start = None
                    gap = i + len(DELIM)
                else:
                    if buf[gap:i].strip(b"\r\n\t \x01"):
                        yield from self._outside(base + gap, buf[gap:i])
                    start = i + len(DELIM)
                pos = i + len(DELIM)
            # a delimiter may straddle the end: scan on from there, one byte of context kept
            pos = max(pos, len(buf) - len(DELIM) + 1)
            keep = max(0, min(pos, start if start is not None else gap) - 1)
            buf, base, pos = buf[keep:], base + keep, pos - keep
            if start is not None:
                start -= keep
            gap = max(0, gap - keep)
            # a large message: grow by half of the buffer, not by CHUNK (each read copies it)
            want = max(CHUNK, len(buf) // 2)
            chunk = self.fh.read(min(want, self.size - read)) if read < self.size else b""
            if not chunk:
                if start is not None and buf[start:].strip(b"\x01\n"):
                    self.event("truncated-message", offset=base + start, reason="no closing ^A^A^A^A line")
                    yield base + start, buf[start:], False
                elif start is None and buf[gap:].strip(b"\r\n\t \x01"):
                    yield from self._outside(base + gap, buf[gap:])
                return
            read += len(chunk)
            buf += chunk

    def _outside(self, offset: int, data: bytes) -> Iterator[tuple[int, bytes, bool]]:
        self.event("text-outside-messages", offset=offset,
                   reason=f"{len(data)} bytes outside any pair of ^A^A^A^A lines (a lost delimiter?)")
        yield offset, data, True

    def __iter__(self) -> Iterator[MailMessage]:
        resolver = DateResolver("utc")
        for index, (offset, data, outside) in enumerate(self.raw_messages(), 1):
            if self.stdlib_written and not outside and _ends_with_empty_line(data):
                data = data[:-2] if data.endswith(b"\r\n") else data[:-1]
            parsed = dates.FromLine("", None, False)
            from_line = None
            if data.startswith(b"From "):
                nl = data.find(b"\n")
                from_line = data[:nl if nl >= 0 else len(data)].rstrip(b"\r")
                parsed = dates.parse_from_line(from_line)
                data = data[nl + 1:] if nl >= 0 else b""
            headers, _ = split_message(data)
            state = flags.from_mbox_headers(headers)
            date, source = resolver.resolve(parsed, headers)
            msg = MailMessage(data, state.flags, state.new, state.keywords, date, source,
                              parsed.sender if from_line else None, str(index), offset,
                              None, from_line, headers=headers)
            if outside:                 # converted when it looks like a message, else refused
                msg.notes.append("outside-delimiters")
            yield msg


def _ends_with_empty_line(data: bytes) -> bool:
    return data.endswith((b"\n\n", b"\n\r\n"))


def _extra_line_ends(entries: Iterator[tuple[int, bytes, bool]]) -> bool:
    """True when every entry of the first 4 MiB, and at least two, end with an empty line:
    the stdlib's extra line end. One entry is no evidence: a message of its own may end so."""
    seen = 0
    for offset, data, outside in entries:
        if offset > SNIFF_BYTES:
            break
        if outside:
            continue
        if not _ends_with_empty_line(data):
            return False
        seen += 1
    return seen >= 2


class MMDFWriter(MboxWriter):
    """Appends MMDF entries under the same locks as an mbox."""

    format = "mmdf"
    adds_final_newline = True            # the closing delimiter must start a line

    def _ending_fix(self) -> bytes:
        if self.committed == 0:
            return b""
        tail = os.pread(self.fd, 1, self.committed - 1)
        return b"" if tail == b"\n" else b"\n"

    def add(self, msg: MailMessage) -> bool:
        self.fit_keywords(msg)
        core = core_bytes(msg)
        body = add_headers(core, flags.to_mbox_headers(msg.flags, msg.new, msg.keywords))
        if not body.endswith(b"\n"):
            body += b"\n"
        if DELIM in body and (body.startswith(DELIM) or b"\n" + DELIM in body):
            raise ValueError("the message contains an MMDF delimiter line")
        date = msg.date if msg.date is not None else None
        from_line = (f"From {envelope_sender(msg)} {dates.asctime_utc(date)}\n".encode()
                     if date is not None else b"")
        entry = DELIM + from_line + body + DELIM
        return self._queue(entry)

    def known_digests(self, save: bool = True) -> DigestTable | None:
        """Digests of the entries already in the file, read through the locked fd."""
        if self.fd is None:
            return None
        return DigestTable(short_digest(m.data) for m in MMDFReader(self.path, lock=False)
                           .read_through(self.fd, self.committed))
