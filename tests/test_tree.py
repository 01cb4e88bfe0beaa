"""Folder trees: mbox files with NAME.sbd/ subfolders <-> Maildir++ .NAME.SUB folders."""

import pytest

from mboxtool.convert import ConvertOptions
from mboxtool.formats.maildir import MaildirReader
from mboxtool.tree import convert_tree, mutf7_decode, mutf7_encode

from .conftest import mbox_entry


@pytest.mark.parametrize("name, encoded", [
    ("Entwürfe", "Entw&APw-rfe"), ("日本語", "&ZeVnLIqe-"), ("A&B", "A&-B"), ("Sent", "Sent")])
def test_modified_utf7_folder_names(name, encoded):
    assert mutf7_encode(name) == encoded and mutf7_decode(encoded) == name


def test_mbox_tree_to_maildirpp_and_back(tmp_path):
    tree = tmp_path / "Mail"
    (tree / "Work.sbd").mkdir(parents=True)
    (tree / "INBOX").write_bytes(mbox_entry(body="inbox\n"))
    (tree / "Work").write_bytes(mbox_entry(body="work\n"))
    (tree / "Work.sbd" / "Entwürfe").write_bytes(mbox_entry(body="draft\n") + mbox_entry(body="d2\n"))
    (tree / "Work.msf").write_bytes(b"thunderbird index, not mail")
    md = tmp_path / "Maildir"
    report = convert_tree(tree, md, ConvertOptions(verify=True))
    assert (report.converted, report.failed, report.verified) == (4, 0, True)
    assert sorted(p.name for p in md.iterdir() if p.name.startswith(".") and p.is_dir()) == \
        [".Work", ".Work.Entw&APw-rfe"]
    assert (md / ".Work" / "maildirfolder").exists()
    assert len(list(MaildirReader(md))) == 1                     # INBOX is the root Maildir
    back = tmp_path / "back"
    again = convert_tree(md, back, ConvertOptions())
    assert again.converted == 4
    assert (back / "INBOX").exists() and (back / "Work.sbd" / "Entwürfe").exists()
