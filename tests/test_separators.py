"""Where an mbox splits (docs/formats.md, "Where an mbox splits"): header blocks, message and
delivery evidence, open multiparts, phantom splits, and bytes before the first From_ line.

Each case is its own small mbox, in bytes; Python's ``mailbox.mbox`` (which splits on every
line that begins ``From ``, as Dovecot and mutt do on these files) is the reference where the
file is unambiguous."""

import io
import json
import mailbox

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mboxtool import MboxReader, detect_format, validate_mailbox
from mboxtool.formats.mboxscan import MboxScanner


def scan(data: bytes, events=None):
    ev = events if events is not None else []
    return list(MboxScanner(io.BytesIO(data), len(data), event=lambda c, **k: ev.append((c, k))))


def python_count(path) -> int:
    box = mailbox.mbox(str(path), create=False)
    try:
        return len(box.keys())
    finally:
        box.close()


def maildir_count(path) -> int:
    return sum(1 for d in ("new", "cur") for _ in (path / d).iterdir())


def write(tmp_path, data: bytes, name="box"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def message(headers: str, body: str = "text\n") -> bytes:
    return f"{headers}\n{body}".encode()


FULL = ("From: {who}@example.org\nTo: you@example.net\nSubject: {subject}\n"
        "Date: Tue, 7 Jan 2020 10:00:00 +0000\nMessage-ID: <{subject}@example.org>\n")


def full(who: str, subject: str, body: str = "text\n") -> bytes:
    return message(FULL.format(who=who, subject=subject), body)


SMARCH = (b"From alice@example.org Mon Jan  6 10:00:00 2020\n" + full("alice", "first") + b"\n"
          + b"From alice@example.org Someday in the 31st of Smarch\n" + full("alice", "second"))
PLACEHOLDER = (b"From alice@example.org Mon Jan  6 10:00:00 2020\n" + full("alice", "first")
               + b"From MAILER-DAEMON Mon Jan 00 00:00:00 0000\n" + full("mailer", "second"))


@pytest.mark.parametrize("data, warnings", [
    (SMARCH, {"bad-from-date"}),
    (PLACEHOLDER, {"bad-from-date", "from-line-without-blank"}),
])
def test_an_undated_or_placeholder_from_line_before_full_headers_separates(tmp_path, data, warnings):
    path = write(tmp_path, data)
    assert python_count(path) == 2
    msgs = scan(data)
    assert [m.headers.get(b"subject") for m in msgs] == ["first", "second"]
    assert msgs[0].data.endswith(b"\ntext\n")
    report = validate_mailbox(path)
    assert report.messages == 2 and report.count("error") == 0
    assert {p.code for p in report.problems} == warnings
    with MboxReader(path) as reader:
        second = list(reader)[1]
    assert (second.date, second.date_source) == (1578391200, "date-header")    # from Date:, not the From_ line


PHP_LIKE = (
    b"From alice@example.org Mon Jan  6 10:00:00 2020\n" + full("alice", "one") + b"\n"
    + b"From alice@example.org Someday in the 31st of Smarch\n" + full("alice", "two") + b"\n"
    + b"From bob@example.org Mon Jan  6 11:00:00 2020\n" + full("bob", "three")
    + b"From MAILER-DAEMON Mon Jan 00 00:00:00 0000\n" + full("mailer", "four") + b"\n"
    + b"From carol@example.org\nReturn-Path: <carol@example.org>\n" + full("carol", "five") + b"\n"
    + b"From - Mon Jul 11 12:08:34 2011\n" + full("dave", "six") + b"\n"
    + b"From erin@example.org Tue Jan  7 10:00:00 2020\n" + full("erin", "seven"))


def test_seven_messages_with_odd_from_lines_are_seven(tmp_path, invoke):
    path = write(tmp_path, PHP_LIKE)
    assert python_count(path) == 7
    rows = [json.loads(line) for line in invoke("list", "--json", path).stdout.splitlines()]
    assert [r["subject"] for r in rows] == ["one", "two", "three", "four", "five", "six", "seven"]
    r = invoke("validate", "--json", path)
    assert r.exit_code == 0 and json.loads(r.stdout)["messages"] == 7
    fixed = tmp_path / "fixed"
    assert invoke("repair", path, fixed).exit_code == 0
    assert python_count(fixed) == 7 and b">From alice@example.org Someday" not in fixed.read_bytes()
    assert invoke("convert", "--json", path, tmp_path / "md").exit_code == 0
    assert maildir_count(tmp_path / "md") == 7


def postfix(n: int, extra: str = "", body: str = "Hello.\n") -> bytes:
    """A delivery as Postfix local(8) writes it: two spaces in the From_ line, its own headers."""
    return (f"From sender{n}@example.org  Tue Jan  7 1{n}:00:00 2020\n"
            f"Return-Path: <sender{n}@example.org>\nX-Original-To: user@example.net\n"
            f"Delivered-To: user@example.net\n"
            f"Received: by mail.example.net (Postfix, from userid 1000)\n\tid 4A1B2C{n}; "
            f"Tue,  7 Jan 2020 1{n}:00:00 +0000 (UTC)\n"
            f"From: Sender {n} <sender{n}@example.org>\nTo: user@example.net\nSubject: delivery {n}\n"
            f"Date: Tue, 7 Jan 2020 1{n}:00:00 +0000\nMessage-ID: <{n}@example.org>\n{extra}\n{body}\n").encode()


HOSTILE = (postfix(1, 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="-"\n',
                   "---\nContent-Type: text/plain\n\nBuy now.\n")
           + postfix(2) + postfix(3, body="> -----Original Message-----\n> earlier\n")
           + postfix(4, body="-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n"))


def test_a_multipart_that_never_closes_does_not_swallow_later_deliveries(tmp_path, invoke):
    spool = write(tmp_path, HOSTILE, "user")
    assert python_count(spool) == 4
    rows = [json.loads(line) for line in invoke("list", "--json", spool).stdout.splitlines()]
    assert [r["subject"] for r in rows] == [f"delivery {n}" for n in range(1, 5)]
    doc = json.loads(invoke("validate", "--json", spool).stdout)
    assert doc["messages"] == 4
    assert ("broken-mime-boundary", "1") in [(p["code"], p.get("key")) for p in doc["problems"]]
    r = invoke("convert", "--json", "--move", spool, tmp_path / "md")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["converted"] == 4
    assert maildir_count(tmp_path / "md") == 4
    assert spool.read_bytes() == b""


PATCH_MAIL = (
    b"From dev@example.org Mon Jan  6 10:00:00 2020\nFrom: Dev <dev@example.org>\nSubject: a patch\n"
    b"Date: Mon, 6 Jan 2020 10:00:00 +0000\nMIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=\"=-=-=\"\n\n"
    b"--=-=-=\nContent-Type: text/plain\n\nSee the attached patch.\n\n"
    b"--=-=-=\nContent-Type: text/x-diff\nContent-Disposition: inline; filename=fix.patch\n\n"
    b"From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001\n"
    b"From: Dev <dev@example.org>\nDate: Mon, 6 Jan 2020 09:00:00 +0000\nSubject: [PATCH] fix\n\n"
    b"---\n a | 1 +\n\ndiff --git a/a b/a\n--=-=-=--\n")


def test_a_format_patch_attachment_is_body_and_a_phantom_split_for_other_readers(tmp_path, invoke):
    box = write(tmp_path, PATCH_MAIL + b"\n" + full("x", "next").join([b"From x@example.org Tue Jan  7 10:00:00 2020\n", b""]))
    assert [m.headers.get(b"subject") for m in scan(box.read_bytes())] == ["a patch", "next"]
    assert python_count(box) == 3                      # the line other readers split on
    at = box.read_bytes().index(b"From 0123456789")
    r = invoke("validate", "--json", box)
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["messages"] == 2
    line = box.read_bytes()[:at].count(b"\n") + 1
    assert [(p["code"], p["severity"], p["line"], p["offset"]) for p in doc["problems"]] == [
        ("possible-phantom-split", "error", line, at)]
    assert invoke("validate", box).stdout.rstrip().endswith("NOT OK")
    info = invoke("info", "--json", box)                  # info names the same damage
    assert json.loads(info.stdout)["damage"] == {"possible-phantom-split": 1}
    fixed = tmp_path / "fixed"
    rep = invoke("repair", "--json", box, fixed)
    assert rep.exit_code == 0
    assert "possible-phantom-split" in {f["code"] for f in json.loads(rep.stdout)["repaired"]}
    assert b"\n>From 0123456789" in fixed.read_bytes() and python_count(fixed) == 2
    assert invoke("validate", fixed).exit_code == 0


def test_header_like_lines_without_message_headers_inside_a_multipart_are_a_phantom_split(tmp_path, invoke):
    body = (b"--b\nContent-Type: text/plain\n\nquoted archive:\n\n"
            b"From archive Mon Jan  6 09:00:00 2020\nX-Archived: yes\nX-Folder: old\n\nentry\n--b--\n")
    data = (b"From a@example.org Mon Jan  6 10:00:00 2020\nFrom: a@example.org\nSubject: s\n"
            b"Content-Type: multipart/mixed; boundary=b\n\n" + body)
    box = write(tmp_path, data)
    assert python_count(box) == 2 and len(scan(data)) == 1
    report = validate_mailbox(box)
    phantom = [p for p in report.problems if p.code == "possible-phantom-split"]
    at = data.index(b"From archive")
    assert [(p.severity, p.line, p.offset) for p in phantom] == [("error", data[:at].count(b"\n") + 1, at)]
    assert not report.ok


def test_a_delivery_inside_an_unclosed_multipart_splits_but_an_attached_message_does_not():
    opened = (b"From a@example.org Mon Jan  6 10:00:00 2020\nFrom: a\nSubject: s\n"
              b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nx\n\n")
    attached = b"From c@example.org Mon Jan  6 11:00:00 2020\nFrom: c\nDate: d\nSubject: att\n\nbody\n--b--\n"
    delivered = attached.replace(b"From: c\n", b"Delivered-To: me@example.org\nFrom: c\n")
    assert len(scan(opened + attached)) == 1
    assert len(scan(opened + delivered)) == 2


@pytest.mark.parametrize("data", [
    # a dated line without an empty line before it, then one header-like line: no header block
    b"From a@b Mon Jan  6 10:00:00 2020\nSubject: s\n\nbody\nFrom x@y Mon Jan  6 10:00:00 2020\nNote: this\nmore\n",
    # an undated line after an empty line, then a header block without message evidence
    b"From a@b Mon Jan  6 10:00:00 2020\nSubject: s\n\nbody\n\nFrom the agenda\nItem: one\nItem: two\n\nend\n",
])
def test_from_lines_the_rule_leaves_in_the_body(data):
    events = []
    assert len(scan(data, events)) == 1
    assert [c for c, _ in events] == ["unescaped-from-line"]


def test_a_dated_line_inside_the_span_of_a_content_length_with_no_header_is_a_phantom():
    body = b"one\n\nFrom x@y Mon Jan  6 10:00:00 2020\nplain text\n"
    data = (b"From a@b Mon Jan  6 10:00:00 2020\nSubject: s\nContent-Length: %d\n\n" % (len(body) + 5)
            + body)
    events = []
    assert len(scan(data, events)) == 1
    assert [(c, k.get("phantom")) for c, k in events if c != "content-length-mismatch"] == [
        ("unescaped-from-line", True)]
    # a header block with message evidence under it: a message after all
    with_header = data.replace(b"plain text\n", b"From: x@y\nSubject: t\n\nplain text\n")
    assert len(scan(with_header)) == 2


LEADING_HEADER = (b"Subject: first\nFrom: a@example.org\n\nbody one\n\n"
                  b"From b@example.org Mon Jan  1 00:00:00 2001\nFrom: b@example.org\nSubject: second\n\ntwo\n")


def test_leading_message_without_a_from_line_loses_the_separators_empty_line(tmp_path, invoke):
    box = write(tmp_path, LEADING_HEADER)
    msgs = scan(LEADING_HEADER)
    assert msgs[0].garbage and msgs[0].data == b"Subject: first\nFrom: a@example.org\n\nbody one\n"
    shown = invoke("show", box, "1")
    assert shown.stdout.encode().endswith(b"body one\n"), shown.stdout
    r = invoke("convert", "--json", box, tmp_path / "md")
    assert r.exit_code == 0 and json.loads(r.stdout)["converted"] == 2
    files = [p.read_bytes() for d in ("new", "cur") for p in (tmp_path / "md" / d).iterdir()]
    assert sorted(f.split(b"\n\n", 1)[1] for f in files) == [b"body one\n", b"two\n"]
    assert invoke("repair", box, tmp_path / "fixed").exit_code == 0
    fixed = mailbox.mbox(str(tmp_path / "fixed"), create=False)
    try:
        assert fixed[0].get_payload() == "body one\n"
    finally:
        fixed.close()


PROSE = b"This file was saved by an editor.\n\n"


def test_prose_then_an_mbox_is_a_damaged_mbox_to_every_command(tmp_path, invoke):
    box = write(tmp_path, PROSE + SMARCH)
    assert detect_format(box) == "mbox"
    info = json.loads(invoke("info", "--json", box).stdout)
    assert info["messages"] == 2 and info["outside_bytes"] == len(PROSE)
    v = invoke("validate", "--json", box)
    assert v.exit_code == 1
    assert "garbage-before-first-from" in {p["code"] for p in json.loads(v.stdout)["problems"]}
    rows = [json.loads(line) for line in invoke("list", "--json", box).stdout.splitlines()]
    assert [r["subject"] for r in rows][-2:] == ["first", "second"]
    rep = json.loads(invoke("repair", "--json", box, tmp_path / "fixed").stdout)
    assert "garbage-before-first-from" in {f["code"] for f in rep["repaired"]}
    assert (tmp_path / "fixed.orphan").read_bytes() == PROSE
    r = invoke("convert", "--json", box, tmp_path / "md")
    assert r.exit_code == 1, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["source_format"], doc["converted"], doc["failed"]) == ("mbox", 2, 1)
    assert [(e["offset"], e["length"]) for e in doc["errors"]] == [(0, len(PROSE))]
    assert "garbage-before-first-from" in {w["code"] for w in doc["warnings"]}


def test_a_single_message_with_an_attached_patch_is_no_mbox(tmp_path):
    # the leading bytes are a message, and the From_ line lies inside its open multipart
    one = write(tmp_path, PATCH_MAIL.split(b"\n", 1)[1])
    with pytest.raises(Exception, match="not a known mailbox format"):
        detect_format(one)


def test_a_placeholder_date_separates_header_only_messages_too():
    data = (b"From a@b Mon Jan  6 10:00:00 2020\nSubject: one\nX-A: 1\n"
            b"From MAILER-DAEMON Mon Jan 00 00:00:00 0000\nSubject: two\nX-B: 2\n")
    assert [m.data for m in scan(data)] == [b"Subject: one\nX-A: 1\n", b"Subject: two\nX-B: 2\n"]


@pytest.mark.parametrize("chunk", [8, 33, 64, 1 << 20])
@pytest.mark.parametrize("crlf", [False, True])
def test_the_rule_finds_the_same_messages_at_any_read_size_and_line_end(monkeypatch, chunk, crlf):
    import mboxtool.formats.mboxwindow as ms
    monkeypatch.setattr(ms, "CHUNK", chunk)
    for data, n in ((PHP_LIKE, 7), (HOSTILE, 4), (PROSE + SMARCH, 3), (LEADING_HEADER, 2),
                    (PATCH_MAIL, 1)):
        if crlf:
            data = data.replace(b"\n", b"\r\n")
        msgs = scan(data)
        assert len(msgs) == n
        assert all(data[m.data_offset:m.data_offset + len(m.data)] == m.data for m in msgs)


KINDS = {
    "dated": b"From k@example.org Mon Jan  6 10:00:00 2020\n" + full("k", "dated"),
    "undated": b"From k@example.org Someday in the 31st of Smarch\n" + full("k", "undated"),
    "bare": b"From \n" + full("k", "bare"),
    "postfix": postfix(5),
    "patch": PATCH_MAIL,                 # its attachment's From_ line is body text here, a split to Python
    "hostile": postfix(6, 'Content-Type: multipart/mixed; boundary="-"\n', "---\n\nspam\n"),
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=8),
       no_blank=st.lists(st.booleans(), min_size=8, max_size=8), chunk=st.sampled_from([16, 97, 1 << 20]))
