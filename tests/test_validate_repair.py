"""validate finds each damage kind at its position; repair fixes it without losing a byte of mail."""

import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mboxtool import MboxReader, repair_mailbox, validate_mailbox
from mboxtool.model.message import strip_metadata

from .conftest import SAMPLES, make_maildir, mbox_entry


def codes(report, severity=None):
    return [(p.code, p.line) for p in report.problems if severity is None or p.severity == severity]


def write(tmp_path, data, name="box"):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def messages(path):
    with MboxReader(path) as r:
        return [strip_metadata(m.data) for m in r]


CLEAN = mbox_entry(body="one\n") + mbox_entry(body="two\n")


def test_clean_mbox_has_no_problems(tmp_path):
    report = validate_mailbox(write(tmp_path, CLEAN))
    assert report.problems == [] and report.passes(strict=True) and report.messages == 2


@pytest.mark.parametrize("data, code, line", [
    (b"junk\n" + CLEAN, "garbage-before-first-from", 1),
    (mbox_entry(body="a\n\nFrom the start\n") + CLEAN, "unescaped-from-line", 8),
    (mbox_entry(body="a\n\nFrom x Mon Jan  6 10:00:00 2020\nmore text\n"), "possible-phantom-split", 8),
    (mbox_entry(body="a\n").rstrip(b"\n") + b"\n" + mbox_entry(), "from-line-without-blank", 7),
    (CLEAN.replace(b"two\n", b"two\n" + b"\x00" * 600), "nul-run", 14),
    (CLEAN.rstrip(b"\n"), "missing-final-newline", 8),
    (mbox_entry(headers="From: a@b\nContent-Length: 999\n") + CLEAN, "content-length-mismatch", 1),
    (mbox_entry(date="garbage here") + CLEAN, "bad-from-date", 1),
    (mbox_entry(headers="From: a@b\nthis is no header\n") , "missing-header-separator", 3),
    (mbox_entry(body="x" * 1200 + "\n"), "long-line", 6),
    (CLEAN + mbox_entry(body="one\n"), "duplicate-message", 15),
    (mbox_entry(headers="From: a@b\nContent-Type: multipart/mixed; boundary=zz\n", body="--zz\n\nx\n")
     + mbox_entry(), "broken-mime-boundary", 1),
    (CLEAN.replace(b"\n", b"\r"), "cr-line-endings", 1),
    (mbox_entry(headers="From: a@b\r\nSubject: s\n"), "mixed-line-endings", 1),
    (mbox_entry(body="last line without newlineFrom x Mon Jan  6 10:00:00 2020\nSubject: glued\n"), "glued-from-line", 6),
    (mbox_entry(headers="From: \xe9\n".encode("latin-1").decode("latin-1")), "header-8bit", 1),
    (b"From a@b Mon Jan  6 10:00:00 2020\nFrom  :<x@example.com>\nSubject: s\n\nb\n", "from-line-in-header", 2),
    (mbox_entry(sender="j\xe9r\xf4me@example.org") + CLEAN, "non-ascii-from-line", 1),
    (b"From a@b Mon Jan  6 10:00:00 2020\n\n" + CLEAN, "empty-message", 1),
    (mbox_entry(body="y" * (1 << 20) + "yy\n"), "very-long-line", 6),
    (mbox_entry(body="a\n>From quoted\n") + mbox_entry(body="b\n\nFrom raw text\n"), "mixed-quoting", None),
    (mbox_entry(headers="From: a\r\nSubject: s\r\n").replace(b"\n\nhi\n", b"\r\n\r\nhi\r\n")
     + CLEAN, "mixed-line-endings", None),
])
def test_each_damage_kind_is_found_at_its_line(tmp_path, data, code, line):
    report = validate_mailbox(write(tmp_path, data), "mbox")
    assert (code, line) in codes(report), codes(report)


def test_pseudo_message_is_info(tmp_path):
    pseudo = (b"From MAILER-DAEMON Mon Jan  6 10:00:00 2020\nDate: Mon, 6 Jan 2020 10:00:00 +0000\n"
              b"From: Mail System Internal Data <MAILER-DAEMON@host>\n"
              b"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nX-IMAP: 1 2\nStatus: RO\n\n"
              b"This text is part of the internal format of your mail folder.\n\n")
    report = validate_mailbox(write(tmp_path, pseudo + CLEAN))
    assert [(p.code, p.severity, p.line) for p in report.problems] == [("pseudo-message", "info", 1)]
    rep = repair_mailbox(tmp_path / "box", tmp_path / "out")
    assert len(messages(tmp_path / "out")) == 2 and "pseudo-message" in {x["code"] for x in rep.repaired}


