"""A Maildir destination that other programs filled: their messages count as already there.

mboxtool's own names carry digests; files named by anyone else are read once and their
digests cached in .mboxtool-digests, so nothing is added twice and re-runs read no mail.
"""

import mailbox
import os

from mboxtool import ConvertOptions, convert_mailbox
from mboxtool.formats import foreign
from mboxtool.formats.foreign import CACHE_NAME, read_cache

from .conftest import SAMPLES, mbox_entry


def stdlib_copy(src, md):
    """What the obvious stdlib conversion (or another tool) leaves: names without digests."""
    box = mailbox.Maildir(str(md), create=True)
    source = mailbox.mbox(str(src), create=False)
    try:
        keys = [box.add(mailbox.MaildirMessage(msg)) for msg in source]
    finally:
        source.close()
    return keys


def count_reads(monkeypatch):
    """The message files foreign.py reads."""
    read = []
    real = foreign._digest_file

    def spy(path):
        read.append(path.name)
        return real(path)
    monkeypatch.setattr(foreign, "_digest_file", spy)
    return read


def test_a_maildir_another_tool_filled_from_the_source_gets_nothing_twice(tmp_path):
    md = tmp_path / "Maildir"
    keys = stdlib_copy(SAMPLES / "inbox.mbox", md)
    report = convert_mailbox(SAMPLES / "inbox.mbox", md)
    assert (report.converted, report.skipped, report.failed) == (0, 5, 0)
    assert len(os.listdir(md / "new")) + len(os.listdir(md / "cur")) == 5
    assert sorted(read_cache(md)) == sorted(keys)          # the stdlib's names are its unique parts


def test_a_rerun_reads_no_foreign_file_again_and_follows_renames_and_deletions(tmp_path, monkeypatch):
    md = tmp_path / "Maildir"
    stdlib_copy(SAMPLES / "inbox.mbox", md)
    convert_mailbox(SAMPLES / "inbox.mbox", md)
    cached = read_cache(md)
    # a mail client reads one message (new/ -> cur/ with flags) and deletes another
    first, second = sorted(os.listdir(md / "new"))[:2]
    os.rename(md / "new" / first, md / "cur" / f"{first}:2,S")
    os.unlink(md / "new" / second)
    more = tmp_path / "more.mbox"
    more.write_bytes((SAMPLES / "inbox.mbox").read_bytes()
                     + mbox_entry(headers="From: z@example.org\nSubject: new one\n"))
    opened = count_reads(monkeypatch)
    report = convert_mailbox(more, md)
    assert opened == []                                    # every foreign file was known by name
    # the deleted one is no longer in DST, so it comes again, with the new message
    assert (report.converted, report.skipped) == (2, 4)
    assert set(read_cache(md)) == set(cached) - {second}
    assert read_cache(md)[first] == cached[first]


def test_only_files_not_seen_before_are_read(tmp_path, monkeypatch):
    md = tmp_path / "Maildir"
    stdlib_copy(SAMPLES / "inbox.mbox", md)
    convert_mailbox(SAMPLES / "inbox.mbox", md)
    other = tmp_path / "other.mbox"
    other.write_bytes(mbox_entry(headers="From: y@example.org\nSubject: delivered by a server\n"))
    [late] = stdlib_copy(other, md)                        # delivered after the first run
    opened = count_reads(monkeypatch)
    report = convert_mailbox(other, md)
    assert opened == [late]
    assert (report.converted, report.skipped) == (0, 1)


def test_a_dry_run_reads_foreign_files_but_writes_no_cache(tmp_path):
    md = tmp_path / "Maildir"
    stdlib_copy(SAMPLES / "inbox.mbox", md)
    report = convert_mailbox(SAMPLES / "inbox.mbox", md, ConvertOptions(dry_run=True))
    assert (report.converted, report.skipped) == (0, 5)
    assert not (md / CACHE_NAME).exists()


def test_a_damaged_cache_line_means_that_file_is_read_again(tmp_path):
    md = tmp_path / "Maildir"
    stdlib_copy(SAMPLES / "inbox.mbox", md)
    convert_mailbox(SAMPLES / "inbox.mbox", md)
    lines = (md / CACHE_NAME).read_text().splitlines()
    (md / CACHE_NAME).write_text("\n".join([lines[0].rsplit(" ", 1)[0] + " zz", *lines[1:], "garbage"]) + "\n")
    again = tmp_path / "again.mbox"                       # another source: read from its start
    again.write_bytes((SAMPLES / "inbox.mbox").read_bytes())
    report = convert_mailbox(again, md)
    assert (report.converted, report.skipped) == (0, 5)
    assert len(read_cache(md)) == 5
