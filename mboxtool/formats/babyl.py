"""Babyl (Emacs RMAIL): read through the stdlib ``mailbox.Babyl``; written by appending entries."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError
from ..fs.safefs import open_regular
from ..model import flags
from ..model.digest import short_digest
from ..model.digesttable import DigestTable
from ..model.message import MailMessage, core_bytes, header_end, is_header_line, split_message
from .common import Reader, header_date
from .mbox import copy_range
from .mboxwriter import MboxWriter

_FORM_FEED_LINE = re.compile(rb"(?m)^\x0c\r?\n")     # where an entry starts (after \037)
HEADER = (b"BABYL OPTIONS: -*- rmail -*-\nVersion: 5\nLabels:\n"
          b"Note:   This is the header of an rmail file.\n\x1f")


class BabylReader(Reader):
    """The stdlib reader keeps a table of every message: acceptable for this legacy format."""

    format = "babyl"
    move_refusal = "--move is not supported for Babyl sources (the file would be rewritten)"

    def open(self) -> BabylReader:
        try:                                   # /dev/zero or a FIFO would be read forever
            os.close(open_regular(self.path, follow=True)[0])
        except FileNotFoundError as exc:
            raise InputError(f"{self.path}: no such file") from exc
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read as Babyl: {exc.strerror}") from exc
        try:
            import mailbox  # only Babyl needs it: imported on demand
            self.box = mailbox.Babyl(str(self.path), create=False)
            self.box.lock = lambda: None           # read only: no stdlib dotlock dance
            self.box.keys()                        # builds the stdlib's table of entries (_toc)
            # Python's mailbox module ends every entry with a line end of its own before \037
            # and starts the file with a bare "BABYL OPTIONS:" line; Rmail and Gnus end an
            # entry with the message's own last line end, and Emacs reads it so
            first = os.pread(self.box._file.fileno(), 64, 0).split(b"\n", 1)[0]
            self.extra_line_end = first.rstrip(b"\r \t") == b"BABYL OPTIONS:"
        except (OSError, mailbox.Error) as exc:
            raise InputError(f"{self.path}: cannot read as Babyl: {exc}") from exc
        return self

    def close(self) -> None:
        if getattr(self, "box", None) is not None:
            self.box.close()
            self.box = None

    def _entries(self) -> Iterator[tuple[int, bytes, str]]:
        """(offset, bytes, kind) in file order; kind "entry" (labels line onwards, as the stdlib's
        table finds them), "recovered" or "stray".

        The stdlib starts an entry only at a line that is exactly ``\\037\\014``: text between
        one entry's ``\\037`` and the next ``\\014`` line hid that next entry from it and was
        itself passed over. So each entry is read together with what follows it up to the next
        one (one read), and that gap is looked at: an entry there (a ``\\014`` line, then its
        labels line) is "recovered", other text is "stray".
        """
        toc = sorted(self.box._toc.values())
        fd = self.box._file.fileno()
        size = os.fstat(fd).st_size
        for i, (start, stop) in enumerate(toc):
            end = toc[i + 1][0] if i + 1 < len(toc) else size
            chunk = os.pread(fd, end - start, start)
            # the stdlib's stop leaves out the line end before \037, which is the message's
            # own last line end but in files the stdlib wrote
            if not self.extra_line_end:
                stop = min(stop + (2 if chunk[stop - start:stop - start + 2] == b"\r\n" else 1), end)
            yield start, chunk[:stop - start], "entry"
            yield from self._in_gap(stop, chunk[stop - start:])

    def _in_gap(self, base: int, gap: bytes) -> Iterator[tuple[int, bytes, str]]:
        """Entries and stray text in ``gap`` (at ``base``): normally only ``\\n\\037\\014\\n``."""
        pos = 0
        for m in [*_FORM_FEED_LINE.finditer(gap), None]:
            text = gap[pos:m.start() if m else len(gap)]     # before the next entry: no entry's
            stray = text.strip(b"\r\n\t \x1f\x0c")
            if stray:
                at = base + pos + text.index(stray[:1])
                self.event("text-outside-messages", offset=at,
                           reason=f"{len(stray)} bytes outside any Babyl entry (a broken \\037\\014 line?)")
                yield at, stray + b"\n", "stray"
            if m is None:
                return
            end = gap.find(b"\n\x1f", m.end())                # the entry ends at its \037 line
            end = len(gap) if end < 0 else end + (not self.extra_line_end)   # as in _entries
            self.event("text-outside-messages", offset=base + m.end(),
                       reason="an entry the Babyl reader skipped (its \\037\\014 line is broken)")
            yield base + m.end(), gap[m.end():end], "recovered"
            pos = min(end + 1, len(gap))

    def __iter__(self) -> Iterator[MailMessage]:
        for index, (offset, entry, kind) in enumerate(self._entries(), 1):
            try:
                data, raw = (entry, []) if kind == "stray" else (_entry_message(entry), _labels_of(entry))
            except ValueError as exc:
                self.unreadable(str(index), OSError(0, str(exc)))
                continue
            # labels keep their bytes, as keywords do everywhere (flags.keyword_bytes)
            labels = [label.decode("utf-8", "surrogateescape") for label in raw]
            letters, keywords = flags.from_rmail(labels)
            headers, _ = split_message(data)
            date, source = header_date(headers)
            msg = MailMessage(data, letters, "unseen" in labels, keywords,
                              date, source, key=str(index), offset=offset)
            if kind != "entry":         # converted (and reported) when it looks like a message
                msg.notes.append("outside-delimiters")
            yield msg


def _labels_of(entry: bytes) -> list[bytes]:
    """The labels of an entry's first line ("1, unseen,, work,"), as the stdlib reads them; read
    here for every entry, those of the stdlib's table and those it skipped alike."""
    line = entry.split(b"\n", 1)[0]
    return [label.strip() for label in line[1:].split(b",") if label.strip()]