def test_repair_normalises_mixed_line_ends_to_the_majority(tmp_path):
    crlf = mbox_entry(body="x\n").replace(b"\n", b"\r\n")
    src = write(tmp_path, CLEAN + mbox_entry(body="three\n") + crlf)
    rep = repair_mailbox(src, tmp_path / "out")
    assert "mixed-line-endings" in {x["code"] for x in rep.repaired}
    assert b"\r" not in (tmp_path / "out").read_bytes()
    assert validate_mailbox(tmp_path / "out").problems == []


@pytest.mark.parametrize("glue", [b"\x00" * 4096, b"\n\n" + b"\x00" * 600, b"", b"\n" + b"\x00" * 300],
                         ids=["nul-run", "blank-then-nul-run", "no-newline", "short-nul-run"])
def test_repair_gives_a_glued_from_line_its_message_back(tmp_path, glue):
    """A From_ line glued onto a NUL run (a crashed append) or onto a last line without its
    newline is a message of its own: the copy has every message once, its bytes unchanged."""
    first = mbox_entry(body="one\n>From quoted\n")
    src = write(tmp_path, first.rstrip(b"\n") + glue + mbox_entry(body="two\n>>From quoted twice\n")
                + mbox_entry(body="three\n"))
    assert "glued-from-line" in {c for c, _ in codes(validate_mailbox(src))} or glue.startswith(b"\n\n")
    rep = repair_mailbox(src, tmp_path / "out")
    assert "glued-from-line" in {x["code"] for x in rep.repaired}
    bodies = [m.split(b"\n\n", 1)[1] for m in messages(tmp_path / "out")]
    assert bodies == [b"one\nFrom quoted\n", b"two\n>From quoted twice\n", b"three\n"]      # read back unquoted
    assert validate_mailbox(tmp_path / "out").problems == []


def test_repair_marks_a_cut_off_message_and_validate_then_knows_it(tmp_path):
    """A truncated last message cannot be made whole: repair keeps it, marks it $Truncated, and
    validate on the copy reports it as known (info), so the copy validates without errors."""
    cut = mbox_entry(headers="From: a@b\nContent-Type: multipart/mixed; boundary=zz\n",
                     body="--zz\n\npart one\n--zz\n\npart two, cut off mid-li")
    src = write(tmp_path, CLEAN + cut.rstrip(b"\n"))
    assert ("truncated-message", "error") in [(p.code, p.severity) for p in validate_mailbox(src).problems]
    rep = repair_mailbox(src, tmp_path / "out")
    assert "truncated-message" in {x["code"] for x in rep.repaired} and rep.ok
    with MboxReader(tmp_path / "out") as r:
        msgs = list(r)
    assert [m.keywords for m in msgs] == [(), (), ("$Truncated",)]
    assert strip_metadata(msgs[2].data).endswith(b"part two, cut off mid-li\n")
    after = validate_mailbox(tmp_path / "out")
    assert after.ok and ("truncated-message", "info") in [(p.code, p.severity) for p in after.problems]


def test_repair_cuts_a_short_nul_run_that_the_cut_of_a_later_one_leaves_at_the_end(tmp_path):
    """Two runs at a cut-off end: once the long last run is cut, the short one before it ends
    the message and is damage too; the copy must not keep it (found by fuzzing)."""
    src = write(tmp_path, CLEAN + mbox_entry(body="cut off in the midd").rstrip(b"\n")
                + b"\x00" * 100 + b"\n\n" + b"\x00" * 600)
    rep = repair_mailbox(src, tmp_path / "out")
    assert [x["code"] for x in rep.repaired].count("nul-run") == 2
    assert b"\x00" not in (tmp_path / "out").read_bytes()
    assert "nul-run" not in {p.code for p in validate_mailbox(tmp_path / "out").problems}


