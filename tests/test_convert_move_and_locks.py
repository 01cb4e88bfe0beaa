"""convert: locks shared with mail clients and delivery agents, and --move emptying the source."""

import os
import stat
import subprocess
import sys
import time

import pytest

from mboxtool import ConvertOptions, convert_mailbox

from .conftest import SAMPLES, maildir_files, mbox_entry, python_cmd


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
    from mboxtool import LockTimeout
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


def test_move_never_truncates_a_spool_that_changed_under_the_lock(tmp_path, monkeypatch, invoke):
    src = tmp_path / "spool"
    src.write_bytes(mbox_entry(body="a\n"))
    import mboxtool.convert.move as convert_mod
    real = convert_mod.remove_moved

    def writer_ignoring_the_lock(reader, *args):          # a rogue writer appends meanwhile
        with open(src, "ab") as fh:
            fh.write(mbox_entry(body="late\n"))
        return real(reader, *args)
    monkeypatch.setattr(convert_mod, "remove_moved", writer_ignoring_the_lock)
    r = invoke("convert", "--move", src, tmp_path / "md")
    assert r.exit_code == 1 and "not truncated" in r.stderr and "Traceback" not in r.stderr
    assert src.read_bytes().endswith(b"late\n\n") and src.read_bytes().startswith(b"From a@")
