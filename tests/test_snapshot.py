"""A long conversion reads the rest of its mbox source from a copy made under the lock (§7.3).

The lock is then free for delivery agents, and nothing they or a mail client
do to the spool afterwards changes what the run converts. The hold time is
set to zero here, so that the copy is made after the first message.
"""

import errno
import gzip
import os
import subprocess
import sys

import pytest

from mboxtool import ConvertOptions, MaildirReader, convert_mailbox
from mboxtool.convert import run as convert
from mboxtool.formats import mbox, mboxwindow

from .conftest import mbox_entry

LOCK_PROBE = ("import fcntl, sys\n"
              "f = open(sys.argv[1], 'r+b')\n"
              "fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n")


@pytest.fixture(autouse=True)
def room_for_copies(monkeypatch, request):
    """The tests here are about the copy, not about the room on the machine's disk."""
    if "statvfs" not in request.node.name:
        monkeypatch.setattr(mbox, "_room_for_copy", lambda directory, size: True)


def lock_is_free(path) -> bool:
    """Whether another process could take the exclusive lock a delivery agent takes."""
    return subprocess.run([sys.executable, "-c", LOCK_PROBE, str(path)], capture_output=True).returncode == 0


def spool(tmp_path, n=3):
    src = tmp_path / "spool"
    src.write_bytes(b"".join(mbox_entry(body=f"message {i}\n" * 40) for i in range(n)))
    return src


def bodies(md):
    with MaildirReader(md) as reader:
        return sorted(m.data.split(b"\n\n", 1)[1] for m in reader)


@pytest.mark.parametrize("hold, free", [(0, True), (3600, False)])
def test_the_lock_is_let_go_of_after_the_hold_time(tmp_path, monkeypatch, hold, free):
    monkeypatch.setattr(convert, "LOCK_HOLD_SECONDS", hold)
    src = spool(tmp_path)
    seen = []
    report = convert_mailbox(src, tmp_path / "md", progress=lambda n: seen.append(lock_is_free(src)))
    assert report.converted == 3
    assert seen == [free] * 3


def test_a_rewrite_after_the_copy_changes_nothing_converted(tmp_path, monkeypatch):
    monkeypatch.setattr(convert, "LOCK_HOLD_SECONDS", 0)
    monkeypatch.setattr(mboxwindow, "CHUNK", 4096)           # the scanner reads on as it goes
    src = spool(tmp_path, 60)
    original = src.read_bytes()
    expected = sorted(f"message {i}\n".encode() * 40 for i in range(60))

    def rewrite(_):
        if src.read_bytes() == original:               # a mail client rewrites the spool in place
            with open(src, "r+b") as fh:
                fh.write(b"X" * len(original))

    report = convert_mailbox(src, tmp_path / "md", progress=rewrite)
    assert report.converted == 60 and report.failed == 0
    assert bodies(tmp_path / "md") == expected
    assert src.read_bytes() == b"X" * len(original)        # the run itself never wrote to it


def test_nothing_is_left_in_tmp_and_the_source_keeps_its_times(tmp_path, monkeypatch):
    monkeypatch.setattr(convert, "LOCK_HOLD_SECONDS", 0)
    src = spool(tmp_path)
    os.utime(src, (1_600_000_000, 1_700_000_000))          # mtime > atime: "you have new mail"
    md = tmp_path / "md"
    assert convert_mailbox(src, md).converted == 3
    assert list((md / "tmp").iterdir()) == []
    st = src.stat()
    assert (int(st.st_atime), int(st.st_mtime)) == (1_600_000_000, 1_700_000_000)


def test_a_snapshot_run_still_resumes_where_it_stopped(tmp_path, monkeypatch):
    # the checkpoint must name the spool, not the private copy the run read
    monkeypatch.setattr(convert, "LOCK_HOLD_SECONDS", 0)
    src = spool(tmp_path, 2)
    md = tmp_path / "md"
    assert convert_mailbox(src, md).converted == 2
    size = src.stat().st_size
    with open(src, "ab") as fh:
        fh.write(mbox_entry(body="three\n"))
    again = convert_mailbox(src, md)
    assert (again.converted, again.skipped, again.resumed_at) == (1, 2, size)


