"""Progress bars (the contract): on stderr when it is a terminal; never in pipes or cron,
never with --quiet, never on stdout, and not with --json."""

import fcntl
import json
import os
import pty
import struct
import subprocess
import termios
import threading

import pytest

from .conftest import mbox_entry, python_cmd


def run_on_a_terminal(args):
    """mboxtool with stderr on a terminal of 100 columns and stdout a pipe: the exit code,
    stdout, and every byte the terminal was sent."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen(python_cmd() + args, stdout=subprocess.PIPE, stderr=slave,
                            stdin=subprocess.DEVNULL)
    os.close(slave)
    out = []                                  # read beside the terminal: a full pipe would block mboxtool
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()))
    reader.start()
    screen = b""
    while True:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:                       # EIO: nobody has the terminal open any more
            break
        if not chunk:
            break
        screen += chunk
    reader.join()
    proc.stdout.close()
    os.close(master)
    return proc.wait(), out[0], screen


@pytest.fixture
def box(tmp_path):
    (tmp_path / "in.mbox").write_bytes(b"".join(mbox_entry(body=f"message {i}\n" + "x" * 2000 + "\n")
                                                for i in range(2000)))
    return tmp_path / "in.mbox"


def test_a_terminal_gets_a_progress_bar_and_stdout_only_the_summary(box):
    code, out, screen = run_on_a_terminal(["convert", str(box), str(box.with_name("md"))])
    assert code == 0
    assert b"converting:" in screen and b"%|" in screen and b"B/s" in screen
    assert out.startswith(b"converted 2000 messages") and b"\r" not in out and b"%|" not in out


@pytest.mark.parametrize("flag", ["-q", "--json"])
def test_no_bar_with_quiet_or_json_even_on_a_terminal(box, flag):
    code, out, screen = run_on_a_terminal(["convert", flag, str(box), str(box.with_name("md"))])
    assert code == 0 and screen == b""
    if flag == "--json":
        assert json.loads(out)["converted"] == 2000


def test_no_bar_when_stderr_is_a_pipe(box):
    r = subprocess.run(python_cmd() + ["convert", str(box), str(box.with_name("md"))], capture_output=True)
    assert r.returncode == 0 and r.stderr == b""


@pytest.mark.parametrize("command, desc, summary", [("validate", b"checking:", b"2000 messages;"),
                                                    ("info", b"reading:", b"messages    2000")])
def test_validate_and_info_show_a_bar_on_a_terminal_but_not_with_json(box, command, desc, summary):
    code, out, screen = run_on_a_terminal([command, str(box)])
    assert code == 0 and desc in screen and b"%|" in screen
    assert summary in out and desc not in out
    code, out, screen = run_on_a_terminal([command, "--json", str(box)])
    assert code == 0 and screen == b"" and json.loads(out)["messages"] == 2000


@pytest.mark.formats(writable=True, is_file=False)
@pytest.mark.parametrize("command", [["validate"], ["info"], ["convert", "--to", "mbox"]])
def test_a_folder_is_counted_in_messages_out_of_its_total(box, command, fmt):
    md = box.with_name("md")
    subprocess.run(python_cmd() + ["convert", "-q", "--to", fmt, str(box), str(md)], check=True)
    args = [*command, str(md)] + ([str(box.with_name("out.mbox"))] if command[0] == "convert" else [])
    code, out, screen = run_on_a_terminal(args)
    assert code == 0 and b"/2000 [" in screen and b"msg" in screen      # "1234/2000 [00:01<00:00, ...msg/s]"


@pytest.mark.parametrize("to", ["mbox", "mh"])          # a file and a directory source
def test_repair_shows_a_bar_on_a_terminal_and_writes_the_same_copy(box, to):
    src = box
    if to == "mh":
        src = box.with_name("folder")
        subprocess.run(python_cmd() + ["convert", "-q", "--to", "mh", str(box), str(src)], check=True)
    code, out, screen = run_on_a_terminal(["repair", str(src), str(box.with_name("fixed"))])
    assert code == 0 and b"repairing:" in screen and b"repairing:" not in out
    quiet = subprocess.run(python_cmd() + ["repair", "--json", str(src), str(box.with_name("fixed2"))],
                           capture_output=True)
    assert quiet.returncode == 0 and quiet.stderr == b""
    assert json.loads(quiet.stdout)["messages"] == 2000
    assert contents(box.with_name("fixed")) == contents(box.with_name("fixed2"))     # the bar changes nothing


def contents(path):
    """The bytes of a file, or of each message file of a folder by name."""
    if path.is_file():
        return path.read_bytes()
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file() and p.name[0] != "."}


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_repairs_bar_covers_its_three_passes_of_the_decompressed_bytes(box, compressed):
    """One bar over checking, copying and checking the copy, sized by what is read: a
    gzip mbox's file size would give a bar that runs far past its end."""
    import gzip

    from mboxtool import repair_mailbox
    src = box
    if compressed:
        src = box.with_name("in.mbox.gz")
        src.write_bytes(gzip.compress(box.read_bytes()))
    totals, done = [], []
    repair_mailbox(src, box.with_name("fixed"), progress=done.append,
                   progress_total=lambda size, unit: totals.append((size, unit)))
    assert totals == [(3 * box.stat().st_size, "B")]
    assert 0.9 * totals[0][0] < sum(done) <= totals[0][0]
