"""MMDF files written by Python's mailbox.MMDF: its extra line end before each closing
delimiter is no part of the messages (its reader drops it, and so does mboxtool)."""

import mailbox
import os

from mboxtool.formats.registry import make_reader

MESSAGES = [b"From: a@example.org\nSubject: one\n\nbody one\n",
            b"From: b@example.org\nSubject: two\n\nbody two\n\n",           # ends with an empty line
            b"From: c@example.org\nSubject: three\n\r\nbody three\r\n"]


def read(path):
    with make_reader(path, "mmdf", lock=False) as reader:
        return [m.data for m in reader]


def test_messages_of_a_stdlib_mmdf_file_come_back_as_the_stdlib_reads_them(tmp_path):
    path = tmp_path / "box.mmdf"
    box = mailbox.MMDF(str(path))
    for data in MESSAGES:
        box.add(data)
    box.close()
    stdlib = mailbox.MMDF(str(path))
    assert [stdlib.get_bytes(k) for k in stdlib.iterkeys()] == MESSAGES
    stdlib.close()
    assert read(path) == MESSAGES


def test_convert_of_a_stdlib_mmdf_file_keeps_the_bytes(invoke, tmp_path):
    path = tmp_path / "box.mmdf"
    box = mailbox.MMDF(str(path))
    for data in MESSAGES:
        box.add(data)
    box.close()
    r = invoke("convert", "--to", "maildir", path, tmp_path / "md")
    assert r.exit_code == 0, r.stdout + r.stderr
    files = [(tmp_path / "md" / sub / n).read_bytes() for sub in ("new", "cur")
             for n in os.listdir(tmp_path / "md" / sub)]
    assert sorted(files) == sorted(MESSAGES)


def test_entries_that_differ_keep_every_byte(tmp_path):
    d = b"\x01\x01\x01\x01\n"
    path = tmp_path / "box.mmdf"
    path.write_bytes(d + MESSAGES[1] + d + d + MESSAGES[0] + d)       # only one ends with an empty line
    assert read(path) == [MESSAGES[1], MESSAGES[0]]
    path.write_bytes(d + MESSAGES[1] + d)                                # one entry proves nothing
    assert read(path) == [MESSAGES[1]]


def test_an_mmdf_file_mboxtool_wrote_reads_back_exactly(invoke, tmp_path):
    md = tmp_path / "md"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True)
    for i, data in enumerate(MESSAGES):
        (md / "cur" / f"170000000{i}.M1P1Q{i}.host:2,S").write_bytes(data)
    r = invoke("convert", "--to", "mmdf", "--verify", md, tmp_path / "out.mmdf")
    assert r.exit_code == 0, r.stdout + r.stderr
    back = [data.replace(b"Status: RO\r\n", b"").replace(b"Status: RO\n", b"")
            for data in read(tmp_path / "out.mmdf")]
    assert sorted(back) == sorted(MESSAGES)
