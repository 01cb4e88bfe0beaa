"""A Maildir source in use: a mail client moves new/ files to cur/ and renames them as flags change,
or deletes them, while convert reads it."""

import errno
import json
import os
import subprocess
import threading
import time

from mboxtool import ConvertOptions, MaildirReader, MboxReader, convert_mailbox

from .conftest import make_maildir, python_cmd


def fill(md, count):
    make_maildir(md)
    names = [f"{1700000000 + i}.M{i}P1.host" for i in range(count)]
    for i, name in enumerate(names):
        path = md / "new" / name
        path.write_bytes(b"Subject: m%d\n\n" % i + b"x" * 500 + b"\n")
        os.utime(path, (1700000000 + i, 1700000000 + i))
    return names


def test_a_file_moved_after_listing_is_read_where_it_went_with_its_new_flags(tmp_path):
    md = tmp_path / "md"
    names = fill(md, 5)
    reader = MaildirReader(md).open()
    it = iter(reader)
    first = next(it)                                   # the listing is made
    os.rename(md / "new" / names[3], md / "cur" / (names[3] + ":2,S"))       # seen
    os.rename(md / "new" / names[4], md / "cur" / (names[4] + ":2,FS"))      # seen and flagged
    os.unlink(md / "new" / names[2])                                          # deleted
    rest = list(it)
    got = {m.data.split(b"\n", 1)[0]: (m.flags, m.new, m.date) for m in [first, *rest]}
    assert got == {b"Subject: m0": ("", True, 1700000000), b"Subject: m1": ("", True, 1700000001),
                   b"Subject: m3": ("S", False, 1700000003), b"Subject: m4": ("FS", False, 1700000004)}
    assert [(m.key, reason) for m, reason in reader.skipped] == [
        (f"new/{names[2]}", "vanished: deleted from the source during the run")]


def test_conversion_of_a_maildir_a_client_is_working_on_misses_nothing(tmp_path):
    """Every message is marked seen (new/ -> cur/) and some replied (renamed again) during the run."""
    md, out = tmp_path / "md", tmp_path / "out.mbox"
    names = fill(md, 6000)
    started = threading.Event()

    def client():
        started.wait()
        deadline = time.monotonic() + 60
        while not (out.exists() and out.stat().st_size):   # the first batch is written: listing done
            if time.monotonic() > deadline:
                return
            time.sleep(0.001)
        for i in reversed(range(len(names))):          # newest first, as a client shows them
            os.rename(md / "new" / names[i], md / "cur" / (names[i] + ":2,S"))
            if i % 3 == 0:
                os.rename(md / "cur" / (names[i] + ":2,S"), md / "cur" / (names[i] + ":2,RS"))

    worker = threading.Thread(target=client)
    worker.start()
    proc = subprocess.Popen(python_cmd() + ["convert", "--json", str(md), str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started.set()
    stdout, stderr = proc.communicate(timeout=120)
    worker.join()
    doc = json.loads(stdout)
    assert proc.returncode == 0, stderr
    assert (doc["converted"], doc["failed"]) == (6000, 0)
    with MboxReader(out) as reader:
        subjects = sorted(m.data.split(b"\n", 1)[0] for m in reader)
    assert subjects == sorted(b"Subject: m%d" % i for i in range(6000))


def test_an_unreadable_message_file_fails_the_run(tmp_path, monkeypatch):
    """§6 unreadable-file: skipped with an error line and exit 1, never silently left out."""
    md = tmp_path / "md"
    names = fill(md, 3)
    real_open = os.open

    def no_permission(path, *args, **kwargs):
        if str(path).endswith(names[1]):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr("mboxtool.formats.maildir.os.open", no_permission)
    report = convert_mailbox(md, tmp_path / "out.mbox", ConvertOptions())
    monkeypatch.undo()
    assert (report.converted, report.failed, report.ok) == (2, 1, False)
    assert report.errors == [{"message": "cannot be read: Permission denied", "key": f"new/{names[1]}"}]
