"""The mbox lock protocol (§7.3): fcntl + dotlock, refresh, stale locks, timeouts; and the
lock that keeps two mboxtool runs out of one destination directory."""

import json
import os
import subprocess
import sys
import time

import pytest

import mboxtool.fs.locking as locking
from mboxtool import LockTimeout, make_reader
from mboxtool.fs.locking import MboxLock, dotlock_state

from .conftest import mbox_entry, python_cmd


@pytest.fixture
def box(tmp_path):
    p = tmp_path / "spool"
    p.write_bytes(b"")
    fd = os.open(p, os.O_RDWR)
    yield p, fd
    os.close(fd)


def test_exclusive_lock_creates_and_removes_the_dotlock(box):
    path, fd = box
    with MboxLock(path, fd, True, 1).acquire():
        content = (path.parent / "spool.lock").read_text().split()
        assert int(content[0]) == os.getpid()
    assert not (path.parent / "spool.lock").exists()


def test_shared_lock_takes_no_dotlock(box):
    path, fd = box
    with MboxLock(path, fd, False, 1).acquire():
        assert not (path.parent / "spool.lock").exists()


def test_held_dotlock_is_refreshed(box, monkeypatch):
    path, fd = box
    monkeypatch.setattr(locking, "REFRESH_EVERY", 0.1)
    lock = path.parent / "spool.lock"
    with MboxLock(path, fd, True, 1).acquire():
        old = time.time() - 1000
        os.utime(lock, (old, old))
        time.sleep(0.5)
        assert time.time() - lock.stat().st_mtime < 5


def test_lock_of_a_dead_process_is_broken_at_once(box):
    path, fd = box
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (path.parent / "spool.lock").write_text(f"{dead.pid} {os.uname().nodename}\n")
    assert dotlock_state(path)[0]
    with MboxLock(path, fd, True, 1).acquire():
        assert int((path.parent / "spool.lock").read_text().split()[0]) == os.getpid()


def test_fresh_foreign_lock_times_out_with_a_reason(box):
    path, fd = box
    (path.parent / "spool.lock").write_text("")
    with pytest.raises(LockTimeout, match="spool.lock"):
        MboxLock(path, fd, True, 0.5).acquire()
    assert (path.parent / "spool.lock").exists()          # never removed: not ours, not stale


def test_old_lock_on_an_old_mailbox_is_stale(box):
    path, fd = box
    lock = path.parent / "spool.lock"
    lock.write_text("")
    old = time.time() - 3600
    os.utime(lock, (old, old))
    os.utime(path, (old, old))
    stale, why = dotlock_state(path)
    assert stale and "old" in why


