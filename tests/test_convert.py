"""convert: bytes, flags, dates, idempotency, durability and refusal of bad input."""

import errno
import hashlib
import json
import os
import random
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mboxtool.convert.mailbox import ConvertOptions, convert_mailbox
from mboxtool.formats.maildir import MaildirReader
from mboxtool.formats.mbox import MboxReader
from mboxtool.model.message import split_message, strip_metadata

from .conftest import SAMPLES, make_maildir, mbox_entry, python_cmd


def tree_digest(path: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")) if path.is_dir() else [path]:
        if p.is_file():
            h.update(str(p.relative_to(path) if path.is_dir() else p.name).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def maildir_files(md: Path) -> dict[str, bytes]:
    return {f"{p.parent.name}/{p.name}": p.read_bytes() for sub in ("new", "cur")
            for p in sorted((md / sub).iterdir())}


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
    from mboxtool.convert import mailbox as convert_module
    from mboxtool.formats.maildir import MaildirWriter
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
    expected = {0x1234: convert_module._packed("S", 1_600_000_000)}   # converted, yet not in DST
    convert_module._verify(tmp_path / "md2", "maildir", expected, clean)
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


def test_rerun_adds_nothing_and_new_source_messages_only(tmp_path):
    src = tmp_path / "src.mbox"
    src.write_bytes(mbox_entry(body="one\n") + mbox_entry(body="two\n"))
    md = tmp_path / "md"
    assert convert_mailbox(src, md).converted == 2
    (md / ".mboxtool-state").unlink()             # no resume point: every digest is checked
    again = convert_mailbox(src, md)
    assert (again.converted, again.skipped) == (0, 2)
    with open(src, "ab") as fh:
        fh.write(mbox_entry(body="three\n"))
    (md / ".mboxtool-state").unlink()
    third = convert_mailbox(src, md)
    assert (third.converted, third.skipped) == (1, 2)
    assert len(maildir_files(md)) == 3


def test_rerun_into_mbox_adds_nothing(tmp_path):
    box = tmp_path / "box"
    convert_mailbox(SAMPLES / "Maildir", box)
    before = box.read_bytes()
    again = convert_mailbox(SAMPLES / "Maildir", box)
    assert (again.converted, again.skipped) == (0, 3) and box.read_bytes() == before


def test_dry_run_writes_nothing(tmp_path):
    md = tmp_path / "md"
    report = convert_mailbox(SAMPLES / "inbox.mbox", md, ConvertOptions(dry_run=True))
    assert report.converted == 5 and not md.exists()


def test_source_is_never_modified(tmp_path):
    src = tmp_path / "in.mbox"
    src.write_bytes((SAMPLES / "inbox.mbox").read_bytes())
    before = (src.read_bytes(), src.stat().st_mtime_ns)
    convert_mailbox(src, tmp_path / "md", ConvertOptions(verify=True))
    assert (src.read_bytes(), src.stat().st_mtime_ns) == before


@pytest.mark.parametrize("fmt", ["mbox", "maildir", "mh", "mmdf", "babyl"])
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


def break_delivery(monkeypatch, at, fault):
    """Make Maildir delivery number ``at`` run ``fault(writer, tmpname, data)`` instead; returns undo."""
    from mboxtool.formats.maildir import MaildirWriter
    real = MaildirWriter.deliver
    calls = {"n": 0}

    def deliver(self, tmpname, final, parts, mtime, keywords=()):
        calls["n"] += 1
        if calls["n"] == at:
            return fault(self, tmpname, b"".join(parts))
        return real(self, tmpname, final, parts, mtime, keywords)
    monkeypatch.setattr(MaildirWriter, "deliver", deliver)
    return lambda: monkeypatch.setattr(MaildirWriter, "deliver", real)


def test_write_failure_rolls_back_and_rerun_converges(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.write_bytes(b"".join(mbox_entry(body=f"message {i}\n") for i in range(600)))
    md = tmp_path / "md"

    def disk_full(writer, tmpname, data):          # the disk fills up in the second batch
        fd = os.open(tmpname, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=writer.dirfd["tmp"])
        os.write(fd, data[:10])
        os.close(fd)
        os.unlink(tmpname, dir_fd=writer.dirfd["tmp"])
        raise OSError(errno.ENOSPC, "No space left on device")
    undo = break_delivery(monkeypatch, 300, disk_full)
    report = convert_mailbox(src, md)
    undo()
    assert not report.ok and "No space left" in report.errors[0]["message"]
    # one error for the cause, even though batches on their way to the stopped writer failed too
    assert len(report.errors) == 1 and report.errors[0]["errno"] == "ENOSPC"
    # only whole durable batches count: the broken delivery is a writer's 300th, which lands in
    # the second batch with one writer process and in the third with two (they take turns)
    assert report.converted in (256, 512)
    again = convert_mailbox(src, md)
    assert again.converted + again.skipped == 600
    bodies = sorted(m.data for m in MaildirReader(md))
    assert len(bodies) == 600 and len(set(bodies)) == 600     # nothing lost, nothing twice
    assert not list((md / "tmp").iterdir())


def test_failed_flush_counts_nothing_and_rerun_converges(tmp_path, monkeypatch):
    """The flush runs beside the writing (a second thread); when it fails, no batch it covered counts."""
    from mboxtool.formats.maildir import MaildirWriter
    src = tmp_path / "src"
    src.write_bytes(b"".join(mbox_entry(body=f"message {i}\n") for i in range(600)))
    md = tmp_path / "md"

    def failing_flush(self, done):
        if done:
            raise OSError(errno.EIO, "Input/output error")
    monkeypatch.setattr(MaildirWriter, "make_durable", failing_flush)
    report = convert_mailbox(src, md)
    monkeypatch.undo()
    assert not report.ok and report.converted == 0
    assert "Input/output error" in report.errors[0]["message"]
    again = convert_mailbox(src, md)
    assert again.ok and again.converted + again.skipped == 600
    bodies = sorted(m.data for m in MaildirReader(md))
    assert len(bodies) == 600 and len(set(bodies)) == 600


def test_mbox_destination_write_failure_truncates_back(tmp_path, monkeypatch):
    box = tmp_path / "box"
    box.write_bytes(mbox_entry())
    before = box.read_bytes()
    import mboxtool.formats.mbox as mbox_mod

    def failing_pwritev(fd, buffers, offset):           # 10 bytes reach the disk, then it is full
        os.pwrite(fd, bytes(buffers[0][:10]), offset)
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(mbox_mod.os, "pwritev", failing_pwritev)
    report = convert_mailbox(SAMPLES / "Maildir", box)
    assert not report.ok and box.read_bytes() == before


def kill_midway(src, md, messages, body, after, *args):
    """Write an mbox of ``messages``, start a conversion of it and SIGKILL it once ``after`` are in new/."""
    with open(src, "wb") as fh:
        for i in range(messages):
            fh.write(mbox_entry(body=f"message {i}\n" + body + "\n"))
    proc = subprocess.Popen(python_cmd() + ["convert", "-q", *args, str(src), str(md)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline and not ((md / "new").exists() and len(os.listdir(md / "new")) > after):
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_killed_conversion_reruns_without_loss_or_duplicates(tmp_path):
    src, md = tmp_path / "src", tmp_path / "md"
    # large enough that the kill lands part-way on a fast machine too (about 0.4 s of work
    # when the first 700 files are seen after a few milliseconds)
    kill_midway(src, md, 30000, "x" * 2000, 700)
    partial = len(os.listdir(md / "new"))
    assert 0 < partial < 30000, "the kill should land part-way"
    r = subprocess.run(python_cmd() + ["convert", "--json", str(src), str(md)], capture_output=True)
    doc = json.loads(r.stdout)
    assert r.returncode == 0, r.stderr
    assert doc["converted"] + doc["skipped"] == 30000
    bodies = [m.data for m in MaildirReader(md)]
    assert len(bodies) == 30000 and len(set(bodies)) == 30000


def test_killed_conversion_into_an_mbox_reruns_without_loss_or_duplicates(tmp_path):
    """SIGKILL part-way through a conversion into an mbox (batches appended by a thread):
    the re-run leaves every message in it exactly once. Where the kill lands inside an
    append, the journal cuts the partial batch off (the test after this one)."""
    src, box = tmp_path / "src", tmp_path / "out.mbox"
    with open(src, "wb") as fh:
        for i in range(30000):
            fh.write(mbox_entry(body=f"message {i}\n" + "y" * 2000 + "\n"))
    proc = subprocess.Popen(python_cmd() + ["convert", "-q", "--to", "mbox", str(src), str(box)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline and not (box.exists() and box.stat().st_size > 8 << 20):
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < box.stat().st_size < src.stat().st_size, "the kill should land part-way"
    r = subprocess.run(python_cmd() + ["convert", "--json", "--verify", "--to", "mbox", str(src), str(box)],
                       capture_output=True)
    doc = json.loads(r.stdout)
    assert r.returncode == 0, r.stderr
    assert doc["converted"] + doc["skipped"] == 30000 and doc["verified"] is True
    with MboxReader(box) as reader:
        bodies = [m.data.split(b"\n\n", 1)[1] for m in reader]
    assert len(bodies) == 30000 and len(set(bodies)) == 30000        # nothing lost, nothing twice
    assert not box.with_name(box.name + ".mboxtool-append").exists()
    v = subprocess.run(python_cmd() + ["validate", "--json", str(box)], capture_output=True)
    assert json.loads(v.stdout)["ok"] is True


def test_a_journal_left_by_a_killed_append_cuts_the_partial_batch_off(tmp_path):
    """The journal names the inode and the size before the append: a file still between the
    two sizes had a batch half-written, never counted, and loses exactly that."""
    from mboxtool.formats.mbox import MboxWriter
    box = tmp_path / "box"
    whole = mbox_entry(body="one\n") + mbox_entry(body="two\n")
    box.write_bytes(whole + b"From x@y Mon Jan  6 10:00:00 2020\nSubject: cut")   # the batch died here
    journal = box.with_name("box.mboxtool-append")
    journal.write_text(f"{box.stat().st_ino} {len(whole)} {len(whole) + 500}\n")
    MboxWriter(box).open().close()
    assert box.read_bytes() == whole and not journal.exists()
    # a journal whose append did complete (the file reached its end size) cuts nothing
    box.write_bytes(whole)
    journal.write_text(f"{box.stat().st_ino} 10 {len(whole)}\n")
    MboxWriter(box).open().close()
    assert box.read_bytes() == whole and not journal.exists()


def test_lock_held_by_another_process_gives_exit_75_and_writes_nothing(tmp_path):
    box = tmp_path / "box"
    box.write_bytes(mbox_entry())
    holder = subprocess.Popen([sys.executable, "-c",
                               "import fcntl,sys,time; f=open(sys.argv[1],'r+b'); "
                               "fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(30)",
                               str(box)], stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == b"locked"
    try:
        r = subprocess.run(python_cmd() + ["convert", "--lock-timeout", "1", str(box), str(tmp_path / "md")],
                           capture_output=True)
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert r.returncode == 75
    assert b"lock" in r.stderr and b"Traceback" not in r.stderr
    assert not (tmp_path / "md").exists()


def test_dotlock_held_blocks_append_and_stale_one_is_broken(tmp_path):
    box = tmp_path / "box"
    box.write_bytes(mbox_entry())
    lock = tmp_path / "box.lock"
    lock.write_text("1 somewhere-else\n")
    report_args = ConvertOptions(lock_timeout=0.5)
    from mboxtool.errors import LockTimeout
    with pytest.raises(LockTimeout):
        convert_mailbox(SAMPLES / "Maildir", box, report_args)
    old = time.time() - 3600
    os.utime(lock, (old, old))
    os.utime(box, (old, old))
    assert convert_mailbox(SAMPLES / "Maildir", box, report_args).converted == 3
    assert not lock.exists()


def test_move_empties_mbox_spool_in_place(tmp_path):
    src = tmp_path / "spool"
    src.write_bytes(mbox_entry(body="a\n") + mbox_entry(body="b\n"))
    os.chmod(src, 0o660)
    ino = src.stat().st_ino
    report = convert_mailbox(src, tmp_path / "md", ConvertOptions(move=True))
    assert report.converted == 2 and report.moved
    assert src.stat().st_size == 0 and src.stat().st_ino == ino
    assert stat.S_IMODE(src.stat().st_mode) == 0o660


def test_move_from_maildir_removes_converted_files(tmp_path):
    import shutil
    md = tmp_path / "md"
    shutil.copytree(SAMPLES / "Maildir", md)
    report = convert_mailbox(md, tmp_path / "box", ConvertOptions(move=True))
    assert report.converted == 3 and not maildir_files(md)


# -- the command line -------------------------------------------------------------------

def test_cli_convert_json_fields(invoke, tmp_path):
    r = invoke("convert", "--json", SAMPLES / "inbox.mbox", tmp_path / "md")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    for key in ("source", "destination", "source_format", "destination_format", "converted",
                "skipped", "failed", "bytes", "seconds", "verified", "errors"):
        assert key in doc
    assert (doc["converted"], doc["verified"], doc["errors"]) == (5, None, [])
    assert r.stderr == ""


def test_cli_quiet_prints_nothing_on_success(invoke, tmp_path):
    r = invoke("convert", "-q", SAMPLES / "inbox.mbox", tmp_path / "md")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "", "")


@pytest.mark.parametrize("make", ["missing", "garbage", "fifo", "directory", "unreadable"])
def test_cli_bad_input_is_one_line_and_exit_2(invoke, tmp_path, make, monkeypatch):
    src = tmp_path / "src"
    if make == "garbage":
        src.write_bytes(os.urandom(4096).replace(b"From ", b"xxxxx"))
    elif make == "fifo":
        os.mkfifo(src)
    elif make == "directory":
        (src / "sub").mkdir(parents=True)
    elif make == "unreadable":
        src.write_bytes(mbox_entry())
        os.chmod(src, 0)
        if os.geteuid() == 0:                 # root reads everything: refuse it as the kernel would
            real_open, real_access = os.open, os.access
            def denied(path, *args, **kwargs):
                if str(path) == str(src):
                    raise PermissionError(errno.EACCES, "Permission denied", str(path))
                return real_open(path, *args, **kwargs)
            monkeypatch.setattr(os, "open", denied)
            monkeypatch.setattr(os, "access", lambda path, mode, **kw: str(path) != str(src)
                                and real_access(path, mode, **kw))
    r = invoke("convert", src, tmp_path / "dst")
    assert r.exit_code == 2
    assert len(r.stderr.strip().splitlines()) == 1 and str(src) in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert not (tmp_path / "dst").exists()


@pytest.mark.parametrize("fmt", ["maildir", "mbox", "mh", "mmdf", "babyl"])
def test_cli_destination_in_read_only_directory(invoke, tmp_path, fmt):
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:                   # root writes everywhere, but not on a read-only mount
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)],
                          capture_output=True).returncode != 0:
            pytest.skip("root writes everywhere, and no read-only tmpfs can be mounted here")
    else:
        os.chmod(ro, 0o500)
    try:
        r = invoke("convert", "--to", fmt, SAMPLES / "inbox.mbox", ro / "out")
        assert r.exit_code == 2, r.stderr
        assert [line.lower() for line in r.stderr.strip().splitlines()] == [
            f"error: {ro / 'out'}: cannot create: ".lower()
            + ("read-only file system" if os.geteuid() == 0 else "permission denied")]
        assert r.stdout == "" and not (ro / "out").exists()
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(ro)], check=False)


def test_cli_destination_of_the_wrong_format(invoke, tmp_path):
    dst = tmp_path / "notes.txt"
    dst.write_text("just some notes\n")
    r = invoke("convert", SAMPLES / "inbox.mbox", dst)
    assert r.exit_code == 2 and "notes.txt" in r.stderr
    assert dst.read_text() == "just some notes\n"


def test_cli_unconvertible_garbage_is_reported_and_exit_1(invoke, tmp_path):
    src = tmp_path / "src"
    src.write_bytes(b"leftover junk that is no message\n" + mbox_entry())
    r = invoke("convert", "--json", "--from", "mbox", src, tmp_path / "md")
    doc = json.loads(r.stdout)
    assert r.exit_code == 1 and (doc["converted"], doc["failed"]) == (1, 1)
    assert doc["errors"][0]["offset"] == 0


def test_unchanged_source_is_resumed_where_the_last_run_stopped(tmp_path):
    src = tmp_path / "spool"
    src.write_bytes(mbox_entry(body="one\n") + mbox_entry(body="two\n"))
    md = tmp_path / "md"
    assert convert_mailbox(src, md).converted == 2
    again = convert_mailbox(src, md)
    # every message of SRC already in DST counts as skipped, also those before the offset
    assert (again.converted, again.skipped, again.resumed_at) == (0, 2, src.stat().st_size)
    size = src.stat().st_size
    with open(src, "ab") as fh:
        fh.write(mbox_entry(body="three\n"))
    third = convert_mailbox(src, md)
    assert (third.converted, third.skipped, third.resumed_at) == (1, 2, size)
    assert len(maildir_files(md)) == 3
    assert convert_mailbox(src, md).skipped == 3


def test_a_resumed_rerun_says_as_many_already_there_as_converting_a_copy(invoke, tmp_path):
    src = tmp_path / "spool"
    src.write_bytes(b"".join(mbox_entry(body=f"{n}\n") for n in range(5)))
    md = tmp_path / "md"
    assert invoke("convert", src, md).exit_code == 0
    resumed = invoke("convert", "--json", src, md)
    copy = tmp_path / "copy"
    copy.write_bytes(src.read_bytes())
    copied = invoke("convert", "--json", copy, md)
    doc, other = json.loads(resumed.stdout), json.loads(copied.stdout)
    assert doc["resumed_at"] == src.stat().st_size and other["resumed_at"] is None
    assert (doc["converted"], doc["skipped"]) == (other["converted"], other["skipped"]) == (0, 5)
    assert "; 5 already there" in invoke("convert", src, md).stdout


def test_a_state_file_that_cannot_be_written_is_a_warning_not_a_failure(tmp_path, monkeypatch):
    """The mail is in; only the shortcut for the next run is missing, and that run still
    converts nothing twice."""
    import mboxtool.fs.durable as durable_mod
    src = tmp_path / "spool"
    src.write_bytes(mbox_entry(body="one\n"))
    md = tmp_path / "md"
    assert convert_mailbox(src, md).converted == 1
    state_before = (md / ".mboxtool-state").read_bytes()
    first_size = src.stat().st_size
    with open(src, "ab") as fh:
        fh.write(mbox_entry(body="two\n"))

    def full(fd, buffers, offset=None):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(durable_mod, "write_buffers", full)
    report = convert_mailbox(src, md)
    monkeypatch.undo()
    assert report.ok and report.converted == 1
    assert [w["code"] for w in report.warnings] == ["state-not-saved"]
    assert (md / ".mboxtool-state").read_bytes() == state_before            # the old state, whole
    from mboxtool.convert.checkpoint import digests_name
    kept = [".mboxtool-state", digests_name(str(src.resolve())), "cur", "new", "tmp"]
    assert sorted(os.listdir(md)) == sorted(kept)                          # no temporary left
    again = convert_mailbox(src, md)
    # from where the last recorded run stopped: the second message is read again and skipped;
    # the first, before that point, is already there too
    assert (again.converted, again.skipped, again.resumed_at) == (0, 2, first_size)


def test_a_message_deleted_from_the_maildir_does_not_come_back_from_a_rewritten_spool(tmp_path):
    """A user deletes a converted message in the Maildir; then a MUA rewrites the spool (here:
    marks a message read), so the next run reads it from the start. The deleted message must
    stay deleted: it was converted once. Removing the state file starts over."""
    src = tmp_path / "spool"
    src.write_bytes(b"".join(mbox_entry(body=f"{word}\n") for word in ("one", "two", "three")))
    md = tmp_path / "md"
    assert convert_mailbox(src, md).converted == 3
    two = next(p for p in (md / "new").iterdir() if p.read_bytes().endswith(b"two\n"))
    two.unlink()                                          # deleted by the user's mail client
    src.write_bytes(src.read_bytes().replace(b"\n\none\n", b"\nStatus: RO\n\none\n"))   # a MUA rewrote it
    again = convert_mailbox(src, md)
    assert (again.resumed_at, again.converted, again.skipped) == (None, 0, 3)
    assert sorted(p.read_bytes().rsplit(b"\n\n", 1)[1] for sub in ("new", "cur")
                  for p in (md / sub).iterdir()) == [b"one\n", b"three\n"]
    with open(src, "ab") as fh:                           # new mail still comes in
        fh.write(mbox_entry(body="four\n"))
    assert convert_mailbox(src, md).converted == 1
    (md / ".mboxtool-state").unlink()                     # start over: everything not there
    assert convert_mailbox(src, md).converted == 1        # "two" again


def test_a_state_file_from_before_delivered_digests_still_resumes(tmp_path):
    src = tmp_path / "spool"
    src.write_bytes(mbox_entry(body="one\n"))
    md = tmp_path / "md"
    convert_mailbox(src, md)
    state = md / ".mboxtool-state"
    entries = json.loads(state.read_text())
    for entry in entries.values():
        del entry["digests"]
    state.write_text(json.dumps(entries))
    again = convert_mailbox(src, md)
    assert (again.resumed_at, again.converted) == (src.stat().st_size, 0)
    # nothing was read this time, so nothing is known yet of what came before
    from mboxtool.convert.checkpoint import delivered
    assert len(delivered(state, src)) == 0


def test_delivered_digests_live_beside_the_state_and_old_base64_ones_are_still_read(tmp_path):
    """Digests are kept 8 bytes each in a file of their own, never as text in the JSON
    (2 million would be 22 MB of base64, held several times over while written). A state file
    of the earlier format, with base64 digests in the JSON, is still read, and rewritten."""
    import base64
    import struct

    from mboxtool.convert.checkpoint import delivered, digests_name
    from mboxtool.model.digest import short_digest
    src = tmp_path / "spool"
    src.write_bytes(mbox_entry(body="one\n") + mbox_entry(body="two\n"))
    md = tmp_path / "md"
    convert_mailbox(src, md)
    state = md / ".mboxtool-state"
    entry = json.loads(state.read_text())[str(src.resolve())]
    assert "delivered" not in entry and entry["digests"] == digests_name(str(src.resolve()))
    with MboxReader(src) as reader:
        want = sorted(short_digest(m.data) for m in reader)
    raw = (md / entry["digests"]).read_bytes()
    assert list(struct.unpack(f">{len(raw) // 8}Q", raw)) == want          # ascending, 8 bytes each
    # the earlier format: the same digests as base64 in the JSON, no digests file
    (md / entry["digests"]).unlink()
    del entry["digests"]
    entry["delivered"] = base64.b64encode(raw).decode()
    state.write_text(json.dumps({str(src.resolve()): entry}))
    assert sorted(delivered(state, src)) == want
    with open(src, "ab") as fh:
        fh.write(mbox_entry(body="three\n"))
    assert convert_mailbox(src, md).converted == 1
    assert len(delivered(state, src)) == 3 and "delivered" not in json.loads(state.read_text())[str(src.resolve())]


def test_rewritten_source_is_read_from_the_start(tmp_path):
    src = tmp_path / "spool"
    src.write_bytes(mbox_entry(body="one\n") + mbox_entry(body="two\n"))
    md = tmp_path / "md"
    convert_mailbox(src, md)
    data = src.read_bytes().replace(b"one", b"uno")        # a MUA rewrote the file in place
    with open(src, "r+b") as fh:
        fh.write(data)
    report = convert_mailbox(src, md)
    assert (report.resumed_at, report.converted, report.skipped) == (None, 1, 1)


@pytest.mark.parametrize("variant", ["mboxo", "mboxrd", "mboxcl", "mboxcl2"])
def test_rerun_into_mbox_of_any_variant_adds_nothing(tmp_path, variant):
    md = tmp_path / "md"
    make_maildir(md)
    (md / "cur" / "1.x:2,S").write_bytes(b"Subject: q\n\nFrom here\n>From there\n>>From everywhere\n")
    box = tmp_path / "box"
    assert convert_mailbox(md, box, ConvertOptions(variant=variant)).converted == 1
    again = convert_mailbox(md, box, ConvertOptions(variant=variant))
    assert (again.converted, again.skipped) == (0, 1)


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


def test_writer_process_dying_stops_the_run_cleanly(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.write_bytes(b"".join(mbox_entry(body=f"message {i}\n") for i in range(700)))
    md = tmp_path / "md"
    undo = break_delivery(monkeypatch, 400, lambda *_: os._exit(9))   # the writer process vanishes
    report = convert_mailbox(src, md)
    undo()
    assert not report.ok and report.converted in (256, 512)   # whole acknowledged batches only
    again = convert_mailbox(src, md)
    assert again.ok and again.converted + again.skipped == 700
    assert len({m.data for m in MaildirReader(md)}) == 700 == len(list(MaildirReader(md)))


def test_keywords_stay_right_across_writer_processes(tmp_path):
    """Batches go to two writer processes in turn; keyword letters are given out by one process
    only, so dovecot-keywords agrees with every file name (and words beyond 26 go to a header)."""
    pool = [f"$Kw{k}" for k in range(30)]
    src = tmp_path / "src"
    expected = {}
    with open(src, "wb") as fh:
        for i in range(1000):
            words = sorted({pool[(i * 7 + j * 11) % 30] for j in range(i % 4)})
            fh.write(mbox_entry(headers=f"X-Keywords: {' '.join(words)}\nMessage-ID: <{i}@t>\n",
                                body=f"message {i}\n"))
            expected[f"<{i}@t>"] = set(words)
    md = tmp_path / "md"
    report = convert_mailbox(src, md)
    assert report.ok and report.converted == 1000
    assert any(w["code"] == "keywords-in-header" for w in report.warnings)   # 30 words, 26 letters
    got = {}
    for msg in MaildirReader(md):
        headers = split_message(msg.data)[0]
        words = set(msg.keywords) | set(" ".join(headers.get_all(b"x-keywords")).split())
        got[headers.get(b"message-id")] = words
    assert got == expected


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


def test_fcntl_only_appends_without_a_dotlock(tmp_path, monkeypatch):
    box = tmp_path / "box"
    box.write_bytes(mbox_entry())
    import mboxtool.fs.locking as locking
    made = []
    real = locking.MboxLock._try_dotlock
    monkeypatch.setattr(locking.MboxLock, "_try_dotlock", lambda self: made.append(1) or real(self))
    report = convert_mailbox(SAMPLES / "Maildir", box, ConvertOptions(dotlock=False))
    assert report.converted == 3 and made == []
    convert_mailbox(SAMPLES / "inbox.mbox", box)
    assert made == [1]


def test_writer_process_dies_with_a_killed_parent(tmp_path):
    md = tmp_path / "md"
    kill_midway(tmp_path / "src", md, 100000, "y" * 500, 500, "--no-fsync")
    time.sleep(0.05)
    at_kill = len(os.listdir(md / "new"))
    time.sleep(1.0)
    # nothing wrote on behind our back: at most the one file each writer process had in flight
    assert len(os.listdir(md / "new")) - at_kill <= 2 and at_kill < 100000


@pytest.mark.parametrize("fmt", ["mbox", "mh", "mmdf", "babyl"])
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


def test_move_never_truncates_a_spool_that_changed_under_the_lock(tmp_path, monkeypatch, invoke):
    src = tmp_path / "spool"
    src.write_bytes(mbox_entry(body="a\n"))
    import mboxtool.convert.mailbox as convert_mod
    real = convert_mod._remove_moved

    def writer_ignoring_the_lock(reader, *args):          # a rogue writer appends meanwhile
        with open(src, "ab") as fh:
            fh.write(mbox_entry(body="late\n"))
        return real(reader, *args)
    monkeypatch.setattr(convert_mod, "_remove_moved", writer_ignoring_the_lock)
    r = invoke("convert", "--move", src, tmp_path / "md")
    assert r.exit_code == 1 and "not truncated" in r.stderr and "Traceback" not in r.stderr
    assert src.read_bytes().endswith(b"late\n\n") and src.read_bytes().startswith(b"From a@")


@pytest.mark.parametrize("inside, recursive", [("cur/out.mbox", False), (".Sub", False), ("out", True)])
def test_destination_inside_a_directory_source_is_refused(invoke, tmp_path, inside, recursive):
    # a new mbox in a Maildir's cur/ would be listed as one of its messages; a tree would
    # convert its own output on the next run
    src = make_maildir(tmp_path / "md")
    (src / "cur" / "1.x:2,S").write_bytes(b"Subject: a\n\nbody\n")
    before = tree_digest(src)
    dst = src / inside
    r = invoke("convert", *(["--recursive"] if recursive else []), src, dst)
    assert r.exit_code == 2 and "inside the source" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not dst.exists() and tree_digest(src) == before


def test_a_maildir_subfolder_can_be_merged_into_its_parent(tmp_path):
    parent = make_maildir(tmp_path / "md")
    sub = make_maildir(parent / ".Archive")
    (sub / "cur" / "1.x:2,S").write_bytes(b"Subject: a\n\nbody\n")
    report = convert_mailbox(sub, parent)
    assert report.converted == 1 and len(maildir_files(parent)) == 1


def test_subfolders_left_out_are_reported_and_recursive_takes_them(invoke, tmp_path):
    md = make_maildir(tmp_path / "md")
    (md / "cur" / "1.x:2,S").write_bytes(b"Subject: inbox\n\nbody\n")
    sub = make_maildir(md / ".Work")
    (sub / "cur" / "2.x:2,S").write_bytes(b"Subject: work\n\nbody\n")
    r = invoke("convert", "--json", md, tmp_path / "out.mbox")
    codes = [w["code"] for w in json.loads(r.stdout)["warnings"]]
    assert r.exit_code == 0 and codes == ["subfolders-not-converted"]
    r = invoke("convert", "-q", md, tmp_path / "again.mbox")
    assert r.exit_code == 0 and r.stderr == "" and r.stdout == ""       # cron: quiet
    r = invoke("convert", "--json", "--recursive", md, tmp_path / "tree")
    doc = json.loads(r.stdout)
    assert doc["converted"] == 2 and doc["warnings"] == []
    box = tmp_path / "Sub"                                              # Thunderbird: Sub + Sub.sbd/
    box.write_bytes(mbox_entry())
    (tmp_path / "Sub.sbd").mkdir()
    (tmp_path / "Sub.sbd" / "Deeper").write_bytes(mbox_entry())
    r = invoke("convert", box, tmp_path / "md2")
    assert r.exit_code == 0 and "Sub.sbd" in r.stderr and "--recursive" in r.stderr


def test_an_mbox_append_failing_mid_run_counts_exactly_what_is_in_the_file(tmp_path, monkeypatch):
    """Batches are appended by a thread while the next is rendered: the second append fails,
    the batch rendered meanwhile is never written, and the count is what the file holds."""
    import mboxtool.formats.mbox as mbox_mod
    from mboxtool.formats.mbox import MboxReader
    src, box = tmp_path / "md", tmp_path / "box"
    for sub in ("cur", "new", "tmp"):
        (src / sub).mkdir(parents=True)
    for i in range(1200):                                      # about 10 MB: five batches of 2 MiB
        (src / "cur" / f"{1700000000 + i}.M{i}P1.host:2,S").write_bytes(
            b"Subject: %d\n\n" % i + b"w" * 8000 + b"\n")
    calls, real = [], mbox_mod.write_buffers

    def second_fails(fd, buffers, offset):
        calls.append(offset)
        if len(calls) == 2:
            real(fd, buffers[:3], offset)                     # a little reaches the disk, then it is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, buffers, offset)
    monkeypatch.setattr(mbox_mod, "write_buffers", second_fails)
    report = convert_mailbox(src, box)
    monkeypatch.undo()
    assert len(calls) == 2 and not report.ok and len(report.errors) == 1
    with MboxReader(box) as reader:
        held = [m.data for m in reader]
    assert 0 < report.converted == len(held) < 1200 and box.stat().st_size == calls[1]
    again = convert_mailbox(src, box, ConvertOptions(verify=True))
    assert again.ok and again.verified and again.converted + again.skipped == 1200
    with MboxReader(box) as reader:
        subjects = [m.data.split(b"\n", 1)[0] for m in reader]
    assert sorted(subjects) == sorted(b"Subject: %d" % i for i in range(1200))
    # no append thread outlives its run (a --recursive run forks Maildir writers after it)
    assert not [t for t in threading.enumerate() if t.name == "mboxtool-append"]


@pytest.mark.parametrize("fmt", ["maildir", "mh", "mbox"])
def test_a_really_full_disk_stops_cleanly_and_a_rerun_with_room_finishes(tmp_path, invoke, fmt, small_disk):
    """Not a simulated failure: a 1 MiB tmpfs fills up part of the way through."""
    from mboxtool.formats.mbox import MboxReader
    from mboxtool.formats.mh import MHReader
    src = tmp_path / "in.mbox"
    src.write_bytes(b"".join(mbox_entry(body=f"message {i}\n" + "x" * 8000 + "\n") for i in range(3000)))
    md = small_disk.path / "box"
    full = invoke("convert", "--json", "--to", fmt, src, md)
    assert full.exit_code == 1
    doc = json.loads(full.stdout)
    assert doc["stopped"] is True and doc["converted"] < 3000
    assert [e["errno"] for e in doc["errors"]] == ["ENOSPC"]
    if fmt == "maildir":
        assert os.listdir(md / "tmp") == []                      # nothing half-written left behind
    elif fmt == "mbox":                                          # cut back to whole messages
        assert os.listdir(small_disk.path) == ["box"]
        with MboxReader(md) as reader:
            assert all(m.data.endswith(b"x\n") for m in reader)
    else:
        assert not [n for n in os.listdir(md) if n.startswith(".mboxtool")]
        for name in os.listdir(md):                              # every numbered message is whole
            assert name.startswith(".") or (md / name).read_bytes().endswith(b"x\n")
    human = invoke("convert", "--to", fmt, src, md)              # still full: said plainly
    assert human.exit_code == 1 and "STOPPED by a write error" in human.stdout
    assert "No space left on device" in human.stderr and "Traceback" not in human.stderr
    small_disk.grow()
    again = invoke("convert", "--json", "--verify", "--to", fmt, src, md)
    assert again.exit_code == 0, again.stderr
    doc = json.loads(again.stdout)
    assert doc["stopped"] is False and doc["verified"] is True
    with {"maildir": MaildirReader, "mh": MHReader, "mbox": MboxReader}[fmt](md) as reader:
        bodies = [m.data.split(b"\n\n", 1)[1] for m in reader]
    assert len(bodies) == 3000 and len(set(bodies)) == 3000       # nothing lost, nothing twice


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


def test_an_unforeseen_error_is_one_line_and_exit_2(invoke, tmp_path, monkeypatch):
    """A bug met on odd input still gives one line on stderr, never a traceback."""
    import mboxtool.cli.convert_command as cli_mod

    def broken(*args, **kwargs):
        raise AssertionError("n >= 0")
    monkeypatch.setattr(cli_mod, "convert_mailbox", broken)
    box = tmp_path / "box"
    box.write_bytes(mbox_entry())
    r = invoke("convert", box, tmp_path / "md")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "internal error (AssertionError: n >= 0)" in r.stderr
    monkeypatch.setenv("MBOXTOOL_DEBUG", "1")
    with pytest.raises(AssertionError):
        invoke("convert", box, tmp_path / "md")


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


_KEYWORD_BYTES = st.binary(min_size=1, max_size=10).filter(
    lambda w: not any(b <= 0x20 or b in (0x2C, 0x7F) for b in w) and w != b"$Forwarded")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(_KEYWORD_BYTES, min_size=1, max_size=5, unique=True))
def test_property_keywords_keep_their_bytes_through_maildir_and_back(tmp_path_factory, words):
    """Any keyword bytes (UTF-8 or not; bytes 0x85 and 0xA0, which str.split() takes for blanks,
    included) come back byte for byte from mbox -> Maildir -> mbox, however often."""
    base = tmp_path_factory.mktemp("kw")
    box = base / "box"
    box.write_bytes(b"From a@b Mon Jan  6 10:00:00 2020\nSubject: k\nX-Keywords: " + b" ".join(words) + b"\n\nbody\n")
    convert_mailbox(box, base / "md")
    convert_mailbox(base / "md", base / "box2")
    convert_mailbox(base / "box2", base / "md2")
    convert_mailbox(base / "md2", base / "box3")
    line = next(l for l in (base / "box3").read_bytes().split(b"\n") if l.startswith(b"X-Keywords: "))
    assert sorted(line[len(b"X-Keywords: "):].split(b" ")) == sorted(words)
    (msg,) = MaildirReader(base / "md2")
    assert sorted(msg.keywords) == sorted(w.decode("utf-8", "surrogateescape") for w in words)


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


def test_gmail_labels_stay_one_keyword_each_through_every_round_trip(tmp_path):
    """A Takeout label with a blank or a comma ("Category Updates") was split into several
    keywords by the first X-Keywords it went through (found by fuzzing)."""
    box = tmp_path / "takeout.mbox"
    box.write_bytes(b'From 1@xxx Mon Jan 06 10:00:00 +0000 2020\nX-Gmail-Labels: Inbox,"Category Updates",'
                    b'"a,b",Opened\nSubject: s\n\nbody\n')
    convert_mailbox(box, tmp_path / "md")
    convert_mailbox(tmp_path / "md", tmp_path / "back.mbox")
    convert_mailbox(tmp_path / "back.mbox", tmp_path / "md2")
    first, again = (sorted(next(iter(MaildirReader(tmp_path / d))).keywords) for d in ("md", "md2"))
    assert first == again == ["Category_Updates", "Inbox", "Opened", "a_b"]


@pytest.mark.parametrize("fmt, kept", [("mbox", "a_b"), ("mmdf", "a_b"), ("babyl", "a_b"), ("mh", "a,b")])
def test_a_keyword_with_a_comma_stays_one_keyword(tmp_path, fmt, kept):
    """An IMAP keyword may hold a comma (Dovecot keeps "a,b"); X-Keywords and Babyl label
    lists split at commas, so there it becomes a_b and is reported, instead of coming back
    as two keywords (mbox, MMDF) or not at all (Babyl). MH sequences keep it as it is."""
    md = tmp_path / "md"
    make_maildir(md)
    (md / "dovecot-keywords").write_text("0 a,b\n1 x\n")
    (md / "cur" / "1.M1.h:2,Sab").write_bytes(b"Subject: s\n\nbody\n")
    out = tmp_path / f"out.{fmt}"
    report = convert_mailbox(md, out, ConvertOptions(to_format=fmt))
    assert report.converted == 1
    renamed = [w["keyword"] for w in report.warnings if w["code"] == "keyword-renamed"]
    assert renamed == ([] if fmt == "mh" else ["a,b"])
    back = tmp_path / "back"
    convert_mailbox(out, back, ConvertOptions(to_format="maildir"))
    with MaildirReader(back) as reader:
        assert [sorted(m.keywords) for m in reader] == [sorted([kept, "x"])]


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


def test_a_file_system_that_refuses_colons_is_named_as_the_cause(tmp_path, invoke, monkeypatch):
    """FAT and exFAT (a USB stick) refuse the ':' of every Maildir name with EINVAL: the run
    stops with an error that says why, nothing is counted as converted and the source is kept."""
    real_link, real_rename = os.link, os.rename

    def refuse_colon(path):
        if ":" in os.fspath(path).rsplit("/", 1)[-1]:
            raise OSError(errno.EINVAL, "Invalid argument")

    def link(src, dst, *args, **kwargs):
        refuse_colon(dst)
        return real_link(src, dst, *args, **kwargs)

    def rename(src, dst, *args, **kwargs):
        refuse_colon(dst)
        return real_rename(src, dst, *args, **kwargs)
    monkeypatch.setattr(os, "link", link)
    monkeypatch.setattr(os, "rename", rename)
    src = tmp_path / "box"
    seen = "From: a@example.org\nSubject: read\nStatus: RO\n"      # read mail: cur/NAME:2,S
    src.write_bytes(mbox_entry(headers=seen, body="one\n") + mbox_entry(headers=seen, body="two\n"))
    before = src.read_bytes()
    r = invoke("convert", "--json", src, tmp_path / "stick" / "Maildir")
    doc = json.loads(r.stdout)
    assert r.exit_code == 1 and doc["converted"] == 0
    assert "FAT or exFAT" in doc["errors"][0]["message"]
    assert src.read_bytes() == before
    left = [p.name for sub in ("cur", "new", "tmp") for p in (tmp_path / "stick" / "Maildir" / sub).iterdir()]
    assert left == []


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