def test_repair_cr_only_file(tmp_path):
    src = write(tmp_path, CLEAN.replace(b"\n", b"\r"))
    rep = repair_mailbox(src, tmp_path / "out")
    assert "cr-line-endings" in {x["code"] for x in rep.repaired}
    assert len(messages(tmp_path / "out")) == 2 and b"\r" not in (tmp_path / "out").read_bytes()


def test_maildir_stale_tmp_and_permissions(tmp_path):
    md = tmp_path / "md"
    make_maildir(md)
    old = md / "tmp" / "123.abandoned"
    old.write_bytes(b"Subject: half\n")
    t = time.time() - 40 * 3600
    os.utime(old, (t, t))
    (md / "new" / "1.x").write_bytes(b"Subject: s\n\nb\n")
    os.chmod(md / "new" / "1.x", 0o644)
    found = {(p.code, p.key) for p in validate_mailbox(md).problems}
    assert ("stale-tmp-file", "tmp/123.abandoned") in found
    assert ("insecure-permissions", "new/1.x") in found


def test_concatenated_mbox(tmp_path):
    first = b"".join(mbox_entry(date=f"Mon Jan  {d} 10:00:00 2020", body=f"{d}\n") for d in range(6, 10))
    second = (mbox_entry(date="Wed Jan  1 10:00:00 2014", headers="From: b@c\nX-IMAPbase: 1 2\n")
              + mbox_entry(date="Thu Jan  2 10:00:00 2014"))
    report = validate_mailbox(write(tmp_path, first + second))
    found = [(p.code, p.severity, p.line) for p in report.problems if p.code == "concatenated-mbox"]
    line = (first.count(b"\n")) + 1
    assert ("concatenated-mbox", "warning", line) in found and ("concatenated-mbox", "info", line) in found


def test_stale_dotlock_is_reported(tmp_path):
    box = write(tmp_path, CLEAN)
    lock = tmp_path / "box.lock"
    lock.write_text("999999 " + os.uname().nodename + "\n")
    assert "stale-dotlock" in [c for c, _ in codes(validate_mailbox(box))]


def test_offsets_point_at_the_damage(tmp_path):
    data = mbox_entry(body="a\n\nFrom the start\n") + CLEAN
    report = validate_mailbox(write(tmp_path, data))
    p = [p for p in report.problems if p.code == "unescaped-from-line"][0]
    assert data[p.offset:p.offset + 14] == b"From the start"


def test_maildir_damage(tmp_path):
    md = tmp_path / "md"
    (md / "cur").mkdir(parents=True)
    (md / "new").mkdir()
    (md / "cur" / "1.a:2,SF").write_bytes(b"Subject: x\n\nx\n")
    (md / "cur" / "2.b").write_bytes(b"")
    (md / "new" / "3.c:2,S").write_bytes(b"Subject: y\n\ny\n")
    (md / "cur" / "1.a:2,S").write_bytes(b"Subject: x\n\nx\n")
    (md / "cur" / "4.d,S=99:2,Sa").write_bytes(b"not a message\n")
    for p in list((md / "cur").iterdir()) + list((md / "new").iterdir()):
        os.chmod(p, 0o600)
    os.chmod(md, 0o700)
    report = validate_mailbox(md)
    found = {p.code for p in report.problems}
    assert {"missing-subdir", "bad-flag-order", "empty-file", "missing-info", "info-in-new",
            "duplicate-unique", "bad-size-field", "keyword-without-mapping", "not-a-message"} <= found
    assert "insecure-permissions" not in found


def test_cli_validate_json_and_exit_codes(invoke, tmp_path):
    bad = write(tmp_path, b"junk\n" + CLEAN)
    r = invoke("validate", "--json", bad)
    doc = json.loads(r.stdout)
    assert r.exit_code == 1 and doc["ok"] is False and doc["format"] == "mbox"
    assert {"path", "format", "variant", "messages", "ok", "problems"} <= set(doc)
    assert doc["problems"][0]["code"] == "garbage-before-first-from"
    good = write(tmp_path, CLEAN, "good")
    assert invoke("validate", good).exit_code == 0
    warn_only = write(tmp_path, mbox_entry(body="a\n\nFrom the start\n"), "warn")
    assert invoke("validate", warn_only).exit_code == 0
    assert invoke("validate", "--strict", warn_only).exit_code == 1
    assert invoke("validate", tmp_path / "missing").exit_code == 2


