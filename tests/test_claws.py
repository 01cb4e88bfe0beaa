"""Claws Mail keeps an MH folder's flags (marked, replied, forwarded, deleted, unread) in
.claws_mark, not in .mh_sequences: they survive conversion.

The mark files are built here as Claws writes them (msgcache.c: a 32-bit version 2, then
pairs of 32-bit message number and flag bits, little-endian; procmsg.h: new 1, unread 2,
marked 4, deleted 8, replied 16, forwarded 32).
"""

import struct

import pytest

from mboxtool import MboxReader, MHReader, convert_mailbox
from mboxtool.formats.claws import read_claws_marks


def claws_folder(path, count, marks, order="<", name=".claws_mark", sequences=None):
    path.mkdir()
    for n in range(1, count + 1):
        (path / str(n)).write_bytes(b"From: a@example.org\nSubject: m%d\n\nbody %d\n" % (n, n))
    (path / ".claws_cache").write_bytes(b"\x18\x00\x00\x00 not read by mboxtool")
    (path / name).write_bytes(struct.pack(order + "i", 2) +
                              b"".join(struct.pack(order + "II", num, bits) for num, bits in marks))
    if sequences is not None:
        (path / ".mh_sequences").write_text(sequences)
    return path


def flags_by_number(path):
    with MHReader(path) as reader:
        return {int(m.key): (m.flags, m.new) for m in reader}


@pytest.mark.parametrize("order", ["<", ">"], ids=["little-endian", "big-endian"])
def test_claws_marks_become_flags(tmp_path, order):
    folder = claws_folder(tmp_path / "inbox", 6, [(1, 0), (2, 2), (3, 4 | 16), (4, 32), (5, 8 | 1), (6, 4)],
                          order=order)
    assert flags_by_number(folder) == {1: ("S", False), 2: ("", True), 3: ("FRS", False), 4: ("PS", False),
                                       5: ("T", True), 6: ("FS", False)}


def test_the_last_entry_of_a_number_wins_and_sequences_still_count(tmp_path):
    folder = claws_folder(tmp_path / "inbox", 3, [(1, 2), (1, 4), (3, 0)],
                          sequences="unseen: 3\nreplied: 2\nflagged: 3\n")
    assert flags_by_number(folder) == {1: ("FS", False), 2: ("RS", False), 3: ("F", True)}


def test_sylpheed_marks_and_odd_mark_files(tmp_path):
    folder = claws_folder(tmp_path / "a", 1, [(1, 16)], name=".sylpheed_mark")
    assert flags_by_number(folder) == {1: ("RS", False)}
    folder = claws_folder(tmp_path / "b", 1, [(1, 16)])
    (folder / ".claws_mark").write_bytes(struct.pack("<i", 3) + struct.pack("<II", 1, 16))  # unknown version
    assert read_claws_marks(folder) == {} and flags_by_number(folder) == {1: ("S", False)}
    (folder / ".claws_mark").write_bytes(struct.pack("<iII", 2, 1, 16) + b"\x01\x02")   # a torn last pair
    assert read_claws_marks(folder) == {1: 16}


def test_claws_flags_reach_the_mbox(tmp_path):
    folder = claws_folder(tmp_path / "inbox", 3, [(1, 4 | 16), (2, 2), (3, 32)])
    box = tmp_path / "out.mbox"
    report = convert_mailbox(folder, box)
    assert (report.source_format, report.converted) == ("mh", 3)
    with MboxReader(box) as reader:
        assert [(m.flags, m.new) for m in reader] == [("FRS", False), ("", True), ("PS", False)]


@pytest.mark.parametrize("order", ["<", ">"], ids=["little-endian", "big-endian"])
def test_move_takes_the_moved_messages_out_of_the_mark_file(tmp_path, order):
    """Claws gives a message the marks stored under its number: after --move, a new message
    under a freed number would have come up flagged."""
    from mboxtool import ConvertOptions
    folder = claws_folder(tmp_path / "inbox", 2, [(1, 4), (2, 16), (7, 4)], order=order)
    (folder / "2").chmod(0)                                     # not readable: stays, with its marks
    report = convert_mailbox(folder, tmp_path / "out.mbox", ConvertOptions(move=True))
    left = read_claws_marks(folder)
    if report.converted == 2:                                   # root reads it anyway
        assert left == {7: 4}
    else:
        assert left == {2: 16, 7: 4}
    assert (folder / ".claws_mark").read_bytes()[:4] == struct.pack(order + "i", 2)
    (folder / "1").write_bytes(b"Subject: new\n\nx\n")
    assert flags_by_number(folder)[1] == ("S", False)
