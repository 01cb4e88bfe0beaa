"""convert --move sets aside what it cannot convert, durably, before it empties the spool."""

import json
import os
import pwd
import stat
from pathlib import Path

import pytest

from mboxtool import ConvertOptions, MaildirReader, convert_mailbox
from mboxtool.convert import quarantine

from .conftest import make_maildir, mbox_entry

GARBAGE = b"half a line of a crashed editor save\n\x00\x00junk\n\n"


def spool_with_garbage(tmp_path):
    src = tmp_path / "alice"
    src.write_bytes(GARBAGE + mbox_entry(body="one\n") + mbox_entry(body="two\n"))
    return src


def quarantined_files(where):
    return sorted(where.iterdir()) if where.exists() else []


def test_move_sets_the_garbage_aside_and_empties_the_spool(invoke, tmp_path):
    src = spool_with_garbage(tmp_path)
    ino = src.stat().st_ino
    md = tmp_path / "Maildir"
    r = invoke("convert", "--move", "--quiet", "--from", "mbox", src, md)
    assert r.exit_code == 1
    assert src.stat().st_size == 0 and src.stat().st_ino == ino
    assert len(list(MaildirReader(md))) == 2
    where = md / ".mboxtool-quarantine"
    [kept] = quarantined_files(where)
    assert kept.name.startswith("alice.") and kept.read_bytes() == GARBAGE
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and stat.S_IMODE(where.stat().st_mode) == 0o700
    assert "set aside in" in r.stderr and str(kept) in r.stderr and "offset 0" in r.stderr   # even --quiet


def test_json_report_names_the_quarantine_and_the_offsets(invoke, tmp_path):
    src = spool_with_garbage(tmp_path)
    r = invoke("convert", "--move", "--json", "--from", "mbox", src, tmp_path / "md")
    doc = json.loads(r.stdout)
    assert r.exit_code == 1 and doc["quarantined"] == 1 and doc["moved"]
    [path] = doc["quarantine_files"]
    [span] = doc["quarantine_spans"]
    assert (span["offset"], span["length"], span["file"], span["file_offset"]) == (0, len(GARBAGE), path, 0)
    assert Path(path).read_bytes() == GARBAGE


def test_an_mbox_destination_quarantines_beside_it_and_a_named_dir_is_taken(invoke, tmp_path):
    src = spool_with_garbage(tmp_path)
    dst = tmp_path / "archive.mbox"
    assert invoke("convert", "--move", "--from", "mbox", "--to", "mbox", src, dst).exit_code == 1
    [kept] = quarantined_files(tmp_path / "archive.mbox.quarantine")
    assert kept.read_bytes() == GARBAGE
    src.write_bytes(GARBAGE + mbox_entry(body="three\n"))
    named = tmp_path / "held" / "here"
    assert invoke("convert", "--move", "--from", "mbox", "--quarantine", named, src, dst).exit_code == 1
    [kept] = quarantined_files(named)
    assert kept.read_bytes() == GARBAGE and src.stat().st_size == 0


def test_spans_in_the_middle_of_a_spool_are_whole_messages(tmp_path):
    """A message the destination refuses (an MMDF delimiter line in its body) is set aside
    exactly: from its From_ line to the next."""
    bad = mbox_entry(body="\x01\x01\x01\x01\n")
    src = tmp_path / "spool"
    src.write_bytes(mbox_entry(body="a\n") + bad + mbox_entry(body="b\n") + bad)
    report = convert_mailbox(src, tmp_path / "box.mmdf", ConvertOptions(move=True, to_format="mmdf"))
    assert (report.converted, report.failed, report.quarantined) == (2, 2, 2)
    assert Path(report.quarantine_files[0]).read_bytes() == bad + bad
    assert [s["offset"] for s in report.quarantine_spans] == [len(mbox_entry(body="a\n")),
                                                               len(mbox_entry(body="a\n")) * 2 + len(bad)]
    assert src.stat().st_size == 0


def test_mmdf_text_outside_the_delimiters_is_set_aside(tmp_path):
    delim = b"\x01\x01\x01\x01\n"
    entry = delim + b"From: a@example.org\nSubject: x\n\nhi\n" + delim
    outside = b"\x00\x00 not a message at all\n"
    src = tmp_path / "box.mmdf"
    src.write_bytes(entry + outside + entry.replace(b"hi", b"ho"))
    report = convert_mailbox(src, tmp_path / "md", ConvertOptions(move=True))
    assert (report.converted, report.failed, report.quarantined) == (2, 1, 1)
    assert Path(report.quarantine_files[0]).read_bytes() == outside
    assert src.stat().st_size == 0


