"""convert: what a source may hold: pseudo-messages, expunged and duplicate messages,
compressed, damaged or empty input."""

import json
import os
import random
import time

import pytest

from mboxtool import ConvertOptions, MaildirReader, convert_mailbox

from .conftest import maildir_files, make_maildir, mbox_entry


def test_pseudo_message_is_not_converted(tmp_path):
    pseudo = (b"From MAILER-DAEMON Mon Jan  6 10:00:00 2020\nDate: Mon, 6 Jan 2020 10:00:00 +0000\n"
              b"From: Mail System Internal Data <MAILER-DAEMON@host>\n"
              b"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nMessage-ID: <1@host>\n"
              b"X-IMAP: 1578304800 0000000002 work\nStatus: RO\n\n"
              b"This text is part of the internal format of your mail folder, and is not\n"
              b"a real message.  It is created automatically by the mail system software.\n\n")
    src = tmp_path / "box"
    src.write_bytes(pseudo + mbox_entry())
    report = convert_mailbox(src, tmp_path / "md")
    assert report.converted == 1 and report.excluded[0]["reason"] == "pseudo-message"


def test_thunderbird_expunged_is_skipped_unless_asked(tmp_path):
    src = tmp_path / "box"
    src.write_bytes(b"From - Mon Jan  6 10:00:00 2020\nX-Mozilla-Status: 0009\nSubject: gone\n\nx\n\n"
                    + mbox_entry())
    assert convert_mailbox(src, tmp_path / "a").converted == 1
    r = convert_mailbox(src, tmp_path / "b", ConvertOptions(include_expunged=True))
    assert r.converted == 2


def test_maildir_duplicate_unique_names_merge_identical_copies(tmp_path):
    md = tmp_path / "md"
    make_maildir(md)
    (md / "new" / "123.abc").write_bytes(b"Subject: same\n\nx\n")
    (md / "cur" / "123.abc:2,S").write_bytes(b"Subject: same\n\nx\n")      # crash between link and unlink
    (md / "cur" / "456.def:2,F").write_bytes(b"Subject: one\n\nx\n")
    (md / "cur" / "456.def:2,R").write_bytes(b"Subject: two\n\ny\n")     # different bytes: two messages
    msgs = sorted((m.data, m.flags) for m in MaildirReader(md))
    assert msgs == [(b"Subject: one\n\nx\n", "F"), (b"Subject: same\n\nx\n", "S"),
                    (b"Subject: two\n\ny\n", "R")]


def _compressors():
    import bz2
    import gzip
    out = [("gzip", gzip.compress), ("bzip2", bz2.compress)]
    try:
        import lzma
        out.append(("xz", lzma.compress))
    except ImportError:                                  # a Python without lzma: xz is refused
        pass
    return out


@pytest.mark.parametrize("kind, compress", _compressors(), ids=lambda v: v if isinstance(v, str) else "")
def test_compressed_mbox_is_read_but_never_moved(tmp_path, invoke, kind, compress):
    data = mbox_entry(body="one\n") + mbox_entry(body="two\n")
    src = tmp_path / "archive.mbox.z"
    src.write_bytes(compress(data))
    before = src.read_bytes()
    report = convert_mailbox(src, tmp_path / "md")
    assert report.converted == 2
    assert sorted(m.data for m in MaildirReader(tmp_path / "md")) == sorted(
        m.data for m in MaildirReader(convert_and_return(data, tmp_path)))
    r = invoke("convert", "--move", src, tmp_path / "md2")
    assert r.exit_code == 2 and f"{kind}-compressed" in r.stderr and not (tmp_path / "md2").exists()
    assert src.read_bytes() == before
    junk = tmp_path / "junk.z"
    junk.write_bytes(compress(os.urandom(300)))
    r = invoke("info", junk)
    assert r.exit_code == 2 and f"a {kind} file that does not hold an mbox" in r.stderr
    cut = tmp_path / "cut.z"                             # broken from the start: nothing to read
    cut.write_bytes(compress(data)[:10])
    for command in ("info", "validate", "convert"):
        args = (command, cut) if command != "convert" else (command, cut, tmp_path / "md3")
        r = invoke(*args)
        assert r.exit_code == 2 and f"broken {kind} data" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "md3").exists()


