"""The format registry and the reader/writer contract (formats/base.py, formats/registry.py)."""

import pytest

from mboxtool.formats import detect, registry
from mboxtool.formats.base import MailboxReader, MailboxWriter
from mboxtool.formats.registry import make_reader, make_writer
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


def test_the_table_is_the_one_list_of_formats():
    """The package's FORMATS and detect_format are the registry's; detect.py keeps no list."""
    import mboxtool
    assert mboxtool.FORMATS is registry.FORMATS and mboxtool.detect_format is registry.detect_format
    assert not any(hasattr(detect, name) for name in ("FORMATS", "SOURCE_FORMATS", "FILE_FORMATS"))
    assert registry.detected() == tuple(n for n, row in registry.FORMATS.items() if row.detected)
    assert registry.writable() == tuple(n for n, row in registry.FORMATS.items() if row.writer is not None)
    assert registry.SPOOL_FORMAT in registry.FORMATS


@pytest.mark.parametrize("name", FORMATS)
def test_every_row_agrees_with_its_classes(name, tmp_path):
    """What the converter asks a row is consistent with the classes it names."""
    row = registry.get(name)
    assert row.default_peer in WRITABLE and row.default_peer != name
    assert callable(row.subfolders) and (row.stale_files is None or callable(row.stale_files))
    if row.resumable:                                 # a checkpoint is a byte offset into one file
        assert row.is_file and hasattr(row.make_reader(tmp_path / "box"), "resume_at")
    if row.exact_spans:                               # spans are offsets into one file
        assert row.is_file
    if row.writer is None:                            # the destination fields are left at their defaults
        assert not (row.parallel_writer or row.thunderbird_headers or row.blind_variants or row.sbd_parent_mailbox)
        return
    assert row.parallel_writer == row.writer.plans_by_digest       # the writer processes plan names
    if row.parallel_writer:
        assert overrides(row.writer, MailboxWriter, "plan")
    assert row.thunderbird_headers <= hasattr(row.writer, "mozilla")
    assert row.blind_variants <= set(registry.VARIANTS)
    assert row.tree_layout in ("maildir++", "sbd") and (row.tree_layout == "sbd" or not row.is_file)
    dst = tmp_path / "dst"
    assert row.staging(dst) == (tmp_path if row.is_file else dst / row.staging_subdir)
    assert (row.staging_subdir is None) == row.is_file


def test_the_converter_names_no_format():
    """Whatever convert/ does differently for a format is a field of its row: no format name
    appears there as a string."""
    import ast

    from .conftest import ROOT
    named = []
    for path in sorted((ROOT / "mboxtool" / "convert").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in registry.FORMATS:
                named.append(f"{path.name}:{node.lineno}: {node.value!r}")
    assert named == []


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
    assert registry.detect_format(dst) == name
    with make_reader(dst, name, lock=False) as reader:
        got = [(core_bytes(m), m.flags) for m in reader]
    assert len(got) == len(expected)
    for (data, flags), (want, want_flags) in zip(got, expected):
        assert data in (want, comparable(want, writer.adds_final_newline)) and flags == want_flags


@pytest.mark.parametrize("name", WRITABLE)
def test_a_writer_finds_the_messages_already_in_its_destination(tmp_path, name):
    """The read-back convert relies on: what is there is known, through the writer or its reader."""
    from mboxtool.convert.known import Known
    dst = tmp_path / ("box" if registry.get(name).is_file else "dir")
    write(dst, name, sample(3))
    known = Known()
    again = make_writer(dst, name)
    again.open()
    try:
        known.read_back(dst, name, again)
    finally:
        again.close()
    dry = Known()
    dry.read_back(dst, name)
    assert len(known.digests) == len(dry.digests) == 3


@pytest.mark.formats(writable=True, is_file=False)
def test_a_directory_writer_refuses_a_file_or_a_foreign_directory_and_changes_neither(tmp_path, fmt):
    from mboxtool import InputError
    a_file = tmp_path / "a-file"
    a_file.write_bytes(b"not a mailbox\n")
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"\xff\xd8")
    for path, why in ((a_file, "is not a directory"), (foreign, "is not empty")):
        with pytest.raises(InputError, match=why):
            make_writer(path, fmt).open()
    assert a_file.read_bytes() == b"not a mailbox\n"
    assert sorted(p.name for p in foreign.iterdir()) == ["cat.jpg"]
