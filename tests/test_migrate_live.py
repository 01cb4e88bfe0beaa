"""A whole spool migrated again and again, as cron would, while a delivery agent keeps appending:
20 users, --jobs 2, --move, one damaged spool. Nothing is lost or duplicated, the damaged spool
never blocks the others, and as root every user's Maildir belongs to that user."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from mboxtool import MaildirReader, MboxReader

from .conftest import python_cmd

USERS = [f"user{i:02d}" for i in range(20)]
DAMAGED = "user13"
RECEIVERS = USERS[:5]
DELIVERIES = 100

DELIVER = r'''
import os, sys, time
from pathlib import Path
from mboxtool.fs.locking import MboxLock
spool, users, count = Path(sys.argv[1]), sys.argv[2].split(","), int(sys.argv[3])
for i in range(count):
    user = users[i % len(users)]
    path = spool / user
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with MboxLock(path, fd, True, 30).acquire():            # fcntl + dotlock, as Postfix local(8)
        end = os.lseek(fd, 0, os.SEEK_END)
        os.pwrite(fd, (f"From mta@example.org Mon Jan  6 10:00:{i % 60:02d} 2020\n"
                       f"From: mta@example.org\nSubject: delivery {i} to {user}\n"
                       f"Message-ID: <{i}.{user}@example.org>\n\nbody {i}\n\n").encode(), end)
        os.fsync(fd)
    os.close(fd)
    time.sleep(0.1)
'''


def initial(user, count=3):
    return b"".join(f"From {user}@example.org Mon Jan  6 09:00:0{k} 2020\nFrom: {user}@example.org\n"
                    f"Subject: initial {k} of {user}\nMessage-ID: <i{k}.{user}@example.org>\n\n"
                    "hello\n\n".encode()
                    for k in range(count))


def subjects(messages):
    """The Subject of every message that has one (the damaged spool's garbage has none)."""
    found = (re.search(rb"^Subject: (.*)$", m.data, re.M) for m in messages)
    return [match.group(1).decode() for match in found if match]


def uid_of(user):
    return 3000 + USERS.index(user)


@pytest.fixture
def server():
    """A directory every user can enter (pytest's own tmp_path is private to its user)."""
    path = Path(tempfile.mkdtemp(prefix="mboxtool-server-", dir="/tmp" if os.path.isdir("/tmp") else None))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_migrate_a_live_spool_of_20_users_with_a_damaged_one(server):
    root = server
    spool, homes = root / "var" / "mail", root / "home"
    spool.mkdir(parents=True)
    homes.mkdir()
    as_root = os.geteuid() == 0
    for path in (root / "var", spool, homes):     # a server's modes: users can reach their mail
        path.chmod(0o1777 if path == spool else 0o755)
    garbage = b"\x00\x00garbage an editor saved\n"
    for user in USERS:
        (spool / user).write_bytes((garbage if user == DAMAGED else b"") + initial(user))
        (homes / user).mkdir()
        if as_root:
            for path in (spool / user, homes / user):
                os.chown(path, uid_of(user), uid_of(user))
    log = root / "migrate.log"
    command = python_cmd() + ["migrate", "--spool", str(spool), "--to-template", f"{homes}/{{user}}/Maildir",
                              "--move", "--jobs", "2", "--lock-timeout", "5", "--json",
                              "--log-file", str(log)]
    agent = subprocess.Popen([sys.executable, "-c", DELIVER, str(spool), ",".join(RECEIVERS),
                              str(DELIVERIES)])
    runs = []
    try:
        while agent.poll() is None or len(runs) < 2:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
            runs.append((proc.returncode, [json.loads(ln) for ln in proc.stdout.splitlines()], proc.stderr))
    finally:
        assert agent.wait(timeout=120) == 0                      # deliveries were never starved out
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
    runs.append((proc.returncode, [json.loads(ln) for ln in proc.stdout.splitlines()], proc.stderr))

    for run, (code, lines, stderr) in enumerate(runs):
        # the damaged spool is read as the damaged mbox it is: the first run converts its messages,
        # sets the garbage aside and says so (exit 1); later runs find it clean. Never 2 or a crash.
        assert code == 1 if run == 0 else code in (0, 75), stderr
        assert "Traceback" not in stderr and lines[-1]["summary"] is True and lines[-1]["mailboxes"] == 20
        rows = {line["source"]: line for line in lines[:-1]}
        assert len(rows) == 20
        damaged = rows[str(spool / DAMAGED)]
        if run == 0:                                           # said, and never stops the rest
            assert damaged["status"] == "failed" and damaged["quarantined"] >= 1
        else:
            assert damaged["status"] in ("done", "busy") and damaged["quarantined"] == 0
        assert all(r["status"] in ("done", "busy") for s, r in rows.items() if s != str(spool / DAMAGED))
    final = {line["source"]: line for line in runs[-1][1][:-1]}
    if as_root:
        assert all(final[str(spool / u)]["owner"] == str(uid_of(u)) for u in USERS)
    assert all(final[str(spool / u)]["status"] == "done" for u in USERS)
    assert runs[-1][0] == 0

    delivered = {u: [f"delivery {i} to {u}" for i in range(DELIVERIES) if RECEIVERS[i % len(RECEIVERS)] == u]
                 for u in USERS}
    for user in USERS:
        maildir = homes / user / "Maildir"
        converted = subjects(MaildirReader(maildir)) if maildir.exists() else []
        with MboxReader(spool / user) as reader:
            left = subjects(reader)
        expected = [f"initial {k} of {user}" for k in range(3)] + delivered[user]
        assert sorted(converted + left) == sorted(expected), user   # each message exactly once
        if user != DAMAGED:
            assert left == [] and (spool / user).stat().st_size == 0
        if as_root and maildir.exists():
            for path in [maildir, *maildir.rglob("*")]:
                assert (path.lstat().st_uid, path.lstat().st_gid) == (uid_of(user), uid_of(user)), path
    # the damaged bytes: still in the spool, or set aside in quarantine
    quarantine = homes / DAMAGED / "Maildir" / ".mboxtool-quarantine"
    kept = (spool / DAMAGED).read_bytes()
    set_aside = [p.read_bytes() for p in quarantine.rglob("*") if p.is_file()]
    assert kept.startswith(garbage) or any(garbage in data for data in set_aside)

    text = log.read_text().splitlines()
    assert sum(f"{spool / DAMAGED} -> " in line for line in text) == len(runs)
    # the run that set the garbage aside logs the problem; the runs after it have none to log
    assert sum(line.split(" ", 1)[1].startswith(f"problem: {spool / DAMAGED}") for line in text) >= 1
    assert sum(" run: " in line for line in text) == len(runs)
