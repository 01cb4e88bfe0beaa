"""Courier-IMAP keeps keywords in courierimapkeywords/, not in the file names: they survive.

The layout tests build the directory by hand (every rule Courier's reader
follows); the maildirkw tests let Courier's own tool (Debian: courier-base)
set the keywords, and skip without it. test_dovecot.py hands such a
converted Maildir to Dovecot.
"""

import os
import shutil
import subprocess

from mboxtool import MaildirReader, MboxReader, convert_mailbox
from mboxtool.formats.courier import read_courier_keywords

from .conftest import MAILDIRKW, SAMPLES, courier_maildir, make_maildir, needs_maildirkw, run_maildirkw


def keywords_by_subject(path):
    with MaildirReader(path) as reader:
        return {m.data.split(b"Subject: ")[1].split(b"\n")[0].decode(): set(m.keywords) for m in reader}


def test_the_list_file_gives_each_message_its_keywords(tmp_path):
    kw = courier_maildir(tmp_path / "md", ["cur/1.M1.h:2,S", "cur/2.M1.h:2,", "new/3.M1.h"])
    (kw / ":list").write_bytes(b"Work\n$Label1\nCaf\xc3\xa9\n\n1.M1.h:0 2\n2.M1.h:1\nno colon here\n"
                               b"3.M1.h:7 x\n")
    assert read_courier_keywords(tmp_path / "md") == {"1.M1.h": ("Work", "Café"), "2.M1.h": ("$Label1",)}
    assert keywords_by_subject(tmp_path / "md") == {"m0": {"Work", "Café"}, "m1": {"$Label1"}, "m2": set()}


def test_the_newest_update_file_replaces_what_the_list_says(tmp_path):
    kw = courier_maildir(tmp_path / "md", ["cur/1.M1.h:2,S", "cur/2.M1.h:2,", "cur/3.M1.h:2,", "cur/4.M1.h:2,"])
    (kw / ":list").write_bytes(b"Work\nHome\n\n1.M1.h:0\n2.M1.h:0 1\n3.M1.h:1\n")
    (kw / ".100.1.M1.h").write_bytes(b"Old\n")
    (kw / ".205.1.M1.h").write_bytes(b"Newer\nWork\n")     # the highest number wins
    (kw / "2.M1.h").write_bytes(b"")                        # an empty plain file clears
    (kw / ".999.2.M1.h").write_bytes(b"Stale\n")            # the plain name beats any number
    (kw / "4.M1.h").write_bytes(b"Fresh\n")                 # not in :list yet
    (kw / ".tmp.1700000000.scratch").write_bytes(b"Scratch\n")
    assert keywords_by_subject(tmp_path / "md") == {"m0": {"Newer", "Work"}, "m1": set(), "m2": {"Home"},
                                                    "m3": {"Fresh"}}


def test_keywords_from_courier_and_from_letters_are_merged(tmp_path):
    md = tmp_path / "md"
    kw = courier_maildir(md, ["cur/1.M1.h:2,Sa"])
    (md / "dovecot-keywords").write_text("0 FromDovecot\n")
    (kw / "1.M1.h").write_text("FromCourier\n$Forwarded\n")
    with MaildirReader(md) as reader:
        (msg,) = list(reader)
    assert set(msg.keywords) == {"FromDovecot", "FromCourier"}
    assert msg.flags == "PS"                                # $Forwarded is the passed flag


def test_odd_things_in_the_keyword_directory_do_not_stop_a_run(tmp_path):
    md = tmp_path / "md"
    kw = courier_maildir(md, ["cur/1.M1.h:2,", "cur/2.M1.h:2,"])
    os.mkfifo(kw / "1.M1.h")                                # would block a plain read for ever
    (kw / "2.M1.h").mkdir()
    (kw / ":list").write_bytes(b"\xff\xfe\n\n1.M1.h:0\n2.M1.h:0\n")   # not UTF-8: bytes kept
    got = read_courier_keywords(md)
    assert got == {"1.M1.h": ("\udcff\udcfe",), "2.M1.h": ("\udcff\udcfe",)}
    assert convert_mailbox(md, tmp_path / "out.mbox").converted == 2
    assert (tmp_path / "out.mbox").read_bytes().count(b"X-Keywords: \xff\xfe\n") == 2


