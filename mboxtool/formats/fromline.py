"""The From_ line of an mbox entry: the delivery date read from it, in the zone rules of §3.6,
and the line written before a message (its envelope sender and date)."""

from __future__ import annotations

import re
import time

from ..model import dates
from ..model.message import Headers, MailMessage, split_message


class DateResolver:
    """Delivery time of a message: From_ date, then Date:, then the newest Received: (§3.6).

    A zoneless From_ date is read in the ``from_tz`` zone; with ``auto``, in the zone a
    Received: line of the same message proves (dates.proven_zone), else in the zone last
    proven in the same file, else as UTC (RFC 4155).
    """

    def __init__(self, from_tz: str = "auto"):
        self.from_tz = from_tz
        self.proven: int | None = None
        self.fixed = _fixed_offset(from_tz)

    def resolve(self, parsed: dates.FromLine, headers) -> tuple[int | None, str]:
        epoch = parsed.date
        if epoch is not None and dates.plausible(epoch + 14 * 3600) and epoch not in dates.PLACEHOLDER_DATES:
            if not parsed.has_zone:
                epoch -= self._offset(epoch, headers)
            # time -1 printed in some zone ("Wed Dec 31 23:59:59 1969": a tool that had no
            # date, mblaze's mexport among them) is no date either
            if epoch > 0:
                return epoch, "from-line"
        if headers is not None:
            date = dates.parse_header_date(headers.get(b"date"))
            if dates.plausible(date):
                return date, "date-header"
            received = dates.received_date(headers.get_all(b"received"))
            if received is not None:
                return received, "received"
        return None, "none"

    def _offset(self, epoch: int, headers) -> int:
        if self.fixed is not None:
            return self.fixed
        zone = _zone_of_received(epoch, headers) if headers is not None and b"received" in headers else None
        if zone is not None:
            self.proven = zone
            return zone
        return self.proven or 0


def _zone_of_received(epoch: int, headers: Headers) -> int | None:
    """The zone the top-most Received: line of ``headers`` (the final hop, written where the
    message was delivered, §3.6) proves for the From_ date ``epoch`` read as UTC."""
    top = headers.tail_span(b"received", b";")
    return dates.proven_zone(epoch, dates.header_wall_clock_in(headers.raw, *top) if top else None)


def _fixed_offset(from_tz: str) -> int | None:
    if from_tz == "utc":
        return 0
    if from_tz == "local":
        return -time.timezone if not time.daylight else -time.altzone
    m = re.fullmatch(r"([+-])(\d\d)(\d\d)", from_tz)
    if m:
        return (1 if m.group(1) == "+" else -1) * (int(m.group(2)) * 3600 + int(m.group(3)) * 60)
    return None


_ANGLE_ADDR = re.compile(r"<\s*([^<>\s]+@[^<>\s]+)\s*>")
_BARE_ADDR = re.compile(r"^\s*([^<>\s,;\"()]+@[^<>\s,;\"()]+)\s*$")


def addr_spec(value: str) -> str:
    """The addr-spec of an address header, quickly for the usual forms, else via email.utils."""
    m = _ANGLE_ADDR.search(value) or _BARE_ADDR.match(value)
    if m:
        return m.group(1)
    from email.utils import parseaddr
    return parseaddr(value)[1]


_BLANKS = re.compile(r"[ \t\r\n]+")


def envelope_sender(msg: MailMessage, head: bytes | None = None) -> str:
    """The sender for a From_ line: kept from an mbox source, else Return-Path, From:, MAILER-DAEMON.

    ``head``: the message's header block when the caller has cut it out already.
    """
    if msg.sender is not None and msg.sender.strip():
        sender = msg.sender
    else:
        headers = msg.headers or (Headers(head) if head is not None else split_message(msg.data)[0])
        sender = ""
        for name in (b"return-path", b"from"):
            value = headers.get(name)
            if value:
                sender = addr_spec(value)
                if sender:
                    break
        sender = sender or "MAILER-DAEMON"
    sender = _BLANKS.sub("-", sender.strip())
    if not sender.isascii() or not sender:
        return "MAILER-DAEMON"
    return sender


def from_line_for(msg: MailMessage, now: float | None, keep_from_line: bool,
                  head: bytes | None = None) -> bytes:
    """The From_ line written before ``msg``: the one it was read with (``keep_from_line``, when
    that one has a good date and is plain ASCII), else its envelope sender and delivery date."""
    if keep_from_line and msg.from_line and msg.from_line.isascii() \
            and dates.parse_from_line(msg.from_line).date is not None:
        return msg.from_line + b"\n"
    date = msg.date if msg.date is not None else int(now if now is not None else time.time())
    return f"From {envelope_sender(msg, head)} {dates.asctime_utc(date)}\n".encode("ascii")