def test_repair_fixes_sample_and_keeps_every_message(tmp_path, invoke):
    dst = tmp_path / "fixed.mbox"
    r = invoke("repair", "--json", SAMPLES / "damaged.mbox", dst)
    assert r.exit_code == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    fixed = {x["code"] for x in doc["repaired"]}
    assert {"garbage-before-first-from", "nul-run", "unescaped-from-line", "content-length-mismatch"} <= fixed
    after = validate_mailbox(dst)
    assert after.count("error") == 0
    assert len(messages(dst)) == 3
    src_bytes = (SAMPLES / "damaged.mbox").read_bytes()
    for m in messages(dst):
        body = m.split(b"\n\n", 1)[1].rstrip(b"\n")
        assert body in src_bytes                         # every byte of the mail is still there


def test_repair_refuses_existing_destination(invoke, tmp_path):
    dst = write(tmp_path, b"x", "exists")
    r = invoke("repair", SAMPLES / "damaged.mbox", dst)
    assert r.exit_code == 2 and dst.read_bytes() == b"x"


def test_repair_dedupe(tmp_path):
    src = write(tmp_path, CLEAN + mbox_entry(body="one\n"))
    rep = repair_mailbox(src, tmp_path / "out", dedupe=True)
    assert len(messages(tmp_path / "out")) == 2 and "duplicate-message" in {x["code"] for x in rep.repaired}


BODY_LINES = st.lists(st.sampled_from(["hello", "", "> quoted", "From the team", "x = 1", "--"]),
                      min_size=1, max_size=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bodies=st.lists(BODY_LINES, min_size=1, max_size=5))
def test_property_generated_clean_mbox_has_no_errors(tmp_path_factory, bodies):
    path = tmp_path_factory.mktemp("v") / "box"
    data = b"".join(mbox_entry(sender=f"u{i}@example.org", body="\n".join(b) + "\n")
                    for i, b in enumerate(bodies))
    path.write_bytes(data.replace(b"\nFrom the team", b"\n>From the team"))
    report = validate_mailbox(path)
    assert report.count("error") == 0 and report.messages == len(bodies)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bodies=st.lists(st.lists(st.sampled_from(["hello", "x = 1", "> quoted"]), min_size=2, max_size=6),
                       min_size=1, max_size=4), which=st.integers(0, 100), where=st.integers(0, 100))
def test_property_inserted_from_line_is_one_phantom_split_and_repair_restores(tmp_path_factory, bodies,
                                                                              which, where):
    base = tmp_path_factory.mktemp("p")
    entries = [mbox_entry(sender=f"u{i}@example.org", body="\n".join(b) + "\n") for i, b in enumerate(bodies)]
    target = which % len(entries)
    head, body = entries[target].split(b"\n\n", 1)
    lines = body.split(b"\n")
    pos = 1 + where % (len(bodies[target]) - 1)          # between two body lines
    lines[pos:pos] = [b"", b"From intruder@example.org Tue Jan  7 10:00:00 2020"]
    entries[target] = head + b"\n\n" + b"\n".join(lines)
    data = b"".join(entries)
    box = base / "box"
    box.write_bytes(data)
    line_no = data[:data.index(b"From intruder")].count(b"\n") + 1
    report = validate_mailbox(box)
    errors = codes(report, "error")
    assert errors == [("possible-phantom-split", line_no)]
    repair_mailbox(box, base / "fixed")
    assert len(messages(base / "fixed")) == len(bodies)
    assert validate_mailbox(base / "fixed").count("error") == 0


@pytest.mark.parametrize("fmt", ["mbox", "maildir"])          # a file and a directory source
def test_repair_onto_a_full_disk_leaves_no_copy_and_exits_2(tmp_path, invoke, small_disk, fmt):
    src = tmp_path / "in.mbox"
    src.write_bytes(b"".join(mbox_entry(body=f"message {i}\n" + "x" * 8000 + "\n") for i in range(300)))
    if fmt == "maildir":
        assert invoke("convert", "-q", src, tmp_path / "md").exit_code == 0
        src = tmp_path / "md"
    dst = small_disk.path / "copy"
    result = invoke("repair", src, dst)
    assert result.exit_code == 2
    assert f"{dst}: cannot write the repaired copy: No space left on device" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not dst.exists()
    small_disk.grow()
    again = invoke("repair", src, dst)
    assert again.exit_code == 0, again.stderr
    from mboxtool import MaildirReader
    with MboxReader(dst) if fmt == "mbox" else MaildirReader(dst) as reader:
        assert len(list(reader)) == 300