def _entry_message(entry: bytes) -> bytes:
    """The message of a Babyl entry (labels line, original header, ``*** EOOH ***``, visible
    header copy, body): its original header and its body.

    Not the stdlib's get_bytes: that takes the first paragraph after ``*** EOOH ***``
    for the visible header copy even when there is none (the stdlib's own writer leaves
    it out for an ``email.message.Message``), and then fails an assert on the last entry.
    """
    labels_end = entry.find(b"\n") + 1
    eooh = entry.find(b"\n*** EOOH ***\n", labels_end - 1)
    if labels_end <= 0 or eooh < 0:
        raise ValueError("a Babyl entry without its *** EOOH *** line")
    rest = entry[eooh + len(b"\n*** EOOH ***\n"):]
    if not entry.startswith(b"1"):
        # "0,": never reformatted (Rmail, Gnus and VM write new mail so): no original header
        # before *** EOOH ***; the message is all that follows it, header and body
        return rest
    # Rmail's summary cache lines come first; then the original header
    start = labels_end
    while entry.startswith(b"Summary-Line:", start) and start <= eooh:
        start = entry.find(b"\n", start) + 1
    original = entry[start:eooh + 1]
    if rest.startswith(b"\n"):                           # an empty visible copy
        return original + rest[1:]
    blank = rest.find(b"\n\n")
    copy = rest[:blank + 1] if blank >= 0 else rest
    # the visible copy, up to its empty line: header lines, or lines of the original header
    # (whatever that holds); else the body starts right after *** EOOH ***
    if is_header_line(copy[:copy.find(b"\n") + 1 or len(copy)]) or \
            set(copy.split(b"\n")) <= set(original.replace(b"\r\n", b"\n").split(b"\n")):
        rest = rest[blank + 2:] if blank >= 0 else b""
    return original + rest


class BabylWriter(MboxWriter):
    """Appends Babyl entries (labels line, header, EOOH, visible header, body) under mbox locks."""

    format = "babyl"
    adds_final_newline = True            # the entry's end mark must start a line

    def _ending_fix(self) -> bytes:
        if self.committed == 0:
            return HEADER
        tail = os.pread(self.fd, 1, self.committed - 1)
        if tail != b"\x1f":
            raise InputError(f"{self.path}: does not end like a Babyl file; refusing to append")
        return b""

    def add(self, msg: MailMessage) -> bool:
        data = core_bytes(msg)
        if b"\n\x1f" in data or data.startswith(b"\x1f"):
            raise ValueError("the message contains a Babyl separator line")
        end = header_end(data)
        head, body = data[:end], data[end:]
        if not head.endswith(b"\n"):
            head += b"\n"                                   # headers only, no final newline
        # the original header is kept byte for byte; readers find the body after the visible
        # copy, which must end in a bare "\n" line, so only that copy is normalised
        visible = head.replace(b"\r\n", b"\n")
        if not visible.endswith(b"\n\n") and visible != b"\n":      # "\n": an empty header, already its end
            visible += b"\n"
        if body and not body.endswith(b"\n"):
            body += b"\n"                                  # \037 starts a line (read back as content)
        self.fit_keywords(msg)
        # flagged and draft are no Babyl attributes: user labels of those names stand for them
        special, users = flags.to_rmail(msg.flags)
        labels = b"1," + b"".join(b" " + flags.keyword_bytes(w) + b"," for w in special) + b"," + \
            b"".join(b" " + flags.keyword_bytes(w) + b"," for w in users + list(msg.keywords)) + b"\n"
        entry = b"\x0c\n" + labels + head + b"*** EOOH ***\n" + visible + body + b"\x1f"
        return self._queue(entry)

    def known_digests(self, save: bool = True) -> DigestTable | None:
        """Digests of the messages already in the file. Babyl is parsed by the stdlib, which
        opens the path itself; opening and closing a second fd would drop this writer's fcntl
        lock (§7.7), so it reads a private copy made through the locked fd."""
        if self.fd is None:
            return None
        with tempfile.NamedTemporaryFile(dir=self.path.parent, prefix=f".{self.path.name}.",
                                         suffix=".read-back") as copy:
            copy_range(self.fd, copy.fileno(), 0, self.committed)
            with BabylReader(Path(copy.name)) as reader:
                return DigestTable(short_digest(m.data) for m in reader)
