"""MHWriter: a message appears under its number only when complete, and never over another."""

import errno
import json
import os

import pytest

import mboxtool.formats.mh as mh_mod
from mboxtool.formats.mh import MHReader, MHWriter
from mboxtool.model.message import MailMessage


def msg(i: int) -> MailMessage:
    return MailMessage(b"Subject: %d\n\nbody %d\n" % (i, i), flags="S", new=False, date=1_300_000_000 + i)


@pytest.mark.parametrize("anonymous", [True, False], ids=["unnamed", "named-temporary"])
def test_a_failed_write_leaves_no_partial_message(tmp_path, monkeypatch, anonymous):
    folder = tmp_path / "mh"
    writer = MHWriter(folder, fsync=False).open()
    writer.stager.anonymous = anonymous and writer.stager.anonymous
    writer.add(msg(1))
    writer.commit()

    def disk_full(fd, buffers, offset=None):
        os.write(fd, bytes(buffers[0][:5]))                # a few bytes land, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(mh_mod, "write_buffers", disk_full)
    with pytest.raises(OSError):
        writer.add(msg(2))
    monkeypatch.undo()
    writer.close()
    assert sorted(os.listdir(folder)) == [".mh_sequences", "1"]       # no "2", no temporary file
    with MHReader(folder) as reader:
        assert [m.data for m in reader] == [msg(1).data]


@pytest.mark.parametrize("anonymous", [True, False], ids=["unnamed", "named-temporary"])
def test_a_number_taken_meanwhile_is_skipped_not_overwritten(tmp_path, anonymous):
    folder = tmp_path / "mh"
    writer = MHWriter(folder, fsync=False).open()
    writer.stager.anonymous = anonymous and writer.stager.anonymous
    (folder / "1").write_bytes(b"Subject: delivered by inc meanwhile\n\nmine\n")   # after open()
    writer.add(msg(7))
    writer.commit()
    writer.close()
    assert (folder / "1").read_bytes() == b"Subject: delivered by inc meanwhile\n\nmine\n"
    assert (folder / "2").read_bytes() == msg(7).data
    assert os.stat(folder / "2").st_mtime == 1_300_000_007
    assert sorted(n for n in os.listdir(folder) if not n.startswith(".")) == ["1", "2"]


def test_temporaries_of_a_killed_run_are_removed_and_others_kept(tmp_path):
    folder = tmp_path / "mh"
    first = MHWriter(folder, fsync=False).open()
    first.add(msg(1))
    first.commit()
    first.close()
    from mboxtool.fs.staging import host_name
    host = host_name()
    dead = folder / f".mboxtool.{host}.999999999.4.tmp"       # no such pid
    other_host = folder / ".mboxtool.elsewhere.1.4.tmp"
    foreign = folder / ".something-else"
    for f in (dead, other_host, foreign):
        f.write_bytes(b"partial")
    writer = MHWriter(folder, fsync=False).open()
    writer.close()
    assert not dead.exists() and other_host.exists() and foreign.exists()


def test_control_files_are_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    """.mh_sequences and dovecot-keywords on a full disk: the old file stays, no temporary."""
    import mboxtool.fs.durable as durable_mod
    from mboxtool.formats.maildirwriter import MaildirWriter
    folder = tmp_path / "mh"
    writer = MHWriter(folder, fsync=False).open()
    writer.add(msg(1))
    writer.commit()
    before = (folder / ".mh_sequences").read_bytes()
    md = MaildirWriter(tmp_path / "md", fsync=False).open()
    md.keyword_letters(("work",))
    keywords_before = (tmp_path / "md" / "dovecot-keywords").read_bytes()

    def full(fd, buffers, offset=None):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(durable_mod, "write_buffers", full)
    writer.add(MailMessage(b"Subject: 2\n\nb\n", flags="", new=True))     # unseen: the sequences change
    with pytest.raises(OSError):
        writer.commit()
    with pytest.raises(OSError):
        md.keyword_letters(("home",))
    monkeypatch.undo()
    writer.close()
    md.close()
    assert (folder / ".mh_sequences").read_bytes() == before
    assert (tmp_path / "md" / "dovecot-keywords").read_bytes() == keywords_before == b"0 work\n"
    assert not [n for n in os.listdir(folder) + os.listdir(tmp_path / "md") if n.endswith(".tmp")]


