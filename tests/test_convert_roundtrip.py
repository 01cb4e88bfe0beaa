"""convert: bytes, flags, dates and envelopes survive the way into every format and back."""

import os
import stat
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mboxtool import ConvertOptions, MaildirReader, MboxReader, convert_mailbox
from mboxtool.model.message import split_message, strip_metadata

from .conftest import SAMPLES, maildir_files, make_maildir, mbox_entry


def test_sample_mbox_to_maildir_keeps_bytes_flags_and_dates(tmp_path):
    md = tmp_path / "md"
    report = convert_mailbox(SAMPLES / "inbox.mbox", md, ConvertOptions(verify=True))
    assert (report.converted, report.failed, report.verified) == (5, 0, True)
    files = maildir_files(md)
    places = sorted(rel.split("/")[0] + (rel[rel.rfind(":"):] if ":" in rel else "") for rel in files)
    assert places == ["cur:2,DPSc", "cur:2,Fab", "cur:2,RS", "new", "new"]   # c: $Forwarded, for Dovecot
    by_subject = {}
    for rel, data in files.items():
        subject = [l for l in data.split(b"\n") if l.startswith(b"Subject:")][0]
        by_subject[subject] = (rel, data, (md / rel).stat().st_mtime)
    rel, data, mtime = by_subject[b"Subject: Minutes of the Monday meeting"]
    assert rel.endswith(":2,RS")
    assert b"\n>From the chair" not in data and b"\nFrom the chair" in data   # mboxrd unquoted
    assert b"\n>From the minutes" in data
    assert b"Status:" not in data and b"X-Status:" not in data
    assert mtime == 1578304800                                                  # From_ line, UTC
    rel, _, _ = by_subject[b"Subject: Draft: holiday plans"]
    assert rel.endswith(":2,DPSc")                              # draft, passed, seen; $Forwarded
    assert (md / "dovecot-keywords").read_text() == "0 $Important\n1 work\n2 $Forwarded\n"
    rel, _, _ = by_subject[b"Subject: New and unread"]
    assert rel.startswith("new/") and ":" not in rel


def test_verify_reports_a_lost_flag_and_a_missing_message(tmp_path, monkeypatch):
    """--verify re-reads DST: a writer that drops flags, or a message that never arrived, fails it."""
    from mboxtool import MaildirWriter
    from mboxtool.convert import known
    place = MaildirWriter.place
    monkeypatch.setattr(MaildirWriter, "place", lambda self, letters, *a, **k: place(self, letters.replace("F", ""), *a, **k))
    report = convert_mailbox(SAMPLES / "inbox.mbox", tmp_path / "md", ConvertOptions(verify=True))
    assert report.converted == 5 and report.verified is False
    assert [e["message"] for e in report.errors if "verify" in e["message"]] == [
        e["message"] for e in report.errors]                     # only the flagged message
    assert len(report.errors) == 1 and "has flags 'S'" not in report.errors[0]["message"] \
        and "expected 'F'" in report.errors[0]["message"]

    monkeypatch.undo()
    clean = convert_mailbox(SAMPLES / "inbox.mbox", tmp_path / "md2", ConvertOptions(verify=True))
    assert clean.verified is True
    expected = {0x1234: known.packed("S", 1_600_000_000)}   # converted, yet not in DST
    known.verify_destination(tmp_path / "md2", "maildir", expected, clean)
    assert clean.verified is False and "(0000000000001234) is missing" in clean.errors[-1]["message"]


def test_files_and_dirs_are_private(tmp_path):
    md = tmp_path / "md"
    convert_mailbox(SAMPLES / "inbox.mbox", md)
    assert stat.S_IMODE(md.stat().st_mode) == 0o700
    for sub in ("cur", "new", "tmp"):
        assert stat.S_IMODE((md / sub).stat().st_mode) == 0o700
    for data_file in list((md / "cur").iterdir()) + list((md / "new").iterdir()):
        assert stat.S_IMODE(data_file.stat().st_mode) == 0o600
    box = tmp_path / "out.mbox"
    convert_mailbox(md, box)
    assert stat.S_IMODE(box.stat().st_mode) == 0o600


def test_maildir_to_mbox_writes_envelope_and_mtime(tmp_path):
    md = tmp_path / "md"
    make_maildir(md)
    msg = md / "cur" / "1.x:2,S"
    msg.write_bytes(b"Return-Path: <r@example.org>\nFrom: A <a@example.org>\nSubject: s\n\nFrom here\n")
    os.utime(msg, (1_600_000_000, 1_600_000_000))
    box = tmp_path / "box"
    convert_mailbox(md, box)
    assert box.read_bytes() == (b"From r@example.org Sun Sep 13 12:26:40 2020\n"
                                b"Return-Path: <r@example.org>\nFrom: A <a@example.org>\nSubject: s\n"
                                b"Status: RO\n\n>From here\n\n")


