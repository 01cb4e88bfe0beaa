"""convert: a write that fails, a process killed, a disk full: nothing is lost and a rerun converges."""

import errno
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from mboxtool import ConvertOptions, MaildirReader, MboxReader, convert_mailbox

from .conftest import SAMPLES, mbox_entry, python_cmd


def break_delivery(monkeypatch, at, fault):
    """Make Maildir delivery number ``at`` run ``fault(writer, tmpname, data)`` instead; returns undo."""
    from mboxtool import MaildirWriter
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
    from mboxtool import MaildirWriter
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
    import mboxtool.formats.mboxwriter as mbox_mod

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
    from mboxtool import MboxWriter
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


def test_writer_process_dies_with_a_killed_parent(tmp_path):
    md = tmp_path / "md"
    kill_midway(tmp_path / "src", md, 100000, "y" * 500, 500, "--no-fsync")
    time.sleep(0.05)
    at_kill = len(os.listdir(md / "new"))
    time.sleep(1.0)
    # nothing wrote on behind our back: at most the one file each writer process had in flight
    assert len(os.listdir(md / "new")) - at_kill <= 2 and at_kill < 100000


def test_an_mbox_append_failing_mid_run_counts_exactly_what_is_in_the_file(tmp_path, monkeypatch):
    """Batches are appended by a thread while the next is rendered: the second append fails,
    the batch rendered meanwhile is never written, and the count is what the file holds."""
    import mboxtool.formats.mboxwriter as mbox_mod
    from mboxtool import MboxReader
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


# one of each way of writing, each checked below: Maildir files, MH numbered files, an mbox appended
@pytest.mark.parametrize("fmt", ["maildir", "mh", "mbox"])
def test_a_really_full_disk_stops_cleanly_and_a_rerun_with_room_finishes(tmp_path, invoke, fmt, small_disk):
    """Not a simulated failure: a 1 MiB tmpfs fills up part of the way through."""
    from mboxtool import MboxReader, MHReader
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