@pytest.mark.parametrize("kind, compress", _compressors(), ids=lambda v: v if isinstance(v, str) else "")
def test_a_compressed_mbox_cut_short_gives_the_mail_before_the_break(tmp_path, invoke, kind, compress):
    """An archive whose download or copy stopped half way: validate names the break (exit 1),
    convert converts every message before it and fails the run (exit 1), info reads them."""
    rnd = random.Random(7)
    bodies = [f"{i} {rnd.randbytes(200).hex()}\n" for i in range(3000)]      # ~1.3 MB: two bzip2 blocks
    cut = tmp_path / "archive.mbox.z"
    whole = compress(b"".join(mbox_entry(body=b) for b in bodies))
    cut.write_bytes(whole[:len(whole) * 2 // 3])
    r = invoke("validate", "--json", cut)
    doc = json.loads(r.stdout)
    assert r.exit_code == 1
    broken = [p for p in doc["problems"] if p["code"] == "compressed-data-broken"]
    assert len(broken) == 1 and broken[0]["severity"] == "error" and "breaks off" in broken[0]["message"]
    r = invoke("convert", "--json", cut, tmp_path / "md")
    doc = json.loads(r.stdout)
    assert r.exit_code == 1 and 500 < doc["converted"] < 3000
    assert any("breaks off" in e["message"] for e in doc["errors"])
    got = sorted((m.data.split(b"\n\n", 1)[1] for m in MaildirReader(tmp_path / "md")),
                 key=lambda body: int(body.split()[0]))
    # every message before the break, whole; the one the break cut through, as far as it goes
    assert got[:-1] == [b.encode() for b in bodies[:len(got) - 1]]
    assert bodies[len(got) - 1].encode().startswith(got[-1].rstrip(b"\n"))
    r = invoke("info", "--json", cut)
    assert r.exit_code == 0 and json.loads(r.stdout)["messages"] == doc["converted"]
    assert "compressed-data-broken" in r.stderr
    r = invoke("repair", "--json", cut, tmp_path / "repaired.mbox")   # a copy of what is left, and
    rep = json.loads(r.stdout)                                         # the loss it cannot mend
    assert r.exit_code == 1 and rep["messages"] == doc["converted"]
    assert [p["code"] for p in rep["remaining"]] == ["compressed-data-broken"]


def convert_and_return(data, tmp_path):
    plain = tmp_path / "plain.mbox"
    plain.write_bytes(data)
    convert_mailbox(plain, tmp_path / "plain-md")
    return tmp_path / "plain-md"


def test_zstd_compressed_mbox_is_refused_with_what_to_do(tmp_path, invoke):
    src = tmp_path / "archive.mbox.zst"
    src.write_bytes(b"\x28\xb5\x2f\xfd" + os.urandom(64))
    r = invoke("convert", src, tmp_path / "md")
    assert r.exit_code == 2 and "zstd-compressed" in r.stderr and "unzstd" in r.stderr
    assert not (tmp_path / "md").exists()


def test_a_nul_run_is_converted_as_it_is_and_reported_with_its_offset(invoke, tmp_path):
    """The NUL run of a crashed append hides the From_ line after it: convert keeps every
    byte (nothing is lost) and says where the damage is, pointing to repair."""
    first = mbox_entry(body="one\n")
    src = tmp_path / "box"
    src.write_bytes(first + b"\x00" * 1024 + mbox_entry(body="two\n") + mbox_entry(body="three\n"))
    r = invoke("convert", "--json", src, tmp_path / "md")
    doc = json.loads(r.stdout)
    assert r.exit_code == 0 and doc["converted"] == 2
    assert [(w["code"], w["offset"], w["key"]) for w in doc["warnings"]] == [("nul-run", len(first), "1")]
    merged = [data for data in maildir_files(tmp_path / "md").values() if b"one\n" in data]
    assert len(merged) == 1 and b"\x00" * 1024 + b"From a@example.org" in merged[0]
    r = invoke("convert", src, tmp_path / "md2")
    assert "1024 NUL bytes" in r.stderr and "mboxtool repair" in r.stderr
    clean = tmp_path / "clean"
    clean.write_bytes(first + mbox_entry(body="bin\x00ary\n"))           # one stray NUL: no run
    assert json.loads(invoke("convert", "--json", clean, tmp_path / "md3").stdout)["warnings"] == []


def test_an_empty_message_is_left_out_and_said_so(invoke, tmp_path):
    """A From_ line with nothing after it (a crashed delivery) is no message: an empty Maildir
    file would be one no reader takes (and --verify would fail on it). It is reported."""
    src = tmp_path / "box"
    src.write_bytes(mbox_entry(body="one\n") + b"From a@b Mon Jan  6 10:00:00 2020\n\n" + mbox_entry(body="two\n"))
    r = invoke("convert", "--json", "--verify", src, tmp_path / "md")
    doc = json.loads(r.stdout)
    assert r.exit_code == 0 and (doc["converted"], doc["failed"], doc["verified"]) == (2, 0, True)
    assert [(e["key"], e["reason"]) for e in doc.get("excluded", [])] == [("2", "empty message (no content besides mailbox state)")]
    assert len(maildir_files(tmp_path / "md")) == 2


@pytest.mark.parametrize("recursive", [[], ["--recursive"]])
def test_missing_ok_takes_a_missing_source_for_an_empty_one(invoke, tmp_path, recursive):
    """A cron job over a spool that has had no delivery yet: no error mail every run."""
    r = invoke("convert", "-q", "--missing-ok", *recursive, tmp_path / "no-mail-yet", tmp_path / "md")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "", "") and not (tmp_path / "md").exists()
    r = invoke("convert", "-q", *recursive, tmp_path / "no-mail-yet", tmp_path / "md")
    assert r.exit_code == 2 and "no-mail-yet" in r.stderr                  # the contract, without it
    box = tmp_path / "box"
    box.write_bytes(mbox_entry())
    r = invoke("convert", "--json", "--missing-ok", box, tmp_path / "md")
    assert r.exit_code == 0 and json.loads(r.stdout)["converted"] == 1      # an existing one: as ever


def test_an_abandoned_delivery_in_tmp_is_named_not_passed_over(tmp_path):
    md = tmp_path / "md"
    make_maildir(md)
    (md / "cur" / "1.M1.h:2,S").write_bytes(b"Subject: a\n\nx\n")
    (md / "tmp" / "2.M2.h").write_bytes(b"Subject: stuck\n\nx\n")
    (md / "tmp" / "3.M3.h").write_bytes(b"Subject: arriving\n\nx\n")       # a delivery in progress
    old = time.time() - 3 * 86400
    os.utime(md / "tmp" / "2.M2.h", (old, old))
    report = convert_mailbox(md, tmp_path / "out.mbox")
    assert report.converted == 1
    (warning,) = [w for w in report.warnings if w["code"] == "stale-tmp-files"]
    assert "1 file(s)" in warning["message"] and "2.M2.h" in warning["message"]