def test_appending_to_mbox_without_final_newline_keeps_last_message(tmp_path):
    box = tmp_path / "box"
    box.write_bytes(mbox_entry().rstrip(b"\n"))          # no final newline at all
    convert_mailbox(SAMPLES / "Maildir", box)
    with MboxReader(box) as reader:
        msgs = list(reader)
    assert len(msgs) == 4
    assert msgs[0].data.endswith(b"\n\nhi\n")


@pytest.mark.formats(writable=True)
def test_every_format_round_trips_bytes_and_flags(tmp_path, fmt):
    first = tmp_path / "first"
    convert_mailbox(SAMPLES / "inbox.mbox", first, ConvertOptions(to_format="maildir"))
    middle = tmp_path / f"middle.{fmt}"
    r1 = convert_mailbox(first, middle, ConvertOptions(to_format=fmt, verify=True))
    assert (r1.converted, r1.verified) == (5, True)
    last = tmp_path / "last"
    r2 = convert_mailbox(middle, last, ConvertOptions(to_format="maildir"))
    assert r2.converted == 5
    a = sorted(strip_metadata(m.data) for m in MaildirReader(first))
    b = sorted(strip_metadata(m.data) for m in MaildirReader(last))
    assert a == b
    if fmt in ("mbox", "maildir", "mmdf"):
        fa = sorted((m.flags, m.new, m.keywords, m.date) for m in MaildirReader(first))
        fb = sorted((m.flags, m.new, m.keywords, m.date) for m in MaildirReader(last))
        assert fa == fb


KEYWORD_POOL = ["$Junk", "work", "$label1", "Tax_2020", "$NotJunk"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bodies=st.lists(st.lists(st.sampled_from(
    ["From here", ">From there", ">>From x", "plain", "", " From space", "From a Mon Jan  6 10:00:00 2020",
     "Subject: fake", "--b", "\tcont"]), max_size=8), min_size=1, max_size=4),
    letters=st.lists(st.sets(st.sampled_from("DFPRST")), min_size=4, max_size=4),
    keywords=st.lists(st.sets(st.integers(0, len(KEYWORD_POOL) - 1)), min_size=4, max_size=4),
    stamps=st.lists(st.integers(1, 1_700_000_000), min_size=4, max_size=4),
    crlf=st.booleans())
def test_property_maildir_mbox_maildir_round_trip(tmp_path_factory, bodies, letters, keywords, stamps, crlf):
    """Bytes, flags, keywords and delivery times survive Maildir -> mbox -> Maildir."""
    base = tmp_path_factory.mktemp("rt")
    md = base / "md"
    make_maildir(md)
    (md / "dovecot-keywords").write_text("".join(f"{i} {k}\n" for i, k in enumerate(KEYWORD_POOL)))
    eol = "\r\n" if crlf else "\n"
    expected = []
    for i, lines in enumerate(bodies):
        data = (f"From: x{i}@example.org{eol}Subject: m{i}{eol}{eol}" + "".join(l + eol for l in lines)).encode()
        flags_ = "".join(sorted(letters[i]))
        kw_letters = "".join(chr(ord("a") + k) for k in sorted(keywords[i]))
        info = flags_ + kw_letters
        name = f"cur/{i}.test:2,{info}" if info else f"new/{i}.test"
        (md / name).write_bytes(data)
        os.utime(md / name, (stamps[i] + 1, stamps[i] + 1))
        expected.append((data, flags_, tuple(sorted(KEYWORD_POOL[k] for k in keywords[i])), stamps[i] + 1))
    box = base / "box"
    assert convert_mailbox(md, box, ConvertOptions(verify=True)).verified
    back = base / "back"
    assert convert_mailbox(box, back, ConvertOptions(verify=True)).verified
    got = sorted((m.data, m.flags, tuple(sorted(m.keywords)), m.date) for m in MaildirReader(back))
    assert got == sorted(expected)


@pytest.mark.formats(writable=True, but=["maildir"])             # Maildir: the source
def test_crlf_and_headers_only_messages_keep_their_bytes_in_every_format(tmp_path, fmt):
    md = tmp_path / "md"
    make_maildir(md)
    originals = [b"From: a@example.org\r\nSubject: crlf\r\n\r\nline one\r\nFrom line\r\n",
                 b"From: b@example.org\nSubject: no body\n\n",
                 b"From: c@example.org\nSubject: binary\n\n\x00\x01\xff\rraw\n",
                 b"Return-Path: <d@example.org>\n\r\n",        # LF header, CRLF empty line, no body
                 b"\r\nno header at all\n"]                       # an empty header (found by fuzzing)
    for i, data in enumerate(originals):
        (md / "cur" / f"{i}.x:2,S").write_bytes(data)
    middle = tmp_path / f"middle.{fmt}"
    convert_mailbox(md, middle, ConvertOptions(to_format=fmt))
    convert_mailbox(middle, tmp_path / "back", ConvertOptions(to_format="maildir"))
    assert sorted(m.data for m in MaildirReader(tmp_path / "back")) == sorted(originals)


