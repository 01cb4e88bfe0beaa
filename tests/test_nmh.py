"""Real MH software and mboxtool agree: nmh reads the MH folders mboxtool writes, and
mboxtool reads the folders nmh makes (its sequences, and messages removed with rmm).

nmh keeps its commands in /usr/lib/mh or /usr/bin/mh (Debian: apt-get install nmh;
``.ci/run`` installs it when run as root); these tests skip without it.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mboxtool import ConvertOptions, MboxReader, convert_mailbox

from .conftest import SAMPLES

NMH_PATH = os.pathsep.join(["/usr/bin/mh", "/usr/lib/mh", "/usr/local/bin/mh", os.environ.get("PATH", "")])
SCAN = shutil.which("scan", path=NMH_PATH)
pytestmark = pytest.mark.skipif(SCAN is None or shutil.which("inc", path=NMH_PATH) is None,
                                reason="nmh is not installed (Debian: apt-get install nmh)")
SEQUENCE_OF = {"R": "replied", "F": "flagged", "P": "forwarded", "T": "deleted", "D": "draft"}


@pytest.fixture
def nmh(tmp_path):
    """run(command, *args): an nmh command with a private profile whose mail root is tmp_path/Mail."""
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "Mail").mkdir()
    profile = home / ".mh_profile"
    profile.write_text(f"Path: {tmp_path / 'Mail'}\nUnseen-Sequence: unseen\n")
    env = {**os.environ, "HOME": str(home), "MH": str(profile), "PATH": NMH_PATH, "TZ": "UTC"}

    def run(command, *args):
        r = subprocess.run([shutil.which(command, path=NMH_PATH), *map(str, args)], capture_output=True,
                           env=env, timeout=60)
        assert r.returncode == 0, (command, r.stderr.decode(errors="replace"))
        return r.stdout.decode()

    run.mail = tmp_path / "Mail"
    return run


def sequences(listing: str) -> dict[str, set[int]]:
    """`mark -list` output ("name: 1 3-5") as name -> message numbers."""
    out = {}
    for line in listing.splitlines():
        name, _, ranges = line.partition(": ")
        numbers = set()
        for part in ranges.split():
            low, _, high = part.partition("-")
            numbers.update(range(int(low), int(high or low) + 1))
        out[name.split(" ")[0]] = numbers
    return out


def test_nmh_reads_the_folder_mboxtool_wrote(nmh):
    with MboxReader(SAMPLES / "inbox.mbox") as reader:
        source = list(reader)
    report = convert_mailbox(SAMPLES / "inbox.mbox", nmh.mail / "conv", ConvertOptions(to_format="mh"))
    assert report.converted == len(source)
    ids = nmh("scan", "+conv", "-format", "%{message-id}").split()
    assert ids == [m.data.split(b"Message-ID: ")[1].split(b"\n")[0].decode() for m in source]
    seen = sequences(nmh("mark", "+conv", "-list"))
    want: dict[str, set[int]] = {}
    for number, msg in enumerate(source, 1):
        if "S" not in msg.flags:
            want.setdefault("unseen", set()).add(number)
        for letter in msg.flags:
            if letter in SEQUENCE_OF:
                want.setdefault(SEQUENCE_OF[letter], set()).add(number)
        for keyword in msg.keywords:
            want.setdefault(keyword, set()).add(number)
    assert seen == want
    for number, msg in enumerate(source, 1):                  # nmh's path to each message: our bytes
        path = nmh("mhpath", "+conv", number).strip()
        assert Path(path).read_bytes().split(b"\n\n", 1)[1] == msg.data.split(b"\n\n", 1)[1]


def test_mboxtool_reads_the_folder_nmh_made(nmh, tmp_path):
    (nmh.mail / "inbox").mkdir()                               # inc asks before creating it
    nmh("inc", "-file", SAMPLES / "inbox.mbox", "-notruncate", "-silent", "+inbox")
    nmh("mark", "+inbox", "1", "-sequence", "unseen", "-delete")
    nmh("mark", "+inbox", "2", "-sequence", "flagged", "-add")
    nmh("mark", "+inbox", "3", "-sequence", "Work", "-add")
    nmh("mark", "+inbox", "5", "-sequence", "replied", "-add")
    nmh("rmm", "+inbox", "4")                                   # nmh renames it ,4: gone, not mail
    assert sorted(os.listdir(nmh.mail / "inbox")) == [",4", ".mh_sequences", "1", "2", "3", "5"]
    box = tmp_path / "out.mbox"
    report = convert_mailbox(nmh.mail / "inbox", box)
    assert (report.source_format, report.converted, report.failed) == ("mh", 4, 0)
    with MboxReader(box) as reader:
        got = [(m.data.split(b"Subject: ")[1].split(b"\n")[0], m.flags, m.keywords) for m in reader]
    # messages 2 and 3 keep the X-Keywords headers they had in the mbox: nmh's inc copied them
    # into the files, where the MH reader takes them (as mutt does) beside the sequences;
    # $Forwarded is the passed flag
    assert got == [(b"Minutes of the Monday meeting", "S", ()),
                   (b"=?utf-8?q?R=C3=A9sum=C3=A9_attached?=", "F", ("$Important", "work")),
                   (b"Draft: holiday plans", "P", ("Work",)),
                   (b"New and unread", "R", ())]
