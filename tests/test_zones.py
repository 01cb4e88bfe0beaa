"""Zoneless From_ dates: a zone is taken only from a Received: line whose own wall-clock
time agrees with the From_ time (--from-tz auto); info, list and convert agree."""

import calendar
import json
import os
import time

import pytest

from .conftest import make_maildir

DELIVERED = calendar.timegm((2024, 3, 5, 0, 30, 26, 0, 0, 0))     # the real moment of delivery


def wall(epoch: int, zone: int) -> time.struct_time:
    return time.gmtime(epoch + zone)


def asctime(epoch: int, zone: int = 0) -> str:
    return time.strftime("%a %b %e %H:%M:%S %Y", wall(epoch, zone))


def rfc2822(epoch: int, zone: int) -> str:
    sign = "+" if zone >= 0 else "-"
    hh, mm = divmod(abs(zone) // 60, 60)
    return time.strftime("%a, %d %b %Y %H:%M:%S ", wall(epoch, zone)) + f"{sign}{hh:02d}{mm:02d}"


def entry(from_wall: str, received: list[str], subject: str = "test") -> bytes:
    head = "".join(f"Received: from relay.example.org by mx.example.net; {r}\n" for r in received)
    return (f"From alice@example.org {from_wall}\n{head}From: alice@example.org\n"
            f"Subject: {subject}\nMessage-ID: <{subject}@example.org>\n\nbody\n\n").encode()


def listed_dates(invoke, path, *options) -> list[str]:
    r = invoke("list", "--json", *options, path)
    assert r.exit_code == 0, r.stderr
    return [json.loads(line)["date"] for line in r.stdout.splitlines()]


def iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


ZONES = {"+0000": 0, "+0900": 9 * 3600, "-0330": -(3 * 3600 + 1800), "+0545": 5 * 3600 + 45 * 60}


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("delay, proven", [(0, True), (90, True), (8 * 60, False), (40 * 60, False)])
def test_a_zone_only_from_a_received_line_that_agrees(invoke, tmp_path, zone, delay, proven):
    """The delivery agent wrote the From_ line in zone ``zone``; the last hop's Received:
    line was written ``delay`` seconds before, in the same zone. Within two minutes the
    zone is proven; a longer delay proves nothing and the From_ time is read as UTC (a
    delay of 8 minutes was read as a zone of +0015 before)."""
    offset = ZONES[zone]
    box = tmp_path / "box"
    box.write_bytes(entry(asctime(DELIVERED, offset), [rfc2822(DELIVERED - delay, offset)]))
    expected = DELIVERED if proven else DELIVERED + offset         # unproven: the wall clock as UTC
    assert listed_dates(invoke, box) == [iso(expected)]


def test_the_reported_delay_is_no_time_zone(invoke, tmp_path):
    """From_ 00:30:26 and Received: 00:38:44 +0000 (as Dovecot and the Date: header say):
    the message was delivered at 00:30:26, not at 00:45:26."""
    box = tmp_path / "box"
    box.write_bytes(b"From alice@example.org Tue Mar  5 00:30:26 2024\n"
                    b"Received: from a.example.org by b.example.org; Tue, 5 Mar 2024 00:38:44 +0000\n"
                    b"Date: Tue, 5 Mar 2024 00:30:26 +0000\nFrom: alice@example.org\nSubject: s\n\nbody\n")
    assert listed_dates(invoke, box) == ["2024-03-05T00:30:26Z"]


def test_the_final_hop_is_the_evidence(invoke, tmp_path):
    """The top-most Received: line (the final hop, written where the message was delivered)
    in +0900 agrees with the From_ time: +0900. A hop further down that happens to agree
    with the From_ time read in its zone proves nothing."""
    top, lower = tmp_path / "top", tmp_path / "lower"
    top.write_bytes(entry(asctime(DELIVERED, 9 * 3600), [rfc2822(DELIVERED - 5, 9 * 3600)]))
    lower.write_bytes(entry(asctime(DELIVERED, -5 * 3600),
                            [rfc2822(DELIVERED, 3600), rfc2822(DELIVERED - 60, -5 * 3600)]))
    assert listed_dates(invoke, top) == [iso(DELIVERED)]
    assert listed_dates(invoke, lower) == [iso(DELIVERED - 5 * 3600)]      # the wall clock as UTC


def test_later_messages_inherit_only_a_proven_zone(invoke, tmp_path):
    tokyo = 9 * 3600
    box = tmp_path / "box"
    box.write_bytes(
        entry(asctime(DELIVERED, 0), [rfc2822(DELIVERED - 480, 0)], "delayed")    # proves nothing: UTC
        + entry(asctime(DELIVERED + 60, 0), [], "bare")                             # nothing proven yet: UTC
        + entry(asctime(DELIVERED + 120, tokyo), [rfc2822(DELIVERED + 100, tokyo)], "proven")
        + entry(asctime(DELIVERED + 180, tokyo), [], "inherits")                   # the proven zone
        + entry(asctime(DELIVERED + 240, tokyo), [rfc2822(DELIVERED - 3000, tokyo)], "late"))
    assert listed_dates(invoke, box) == [iso(DELIVERED), iso(DELIVERED + 60), iso(DELIVERED + 120),
                                         iso(DELIVERED + 180), iso(DELIVERED + 240)]


def test_info_list_and_convert_take_the_same_from_tz(invoke, tmp_path):
    box = tmp_path / "box"
    box.write_bytes(entry(asctime(DELIVERED, 0), []))
    assert listed_dates(invoke, box, "--from-tz", "+0100") == [iso(DELIVERED - 3600)]
    r = invoke("info", "--json", "--from-tz", "+0100", box)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["first_date"] == iso(DELIVERED - 3600)
    md = tmp_path / "md"
    r = invoke("convert", "--from-tz", "+0100", box, md)
    assert r.exit_code == 0, r.stderr
    [name] = os.listdir(md / "new")
    assert os.stat(md / "new" / name).st_mtime == DELIVERED - 3600
    r = invoke("list", "--from-tz", "+25:00", box)
    assert r.exit_code == 2 and "--from-tz" in r.stderr


def test_maildir_to_mbox_verifies_a_message_received_minutes_later(invoke, tmp_path):
    """The Maildir message was delivered at 00:30:26; its Received: line says 00:38:44 +0000.
    --verify read the written mbox with a guessed zone of +0015 and failed."""
    md = make_maildir(tmp_path / "md")
    msg = md / "cur" / "1709598626.M1P1Q1.host:2,S"
    msg.write_bytes(b"Received: from a.example.org by b.example.org; Tue, 5 Mar 2024 00:38:44 +0000\n"
                    b"From: alice@example.org\nSubject: s\n\nbody\n")
    os.utime(msg, (DELIVERED, DELIVERED))
    out = tmp_path / "out.mbox"
    r = invoke("convert", "--verify", "--json", md, out)
    assert r.exit_code == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["verified"] is True
    assert listed_dates(invoke, out) == [iso(DELIVERED)]
