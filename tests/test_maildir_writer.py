"""MaildirWriter.deliver: unnamed tmp/ files (O_TMPFILE), the named tmp/ fallback, failures."""

import errno
import os

import pytest

import mboxtool.formats.maildirwriter as maildir_mod
from mboxtool import MailMessage
from mboxtool.formats.maildir import MaildirReader
from mboxtool.formats.maildirwriter import MaildirWriter

pytestmark = pytest.mark.skipif(not hasattr(os, "O_TMPFILE"), reason="O_TMPFILE is Linux-only")

MESSAGES = [
    MailMessage(b"From: a@example.org\nSubject: one\n\nbody one\n", flags="S", new=False, date=1_300_000_000),
    MailMessage(b"From: b@example.org\nSubject: two\n\nbody two\n", flags="", new=True, date=1_300_000_100),
    MailMessage(b"From: c@example.org\nSubject: three\n\n", flags="FR", new=False, date=None),
]


def deliver_all(md):
    writer = MaildirWriter(md, fsync=True).open()
    try:
        for msg in MESSAGES:
            writer.add(MailMessage(msg.data, flags=msg.flags, new=msg.new, date=msg.date))
        writer.commit()
        return writer.stager.anonymous
    finally:
        writer.close()


def delivered(md):
    """(place, flags, bytes, mtime) of every message; the unique names differ by run, and a
    message without a date has the time of its delivery."""
    out = []
    for msg in MaildirReader(md):
        where = "new" if msg.new else "cur"
        mtime = int(os.stat(md / msg.key).st_mtime)
        out.append((where, msg.flags, msg.data, mtime if mtime < 1_500_000_000 else "now"))
    return sorted(out, key=lambda x: x[2])


def spy_creates(monkeypatch, refuse_tmpfile=False):
    """Record every named file os.open creates; optionally refuse O_TMPFILE like NFS does."""
    created = []
    real_open = os.open

    def spy(path, flags, *args, **kwargs):
        if refuse_tmpfile and flags & os.O_TMPFILE == os.O_TMPFILE:
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")
        if flags & os.O_CREAT:
            created.append(path)
        return real_open(path, flags, *args, **kwargs)
    monkeypatch.setattr(maildir_mod.os, "open", spy)
    return created


def test_unnamed_tmp_files_and_named_fallback_deliver_the_same_maildir(tmp_path, monkeypatch):
    created = spy_creates(monkeypatch)
    assert deliver_all(tmp_path / "anon") is True
    assert created == []                                  # no name was ever made in tmp/
    monkeypatch.undo()

    created = spy_creates(monkeypatch, refuse_tmpfile=True)
    assert deliver_all(tmp_path / "named") is False       # the file system said no: named tmp/ files
    assert len(created) == len(MESSAGES)
    monkeypatch.undo()

    anon, named = delivered(tmp_path / "anon"), delivered(tmp_path / "named")
    assert anon == named
    assert [(w, f, d) for w, f, d, _ in anon] == sorted(
        [("cur", "S", MESSAGES[0].data), ("new", "", MESSAGES[1].data), ("cur", "FR", MESSAGES[2].data)],
        key=lambda x: x[2])
    assert {m for *_, m in anon} == {1_300_000_000, 1_300_000_100, "now"}
    for md in (tmp_path / "anon", tmp_path / "named"):
        assert os.listdir(md / "tmp") == []
        for sub in ("new", "cur"):
            for name in os.listdir(md / sub):
                assert os.stat(md / sub / name).st_mode & 0o777 == 0o600


@pytest.mark.parametrize("anonymous", [True, False])
def test_a_failed_write_leaves_no_file_anywhere(tmp_path, monkeypatch, anonymous):
    md = tmp_path / "md"
    writer = MaildirWriter(md, fsync=False).open()
    writer.stager.anonymous = anonymous

    def disk_full(fd, buffers, offset=None):
        os.write(fd, bytes(buffers[0][:5]))               # a few bytes reach the file, then ENOSPC
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(maildir_mod, "write_buffers", disk_full)
    with pytest.raises(OSError) as failed:
        writer.add(MailMessage(MESSAGES[0].data, flags="S", new=False, date=1))
    assert failed.value.errno == errno.ENOSPC
    writer.close()
    assert [os.listdir(md / sub) for sub in ("tmp", "new", "cur")] == [[], [], []]


