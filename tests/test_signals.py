"""Ctrl-C and SIGTERM (cron timeouts, systemd stop): one line, exit 130/143, nothing half-made."""

import json
import os
import signal
import subprocess
import time

import pytest

from mboxtool import MaildirReader

from .conftest import mbox_entry, python_cmd


def write_mbox(path, messages, body):
    with open(path, "wb") as fh:
        for i in range(messages):
            fh.write(mbox_entry(body=f"message {i}\n{body}\n"))


def run_in_own_group(args):
    """Start mboxtool as a terminal starts a job: a process group of its own, and Ctrl-C's
    default action. A test runner started in the background (a non-interactive shell's '&')
    hands its children SIGINT ignored, and Python then installs no handler for it."""
    return subprocess.Popen(python_cmd() + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def signal_group_when(proc, ready, sig, timeout=60):
    """Send ``sig`` to the whole process group (as a terminal or systemd does) once ``ready()``."""
    deadline = time.time() + timeout
    while not ready():
        assert proc.poll() is None and time.time() < deadline, "the command ended before the signal"
        time.sleep(0.002)
    os.killpg(proc.pid, sig)
    return proc.communicate(timeout=60)


def no_process_left(marker):
    """No process whose command line mentions ``marker`` (read from /proc: no procps needed)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if marker.encode() in fh.read():
                    return False
        except OSError:
            continue
    return True


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_interrupted_conversion_exits_cleanly_and_reruns_exactly(tmp_path, sig, code):
    src, md = tmp_path / "src.mbox", tmp_path / "md"
    write_mbox(src, 30000, "x" * 3000)          # long enough to be caught part-way on a fast machine
    proc = run_in_own_group(["convert", str(src), str(md)])
    _, err = signal_group_when(proc, lambda: (md / "new").is_dir() and len(os.listdir(md / "new")) > 500, sig)
    assert proc.returncode == code
    lines = err.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mboxtool: interrupted ({sig.name})"), lines
    assert os.listdir(md / "tmp") == []                      # the writers finished their files
    assert no_process_left(str(md))
    partial = len(os.listdir(md / "new"))
    assert 500 < partial < 30000
    again = subprocess.run(python_cmd() + ["convert", "--json", str(src), str(md)], capture_output=True)
    doc = json.loads(again.stdout)
    assert again.returncode == 0 and doc["converted"] + doc["skipped"] == 30000
    with MaildirReader(md) as reader:
        bodies = [m.data for m in reader]
    assert len(bodies) == 30000 and len(set(bodies)) == 30000


def test_repair_interrupted_by_sigterm_leaves_no_half_copy(tmp_path):
    src, dst = tmp_path / "src.mbox", tmp_path / "fixed.mbox"
    write_mbox(src, 40000, "y" * 2000)
    before = os.stat(src)
    proc = run_in_own_group(["repair", str(src), str(dst)])
    _, err = signal_group_when(proc, lambda: dst.exists() and dst.stat().st_size > 0, signal.SIGTERM)
    assert proc.returncode == 143 and err.decode().startswith("mboxtool: interrupted (SIGTERM)")
    assert b"Traceback" not in err
    assert not dst.exists()
    after = os.stat(src)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
