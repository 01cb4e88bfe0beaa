"""Delivery dates: the From_ line date first, then Date:, then the newest Received:.

From_ lines come in many forms (docs/formats.md §1.2); the parser searches the
text after ``From `` for an asctime-like or an RFC 2822-like date and treats the
rest as the envelope sender.
"""

from __future__ import annotations

import re
import time
from functools import lru_cache
from typing import NamedTuple

_DOW = r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*"
_MON = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"
_ZONE = r"(?:([+-]\d{4})|\(([+-]\d{4})\)|[A-Za-z]{1,6}(?: DST)?)"
_ASCTIME = re.compile(
    rf"(?i)(?:^|\s){_DOW},?\s+{_MON}\s+(\d{{1,2}})\s+(\d{{1,2}}):(\d{{2}})(?::(\d{{2}}))?"
    rf"(?:\s+{_ZONE})?\s+(\d{{4}}|\d{{2}})(?:\s+{_ZONE})?(?=\s|$)"
)
_RFC2822 = re.compile(
    rf"(?i)(?:^|\s)(?:{_DOW},?\s+)?(\d{{1,2}})\s+{_MON}\s+(\d{{4}}|\d{{2}})\s+(\d{{1,2}}):(\d{{2}})"
    rf"(?::(\d{{2}}))?(?:\s+{_ZONE})?(?=\s|$)"
)
_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = {m.lower(): i for i, m in enumerate(_MONTH_NAMES, 1)}

# Dates that writers put on every From_ line regardless of delivery:
# public-inbox's epoch and git format-patch's magic date. They are envelope
# markers, not delivery times, so the Date:/Received: fallback applies.
PLACEHOLDER_DATES = frozenset({0, 1000684800})


class FromLine(NamedTuple):
    """A parsed From_ line: sender and date (epoch seconds, UTC) when they could be read."""

    sender: str
    date: int | None
    has_zone: bool


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        year += 1900 if year >= 70 else 2000
    return year


def _zone_seconds(*zones: str | None) -> int | None:
    for zone in zones:
        if zone:
            sign = -1 if zone[0] == "-" else 1
            return sign * (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60)
    return None


def _epoch(year: int, month: int, day: int, hh: int, mm: int, ss: int) -> int | None:
    if hh > 24 or mm > 59 or ss > 61:
        return None
    days = _days(year, month, day)
    return None if days is None else days * 86400 + hh * 3600 + mm * 60 + ss


@lru_cache(maxsize=4096)
def _days(year: int, month: int, day: int) -> int | None:
    """Days since 1970-01-01 of a civil date, None if there is no such date.

    Cached: a mailbox's messages fall on comparatively few days, and this runs
    two or three times per message.
    """
    if not (1 <= month <= 12 and 1 <= year <= 9999):
        return None
    if day < 1 or day > (_MONTH_DAYS[month] if month != 2 else 28 + (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0))):
        return None
    # Howard Hinnant's days-from-civil: faster than calendar.timegm
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


# The common case, ``From sender Www Mmm dd hh:mm:ss yyyy``, without the general regexes.
_FAST = re.compile(rb"From (\S*) +(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
                   rb" +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})\r?\n?$")
_FAST_MONTHS = {m.encode(): i for i, m in enumerate(_MONTH_NAMES, 1)}


def parse_from_line(line: bytes) -> FromLine:
    """Split a From_ line (with or without its line end) into sender and date."""
    m = _FAST.match(line)
    if m:
        sender, mon, day, hh, mm, ss, year = m.groups()
        epoch = _epoch(int(year), _FAST_MONTHS[mon], int(day), int(hh), int(mm), int(ss))
        if epoch is not None:
            return FromLine(sender.decode("latin-1"), epoch, False)
    text = line[5:].decode("latin-1").rstrip("\r\n")
    for regex, fields in ((_ASCTIME, _asctime_fields), (_RFC2822, _rfc2822_fields)):
        match = regex.search(text)
        if match:
            parsed = fields(match)
            if parsed is not None:
                epoch, has_zone = parsed
                return FromLine(text[: match.start()].strip(), epoch, has_zone)
    return FromLine(text.strip().split(" ")[0] if text.strip() else "", None, False)


def has_date_shape(line: bytes) -> bool:
    """True when a From_ line carries a date in one of the §1.2 layouts, even one that names no
    real day (``Mon Jan 00 00:00:00 0000``): a placeholder still marks a separator (§1.4 step 5),
    though it gives no delivery date."""
    text = line[5:].decode("latin-1").rstrip("\r\n")
    return _ASCTIME.search(text) is not None or _RFC2822.search(text) is not None


def _asctime_fields(m: re.Match[str]) -> tuple[int, bool] | None:
    month, day, hh, mm, ss, z1, z1p, year, z2, z2p = m.groups()
    epoch = _epoch(_year(year), _MONTHS[month[:3].lower()], int(day), int(hh), int(mm), int(ss or 0))
    if epoch is None:
        return None
    offset = _zone_seconds(z1, z1p, z2, z2p)
    return (epoch - offset, True) if offset is not None else (epoch, False)


def _rfc2822_fields(m: re.Match[str]) -> tuple[int, bool] | None:
    day, month, year, hh, mm, ss, z1, z1p = m.groups()
    epoch = _epoch(_year(year), _MONTHS[month[:3].lower()], int(day), int(hh), int(mm), int(ss or 0))
    if epoch is None:
        return None
    offset = _zone_seconds(z1, z1p)
    return (epoch - offset, True) if offset is not None else (epoch, False)


