"""Maildir++ quota: a conversion into (or --move out of) a Maildir with a ``maildirsize``
file appends what it added or took away, as every Maildir++ deliverer does. Courier and
Dovecot trust that file's sum: without the lines the quota in use stayed where it was."""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from mboxtool import ConvertOptions, convert_mailbox

from .conftest import SAMPLES, make_maildir, mbox_entry

QUOTA = "1024000S,1000C\n"


def files_on_disk(maildir):
    sizes = [os.path.getsize(p) for sub in ("cur", "new") for p in (maildir / sub).iterdir()]
    return sum(sizes), len(sizes)


def quota_sum(path):
    first, *lines = path.read_text().splitlines()
    assert first == QUOTA.strip()
    deltas = [tuple(map(int, line.split())) for line in lines]
    return sum(b for b, _ in deltas), sum(c for _, c in deltas)


def many_messages(path, n=700):
    """More than one batch (and both writer processes) of messages of different sizes."""
    path.write_bytes(b"".join(mbox_entry(headers=f"From: a@b\nSubject: {i}\nStatus: {'RO' if i % 3 else ''}\n",
                                         body="x" * (i * 7 % 3000) + "\n") for i in range(n)))
    return path


@pytest.mark.parametrize("fsync", [True, False])
def test_maildirsize_counts_every_message_written(tmp_path, fsync):
    md = make_maildir(tmp_path / "Maildir")
    (md / "maildirsize").write_text(QUOTA + "0 0\n")
    report = convert_mailbox(many_messages(tmp_path / "in.mbox"), md, ConvertOptions(fsync=fsync))
    assert report.converted == 700
    assert quota_sum(md / "maildirsize") == files_on_disk(md)
    again = convert_mailbox(tmp_path / "in.mbox", md, ConvertOptions(fsync=fsync))     # nothing new
    assert again.converted == 0 and quota_sum(md / "maildirsize") == files_on_disk(md)


def test_a_folder_is_counted_in_the_root_maildirsize(tmp_path, invoke):
    root = make_maildir(tmp_path / "Maildir")
    (root / "maildirsize").write_text(QUOTA + "0 0\n")
    r = invoke("convert", "--json", SAMPLES / "inbox.mbox", root / ".Archive")
    assert r.exit_code == 0 and json.loads(r.stdout)["converted"] == 5
    assert not (root / ".Archive" / "maildirsize").exists()
    assert quota_sum(root / "maildirsize") == files_on_disk(root / ".Archive")


def test_no_maildirsize_none_made(tmp_path):
    md = tmp_path / "Maildir"
    convert_mailbox(SAMPLES / "inbox.mbox", md, ConvertOptions(fsync=False))
    assert not (md / "maildirsize").exists()


def test_move_out_of_a_maildir_takes_its_messages_off_the_quota(tmp_path, invoke):
    md = tmp_path / "Maildir"
    convert_mailbox(SAMPLES / "inbox.mbox", md, ConvertOptions(fsync=False))
    size, count = files_on_disk(md)
    (md / "maildirsize").write_text(QUOTA + f"{size} {count}\n")
    r = invoke("convert", "--move", md, tmp_path / "archive.mbox")
    assert r.exit_code == 0, r.output
    assert files_on_disk(md) == (0, 0) and quota_sum(md / "maildirsize") == (0, 0)


def test_a_maildirsize_that_cannot_be_written_is_a_warning_not_a_loss(tmp_path, invoke):
    if os.getuid() == 0:
        pytest.skip("root writes a read-only file anyway")
    md = make_maildir(tmp_path / "Maildir")
    (md / "maildirsize").write_text(QUOTA)
    os.chmod(md / "maildirsize", 0o444)
    r = invoke("convert", "--json", SAMPLES / "inbox.mbox", md)
    doc = json.loads(r.stdout)
    assert r.exit_code == 0 and doc["converted"] == 5
    (warning,) = [w for w in doc["warnings"] if w["code"] == "quota-not-updated"]
    assert warning["message"].startswith(f"{md / 'maildirsize'}: cannot add ")


DOVEADM = shutil.which("doveadm")


@pytest.mark.skipif(DOVEADM is None, reason="Dovecot's doveadm is not installed (Debian: apt-get install dovecot-core)")
def test_dovecot_reports_the_quota_mboxtool_added():
    """Dovecot's maildir quota made the file, mboxtool converted into the Maildir, and
    `doveadm quota get` counts the new messages (it showed 0 before)."""
    from .test_dovecot import GID, UID
    work = tempfile.mkdtemp(prefix="mboxtool-quota-")          # pytest's are 0700: Dovecot runs as nobody
    try:
        _dovecot_quota(Path(work), UID, GID)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _dovecot_quota(base, UID, GID):
    (base / "home").mkdir(parents=True)
    os.chmod(base, 0o755)
    md = make_maildir(base / "Maildir")
    conf = base / "dovecot.conf"
    conf.write_text(f"mail_location = maildir:{md}\nmail_uid = {UID}\nmail_gid = {GID}\n"
                    f"first_valid_uid = 1\nfirst_valid_gid = 1\nlog_path = {base / 'dovecot.log'}\n"
                    "mail_plugins = quota\nplugin {\n  quota = maildir:User quota\n"
                    "  quota_rule = *:storage=1000K:messages=1000\n}\n")

    def quota():
        if os.getuid() == 0:
            for path in [base, *base.rglob("*")]:
                os.chown(path, UID, GID)
        r = subprocess.run([DOVEADM, "-c", str(conf), "-f", "tab", "quota", "get"], capture_output=True, text=True,
                           env={**os.environ, "USER": "nobody", "HOME": str(base / "home")}, timeout=60)
        assert r.returncode == 0, r.stderr
        rows = [line.split("\t") for line in r.stdout.splitlines()[1:]]
        return {row[1]: int(row[2]) for row in rows}

    assert quota() == {"STORAGE": 0, "MESSAGE": 0}          # Dovecot writes maildirsize
    assert (md / "maildirsize").read_text() == QUOTA + "0 0\n"
    convert_mailbox(SAMPLES / "inbox.mbox", md, ConvertOptions())
    size, count = files_on_disk(md)
    assert count == 5 and quota() == {"STORAGE": -(-size // 1024), "MESSAGE": 5}   # kB, rounded up
    assert (md / "maildirsize").read_text().startswith(QUOTA + "0 0\n")   # trusted, not recalculated