def test_verify_checks_each_copy_of_a_message_with_its_own_flags(tmp_path):
    """Copies of one message with different flags and dates are all converted, and --verify
    matches each with a copy of its own (it kept one expectation per digest and failed)."""
    md = make_maildir(tmp_path / "md")
    for i, info in enumerate(["S", "FRS", ""]):
        name = md / ("cur" if info else "new") / (f"{i}.x:2,{info}" if info else f"{i}.x")
        name.write_bytes(b"Subject: same\n\nsame body\n")
        os.utime(name, (1_500_000_000 + i, 1_500_000_000 + i))
    for dst in (tmp_path / "box", tmp_path / "md2"):
        report = convert_mailbox(md, dst, ConvertOptions(to_format="mbox" if dst.name == "box" else "maildir",
                                                         verify=True))
        assert (report.converted, report.verified, report.errors) == (3, True, [])


@pytest.mark.parametrize("variant", ["mboxrd", "mboxcl2"])
def test_a_message_without_an_empty_line_survives_the_lossless_variants(tmp_path, variant):
    """A header-only message with no empty line got Content-Length: 0 in mboxcl2, and the
    separator's empty line was then read back as its own (found by fuzzing); and one such
    message among few made the variant sniffer miss mboxcl2 and unquote >From lines."""
    md = make_maildir(tmp_path / "md")
    originals = [b"From: a@example.org\nSubject: no empty line\n>From the minutes: nothing\n",
                 b"From: b@example.org\nSubject: body\n\nFrom here, unquoted\n>From there\n",
                 b"From: c@example.org\nSubject: another\n\ntext\n"]
    for i, data in enumerate(originals):
        (md / "cur" / f"{i}.x:2,S").write_bytes(data)
    box = tmp_path / "box"
    assert convert_mailbox(md, box, ConvertOptions(variant=variant, verify=True)).verified
    with MboxReader(box) as reader:
        assert reader.variant == variant
    convert_mailbox(box, tmp_path / "back", ConvertOptions(verify=True))
    assert sorted(m.data for m in MaildirReader(tmp_path / "back")) == sorted(originals)


@pytest.mark.parametrize("from_date", ["Wed Dec 31 23:59:59 1969", "Wed Dec 31 18:59:59 1969",
                                       "Thu Jan  1 00:00:00 1970"])
def test_a_from_line_at_time_minus_one_or_zero_is_no_delivery_date(tmp_path, from_date):
    """Tools that have no date print time -1 or 0 (mblaze's mexport: 'Wed Dec 31 23:59:59
    1969', in the writer's zone): the Date: header gives the delivery time, or nothing does."""
    src = tmp_path / "box"
    src.write_bytes(mbox_entry(date=from_date)
                    + mbox_entry(date=from_date, headers="From: a@b\nSubject: no date at all\n"))
    report = convert_mailbox(src, tmp_path / "md", ConvertOptions(verify=True))
    assert report.converted == 2 and report.verified is True
    dates = sorted(m.date for m in MaildirReader(tmp_path / "md"))
    assert dates[0] == 1578304800                        # Mon, 6 Jan 2020 10:00:00 +0000
    assert dates[1] > time.time() - 600                  # no date anywhere: the time of the run


def test_thunderbird_gets_its_own_status_headers_on_request(tmp_path, invoke):
    """Thunderbird reads an mbox's state from X-Mozilla-Status and its tags from
    X-Mozilla-Keys; without them it takes only Status, and reads its O as read
    (nsParseMailbox.cpp), so an unread message that is not new would open read."""
    md = tmp_path / "md"
    make_maildir(md)
    (md / "dovecot-keywords").write_bytes(b"0 $label1\n1 project\n")
    states = {"cur/1.a.h:2,S": "0001", "cur/2.a.h:2,RS": "0003", "cur/3.a.h:2,Fab": "0004",
              "cur/4.a.h:2,PS": "1001", "cur/5.a.h:2,": "0000", "new/6.a.h": "0000", "cur/7.a.h:2,ST": "0001"}
    for n, name in enumerate(states):
        (md / name).write_bytes(b"From: a@x\nSubject: %d\nMessage-ID: <%d@x>\n\nbody\n" % (n, n))
    box = tmp_path / "for-thunderbird.mbox"
    r = invoke("convert", "--thunderbird", "--verify", md, box)
    assert r.exit_code == 0, r.output
    with MboxReader(box) as reader:
        read = {split_message(m.data)[0].get(b"message-id"): m for m in reader}
    for n, (name, bits) in enumerate(states.items()):
        msg = read[f"<{n}@x>"]
        head = split_message(msg.data)[0]
        assert head.get_all(b"x-mozilla-status") == [bits], name
        assert head.get_all(b"x-mozilla-keys") == (["$label1 project"] if "Fab" in name else [])
        assert msg.flags == (name.split(",")[-1].upper().replace("AB", "") if ":2," in name else "")
    assert read["<4@x>"].keywords == () and read["<2@x>"].keywords == ("$label1", "project")
    # without the option (an mbox an IMAP server serves: its clients would see the headers)
    plain = tmp_path / "plain.mbox"
    assert invoke("convert", md, plain).exit_code == 0
    assert b"X-Mozilla" not in plain.read_bytes()