def test_messages_removed_by_rmm_are_no_mail_and_no_reason_to_refuse(invoke, tmp_path):
    """nmh's rmm renames a message ,N (older MH: #N); a folder without .mh_sequences (nmh
    deletes it when no sequence is left) is still an MH folder, and ,N is not converted."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    for n in (1, 2, 3):
        (folder / str(n)).write_bytes(b"Subject: m%d\n\nbody\n" % n)
    os.rename(folder / "2", folder / ",2")
    (folder / "#7").write_bytes(b"Subject: old removed\n\nx\n")
    r = invoke("convert", "--json", folder, tmp_path / "out.mbox")
    doc = json.loads(r.stdout)
    assert r.exit_code == 0 and (doc["source_format"], doc["converted"], doc["warnings"]) == ("mh", 2, [])
    assert b"Subject: m2" not in (tmp_path / "out.mbox").read_bytes()
    assert b"removed" not in (tmp_path / "out.mbox").read_bytes()


def test_a_cron_job_into_mh_survives_runs_that_find_no_mail(tmp_path, invoke):
    """The first run on an empty spool made a folder holding only the state file; every
    later run then refused it ("neither a Maildir nor an MH folder") and exited 2."""
    spool, folder = tmp_path / "spool", tmp_path / "mh"
    spool.write_bytes(b"")
    for args in (["--to", "mh"], ["--to", "mh"], []):         # the second and third: folder exists
        r = invoke("convert", "--quiet", *args, spool, folder)
        assert r.exit_code == 0, r.stderr
    assert (folder / ".mh_sequences").read_bytes() == b""      # what marks it MH for others too
    spool.write_bytes(b"From a@b Mon Jan  6 10:00:00 2020\nSubject: first mail\n\nhi\n")
    r = invoke("convert", "--quiet", spool, folder)
    assert r.exit_code == 0, r.stderr
    assert (folder / "1").read_bytes() == b"Subject: first mail\n\nhi\n"


def test_a_folder_holding_only_the_state_file_is_taken_for_mh(tmp_path, invoke):
    folder = tmp_path / "mh"                                   # as an earlier version left it
    folder.mkdir()
    (folder / ".mboxtool-state").write_text("{}")
    spool = tmp_path / "spool"
    spool.write_bytes(b"From a@b Mon Jan  6 10:00:00 2020\nSubject: s\n\nhi\n")
    r = invoke("convert", "--quiet", spool, folder)
    assert r.exit_code == 0, r.stderr
    assert (folder / "1").exists()


def test_a_directory_of_hidden_files_is_refused_naming_them(tmp_path, invoke):
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / ".cache").write_text("x")
    r = invoke("info", odd)
    assert r.exit_code == 2
    assert "only hidden entries: .cache" in r.stderr


def test_keywords_become_sequences_byte_for_byte_and_the_rest_is_reported(tmp_path):
    from mboxtool.convert.mailbox import ConvertOptions, convert_mailbox
    from mboxtool.formats.mbox import MboxReader
    box = tmp_path / "in.mbox"
    box.write_bytes(b"From a@b Mon Jan  6 10:00:00 2020\nSubject: k\n"
                    b"X-Keywords: work caf\xc3\xa9 a.b \xff\xfe x:y flagged\n\nbody\n")
    report = convert_mailbox(box, tmp_path / "mh", ConvertOptions(to_format="mh"))
    assert report.converted == 1
    assert sorted(w["keyword"] for w in report.warnings if w["code"] == "keyword-not-kept") == ["flagged", "x:y"]
    assert b"caf\xc3\xa9: 1\n" in (tmp_path / "mh" / ".mh_sequences").read_bytes()
    back = tmp_path / "back.mbox"
    convert_mailbox(tmp_path / "mh", back)
    with MboxReader(back) as reader:
        (msg,) = list(reader)
    assert sorted(msg.keywords) == sorted(["work", "café", "a.b", "\udcff\udcfe"])
    assert b"\xff\xfe" in back.read_bytes()                       # the keyword's own bytes


def test_a_message_file_with_a_leading_zero_is_read_and_moved_by_its_own_name(tmp_path, invoke):
    """"01" is message 1 by number, but opening "1" found nothing: it was reported as
    vanished and left out."""
    folder = tmp_path / "mh"
    folder.mkdir()
    (folder / "01").write_bytes(b"Subject: a\n\nx\n")
    (folder / "2").write_bytes(b"Subject: b\n\nx\n")
    r = invoke("convert", "--move", folder, tmp_path / "out.mbox")
    assert r.exit_code == 0, r.stderr
    assert "vanished" not in r.stderr
    assert (tmp_path / "out.mbox").read_bytes().count(b"\nSubject: ") == 2
    assert os.listdir(folder) == []                              # "01" removed by its own name


def test_move_takes_the_moved_messages_out_of_the_sequences(tmp_path, invoke):
    """nmh numbers the next message after the highest file: after --move emptied the folder,
    a new message 1 inherited the old message 1's flags from .mh_sequences."""
    folder = tmp_path / "mh"
    folder.mkdir()
    for n in (1, 2, 3):
        (folder / str(n)).write_bytes(b"Subject: %d\n\nx\n" % n)
    (folder / ".mh_sequences").write_text("flagged: 1-2\nunseen: 2-3\nwork: 1\n")
    (folder / "3").chmod(0)                                        # cannot be read: stays, keeps its flags
    r = invoke("convert", "--move", folder, tmp_path / "out.mbox")
    if os.geteuid() != 0:
        assert r.exit_code == 1
        assert sorted(os.listdir(folder)) == [".mh_sequences", "3"]
        assert (folder / ".mh_sequences").read_text() == "unseen: 3\n"
    else:                                                          # root reads it anyway
        assert r.exit_code == 0 and os.listdir(folder) == [".mh_sequences"]
        assert (folder / ".mh_sequences").read_text() == ""
    (folder / "1").write_bytes(b"Subject: new\n\nx\n")
    with MHReader(folder) as reader:
        assert [(m.key, m.flags, m.keywords) for m in reader if m.key == "1"] == [("1", "S", ())]
