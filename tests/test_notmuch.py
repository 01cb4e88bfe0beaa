"""notmuch indexes a Maildir mboxtool wrote: every message parses, and the tags it takes from
the file names (maildir.synchronize_flags) are the flags the mbox held.

Debian: apt-get install notmuch (``.ci/run`` installs it when run as root); skips without it.
"""

import os
import shutil
import subprocess

import pytest

from mboxtool.convert import convert_mailbox
from mboxtool.formats.mbox import MboxReader

from .conftest import SAMPLES

NOTMUCH = shutil.which("notmuch")
pytestmark = pytest.mark.skipif(NOTMUCH is None, reason="notmuch is not installed (Debian: apt-get install notmuch)")
LETTER_OF = {"flagged": "F", "replied": "R", "draft": "D", "passed": "P"}


def test_notmuch_sees_the_messages_and_flags_of_the_mbox(tmp_path):
    with MboxReader(SAMPLES / "inbox.mbox") as reader:
        source = list(reader)
    md = tmp_path / "mail"
    assert convert_mailbox(SAMPLES / "inbox.mbox", md).converted == len(source)
    config = tmp_path / "notmuch-config"
    config.write_text(f"[database]\npath={md}\n[new]\ntags=\n[maildir]\nsynchronize_flags=true\n")
    env = {**os.environ, "NOTMUCH_CONFIG": str(config), "HOME": str(tmp_path)}

    def notmuch(*args):
        r = subprocess.run([NOTMUCH, *args], capture_output=True, env=env, timeout=60)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        return r.stdout.decode()

    notmuch("new", "--quiet")
    ids = {m.data.split(b"Message-ID: <")[1].split(b">")[0].decode(): m for m in source}
    assert set(notmuch("search", "--output=messages", "*").split()) == {f"id:{i}" for i in ids}
    for tag in ("unread", *LETTER_OF):
        want = {f"id:{i}" for i, m in ids.items()
                if ("S" not in m.flags if tag == "unread" else LETTER_OF[tag] in m.flags)}
        assert want or tag == "unread", f"the sample has no message to tag {tag}"
        assert set(notmuch("search", "--output=messages", f"tag:{tag}").split()) == want, tag
