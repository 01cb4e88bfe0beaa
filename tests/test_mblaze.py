"""mblaze, a Maildir toolkit, on both sides: its mlist reads the flags of a Maildir mboxtool
wrote, and mboxtool reads the mbox its mexport writes (mboxrd, no empty line between
messages, Status/X-Status from the flags).

Debian: apt-get install mblaze (``.ci/run`` installs it when run as root); skips without it.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from mboxtool import ConvertOptions, MaildirReader, MboxReader, convert_mailbox
from mboxtool.model.message import core_bytes, split_message

from .conftest import SAMPLES, make_maildir

MLIST, MEXPORT = shutil.which("mlist"), shutil.which("mexport")
pytestmark = pytest.mark.skipif(MLIST is None or MEXPORT is None,
                                reason="mblaze is not installed (Debian: apt-get install mblaze)")


def run(*args: str) -> bytes:
    r = subprocess.run(args, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout


def message_id(data: bytes) -> str:
    return split_message(data)[0].get(b"message-id") or ""


def test_mlist_sees_the_flags_the_mbox_held(tmp_path):
    with MboxReader(SAMPLES / "inbox.mbox") as reader:
        flags = {message_id(m.data): m.flags for m in reader}
    md = tmp_path / "Maildir"
    assert convert_mailbox(SAMPLES / "inbox.mbox", md).converted == len(flags)
    files = run(MLIST, str(md)).decode().split("\n")[:-1]
    assert len(files) == len(flags)
    id_of = {f: message_id(Path(f).read_bytes()) for f in files}
    for letter in "DFPRST":
        listed = run(MLIST, "-X", letter, str(md)).decode().split("\n")[:-1]
        assert {id_of[f] for f in listed} == {i for i, f in flags.items() if letter in f}, letter


def test_mboxtool_reads_what_mexport_writes(tmp_path):
    """mexport separates messages by nothing at all; messages with no body then follow one
    another inside what looks like one header block."""
    md = tmp_path / "Maildir"
    make_maildir(md)
    bodies = {
        "cur/1.a.h:2,S": b"From: a@x\nSubject: read\nMessage-ID: <1@x>\n\nFrom the start\n>From quoted\n",
        "cur/2.a.h:2,FR": b"From: a@x\nSubject: answered\nMessage-ID: <2@x>\n\ntext\n",
        "cur/3.a.h:2,S": b"From: a@x\nSubject: no body at all\nMessage-ID: <3@x>\n",
        "new/4.a.h": b"From: a@x\nSubject: also none\nMessage-ID: <4@x>\n",
        "cur/5.a.h:2,": b"From: a@x\nSubject: last\nMessage-ID: <5@x>\n\nbye\n",
    }
    for name, data in bodies.items():
        (md / name).write_bytes(data)
    files = sorted(str(md / name) for name in bodies)
    exported = tmp_path / "export.mbox"
    exported.write_bytes(run(MEXPORT, "-S", *files))
    with MboxReader(exported) as reader:
        got = {message_id(m.data): (core_bytes(m), m.flags) for m in reader}
    # mexport writes Status and X-Status for S, R and F (not D, P or T), and only where an
    # empty line ends the header: a message with no body keeps none
    flags = {"<1@x>": "S", "<2@x>": "FR", "<3@x>": "", "<4@x>": "", "<5@x>": ""}
    assert got == {message_id(data): (data, flags[message_id(data)]) for data in bodies.values()}
    back = tmp_path / "back"
    assert convert_mailbox(exported, back, ConvertOptions(to_format="maildir")).converted == 5
    assert sorted(m.data for m in MaildirReader(back)) == sorted(bodies.values())