def test_property_the_rule_agrees_with_python_but_for_attached_patches(tmp_path_factory, kinds, no_blank,
                                                                      chunk):
    import mboxtool.formats.mboxwindow as ms
    parts = []
    for i, kind in enumerate(kinds):
        entry = KINDS[kind] if kind != "hostile" or i == len(kinds) - 1 else KINDS[kind] + b"\n"
        # a dated separator may lose its empty line; the others keep it (the rule needs it)
        blank = b"" if i and no_blank[i] and kind in ("dated", "postfix") else b"\n"
        parts.append((blank if i else b"") + entry.rstrip(b"\n") + b"\n")
    data = b"".join(parts)
    path = tmp_path_factory.mktemp("k") / "box"
    path.write_bytes(data)
    old, ms.CHUNK = ms.CHUNK, chunk
    try:
        msgs = scan(data)
    finally:
        ms.CHUNK = old
    assert len(msgs) == python_count(path) - kinds.count("patch")
    assert [m.headers.get(b"subject") is not None for m in msgs] == [True] * len(msgs)


def test_an_undated_separator_without_date_header_takes_the_newest_received(tmp_path):
    data = (b"From a@example.org Mon Jan  6 10:00:00 2020\n" + full("a", "first") + b"\n"
            b"From b@example.org Someday in the 31st of Smarch\nReturn-Path: <b@example.org>\n"
            b"Received: by mx.example.net; Wed, 8 Jan 2020 09:00:00 +0000\n"
            b"Received: by relay.example.org; Wed, 8 Jan 2020 08:59:00 +0000\n"
            b"From: b@example.org\nSubject: second\n\ntext\n")
    path = write(tmp_path, data)
    assert python_count(path) == 2
    with MboxReader(path) as reader:
        second = list(reader)[1]
    assert (second.date, second.date_source) == (1578474000, "received")
