"""One test per CPython ``mailbox`` pitfall (docs/formats.md §4) that mboxtool works around."""

import os
import stat
import time

from mboxtool import ConvertOptions, MaildirReader, MboxReader, convert_mailbox
from mboxtool.fs.locking import MboxLock

from .conftest import make_maildir, mbox_entry


def read_mbox(path):
    with MboxReader(path) as reader:
        return list(reader)


def test_body_from_line_does_not_split(tmp_path):              # _generate_toc splits on any 'From '
    box = tmp_path / "box"
    box.write_bytes(mbox_entry(body="Hi\n\nFrom time to time we meet.\n"))
    assert len(read_mbox(box)) == 1


def test_bytes_before_first_from_are_kept(tmp_path):          # dropped by flush()
    box = tmp_path / "box"
    box.write_bytes(b"Subject: orphan\n\nkept\n" + mbox_entry())
    report = convert_mailbox(box, tmp_path / "md", ConvertOptions(from_format="mbox"))
    assert report.converted == 2
    assert any(b"kept" in m.data for m in MaildirReader(tmp_path / "md"))


def test_cr_only_file_is_not_one_empty_message(tmp_path):     # unbounded readline, CR-only => 1 message
    box = tmp_path / "box"
    box.write_bytes((mbox_entry() * 3).replace(b"\n", b"\r"))
    assert len(read_mbox(box)) == 3


def test_mboxrd_quoting_is_undone_and_written_back(tmp_path):  # never unquotes, writes mboxo
    md = tmp_path / "md"
    make_maildir(md)
    original = b"Subject: q\n\nFrom a\n>From b\n"
    (md / "new" / "1.x").write_bytes(original)
    box = tmp_path / "box"
    convert_mailbox(md, box)
    assert b"\n>From a\n>>From b\n" in box.read_bytes()
    assert read_mbox(box)[0].data.endswith(b"\n\nFrom a\n>From b\n")


def test_crlf_messages_keep_their_bytes(tmp_path):            # BytesGenerator and file-like input change bytes
    box = tmp_path / "box"
    data = mbox_entry().replace(b"\n", b"\r\n")
    box.write_bytes(data)
    msg = read_mbox(box)[0]
    assert msg.data == data[data.index(b"\r\n") + 2:-2]         # no From_ line, separator CRLF removed


def test_8bit_from_line_is_read(tmp_path):                    # get_message: UnicodeDecodeError
    box = tmp_path / "box"
    box.write_bytes(b"From j\xe9r\xf4me@example.org Mon Jan  6 10:00:00 2020\nSubject: x\n\nb\n")
    msg = read_mbox(box)[0]
    assert msg.date == 1578304800
    out = tmp_path / "out"
    convert_mailbox(box, out, ConvertOptions(to_format="mbox"))
    assert out.read_bytes().startswith(b"From MAILER-DAEMON Mon Jan  6 10:00:00 2020\n")


def test_append_after_missing_final_newline(tmp_path):        # add() glues the new message on
    box = tmp_path / "box"
    box.write_bytes(mbox_entry().rstrip(b"\n"))
    md = tmp_path / "md"
    make_maildir(md)
    (md / "new" / "1.x").write_bytes(b"Subject: second\n\nb\n")
    convert_mailbox(md, box)
    assert len(read_mbox(box)) == 2


def test_spool_is_never_replaced_by_a_new_inode(tmp_path):    # flush() renames over the spool
    box = tmp_path / "box"
    box.write_bytes(mbox_entry())
    ino = box.stat().st_ino
    convert_mailbox(box, tmp_path / "md", ConvertOptions(move=True))
    assert box.stat().st_ino == ino


def test_unusual_from_dates_become_the_maildir_mtime(tmp_path):  # date silently becomes now
    box = tmp_path / "box"
    box.write_bytes(b"From x@y Mon Nov 06 04:42:58 +0000 2017\nSubject: gmail\n\nb\n\n"
                    b"From x@y Sat Mar 24 23:00 2007 PST\nSubject: named zone\n\nb\n")
    convert_mailbox(box, tmp_path / "md", ConvertOptions(from_tz="utc"))
    mtimes = sorted(m.date for m in MaildirReader(tmp_path / "md"))
    assert mtimes == [1174777200, 1509943378]


def test_maildir_to_mbox_keeps_the_envelope_sender(tmp_path):  # From_ becomes MAILER-DAEMON
    md = tmp_path / "md"
    make_maildir(md)
    (md / "new" / "1.x").write_bytes(b"Return-Path: <bounce@example.org>\nSubject: s\n\nb\n")
    convert_mailbox(md, tmp_path / "box")
    assert (tmp_path / "box").read_bytes().startswith(b"From bounce@example.org ")


def test_draft_and_passed_survive(tmp_path):                  # conversion drops draft and passed
    md = tmp_path / "md"
    make_maildir(md)
    (md / "cur" / "1.x:2,DPS").write_bytes(b"Subject: s\n\nb\n")
    convert_mailbox(md, tmp_path / "box")
    convert_mailbox(tmp_path / "box", tmp_path / "back")
    assert [m.flags for m in MaildirReader(tmp_path / "back")] == ["DPS"]