def test_an_existing_name_is_never_overwritten(tmp_path):
    md = tmp_path / "md"
    writer = MaildirWriter(md, fsync=False).open()
    tmpname, final, parts = writer.plan(MailMessage(b"Subject: x\n\nfirst\n", new=True))
    writer.deliver(tmpname, final, parts, None)
    with pytest.raises(FileExistsError):
        writer.deliver(tmpname, final, (b"Subject: x\n\nsecond\n",), None)
    writer.close()
    assert (md / final).read_bytes() == b"Subject: x\n\nfirst\n"
    assert os.listdir(md / "tmp") == []


def test_a_proc_that_cannot_name_the_file_falls_back_to_named_tmp_files(tmp_path, monkeypatch):
    real_link = os.link

    def no_proc(src, dst, **kwargs):                      # /proc hidden or mounted oddly
        if str(src).startswith("/proc/"):
            raise OSError(errno.ENOENT, "No such file or directory")
        return real_link(src, dst, **kwargs)
    monkeypatch.setattr(maildir_mod.os, "link", no_proc)
    md = tmp_path / "md"
    assert deliver_all(md) is False
    monkeypatch.undo()
    assert [d for _, _, d, _ in delivered(md)] == sorted(m.data for m in MESSAGES)
    assert os.listdir(md / "tmp") == []


def test_tmp_files_of_a_killed_run_are_removed_and_others_kept(tmp_path):
    """Where tmp/ files have names (no O_TMPFILE), a killed run leaves some; the next run on
    this host removes its own dead ones, never another host's or another program's."""
    from mboxtool import convert_mailbox
    from mboxtool.fs.staging import host_name
    md = tmp_path / "md"
    MaildirWriter(md, fsync=False).open().close()
    dead = md / "tmp" / f"1700000000.M1P999999999Q1R0123456789abcdef.{host_name()}"
    other_host = md / "tmp" / "1700000000.M1P999999999Q1R0123456789abcdef.elsewhere"
    foreign = md / "tmp" / "1700000000.12345_1.mutt"
    for f in (dead, other_host, foreign):
        f.write_bytes(b"partial")
    src = tmp_path / "in.mbox"
    src.write_bytes(b"From a@b Mon Jan  6 10:00:00 2020\nSubject: x\n\nbody\n")
    assert convert_mailbox(src, md).converted == 1
    assert not dead.exists() and other_host.exists() and foreign.exists()


def _link_maildir(tmp_path, target_owner):
    """A Maildir whose one message is a symbolic link to a file owned by ``target_owner``."""
    md = tmp_path / "links"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True)
    target = tmp_path / "real-message"
    target.write_bytes(b"Subject: linked\n\nbody\n")
    os.chown(target, target_owner, -1)
    os.symlink(target, md / "cur" / "1.a.host:2,S")
    return md


def test_a_symlinked_message_is_refused_even_when_it_is_the_owners(tmp_path):
    """A link in cur/ is never followed, whoever owns its target: it is reported, not read
    (a mairix search folder is no mailbox to convert; its targets are)."""
    md = _link_maildir(tmp_path, os.geteuid())
    with MaildirReader(md) as reader:
        msgs = list(reader)
    assert msgs == [] and not any(m.flags == "S" for m in msgs)
    assert reader.unreadable_files == [("cur/1.a.host:2,S", "a symbolic link: not followed")]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_a_symlink_to_another_users_file_is_not_followed_by_root(tmp_path):
    """Root converting a user's Maildir must not copy /etc/shadow into it through a link."""
    md = _link_maildir(tmp_path, 4321)
    with MaildirReader(md) as reader:
        assert list(reader) == []
    assert reader.unreadable_files == [("cur/1.a.host:2,S", "a symbolic link: not followed")]
    from mboxtool import validate_mailbox
    codes = [(p.code, p.severity) for p in validate_mailbox(md).problems]
    assert ("symlink", "error") in codes
