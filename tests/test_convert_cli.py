"""convert on the command line: JSON fields, quiet runs, bad input, destinations refused, subfolders."""

import errno
import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from mboxtool import convert_mailbox

from .conftest import SAMPLES, maildir_files, make_maildir, mbox_entry


def tree_digest(path: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")) if path.is_dir() else [path]:
        if p.is_file():
            h.update(str(p.relative_to(path) if path.is_dir() else p.name).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


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


@pytest.mark.formats(writable=True)
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