def test_repair_write_failure_is_one_line_and_exit_2(tmp_path, invoke, monkeypatch):
    """The same without root: the copy's writes fail as on a full disk."""
    import errno

    import mboxtool.formats.mboxwriter as mbox_mod

    def full(fd, buffers, offset):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(mbox_mod.os, "pwritev", full)
    dst = tmp_path / "copy.mbox"
    result = invoke("repair", SAMPLES / "damaged.mbox", dst)
    assert result.exit_code == 2 and not dst.exists()
    assert not Path(f"{dst}.orphan").exists()         # the sample's leading garbage went there first
    assert result.stderr.strip().splitlines() == [
        f"Error: {dst}: cannot write the repaired copy: No space left on device; the partial copy was removed"]


def test_an_mmdf_message_that_lost_its_delimiter_is_found_converted_and_repaired(tmp_path, invoke):
    """A lost opening ^A^A^A^A shifts the pairing: the message after it, and every other one
    after that, lay between two pairs and were dropped without a word (validate said OK)."""
    d = b"\x01\x01\x01\x01\n"
    box = tmp_path / "box.mmdf"
    box.write_bytes(d + b"Subject: one\n\n1\n" + d + b"not a message\n" + d + b"Subject: two\n\n2\n" + d +
                    b"Subject: three\n\n3\n" + d)                      # three lost its opening line
    r = invoke("validate", "--json", box)
    assert r.exit_code == 1
    offsets = [p["offset"] for p in json.loads(r.stdout)["problems"] if p["code"] == "text-outside-messages"]
    assert [box.read_bytes()[o:o + 12] for o in offsets] == [b"not a messag", b"Subject: thr"]
    r = invoke("convert", "--json", box, tmp_path / "out.mbox")
    doc = json.loads(r.stdout)
    assert (r.exit_code, doc["converted"], doc["failed"]) == (1, 3, 1)     # the junk: failed, not lost
    r = invoke("repair", box, tmp_path / "fixed.mmdf")
    assert r.exit_code == 1                                                # the junk is left, and said so
    assert "fixed   text-outside-messages" in r.stdout
    assert invoke("validate", tmp_path / "fixed.mmdf").exit_code == 0


def test_a_babyl_entry_behind_a_broken_separator_is_found_and_stray_text_named(tmp_path, invoke):
    """The stdlib starts a Babyl entry only at a line that is exactly \\037\\014: text after an
    entry's \\037 hid the next entry from it, and the message was lost without a word."""
    from mboxtool import ConvertOptions, convert_mailbox

    from .conftest import SAMPLES
    good = tmp_path / "good.babyl"
    convert_mailbox(SAMPLES / "inbox.mbox", good, ConvertOptions(to_format="babyl", fsync=False))
    data = good.read_bytes()
    second_end = data.index(b"\x1f", data.index(b"\x1f", data.index(b"\x1f") + 1) + 1)
    damaged = tmp_path / "damaged.babyl"
    damaged.write_bytes(data[:second_end + 1] + b"\nstray text\n" + data[second_end + 1:])
    r = invoke("validate", "--json", damaged)
    assert r.exit_code == 1
    assert [p["code"] for p in json.loads(r.stdout)["problems"]].count("text-outside-messages") == 2
    for box, name in ((good, "good.mbox"), (damaged, "damaged.mbox")):
        r = invoke("convert", "--quiet", box, tmp_path / name)
    assert r.exit_code == 1                                          # the stray text: failed, not lost

    def messages(path):
        with MboxReader(path) as reader:
            return [(m.data, m.flags, m.keywords) for m in reader]
    assert messages(tmp_path / "damaged.mbox") == messages(tmp_path / "good.mbox")
    assert len(messages(tmp_path / "good.mbox")) == 5


