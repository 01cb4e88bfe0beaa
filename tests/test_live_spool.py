"""A live spool: a delivery agent appends under the same locks while cron runs convert --move."""

import subprocess
import sys
import time

from mboxtool import ConvertOptions, LockTimeout, MaildirReader, convert_mailbox

DELIVER = r'''
import os, sys, time
from pathlib import Path
from mboxtool.fs.locking import MboxLock
spool, count = Path(sys.argv[1]), int(sys.argv[2])
for i in range(count):
    fd = os.open(spool, os.O_RDWR | os.O_CREAT, 0o600)
    with MboxLock(spool, fd, True, 4.9).acquire():          # fcntl + dotlock, as Postfix local(8)
        end = os.lseek(fd, 0, os.SEEK_END)
        msg = (f"From mta@example.org Mon Jan  6 10:00:{i % 60:02d} 2020\n"
               f"From: sender@example.org\nSubject: delivery {i}\nMessage-ID: <{i}@example.org>\n\n"
               f"body of delivery {i}\n\n").encode()
        os.pwrite(fd, msg, end)
        os.fsync(fd)
    os.close(fd)
    time.sleep(0.003)
'''


def test_move_from_a_spool_being_delivered_to_loses_and_duplicates_nothing(tmp_path):
    spool = tmp_path / "alice"
    spool.write_bytes(b"")
    md = tmp_path / "Maildir"
    agent = subprocess.Popen([sys.executable, "-c", DELIVER, str(spool), "150"])
    try:
        deadline = time.time() + 60
        while agent.poll() is None and time.time() < deadline:
            try:
                convert_mailbox(spool, md, ConvertOptions(move=True, lock_timeout=4, fsync=False))
            except LockTimeout:
                pass
            time.sleep(0.2)                                   # cron, only much faster
    finally:
        assert agent.wait(timeout=60) == 0                 # the agent was never starved out
    convert_mailbox(spool, md, ConvertOptions(move=True, lock_timeout=4))
    subjects = sorted(int(m.data.split(b"Subject: delivery ")[1].split(b"\n")[0]) for m in MaildirReader(md))
    assert subjects == list(range(150))                    # every delivery once, none lost
    assert spool.stat().st_size == 0