def test_a_hand_made_keyword_with_blanks_stays_one_keyword(tmp_path):
    kw = courier_maildir(tmp_path / "md", ["cur/1.M1.h:2,"])
    (kw / ":list").write_bytes(b"Not Junk\n\n1.M1.h:0\n")   # Courier itself refuses the blank
    box = tmp_path / "out.mbox"
    assert convert_mailbox(tmp_path / "md", box).converted == 1
    with MboxReader(box) as reader:
        assert [m.keywords for m in reader] == [("Not_Junk",)]


def test_no_keyword_directory_means_no_keywords(tmp_path):
    make_maildir(tmp_path / "md")
    assert read_courier_keywords(tmp_path / "md") == {}
    (tmp_path / "md" / "courierimapkeywords").mkdir()
    assert read_courier_keywords(tmp_path / "md") == {}


@needs_maildirkw
def test_keywords_set_by_courier_reach_the_mbox(tmp_path):
    md = tmp_path / "md"
    courier_maildir(md, ["cur/1.M1.h:2,S", "new/2.M1.h", "cur/3.M1.h:2,R"])
    shutil.rmtree(md / "courierimapkeywords")               # let Courier make its own
    run_maildirkw(md, "1.M1.h:2,S", "Work", "$Label1", "Café")
    run_maildirkw("-a", md, "2.M1.h", "urgent")
    run_maildirkw(md, "3.M1.h:2,R", "gone")
    run_maildirkw(md, "3.M1.h:2,R")                         # and cleared again
    box = tmp_path / "out.mbox"
    assert convert_mailbox(md, box).converted == 3
    with MboxReader(box) as reader:
        got = {m.data.split(b"Subject: ")[1].split(b"\n")[0].decode(): (m.flags, set(m.keywords))
               for m in reader}
    assert got == {"m0": ("S", {"Work", "$Label1", "Café"}), "m1": ("", {"urgent"}), "m2": ("R", set())}


def test_a_courier_destination_gets_its_keywords_the_courier_way(tmp_path):
    """Keywords go into courierimapkeywords/ as Courier's update files, not into Dovecot
    letters Courier-IMAP would not read; they read back, and an mbox gets them again."""
    dst = tmp_path / "courier"
    courier_maildir(dst, [])
    box = tmp_path / "in.mbox"
    box.write_bytes(b"From a@b Mon Jan  6 10:00:00 2020\nSubject: k\nX-Keywords: Work Caf\xc3\xa9\n\nbody\n\n"
                    b"From a@b Mon Jan  6 11:00:00 2020\nSubject: none\n\nbody\n")
    report = convert_mailbox(box, dst)
    assert report.converted == 2 and report.warnings == []
    assert not (dst / "dovecot-keywords").exists()
    assert not any(p.name.startswith(".tmp.") for p in (dst / "courierimapkeywords").iterdir())
    assert list(read_courier_keywords(dst).values()) == [("Work", "Café")]
    assert len(os.listdir(dst / "cur")) == len(os.listdir(dst / "new")) == 1    # a keyword: not new
    assert keywords_by_subject(dst) == {"k": {"Work", "Café"}, "none": set()}
    back = tmp_path / "back.mbox"
    assert convert_mailbox(dst, back).converted == 2
    with MboxReader(back) as reader:
        assert sorted(m.keywords for m in reader) == [(), ("Work", "Café")]


@needs_maildirkw
def test_courier_reads_the_keywords_mboxtool_wrote(tmp_path):
    dst = tmp_path / "courier"
    courier_maildir(dst, [])
    with MboxReader(SAMPLES / "inbox.mbox") as reader:
        expected = sorted(tuple(sorted(m.keywords)) for m in reader if m.keywords)
    assert convert_mailbox(SAMPLES / "inbox.mbox", dst).converted == 5
    r = subprocess.run([MAILDIRKW, "-L", str(dst)], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    listed = [line.split()[1:] for line in r.stdout.decode().splitlines() if line.strip()]
    assert sorted(tuple(sorted(words)) for words in listed) == expected and expected