def test_metadata_headers_do_not_leak_into_maildir(tmp_path):  # X-UID, Content-Length kept by CPython
    box = tmp_path / "box"
    box.write_bytes(mbox_entry(headers="From: a@b\nX-UID: 7\nStatus: RO\nX-Mozilla-Status: 0001\n"
                                       "Content-Length: 3\n", body="hi"))
    convert_mailbox(box, tmp_path / "md")
    (msg,) = MaildirReader(tmp_path / "md")
    assert msg.data == b"From: a@b\n\nhi\n"


def test_mh_and_babyl_carry_a_date(tmp_path):                 # MH/Babyl conversions: date = now
    box = tmp_path / "box"
    box.write_bytes(mbox_entry())
    convert_mailbox(box, tmp_path / "mh", ConvertOptions(to_format="mh"))
    convert_mailbox(tmp_path / "mh", tmp_path / "md", ConvertOptions(to_format="maildir"))
    assert [m.date for m in MaildirReader(tmp_path / "md")] == [1578304800]


def test_babyl_entries_without_a_visible_header_copy(tmp_path, invoke):
    """Babyl.get_bytes takes the first body paragraph for the visible header copy even when
    there is none (as the stdlib itself writes a BabylMessage), and its assert
    fails on such entries; the body starts right after *** EOOH *** then."""
    import email
    import email.message
    import mailbox
    made = email.message.EmailMessage()
    made["Subject"], made["From"] = "made", "a@b"
    made.set_content("first paragraph\n\nFrom here on\n")
    raw = b"Subject: parsed\nFrom: a@b\n\nbody\n\nFrom here\n"
    box = mailbox.Babyl(str(tmp_path / "rmail"))
    labelled = mailbox.BabylMessage(made)
    labelled.add_label("answered")
    box.add(labelled)                                        # a BabylMessage: no visible copy
    box.add(raw)                                             # visible copy, the Emacs layout
    box.close()
    r = invoke("convert", "--to", "maildir", tmp_path / "rmail", tmp_path / "md")
    assert r.exit_code == 0 and "Traceback" not in r.stderr, r.stderr
    got = sorted((m.data, m.flags) for m in MaildirReader(tmp_path / "md"))
    assert got == sorted([(made.as_bytes(), "RS"), (raw, "S")])


def test_unlock_never_removes_someone_elses_dotlock(tmp_path):  # unlock() deletes any PATH.lock
    box = tmp_path / "box"
    box.write_bytes(mbox_entry())
    fd = os.open(box, os.O_RDWR)
    try:
        lock = MboxLock(box, fd, True, 1).acquire()
        os.unlink(str(box) + ".lock")
        (tmp_path / "box.lock").write_text("12345 otherhost\n")    # another holder took over
        lock.release()
        assert (tmp_path / "box.lock").exists()
    finally:
        os.close(fd)


def test_new_files_are_private(tmp_path):                      # 0644 by default in CPython
    box = tmp_path / "box"
    box.write_bytes(mbox_entry())
    old = os.umask(0o022)
    try:
        convert_mailbox(box, tmp_path / "md")
    finally:
        os.umask(old)
    (f,) = list((tmp_path / "md" / "new").iterdir())
    assert stat.S_IMODE(f.stat().st_mode) == 0o600


def test_maildir_dotfiles_are_skipped_and_order_is_stable(tmp_path):  # dot-files counted; dir order
    md = tmp_path / "md"
    make_maildir(md)
    (md / "new" / ".keep").write_bytes(b"")
    for i, name in enumerate(["c", "a", "b"]):
        p = md / "cur" / f"{name}:2,S"
        p.write_bytes(f"Subject: {name}\n\nx\n".encode())
        os.utime(p, (1_500_000_000 + i, 1_500_000_000 + i))
    keys = [m.key for m in MaildirReader(md)]
    assert keys == ["cur/c:2,S", "cur/a:2,S", "cur/b:2,S"]


def test_lock_waits_and_retries_instead_of_failing_fast(tmp_path):  # lock(): fail-fast, no retry
    src = tmp_path / "src"
    src.write_bytes(mbox_entry())
    box = tmp_path / "box"
    box.write_bytes(mbox_entry(body="already here\n"))
    lockfile = tmp_path / "box.lock"
    lockfile.write_text(f"{os.getpid()} {os.uname().nodename}\n")     # a live holder
    import threading
    threading.Timer(0.7, lockfile.unlink).start()
    start = time.monotonic()
    report = convert_mailbox(src, box, ConvertOptions(to_format="mbox", lock_timeout=10))
    waited = time.monotonic() - start
    assert report.converted == 1 and 0.6 < waited < 10


def test_reading_a_spool_keeps_its_new_mail_indicator(tmp_path):   # reads bump atime
    box = tmp_path / "box"
    box.write_bytes(mbox_entry())
    os.utime(box, (1_600_000_000, 1_700_000_000))              # mtime > atime: "you have new mail"
    convert_mailbox(box, tmp_path / "md")
    st = box.stat()
    assert (int(st.st_atime), int(st.st_mtime)) == (1_600_000_000, 1_700_000_000)
