"""A mailbox's user cannot make a run hang or eat memory: a FIFO or a link to /dev/zero where
mboxtool reads a control file, a lock or a message is refused at once with a clear report;
a compressed mbox cannot fill the disk.

Every run is a subprocess with a time limit and an address-space limit, so a regression
fails the test instead of hanging the suite or waking the OOM killer.
"""

import gzip
import json
import os
import resource
import shutil
import subprocess

import pytest

from .conftest import ROOT, SAMPLES, make_maildir, mbox_entry, python_cmd

PROMPTLY = 60                    # seconds: each of these runs takes well under one


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def run(*args, env=None):
    return subprocess.run([*python_cmd(), *map(str, args)], cwd=ROOT, capture_output=True,
                          timeout=PROMPTLY, preexec_fn=_limit_memory, env=env)


def dev_zero(path):
    os.symlink("/dev/zero", path)


def fifo(path):
    os.mkfifo(path)


@pytest.mark.parametrize("plant", [dev_zero, fifo])
def test_a_destination_state_file_that_is_no_file(tmp_path, plant):
    dst = make_maildir(tmp_path / "Maildir")
    plant(dst / ".mboxtool-state")
    result = run("convert", "--json", SAMPLES / "inbox.mbox", dst)
    assert result.returncode == 0 and json.loads(result.stdout)["converted"] == 5
    assert (dst / ".mboxtool-state").is_file() and not (dst / ".mboxtool-state").is_symlink()   # replaced


@pytest.mark.parametrize("plant", [dev_zero, fifo])
def test_source_keywords_and_destination_digests_that_are_no_files(tmp_path, plant):
    src = make_maildir(tmp_path / "src")
    (src / "cur" / "1.host:2,Sa").write_bytes(b"Subject: one\n\nbody\n")
    plant(src / "dovecot-keywords")
    dst = make_maildir(tmp_path / "dst")
    (dst / "cur" / "1700000000.M1P2.other:2,S").write_bytes(b"Subject: delivered\n\nhi\n")
    plant(dst / ".mboxtool-digests")
    result = run("convert", "--json", src, dst)
    assert result.returncode == 0 and json.loads(result.stdout)["converted"] == 1


@pytest.mark.parametrize("plant", [dev_zero, fifo])
def test_a_dotlock_that_is_no_file(tmp_path, plant):
    box = tmp_path / "inbox"
    shutil.copyfile(SAMPLES / "inbox.mbox", box)
    plant(tmp_path / "inbox.lock")
    checked = run("validate", "--json", box)
    assert checked.returncode in (0, 1) and json.loads(checked.stdout)["messages"] == 5
    moved = run("convert", "--move", "--lock-timeout", "1", box, tmp_path / "Maildir")
    assert moved.returncode == 75 and b"lock" in moved.stderr        # held, as far as anyone can tell
    assert box.read_bytes() == (SAMPLES / "inbox.mbox").read_bytes()


def test_a_fifo_named_like_an_mh_message_does_not_hang_detection_or_a_tree_walk(tmp_path):
    mail = tmp_path / "Mail"
    work = mail / "work"
    work.mkdir(parents=True)
    fifo(work / "1")
    (work / "2").write_bytes(b"From: a@example.org\nSubject: two\n\nbody\n")
    (mail / "inbox").write_bytes(mbox_entry())
    shown = run("info", "--json", work)
    assert shown.returncode == 0 and json.loads(shown.stdout)["messages"] == 1
    converted = run("convert", "--json", work, tmp_path / "out")
    report = json.loads(converted.stdout)
    assert converted.returncode == 0 and report["converted"] == 1
    assert [(w["code"], w["key"]) for w in report["warnings"]] == [("foreign-file", "1")]
    walked = run("convert", "--recursive", "--json", mail, tmp_path / "Maildir")
    assert json.loads(walked.stdout)["converted"] == 2


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_babyl_from_a_device_is_refused_at_once(device):
    result = run("info", "--from", "babyl", device)
    assert result.returncode == 2 and b"not a regular file" in result.stderr


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_a_lock_timeout_that_never_ends_is_a_usage_error(tmp_path, value):
    for args in (["convert", SAMPLES / "inbox.mbox", tmp_path / "Maildir"], ["info", SAMPLES / "inbox.mbox"]):
        result = run(*args[:1], "--lock-timeout", value, *args[1:])
        assert result.returncode == 2 and b"--lock-timeout" in result.stderr
    assert not (tmp_path / "Maildir").exists()


@pytest.mark.parametrize("plant", [dev_zero, fifo])
def test_an_append_journal_that_is_no_file(tmp_path, plant):
    box = tmp_path / "mbox"
    box.write_bytes(mbox_entry())
    plant(tmp_path / "mbox.mboxtool-append")
    result = run("convert", SAMPLES / "inbox.mbox", box)
    assert result.returncode == 2 and b"mboxtool-append" in result.stderr
    assert box.read_bytes() == mbox_entry()


@pytest.mark.parametrize("plant", [dev_zero, fifo])
def test_subscription_lists_that_are_no_files(tmp_path, plant):
    root = make_maildir(tmp_path / "Maildir")
    plant(root / "subscriptions")
    result = run("convert", "--json", SAMPLES / "inbox.mbox", root / ".Work")
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["converted"] == 5
    assert [w["code"] for w in report["warnings"]] == ["folders-not-subscribed"]


def _gzip_mbox(path, size, repeat=True):
    """An mbox of about ``size`` bytes, gzip-compressed; ``repeat``: one message over and over
    (compresses some 200:1), else varied text (about 3:1)."""
    with gzip.open(path, "wb", compresslevel=1) as out:
        written, n = 0, 0
        while written < size:
            body = "the same line of a mailing list digest\n" * 400 if repeat else \
                "".join(f"{n}-{i} {os.urandom(24).hex()}\n" for i in range(200))
            entry = mbox_entry(body=body)
            out.write(entry)
            written, n = written + len(entry), n + 1
    return path


def test_a_decompression_bomb_is_refused_unless_asked(tmp_path):
    bomb = _gzip_mbox(tmp_path / "digest.mbox.gz", 64 << 20)
    assert (16 << 20) + os.path.getsize(bomb) * 100 < 64 << 20          # beyond the documented bound
    refused = run("convert", "--no-fsync", bomb, tmp_path / "Maildir")
    assert refused.returncode == 2 and b"decompression bomb" in refused.stderr
    assert b"--max-ratio" in refused.stderr and not list((tmp_path / "Maildir").rglob("*,S*"))
    shown = run("info", bomb)
    assert shown.returncode == 2 and b"decompression bomb" in shown.stderr
    asked = run("convert", "--no-fsync", "--json", "--max-ratio", "0", bomb, tmp_path / "Maildir")
    assert asked.returncode == 0 and json.loads(asked.stdout)["converted"] > 1000


def test_decompression_keeps_the_free_space_reserve_of_tmpdir(tmp_path, small_disk):
    small_disk.grow("64m")
    archive = _gzip_mbox(tmp_path / "archive.mbox.gz", 80 << 20)
    env = {**os.environ, "TMPDIR": str(small_disk.path)}
    result = run("convert", "--no-fsync", "--max-ratio", "0", archive, tmp_path / "Maildir", env=env)
    assert result.returncode == 2 and b"5 %" in result.stderr
    st = os.statvfs(small_disk.path)
    assert st.f_bavail >= st.f_blocks // 20                # never filled: deliveries still fit
