"""Data for info, list and show: one streaming pass over any mailbox, nothing printed."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

from .formats.fromline import addr_spec
from .formats.registry import detect_format, inner_mbox, make_reader, normalize_format
from .model.message import Headers, MailMessage, outside_any_message, split_message

# scanner events that mean the file is damaged (validate explains them)
DAMAGE = frozenset({"garbage-before-first-from", "cr-line-endings", "possible-phantom-split",
                    "content-length-mismatch", "truncated-message", "unreadable-file",
                    "compressed-data-broken"})


def decode_text(raw: str | None) -> str:
    """An RFC 2047-decoded header value; robust to broken encodings and raw 8-bit bytes."""
    if not raw:
        return ""
    # header values arrive latin-1 decoded (byte-preserving); raw UTF-8 is common: try it first
    try:
        raw = raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    if "=?" not in raw:
        return raw
    try:
        return str(make_header(decode_header(raw)))
    except Exception:            # the email package raises many kinds on broken encoded-words
        pass
    try:
        parts = []
        for chunk, charset in decode_header(raw):
            if isinstance(chunk, bytes):
                try:
                    parts.append(chunk.decode(charset or "utf-8", "replace"))
                except LookupError:
                    parts.append(chunk.decode("latin-1"))
            else:
                parts.append(chunk)
        return "".join(parts)
    except Exception:
        return raw


@dataclass
class Row:
    """One message as ``list`` shows it."""

    index: int
    key: str
    date: int | None
    sender: str
    address: str
    subject: str
    flags: str
    size: int
    new: bool
    keywords: tuple[str, ...]
    envelope_from: str = ""           # the SMTP envelope sender: From_ line, else Return-Path
    delivered_to: str = ""            # the envelope recipient: Delivered-To, else X-Original-To
    to: str = ""
    message_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "key": self.key, "date": iso(self.date), "from": self.sender,
                "envelope_from": self.envelope_from, "delivered_to": self.delivered_to,
                "to": self.to, "message_id": self.message_id,
                "subject": self.subject, "flags": self.flags, "size": self.size,
                "new": self.new, "keywords": list(self.keywords)}


def iso(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def row_of(index: int, msg: MailMessage) -> Row:
    headers = msg.headers or split_message(msg.data)[0]
    raw_from = headers.get(b"from") or ""
    decoded = decode_text(raw_from)
    address = addr_spec(decoded) if decoded else ""
    address = address or decoded
    return Row(index, msg.key, msg.date, decoded, address.lower(),
               decode_text(headers.get(b"subject")), msg.flags, len(msg.data), msg.new, msg.keywords,
               envelope_from(msg, headers), _first_address(headers, b"delivered-to", b"x-original-to"),
               decode_text(headers.get(b"to")).strip(), (headers.get(b"message-id") or "").strip())


def envelope_from(msg: MailMessage, headers: Headers) -> str:
    """The envelope sender (SMTP MAIL FROM): an mbox's From_ line keeps it, a delivery agent
    writes it into Return-Path; ``<>`` for the null sender of a bounce (Postfix and Exim write
    MAILER-DAEMON in the From_ line for it), "" when unknown (Thunderbird's ``From -``)."""
    sender = (msg.sender or "").strip()
    if "@" in sender:
        return sender
    if sender.upper() in ("MAILER-DAEMON", "<>"):
        return "<>"
    value = headers.get(b"return-path")
    if value is None:
        return ""
    return addr_spec(value) or ("<>" if value.replace(" ", "").strip() == "<>" else "")


def _first_address(headers: Headers, *names: bytes) -> str:
    """The address of the first of ``names`` present (the topmost field: the last delivery's)."""
    for name in names:
        value = headers.get(name)
        if value and value.strip():
            return addr_spec(value) or value.strip()
    return ""


def domain_of(address: str) -> str:
    """The domain of an address, lowercased; "" when it has none (MAILER-DAEMON, <>)."""
    return address.rpartition("@")[2].strip().rstrip(">").lower() if "@" in address else ""


class Inspection:
    """An open mailbox to inspect: rows streamed in mailbox order, damage noted as seen."""

    def __init__(self, path: Path, fmt: str | None = None, source_variant: str | None = None,
                 lock: bool = True, lock_timeout: float = 30, from_tz: str = "auto"):
        self.path = inner_mbox(path)
        self.format = normalize_format(fmt) or detect_format(self.path)
        self.damage: Counter[str] = Counter()
        self.reader = make_reader(self.path, self.format, variant=source_variant, from_tz=from_tz, lock=lock,
                                  lock_timeout=lock_timeout, include_expunged=True,
                                  event=lambda code, phantom=False, **_: self._note(
                                      "possible-phantom-split" if phantom else code))
        self.reader.count_lines = False     # rows carry keys and offsets, not line numbers

    def _note(self, code: str) -> None:
        if code in DAMAGE:
            self.damage[code] += 1

    def __enter__(self) -> Inspection:
        self.reader.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.reader.close()

    @property
    def variant(self) -> str | None:
        return getattr(self.reader, "variant", None) if self.format == "mbox" else None

    @property
    def evidence(self) -> list[str]:
        guess = getattr(self.reader, "guess", None)
        return list(guess.evidence) if guess is not None and self.format == "mbox" else []

    def messages(self) -> Iterator[MailMessage]:
        yield from self.reader

    def rows(self) -> Iterator[Row]:
        for index, msg in enumerate(self.reader, 1):
            yield row_of(index, msg)


@dataclass
class Info:
    """The ``info`` summary of one mailbox."""

    path: str
    format: str
    variant: str | None
    evidence: list[str]
    messages: int = 0
    bytes: int = 0
    first_date: int | None = None
    last_date: int | None = None
    flags: Counter[str] = field(default_factory=Counter)
    unread: int = 0
    new: int = 0
    keywords: Counter[str] = field(default_factory=Counter)
    senders: Counter[str] = field(default_factory=Counter)
    per_year: Counter[str] = field(default_factory=Counter)
    undated: int = 0
    # messages whose envelope sender's domain is not the From: domain: (envelope, header) -> count
    envelope_pairs: Counter[tuple[str, str]] = field(default_factory=Counter)
    outside_bytes: int = 0            # bytes outside any message (before the first From_ line)
    damage: dict[str, int] = field(default_factory=dict)

    def add(self, row: Row) -> None:
        self.messages += 1
        self.bytes += row.size
        for letter in row.flags:
            self.flags[letter] += 1
        self.unread += "S" not in row.flags
        self.new += row.new
        self.keywords.update(row.keywords)
        if row.address:
            self.senders[row.address] += 1
            if row.envelope_from:
                header_domain = domain_of(row.address)
                envelope_domain = domain_of(row.envelope_from) or row.envelope_from   # or <>
                if header_domain and envelope_domain != header_domain:
                    self.envelope_pairs[envelope_domain, header_domain] += 1
        if row.date is None:
            self.undated += 1
        else:
            self.first_date = row.date if self.first_date is None else min(self.first_date, row.date)
            self.last_date = row.date if self.last_date is None else max(self.last_date, row.date)
            self.per_year[str(dt.datetime.fromtimestamp(row.date, dt.timezone.utc).year)] += 1

    def to_dict(self, top: int = 10) -> dict[str, Any]:
        return {
            "path": self.path, "format": self.format, "variant": self.variant,
            "variant_evidence": self.evidence, "messages": self.messages, "bytes": self.bytes,
            "first_date": iso(self.first_date), "last_date": iso(self.last_date),
            "flags": {k: self.flags[k] for k in sorted(self.flags)}, "unread": self.unread,
            "new": self.new, "keywords": dict(self.keywords.most_common()),
            "top_senders": [[a, n] for a, n in self.senders.most_common(top)],
            "per_year": {y: self.per_year[y] for y in sorted(self.per_year)},
            "undated": self.undated,
            "envelope_mismatch": {"messages": sum(self.envelope_pairs.values()), "top_pairs": [
                [envelope, header, n] for (envelope, header), n in self.envelope_pairs.most_common(top)]},
            "outside_bytes": self.outside_bytes, "damage": self.damage,
        }


def mailbox_info(path: Path, fmt: str | None = None, source_variant: str | None = None,
                 lock: bool = True, lock_timeout: float = 30,
                 progress: Callable[[int], None] | None = None,
                 progress_total: Callable[[int | None, str], None] | None = None,
                 from_tz: str = "auto") -> Info:
    """One streaming pass: counts, dates, flags, senders, messages per year.

    ``progress_total`` and ``progress``: for a progress bar, as convert_mailbox has them.
    ``from_tz``: the zone of zoneless From_ dates, as convert reads them.
    """
    with Inspection(path, fmt, source_variant, lock, lock_timeout, from_tz) as insp:
        info = Info(str(path), insp.format, insp.variant, insp.evidence)
        if progress_total:
            progress_total(*insp.reader.progress_size())
        for index, msg in enumerate(insp.messages(), 1):
            if progress:
                progress(len(msg.data))
            if outside_any_message(msg):
                # not a message, as convert and validate count (list shows it: its index is show's)
                info.outside_bytes += len(msg.data)
                continue
            info.add(row_of(index, msg))
        info.damage = dict(insp.damage)
    return info


def find_message(path: Path, index: int, fmt: str | None = None, source_variant: str | None = None,
                 lock: bool = True, lock_timeout: float = 30) -> MailMessage | None:
    """Message ``index`` (1-based, as ``list`` numbers them), or None when out of range."""
    if index < 1:
        return None
    with Inspection(path, fmt, source_variant, lock, lock_timeout) as insp:
        for i, msg in enumerate(insp.messages(), 1):
            if i == index:
                return msg
    return None


def tree_info(root: Path, lock: bool = True, lock_timeout: float = 30,
              from_tz: str = "auto") -> list[dict[str, Any]]:
    """One summary row per mailbox in the tree, then a totals row. A folder's ``damage`` also
    counts the errors ``validate`` finds in it, so that both name the same damaged folders."""
    from .formats.foldertree import mailboxes
    from .validate import validate_mailbox
    rows = []
    for parts, path, fmt in mailboxes(root):
        info = mailbox_info(path, fmt, lock=lock, lock_timeout=lock_timeout, from_tz=from_tz)
        checked = validate_mailbox(path, fmt, lock=lock, lock_timeout=lock_timeout)
        errors = Counter(p.code for p in checked.problems if p.severity == "error")
        info.damage = {**errors, **info.damage}
        rows.append({"folder": "/".join(parts) or "INBOX", "path": str(path), "format": fmt,
                     "messages": info.messages, "unread": info.unread, "bytes": info.bytes,
                     "first_date": info.to_dict()["first_date"], "last_date": info.to_dict()["last_date"],
                     "damage": info.damage})
    rows.append({"folder": "TOTAL", "path": str(root), "format": "-",
                 "messages": sum(r["messages"] for r in rows), "unread": sum(r["unread"] for r in rows),
                 "bytes": sum(r["bytes"] for r in rows), "first_date": None, "last_date": None, "damage": {}})
    return rows
