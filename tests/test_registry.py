"""The format registry and the reader/writer contract (formats/base.py, formats/registry.py)."""

import pytest

from mboxtool.formats import detect, registry
from mboxtool.formats.base import MailboxReader, MailboxWriter
from mboxtool.formats.mailboxes import make_reader, make_writer
from mboxtool.model.message import MailMessage, core_bytes

FORMATS = sorted(registry.FORMATS)
WRITABLE = registry.writable()


def overrides(cls, base, name):
    return getattr(cls, name) is not getattr(base, name)


@pytest.mark.parametrize("name", FORMATS)
def test_every_reader_implements_the_contract(name):
    reader = registry.get(name).reader
    assert issubclass(reader, MailboxReader) and reader.format == name
    assert overrides(reader, MailboxReader, "__iter__")
    if reader.can_snapshot:
        assert overrides(reader, MailboxReader, "snapshot")
    if reader.removes_whole_file:
        assert overrides(reader, MailboxReader, "remove_all")
    elif reader.move_refusal is None:                # --move takes messages out one by one
        assert overrides(reader, MailboxReader, "remove")


@pytest.mark.parametrize("name", WRITABLE)
def test_every_writer_implements_the_contract(name):
    writer = registry.get(name).writer
    assert issubclass(writer, MailboxWriter) and writer.format == name
    for method in ("open", "add", "commit", "close"):
        assert overrides(writer, MailboxWriter, method), method
    if writer.writes_in_thread:
        assert overrides(writer, MailboxWriter, "write_out")


def test_detection_and_the_table_agree():
    assert set(detect.SOURCE_FORMATS) == set(registry.FORMATS)
    assert set(detect.FORMATS) == {n for n, row in registry.FORMATS.items() if row.detected}
    assert set(detect.FILE_FORMATS) == {n for n, row in registry.FORMATS.items() if row.is_file}


def sample(n):
    """N messages, each with its own flags; one ends without a newline, one holds a From_ line."""
    letters = ["", "S", "RS", "FS", "DS", "PS"]
    msgs = []
    for i in range(n):
        body = b"line %d\n\nFrom the start of a body line\n" % i if i % 3 == 1 else b"body %d\n" % i
        if i % 4 == 3:
            body = body.rstrip(b"\n")
        head = b"From: a%d@example.org\nSubject: message %d\nMessage-ID: <%d@example.org>\n\n" % (i, i, i)
        data = head + body
        flags = letters[i % len(letters)]
        msgs.append(MailMessage(data, flags=flags, new=not flags, date=1600000000 + i * 60, key=str(i)))
    return msgs


def write(dst, name, msgs):
    writer = make_writer(dst, name)
    writer.open()
    try:
        for msg in msgs:
            writer.add(msg)
        writer.commit()
    finally:
        writer.close()
    return writer


def comparable(data, adds_final_newline):
    return data + b"\n" if adds_final_newline and not data.endswith(b"\n") else data


@pytest.mark.parametrize("name", WRITABLE)
def test_what_a_writer_writes_its_reader_reads_back(tmp_path, name):
    dst = tmp_path / ("box" if registry.get(name).is_file else "dir")
    written = sample(8)
    expected = [(bytes(core_bytes(MailMessage(m.data))), m.flags) for m in written]
    writer = write(dst, name, written)
    assert detect.detect_format(dst) == name
    with make_reader(dst, name, lock=False) as reader:
        got = [(core_bytes(m), m.flags) for m in reader]
    assert len(got) == len(expected)
    for (data, flags), (want, want_flags) in zip(got, expected):
        assert data in (want, comparable(want, writer.adds_final_newline)) and flags == want_flags


@pytest.mark.parametrize("name", WRITABLE)
def test_a_writer_finds_the_messages_already_in_its_destination(tmp_path, name):
    """The read-back convert relies on: what is there is known, through the writer or its reader."""
    from mboxtool.convert.mailbox import _Known
    dst = tmp_path / ("box" if registry.get(name).is_file else "dir")
    write(dst, name, sample(3))
    known = _Known()
    again = make_writer(dst, name)
    again.open()
    try:
        known.read_back(dst, name, again)
    finally:
        again.close()
    dry = _Known()
    dry.read_back(dst, name)
    assert len(known.digests) == len(dry.digests) == 3