def test_a_copy_that_cannot_be_made_keeps_the_lock_and_converts_all(tmp_path, monkeypatch):
    monkeypatch.setattr(convert, "LOCK_HOLD_SECONDS", 0)

    def full(*_):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(mbox, "copy_range", full)
    src = spool(tmp_path)
    seen = []
    report = convert_mailbox(src, tmp_path / "md", progress=lambda n: seen.append(lock_is_free(src)))
    assert report.converted == 3 and seen == [False] * 3


def test_copy_without_copy_file_range(tmp_path, monkeypatch):
    monkeypatch.setattr(convert, "LOCK_HOLD_SECONDS", 0)

    def unsupported(*_):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", unsupported)
    monkeypatch.setattr(mbox, "CHUNK", 100)                  # many reads: offsets must stay right
    src = spool(tmp_path)
    assert convert_mailbox(src, tmp_path / "md").converted == 3
    assert bodies(tmp_path / "md") == [f"message {i}\n".encode() * 40 for i in range(3)]


def test_move_and_dry_run_never_read_a_copy(tmp_path, monkeypatch):
    monkeypatch.setattr(convert, "LOCK_HOLD_SECONDS", 0)
    src = spool(tmp_path)
    seen = []
    report = convert_mailbox(src, tmp_path / "dry", ConvertOptions(dry_run=True),
                             progress=lambda n: seen.append(lock_is_free(src)))
    assert report.converted == 3 and not (tmp_path / "dry").exists()
    # --move holds its exclusive lock from the first read until the truncation (§7.5)
    report = convert_mailbox(src, tmp_path / "md", ConvertOptions(move=True),
                             progress=lambda n: seen.append(lock_is_free(src)))
    assert report.converted == 3 and src.stat().st_size == 0
    assert seen == [False] * 6


def test_compressed_source_lets_go_of_its_lock_too(tmp_path, monkeypatch):
    monkeypatch.setattr(convert, "LOCK_HOLD_SECONDS", 0)
    src = tmp_path / "archive.mbox.gz"
    src.write_bytes(gzip.compress(spool(tmp_path).read_bytes()))
    seen = []
    report = convert_mailbox(src, tmp_path / "md", progress=lambda n: seen.append(lock_is_free(src)))
    assert report.converted == 3 and seen == [True] * 3


def test_compressed_source_resumes_too(tmp_path):
    # its bytes are read from a decompressed copy; the checkpoint names the .gz file
    src = tmp_path / "archive.mbox.gz"
    data = spool(tmp_path).read_bytes()
    src.write_bytes(gzip.compress(data))
    md = tmp_path / "md"
    assert convert_mailbox(src, md).converted == 3
    again = convert_mailbox(src, md)
    assert (again.converted, again.skipped, again.resumed_at) == (0, 3, len(data))


@pytest.mark.parametrize("kernel_copy", [True, False])
def test_a_source_that_shrinks_while_copied_gives_no_partial_copy(tmp_path, monkeypatch, kernel_copy):
    src = spool(tmp_path)
    data = src.read_bytes()
    if not kernel_copy:
        def unsupported(*_):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        monkeypatch.setattr(os, "copy_file_range", unsupported)
    reader = mbox.MboxReader(src).open()
    try:
        os.truncate(src, len(data) // 2)                     # someone ignored the lock
        assert reader.snapshot(tmp_path) is False            # keeps the lock and the source
        assert reader.lock is not None and not reader.snapshotted
    finally:
        reader.close()


def test_no_copy_that_would_crowd_the_disk_statvfs(tmp_path, monkeypatch):
    """The copy goes where the converted mail goes: when the disk could not hold the copy, the
    converted mail and 5 % to spare, the run keeps its lock instead of filling the disk that
    deliveries write to."""
    monkeypatch.setattr(convert, "LOCK_HOLD_SECONDS", 0)
    src = spool(tmp_path)
    size = src.stat().st_size
    real = os.statvfs

    def disk(free_blocks):
        def statvfs(path):
            st = real(path)
            return os.statvfs_result((4096, 4096, 100_000, free_blocks, free_blocks) + tuple(st)[5:])
        return statvfs

    for free_blocks, let_go in ((5_000, False), (5_000 + 2 * size // 4096 + 2, True)):
        monkeypatch.setattr(os, "statvfs", disk(free_blocks))
        seen = []
        md = tmp_path / f"md{free_blocks}"
        report = convert_mailbox(src, md, progress=lambda n, seen=seen: seen.append(lock_is_free(src)))
        assert report.converted == 3 and seen[-1] is let_go
