"""Root converting into a user's mailbox leaves the user's files (a root cron job migrating
/var/mail/alice into /home/alice/Maildir must not leave mail alice cannot open)."""

import os
import pwd

import pytest

from mboxtool import ConvertOptions, convert_mailbox
from mboxtool.fs import ownership

from .conftest import SAMPLES

NOBODY = pwd.getpwnam("nobody")
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="only root can create files for another user")


def owners(root):
    return {(p.stat().st_uid, p.stat().st_gid) for p in [root, *root.rglob("*")]}


@as_root
# directory and file formats, each under the name a user would give it
@pytest.mark.parametrize("fmt, name", [("maildir", "Maildir"), ("mh", "inbox"), ("mbox", "inbox.mbox"),
                                       ("mmdf", "inbox.mmdf")])
def test_root_writing_under_a_users_directory_creates_the_users_files(tmp_path, fmt, name):
    home = tmp_path / "home"
    home.mkdir()
    os.chown(home, NOBODY.pw_uid, NOBODY.pw_gid)
    dst = home / "mail" / name                               # mail/ does not exist yet either
    report = convert_mailbox(SAMPLES / "inbox.mbox", dst, ConvertOptions(to_format=fmt))
    assert report.ok and report.converted == 5
    assert owners(home) == {(NOBODY.pw_uid, NOBODY.pw_gid)}


@as_root
def test_root_appending_to_a_users_maildir_keeps_it_the_users(tmp_path):
    md = tmp_path / "Maildir"
    convert_mailbox(SAMPLES / "inbox.mbox", md, ConvertOptions())
    for path in [md, *md.rglob("*")]:
        os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
    more = tmp_path / "more.mbox"
    more.write_bytes(b"From a@b Mon Jan  6 10:00:00 2020\nSubject: one more\n\nbody\n")
    assert convert_mailbox(more, md, ConvertOptions()).converted == 1
    assert owners(md) == {(NOBODY.pw_uid, NOBODY.pw_gid)}


@as_root
def test_the_digest_cache_of_other_programs_messages_is_the_users(tmp_path):
    md = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True)
    (md / "new" / "1700000000.M1P2.mailhost").write_bytes(b"From: x@example.org\nSubject: delivered\n\nhi\n")
    for path in [md, *md.rglob("*")]:
        os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
    assert convert_mailbox(SAMPLES / "inbox.mbox", md, ConvertOptions()).converted == 5
    assert (md / ".mboxtool-digests").exists()
    assert owners(md) == {(NOBODY.pw_uid, NOBODY.pw_gid)}


def test_owner_is_that_of_the_nearest_existing_directory_and_only_for_root(tmp_path, monkeypatch):
    st = tmp_path.stat()
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert ownership.owner_for(tmp_path / "x") is None                # not root: files stay the runner's
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    expected = None if st.st_uid == 0 else (st.st_uid, st.st_gid)     # a root-owned place: nothing to do
    assert ownership.owner_for(tmp_path / "new" / "Maildir") == expected