def test_babyl_labels_keep_the_bytes_of_non_ascii_keywords(tmp_path):
    from mboxtool import ConvertOptions, MaildirReader, convert_mailbox
    md = tmp_path / "md"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True)
    (md / "dovecot-keywords").write_bytes("0 café\n1 日本\n".encode())
    (md / "cur" / "1.M1.h:2,Sab").write_bytes(b"Subject: s\n\nbody\n")
    convert_mailbox(md, tmp_path / "box.babyl", ConvertOptions(to_format="babyl", fsync=False))
    convert_mailbox(tmp_path / "box.babyl", tmp_path / "back", ConvertOptions(to_format="maildir", fsync=False))
    with MaildirReader(tmp_path / "back") as reader:
        assert [sorted(m.keywords) for m in reader] == [sorted(["café", "日本"])]   # not cafÃ©


def test_a_byte_order_mark_before_the_first_from_line(tmp_path, invoke):
    """An editor's UTF-8 BOM made the file 'not a known mailbox format' (and with --from mbox
    the first message a failed piece of garbage)."""
    box = tmp_path / "bom.mbox"
    box.write_bytes(b"\xef\xbb\xbf" + mbox_entry(body="one\n") + mbox_entry(body="two\n"))
    r = invoke("validate", "--json", box)
    doc = json.loads(r.stdout)
    assert (r.exit_code, doc["messages"]) == (0, 2)
    assert [(p["code"], p["severity"], p["offset"]) for p in doc["problems"]] == [("byte-order-mark", "warning", 0)]
    r = invoke("convert", "--json", box, tmp_path / "md")
    assert (r.exit_code, json.loads(r.stdout)["converted"]) == (0, 2)
    r = invoke("repair", box, tmp_path / "fixed.mbox")
    assert r.exit_code == 0 and "fixed   byte-order-mark" in r.stdout
    assert (tmp_path / "fixed.mbox").read_bytes().startswith(b"From ")
    with MboxReader(tmp_path / "fixed.mbox") as reader:
        assert [m.data for m in reader] == [mbox_entry(body=b).split(b"\n", 1)[1][:-1]
                                            for b in ("one\n", "two\n")]


def test_a_short_nul_run_where_a_message_should_start_is_damage(tmp_path):
    """A crashed append leaves a few hundred NUL bytes; the next delivery's From_ line follows
    them at once: validate calls that run damage (an error), repair cuts it, and the copy holds
    both messages whole."""
    src = write(tmp_path, mbox_entry(body="one\n") + b"\x00" * 300 + mbox_entry(body="two\n"))
    assert ("nul-run", "error") in [(p.code, p.severity) for p in validate_mailbox(src).problems]
    rep = repair_mailbox(src, tmp_path / "out")
    assert "nul-run" in {x["code"] for x in rep.repaired} and rep.ok
    assert [m.split(b"\n\n", 1)[1] for m in messages(tmp_path / "out")] == [b"one\n", b"two\n"]
    assert validate_mailbox(tmp_path / "out").problems == []


@pytest.mark.parametrize("damage", ["nul-run", "phantom", "glued", "mixed-eol"])
def test_the_recovery_path_convert_repair_convert_leaves_no_duplicates(invoke, tmp_path, damage):
    """A damaged spool converted as it is, then repaired, then the copy converted into the
    same Maildir: the repaired messages are those already there, not new ones."""
    from mboxtool import MaildirReader
    one, two = mbox_entry(body="one\n"), mbox_entry(body="two\n")
    spool = {
        "nul-run": one + mbox_entry(body="x\n" + "\0" * 40 + "\n") + two,
        "phantom": one + b"From someone Mon Jan  6 10:00:00 2020\nrest of a body, not a header\n\n" + two,
        "glued": one[:-1] + b"text" + two,
        "mixed-eol": one + one.replace(b"one", b"crlf").replace(b"\n", b"\r\n") + two,
    }[damage]
    src = tmp_path / "spool"
    src.write_bytes(spool)
    md = tmp_path / "Maildir"
    invoke("convert", "--from", "mbox", src, md)
    before = len(list(MaildirReader(md)))
    assert invoke("repair", src, tmp_path / "fixed").exit_code in (0, 1)
    assert (tmp_path / "fixed").read_bytes() != spool          # repair did change something
    doc = json.loads(invoke("convert", "--json", tmp_path / "fixed", md).stdout)
    assert (doc["converted"], doc["failed"]) == (0, 0) and doc["skipped"] >= 2
    assert len(list(MaildirReader(md))) == before
