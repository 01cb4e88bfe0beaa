import calendar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mboxtool.model import dates


def utc(*t):
    return calendar.timegm(t + (0, 0, 0))


@pytest.mark.parametrize("line, sender, epoch, zoned", [
    (b"From god@example.org Sat Jan  3 01:05:34 1996", "god@example.org", utc(1996, 1, 3, 1, 5, 34), False),
    (b"From alice@example.org  Sat Jan 03 01:05:34 1996", "alice@example.org", utc(1996, 1, 3, 1, 5, 34), False),
    (b"From 1583@xxx Mon Nov 06 04:42:58 +0000 2017", "1583@xxx", utc(2017, 11, 6, 4, 42, 58), True),
    (b"From - Mon Jul 11 12:08:34 2011", "-", utc(2011, 7, 11, 12, 8, 34), False),
    (b"From x Sat Mar 24 23:00:00 2007 +0200", "x", utc(2007, 3, 24, 21, 0, 0), True),
    (b"From d@o Sun, 11 Nov 2007 06:58:35 +0200", "d@o", utc(2007, 11, 11, 4, 58, 35), True),
    (b"From u at example.org  Mon Jan 15  15:30:00  2018", "u at example.org", utc(2018, 1, 15, 15, 30, 0), False),
    (b"From a Fri Apr 24 10:55:25 1998 WETDST", "a", utc(1998, 4, 24, 10, 55, 25), False),
    (b"From x Sat Jan  3 01:05 96", "x", utc(1996, 1, 3, 1, 5, 0), False),
    (b"From x Mon Jan  6 10:00:00 2020 extra info", "x", utc(2020, 1, 6, 10, 0, 0), False),
])
def test_from_line_forms_parse(line, sender, epoch, zoned):
    parsed = dates.parse_from_line(line)
    assert (parsed.sender, parsed.date, parsed.has_zone) == (sender, epoch, zoned)


@pytest.mark.parametrize("line", [b"From ", b"From time to time", b"From the beginning, mbox",
                                  b"From a Mon Feb 30 10:00:00 2020"])
def test_from_lines_without_a_date(line):
    assert dates.parse_from_line(line).date is None


def test_asctime_is_c_locale_utc():
    assert dates.asctime_utc(utc(1996, 1, 3, 1, 5, 34)) == "Wed Jan  3 01:05:34 1996"


def test_received_takes_newest_date():
    values = ["from a by b; Mon, 6 Jan 2020 10:00:00 +0000", "from c by d; Mon, 6 Jan 2020 12:00:00 +0100"]
    assert dates.received_date(values) == utc(2020, 1, 6, 11, 0, 0)


def test_zone_proven_only_by_an_agreeing_wall_clock():
    # From_ 12:00:00; Received: 12:00:05 +0100 (the same moment, written in +0100)
    assert dates.proven_zone(utc(2020, 1, 1, 12, 0, 0), (utc(2020, 1, 1, 12, 0, 5), 3600)) == 3600
    # a gap of whole quarter-hours is a delay, not a zone (this was read as +0030)
    assert dates.proven_zone(utc(2020, 1, 1, 12, 0, 0), (utc(2020, 1, 1, 11, 35, 0), 0)) is None
    assert dates.proven_zone(utc(2020, 1, 2, 12, 0, 0), (utc(2020, 1, 1, 12, 0, 0), 0)) is None
    assert dates.proven_zone(utc(2020, 1, 1, 12, 0, 0), (utc(2020, 1, 1, 11, 58, 30), -12600)) == -12600
    assert dates.proven_zone(utc(2020, 1, 1, 12, 0, 0), None) is None


def test_wall_clock_of_a_received_date():
    raw = b"from a by b; Tue, 5 Mar 2024\r\n 09:30:26 +0545 (NPT)"
    cut = raw.rindex(b";") + 1
    assert dates.header_wall_clock_in(raw, cut, len(raw)) == (utc(2024, 3, 5, 9, 30, 26), 20700)
    assert dates.header_wall_clock_in(b"; 5 Mar 2024 09:30:26", 1, 21) is None      # no zone: no evidence
    assert dates.header_wall_clock_in(b"; 5 Mar 2024 09:30:26 -0000", 1, 27) == (utc(2024, 3, 5, 9, 30, 26), 0)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["Sat,", "Sun,", "28", "6", "Nov", "nov", "2026", "1999", "15:04:05", "15:04",
                                 "+0000", "-0130", "+01", "(UTC)", "GMT", "by", "x;"]), max_size=8),
       st.lists(st.sampled_from([" ", "  ", "\r\n\t", "\n ", "\t"]), min_size=8, max_size=8))
def test_header_date_from_raw_bytes_is_that_of_the_unfolded_value(words, gaps):
    """The fast raw-bytes path of a Received: date agrees with parsing the unfolded text."""
    from mboxtool.model.dates import parse_header_date, parse_header_date_in
    raw = ("x" + "".join(g + w for g, w in zip(gaps, words, strict=False))).encode()
    assert parse_header_date_in(raw, 1, len(raw)) == parse_header_date(" ".join(raw[1:].decode().split()))
    assert parse_header_date_in(b" Sat, 28 Nov 2026 15:04:05 +0100\r", 0, 33) == utc(2026, 11, 28, 14, 4, 5)