_FAST_RFC = re.compile(r"\s*(?:[A-Z][a-z]{2}, *)?(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                       r"(\d{4}) (\d\d):(\d\d)(?::(\d\d))? ([+-])(\d\d)(\d\d)(?:\s|$)")


def parse_header_date(value: str | None) -> int | None:
    """Epoch seconds of an RFC 5322 date (a Date: value or a Received: tail), or None."""
    if not value:
        return None
    m = _FAST_RFC.match(value)
    if m:                                  # the common, well-formed case without email.utils
        day, mon, year, hh, mm, ss, sign, zh, zm = m.groups()
        epoch = _epoch(int(year), _MONTHS[mon.lower()], int(day), int(hh), int(mm), int(ss or 0))
        if epoch is not None:
            return epoch - (1 if sign == "+" else -1) * (int(zh) * 3600 + int(zm) * 60)
    try:
        from email.utils import parsedate_tz  # the rare malformed date: imported on demand
        parsed = parsedate_tz(value.strip())
    except (ValueError, IndexError, OverflowError, TypeError):
        return None
    if parsed is None:
        return None
    year = parsed[0]
    if year < 100:
        year += 1900 if year >= 70 else 2000
    epoch = _epoch(year, parsed[1], parsed[2], parsed[3], parsed[4], parsed[5])
    if epoch is None or not 1 <= parsed[1] <= 12:
        return None
    return epoch - (parsed[9] or 0)


_FAST_RFC_BYTES = re.compile(_FAST_RFC.pattern.encode())     # its months are capitalised: _FAST_MONTHS


def parse_header_date_in(raw: bytes, start: int, end: int) -> int | None:
    """``parse_header_date`` of ``raw[start:end]`` (a header's raw bytes, possibly folded),
    without decoding and unfolding it first in the usual well-formed case."""
    m = _FAST_RFC_BYTES.match(raw, start, end)
    if m:
        day, mon, year, hh, mm, ss, sign, zh, zm = m.groups()
        epoch = _epoch(int(year), _FAST_MONTHS[mon], int(day), int(hh), int(mm), int(ss or 0))
        if epoch is not None:
            return epoch - (1 if sign == b"+" else -1) * (int(zh) * 3600 + int(zm) * 60)
    return parse_header_date(" ".join(raw[start:end].decode("latin-1").split()))


def plausible(epoch: int | None, now: float | None = None) -> bool:
    """True for a date after 1970 and at most a day in the future."""
    if epoch is None or epoch <= 0 or epoch in PLACEHOLDER_DATES:
        return False
    return epoch <= (now if now is not None else time.time()) + 86400


def received_date(values: list[str]) -> int | None:
    """The newest date among Received: values (the date follows the last ';')."""
    best = None
    for value in values:
        if ";" in value:
            epoch = parse_header_date(value.rsplit(";", 1)[1])
            if plausible(epoch) and (best is None or epoch > best):  # type: ignore[operator]
                best = epoch
    return best


def asctime_utc(epoch: int) -> str:
    """C-locale asctime of ``epoch`` in UTC, as written on From_ lines (English whatever the locale)."""
    t = time.gmtime(epoch)
    return (f"{_DAYS[t.tm_wday]} {_MONTH_NAMES[t.tm_mon - 1]} {t.tm_mday:2d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {t.tm_year}")


# How far apart the wall-clock times of a From_ line and a Received: header may be and still
# name one moment: delivery is local, so the delivery agent writes the From_ line within
# moments of the last hop's Received: line.
ZONE_AGREEMENT_SECONDS = 120


_NAMED_ZONE = re.compile(r"(?i)\d\d:\d\d(?::\d\d)?\s+(?:[+-]\d{4}|UTC?|GMT|[ECMP][SD]T)\b")


def header_wall_clock_in(raw: bytes, start: int, end: int) -> tuple[int, int] | None:
    """(wall-clock time read as UTC, zone offset in seconds) of the date in ``raw[start:end]``
    (a Received: tail, possibly folded); None when it holds no date or names no zone.
    ``-0000`` (qmail) counts as UTC: the time is UTC, only the writer's own zone is unknown."""
    m = _FAST_RFC_BYTES.match(raw, start, end)
    if m:
        day, mon, year, hh, mm, ss, sign, zh, zm = m.groups()
        wall = _epoch(int(year), _FAST_MONTHS[mon], int(day), int(hh), int(mm), int(ss or 0))
        if wall is not None:
            return wall, (1 if sign == b"+" else -1) * (int(zh) * 3600 + int(zm) * 60)
    text = " ".join(raw[start:end].decode("latin-1").split())
    if not _NAMED_ZONE.search(text):
        return None                                    # a time without a zone is no evidence
    try:
        from email.utils import parsedate_tz
        parsed = parsedate_tz(text)
    except (ValueError, IndexError, OverflowError, TypeError):
        return None
    if parsed is None or parsed[9] is None or not 1 <= parsed[1] <= 12:
        return None
    year = parsed[0] + (0 if parsed[0] >= 100 else 1900 if parsed[0] >= 70 else 2000)
    wall = _epoch(year, parsed[1], parsed[2], parsed[3], parsed[4], parsed[5])
    return None if wall is None else (wall, parsed[9])


def proven_zone(from_wall: int, received: tuple[int, int] | None) -> int | None:
    """The zone a zoneless From_ date was written in, when there is evidence for it.

    ``from_wall``: the From_ date read as UTC; ``received``: (wall clock, zone) of the
    final hop's Received: date. The evidence is that line's own wall-clock time agreeing
    with the From_ time (within ZONE_AGREEMENT_SECONDS): the delivery agent wrote both in
    that line's zone. A gap of a whole number of quarter-hours proves nothing (a delivery
    delay of eight minutes is no time zone), so nothing else is guessed.
    """
    if received is None:
        return None
    wall, zone = received
    if abs(from_wall - wall) <= ZONE_AGREEMENT_SECONDS and plausible(wall - zone):
        return zone
    return None