def test_a_crash_after_the_quarantine_and_before_the_truncation_loses_nothing(tmp_path, monkeypatch):
    src = spool_with_garbage(tmp_path)
    before = src.read_bytes()
    md = tmp_path / "md"

    def crash(*args):
        raise KeyboardInterrupt                       # as a SIGTERM lands between the two steps

    monkeypatch.setattr("mboxtool.formats.mbox.truncate_source", crash)
    with pytest.raises(KeyboardInterrupt):
        convert_mailbox(src, md, ConvertOptions(move=True, from_format="mbox"))
    assert src.read_bytes() == before                 # the spool is whole
    [kept] = quarantined_files(md / ".mboxtool-quarantine")
    assert kept.read_bytes() == GARBAGE
    monkeypatch.undo()
    report = convert_mailbox(src, md, ConvertOptions(move=True, from_format="mbox"))
    assert (report.converted, report.skipped, report.quarantined) == (0, 2, 1)
    assert src.stat().st_size == 0 and len(list(MaildirReader(md))) == 2


def test_a_quarantine_that_cannot_be_written_keeps_the_spool(invoke, tmp_path, monkeypatch):
    src = spool_with_garbage(tmp_path)
    before = src.read_bytes()
    md = tmp_path / "md"
    real_fsync = os.fsync

    def failing_fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(md / ".mboxtool-quarantine") + "/alice"):
            raise OSError(28, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(quarantine.os, "fsync", failing_fsync)
    r = invoke("convert", "--move", "--quiet", "--from", "mbox", src, md)
    assert r.exit_code == 1 and "No space left on device" in r.stderr and "kept unchanged" in r.stderr
    assert src.read_bytes() == before
    assert quarantined_files(md / ".mboxtool-quarantine") == []      # no half-written file left


def test_a_symlinked_quarantine_directory_is_not_followed(invoke, tmp_path):
    src = spool_with_garbage(tmp_path)
    before = src.read_bytes()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    md = make_maildir(tmp_path / "md")
    (md / ".mboxtool-quarantine").symlink_to(elsewhere)
    r = invoke("convert", "--move", "--from", "mbox", src, md)
    assert r.exit_code == 1 and src.read_bytes() == before and not list(elsewhere.iterdir())


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can create files for another user")
def test_quarantine_belongs_to_the_owner_of_the_destination(tmp_path):
    nobody = pwd.getpwnam("nobody")
    home = tmp_path / "home"
    home.mkdir()
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    src = spool_with_garbage(tmp_path)
    report = convert_mailbox(src, home / "Maildir", ConvertOptions(move=True, from_format="mbox"))
    where = home / "Maildir" / ".mboxtool-quarantine"
    for path in (where, *where.iterdir()):
        assert (path.stat().st_uid, path.stat().st_gid) == (nobody.pw_uid, nobody.pw_gid)
    assert report.quarantined == 1


def test_without_move_nothing_is_quarantined(tmp_path):
    src = spool_with_garbage(tmp_path)
    report = convert_mailbox(src, tmp_path / "md", ConvertOptions(from_format="mbox"))
    assert report.failed == 1 and report.quarantined == 0
    assert not (tmp_path / "md" / ".mboxtool-quarantine").exists()


def test_a_recursive_move_reports_the_quarantine_of_each_folder(invoke, tmp_path):
    tree = tmp_path / "mail"
    tree.mkdir()
    bad = mbox_entry(body="\x01\x01\x01\x01\n")          # MMDF cannot store it
    (tree / "Inbox").write_bytes(mbox_entry(body="fine\n"))
    (tree / "Lists").write_bytes(bad + mbox_entry(body="list\n"))
    r = invoke("convert", "--recursive", "--move", "--json", "--to", "mmdf", tree, tmp_path / "out")
    doc = json.loads(r.stdout)
    assert r.exit_code == 1 and doc["quarantined"] == 1 and doc["converted"] == 2
    [path] = doc["quarantine_files"]
    assert Path(path).read_bytes() == bad and doc["quarantine_spans"][0]["folder"] == "Lists"
    assert (tree / "Lists").stat().st_size == 0 and (tree / "Inbox").stat().st_size == 0


def test_quarantine_without_move_is_a_usage_error(invoke, tmp_path):
    src = spool_with_garbage(tmp_path)
    r = invoke("convert", "--quarantine", tmp_path / "q", "--from", "mbox", src, tmp_path / "md")
    assert r.exit_code == 2 and "--quarantine" in r.stderr and not (tmp_path / "md").exists()