def test_append_follows_a_file_renamed_over_the_spool_while_waiting(tmp_path):
    import threading

    from mboxtool import ConvertOptions, convert_mailbox

    from .conftest import SAMPLES, mbox_entry
    box = tmp_path / "box"
    box.write_bytes(mbox_entry(body="old inode\n"))
    holder = subprocess.Popen([sys.executable, "-c",
                               "import fcntl,sys,time; f=open(sys.argv[1],'r+b'); "
                               "fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(1.2)",
                               str(box)], stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == b"locked"
    replacement = tmp_path / "box.new"
    replacement.write_bytes(mbox_entry(body="new inode\n"))

    def rename_over():                                  # a MUA rewrites the folder meanwhile
        os.rename(replacement, box)
    threading.Timer(0.3, rename_over).start()
    try:
        report = convert_mailbox(SAMPLES / "Maildir", box, ConvertOptions(lock_timeout=10))
    finally:
        holder.wait()
        holder.stdout.close()
    data = box.read_bytes()
    assert report.converted == 3 and data.startswith(mbox_entry(body="new inode\n"))
    assert data.count(b"\nFrom ") == 3


# -- the destination directory lock (two mboxtool runs into one Maildir or MH folder) ------------

def _held_flock(path):
    import fcntl
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


@pytest.mark.formats(writable=True, is_file=False)
def test_busy_destination_directory_exits_75_and_writes_nothing(tmp_path, fmt):
    src, dst = tmp_path / "in.mbox", tmp_path / "out"
    src.write_bytes(b"".join(mbox_entry(body=f"m{i}\n") for i in range(20)))
    subprocess.run(python_cmd() + ["convert", "-q", "--to", fmt, str(src), str(dst)], check=True)
    before = sorted(p.relative_to(dst) for p in dst.rglob("*"))
    src.write_bytes(src.read_bytes() + mbox_entry(body="one more\n"))
    fd = _held_flock(dst)                              # another run is writing there
    try:
        r = subprocess.run(python_cmd() + ["convert", "--lock-timeout", "0.5", "--to", fmt, str(src), str(dst)],
                           capture_output=True, text=True)
    finally:
        os.close(fd)
    assert r.returncode == 75, r.stderr
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and "another mboxtool run" in r.stderr
    assert sorted(p.relative_to(dst) for p in dst.rglob("*")) == before
    r = subprocess.run(python_cmd() + ["convert", "--json", "--to", fmt, str(src), str(dst)], capture_output=True)
    assert r.returncode == 0 and json.loads(r.stdout)["converted"] == 1


def test_no_lock_does_not_wait_for_the_directory_lock(tmp_path):
    src, md = tmp_path / "in.mbox", tmp_path / "md"
    src.write_bytes(mbox_entry())
    md.mkdir()
    fd = _held_flock(md)
    try:
        r = subprocess.run(python_cmd() + ["convert", "--no-lock", "--lock-timeout", "0.5", str(src), str(md)],
                           capture_output=True, text=True)
    finally:
        os.close(fd)
    assert r.returncode == 0, r.stderr
    assert len(os.listdir(md / "new")) == 1


def run_twice_at_once(src, dst, fmt):
    """Two runs of the same conversion started together (an overlapping cron job); their reports."""
    runs = [subprocess.Popen(python_cmd() + ["convert", "--json", "--to", fmt, str(src), str(dst)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]     # both ended before any assert
    for run, (_, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err
    return [json.loads(out) for out, _ in outputs]


@pytest.mark.formats(writable=True, is_file=False)
def test_overlapping_runs_into_one_destination_deliver_each_message_once(tmp_path, fmt):
    """An overlapping cron job: two runs of the same conversion at once."""
    src, dst = tmp_path / "in.mbox", tmp_path / "out"
    src.write_bytes(b"".join(mbox_entry(body=f"message {i}\n" + "z" * 3000 + "\n") for i in range(3000)))
    assert sorted(d["converted"] for d in run_twice_at_once(src, dst, fmt)) == [0, 3000]
    with make_reader(dst, fmt) as reader:
        bodies = [m.data for m in reader]
    assert len(bodies) == 3000 and len(set(bodies)) == 3000


@pytest.mark.formats(writable=True, is_file=True, but=["mbox"])   # an empty file is an mbox
def test_overlapping_runs_creating_one_single_file_destination(tmp_path, fmt):
    """The second run finds the file the first just created (empty until its first batch)
    and waits for its lock instead of calling it an mbox."""
    src, dst = tmp_path / "md", tmp_path / f"out.{fmt}"
    for sub in ("cur", "new", "tmp"):
        (src / sub).mkdir(parents=True)
    for i in range(3000):
        (src / "new" / f"{1700000000 + i}.M{i}P1.host").write_bytes(b"Subject: %d\n\n" % i + b"w" * 1000 + b"\n")
    assert sorted(d["converted"] for d in run_twice_at_once(src, dst, fmt)) == [0, 3000]
    info = json.loads(subprocess.run(python_cmd() + ["info", "--json", str(dst)], capture_output=True).stdout)
    assert (info["format"], info["messages"]) == (fmt, 3000)


def test_a_spool_directory_without_write_access_exits_2_with_the_fcntl_only_hint(tmp_path, monkeypatch, invoke):
    """A user's own /var/mail/NAME in a directory only the mail group may write (Debian): the
    dotlock can never be made, so waiting and retrying (exit 75) would not help."""
    import errno

    import mboxtool.fs.locking as locking_mod
    spool = tmp_path / "alice"
    spool.write_bytes(b"From a@b Mon Jan  6 10:00:00 2020\nSubject: x\n\nbody\n")
    real_open = os.open

    def no_write_access(path, flags, *args, **kwargs):
        if ".lock." in str(path) and flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)
    monkeypatch.setattr(locking_mod.os, "open", no_write_access)
    result = invoke("convert", "--move", spool, tmp_path / "md")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"Error: {spool}: cannot create the dotlock alice.lock: Permission denied (the directory is not "
        "writable; --fcntl-only locks without it when every writer uses fcntl)"]
    assert spool.read_bytes().endswith(b"body\n") and not (tmp_path / "md").exists()
    fcntl_only = invoke("convert", "--move", "--fcntl-only", spool, tmp_path / "md")
    assert fcntl_only.exit_code == 0, fcntl_only.stderr
    assert spool.read_bytes() == b""


@pytest.mark.parametrize("present", [["tmp"], ["tmp", "new"], ["new", "cur"]])
def test_a_maildir_another_run_is_making_is_joined_not_refused(tmp_path, present):
    """Two cron runs starting at once into a new Maildir: the second could look while the first
    had made only some of tmp/, new/ and cur/, and refused the directory as 'not a Maildir'
    (exit 2). Such a directory is a Maildir in the making: joined, then locked as usual."""
    src, dst = tmp_path / "in.mbox", tmp_path / "Maildir"
    src.write_bytes(mbox_entry())
    for name in present:
        (dst / name).mkdir(parents=True)
    r = subprocess.run(python_cmd() + ["convert", "--json", str(src), str(dst)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["destination_format"] == "maildir"
    assert {"cur", "new", "tmp"} <= set(os.listdir(dst))


def test_an_mh_folder_being_made_is_never_refused_by_an_overlapping_run(tmp_path, monkeypatch):
    """Two cron runs starting at once into a new MH folder: whenever the second looks, while
    the first is making the folder, it must find an empty directory or an MH folder. It once
    found only the temporary name of .mh_sequences on its way in, and refused (exit 2)."""
    from mboxtool import MHWriter
    from mboxtool.convert.mailbox import destination_format
    dst = tmp_path / "out"
    seen, real_open = [], os.open

    def open_and_look(*args, **kwargs):
        fd = real_open(*args, **kwargs)
        if dst.is_dir():
            seen.append((sorted(os.listdir(dst)), destination_format("mbox", dst, "mh")))
        return fd

    monkeypatch.setattr(os, "open", open_and_look)
    writer = MHWriter(dst).open()
    monkeypatch.undo()
    writer.close()
    assert seen and all(fmt == "mh" for _, fmt in seen), seen
    assert os.listdir(dst) == [".mh_sequences"]
