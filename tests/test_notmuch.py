"""notmuch indexes a Maildir mboxtool wrote: every message parses, and the tags it takes from
the file names (maildir.synchronize_flags) are the flags the mbox held.

Debian: apt-get install notmuch (``.ci/run`` installs it when run as root); skips without it.
"""

import json
import os
import shutil
import subprocess

import pytest

from mboxtool import ConvertOptions, MboxReader, convert_mailbox

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


def test_notmuch_tag_batch_file_gives_every_message_its_labels(tmp_path):
    """--notmuch-tags: after 'notmuch new', 'notmuch tag --batch --input=FILE' gives each message
    the keywords it had (Gmail labels, with blanks, non-ASCII and odd Message-IDs too)."""
    src = tmp_path / "takeout.mbox"
    labels = {"<plain@example.org>": "Inbox,Work",
              "<odd id \"quoted\"@example.org>": "\"Category Updates\",Entwürfe",
              "<percent%20sign@example.org>": "100%,a+b,-minus"}
    src.write_bytes(b"".join(
        f"From x@example.org Mon Jan  6 1{i}:00:00 2020\nMessage-ID: {mid}\nSubject: {i}\n"
        f"X-Gmail-Labels: {value}\n\nbody {i}\n\n".encode() for i, (mid, value) in enumerate(labels.items())))
    md = tmp_path / "mail"
    tags = tmp_path / "tags.batch"
    report = convert_mailbox(src, md, ConvertOptions(notmuch_tags=tags))
    assert report.ok and report.converted == 3
    # notmuch refuses a tag that starts with '-': said, with the number of messages
    assert [(w["code"], w["keyword"], w["messages"]) for w in report.warnings] == [
        ("notmuch-tag-not-kept", "-minus", 1)]
    config = tmp_path / "notmuch-config"
    config.write_text(f"[database]\npath={md}\n[new]\ntags=\n[maildir]\nsynchronize_flags=true\n")
    env = {**os.environ, "NOTMUCH_CONFIG": str(config), "HOME": str(tmp_path)}

    def notmuch(*args):
        r = subprocess.run([NOTMUCH, *args], capture_output=True, env=env, timeout=60)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        return r.stdout.decode()

    notmuch("new", "--quiet")
    notmuch("tag", "--batch", f"--input={tags}")
    want = {"<plain@example.org>": {"Inbox", "Work"},
            "<odd id \"quoted\"@example.org>": {"Category_Updates", "Entwürfe"},
            "<percent%20sign@example.org>": {"100_", "a+b"}}       # % is no keyword character
    for mid, labels_of in want.items():
        with MboxReader(src) as reader:                     # what mboxtool read as the keywords
            kept = {frozenset(k for k in m.keywords if k != "-minus") for m in reader if mid.encode() in m.data}
            assert kept == {frozenset(labels_of)}
        found = json.loads(notmuch("search", "--format=json", "--output=tags", f"id:{_quoted(mid[1:-1].replace(' ', ''))}"))
        assert set(found) - {"unread", "replied", "flagged", "passed", "draft"} == labels_of, mid


def _quoted(mid: str) -> str:
    return '"' + mid.replace('"', '""') + '"'
