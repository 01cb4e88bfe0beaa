"""--from eml: one message file, or a directory of them (Outlook Express, Windows Live Mail,
Thunderbird's "Save As" and ImportExportTools exports). There was no way in for them: a
directory of .eml files was refused, and --recursive passed its files over."""

import json
import os

from mboxtool import MaildirReader, MboxReader

THUNDERBIRD = (b"X-Mozilla-Status: 0003\r\nX-Mozilla-Status2: 00000000\r\nX-Mozilla-Keys: $label1\r\n"
               b"From: Alice <alice@example.org>\r\nSubject: saved from Thunderbird\r\n"
               b"Date: Tue, 7 Jan 2020 08:30:00 +0000\r\n\r\nbody\r\n")
SPLIT = (b"From bob@example.org Wed Jan  8 09:00:00 2020\nFrom: Bob <bob@example.org>\n"
         b"Subject: split from an mbox\nDate: Sun, 1 Jan 2012 00:00:00 +0000\n\nFrom the start\n")
PLAIN = b"From: Carol <carol@example.org>\nSubject: plain\nDate: Thu, 9 Jan 2020 10:00:00 +0000\n\nhi\n"


def export(path):
    path.mkdir()
    (path / "1 saved.eml").write_bytes(THUNDERBIRD)
    (path / "2 split.eml").write_bytes(SPLIT)
    (path / "3 plain.eml").write_bytes(PLAIN)
    (path / "4 bom.eml").write_bytes(b"\xef\xbb\xbf" + PLAIN.replace(b"plain", b"with a BOM"))  # a .eml is one
    (path / "notes.txt").write_bytes(b"exported with Windows Live Mail\n")   # no message: named, not read
    (path / "empty.eml").write_bytes(b"")
    (path / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (path / "attachments").mkdir()
    return path


def test_a_directory_of_message_files_is_refused_with_the_way_in(tmp_path, invoke):
    src = export(tmp_path / "export")
    r = invoke("convert", src, tmp_path / "md")
    assert r.exit_code == 2 and "--from eml" in r.stderr and not (tmp_path / "md").exists()


def test_message_files_convert_with_their_bytes_state_and_dates(tmp_path, invoke):
    src = export(tmp_path / "export")
    r = invoke("convert", "--json", "--from", "eml", "--to", "maildir", "--verify", src, tmp_path / "md")
    doc = json.loads(r.stdout)
    assert r.exit_code == 0 and (doc["converted"], doc["verified"]) == (4, True), r.output
    # named, not passed over: the empty file, and the subfolder (--recursive takes it)
    assert {w["code"] for w in doc["warnings"]} >= {"empty-file", "subfolders-not-converted", "foreign-file"}
    with MaildirReader(tmp_path / "md") as reader:
        got = {m.data.split(b"Subject: ")[1].split(b"\n")[0].rstrip(b"\r"): m for m in reader}
    saved, split, plain = got[b"saved from Thunderbird"], got[b"split from an mbox"], got[b"plain"]
    assert (saved.flags, saved.keywords) == ("RS", ("$label1",))       # X-Mozilla-Status read
    assert b"X-Mozilla" not in saved.data and saved.data == THUNDERBIRD[THUNDERBIRD.index(b"From: "):]
    assert split.data == SPLIT[SPLIT.index(b"\n") + 1:]                 # the envelope line is not mail
    assert split.date == 1578474000                                    # its date is the delivery date
    assert plain.data == PLAIN and plain.date == 1578564000 and plain.new
    assert got[b"with a BOM"].data == b"\xef\xbb\xbf" + PLAIN.replace(b"plain", b"with a BOM")   # byte for byte
    # on into an mbox: the envelope sender of the From_ line is kept
    r = invoke("convert", "--from", "eml", src / "2 split.eml", tmp_path / "out.mbox")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out.mbox").read_bytes().startswith(b"From bob@example.org Wed Jan  8 09:00:00 2020\n")
    with MboxReader(tmp_path / "out.mbox") as reader:
        assert [m.data for m in reader] == [SPLIT[SPLIT.index(b"\n") + 1:]]


def test_list_show_validate_and_move(tmp_path, invoke):
    src = export(tmp_path / "export")
    rows = [json.loads(line) for line in invoke("list", "--json", "--from", "eml", src).stdout.splitlines()]
    assert [(row["key"], row["flags"]) for row in rows] == [("1 saved.eml", "RS"), ("2 split.eml", ""),
                                                             ("3 plain.eml", ""), ("4 bom.eml", "")]
    assert invoke("show", "--from", "eml", src, "3").stdout_bytes == PLAIN
    assert invoke("validate", "--from", "eml", src).exit_code in (0, 1)      # the BOM one has no header
    r = invoke("repair", "--from", "eml", src, tmp_path / "fixed")
    assert r.exit_code == 2 and "convert them" in r.stderr
    r = invoke("convert", "--from", "eml", "--to", "eml", src, tmp_path / "x")
    assert r.exit_code == 2
    r = invoke("convert", "--move", "--from", "eml", src, tmp_path / "all.mbox")
    assert r.exit_code == 0, r.output
    assert sorted(os.listdir(src)) == [".DS_Store", "attachments", "empty.eml", "notes.txt"]   # only what was converted
    with MboxReader(tmp_path / "all.mbox") as reader:
        assert len(list(reader)) == 4


def test_a_windows_live_mail_export_tree_converts_folder_by_folder(tmp_path, invoke):
    """Windows Live Mail and Outlook Express export a folder as a directory of .eml files,
    subfolders as directories inside it."""
    root = tmp_path / "export"
    for folder, count in (("Inbox", 2), ("Inbox/Lists", 3), ("Sent Items", 1)):
        (root / folder).mkdir(parents=True)
        for n in range(count):
            (root / folder / f"msg {n}.eml").write_bytes(PLAIN.replace(b"plain", f"{folder} {n}".encode()))
        (root / folder / "desktop.ini").write_bytes(b"[.ShellClassInfo]\r\n")     # Windows' own
    r = invoke("convert", "--json", "--recursive", root, tmp_path / "md")
    doc = json.loads(r.stdout)
    assert (r.exit_code, doc["converted"], doc["warnings"]) == (0, 6, []), r.output
    got = {}
    for name in ("", ".Inbox.Lists", ".Sent Items"):
        with MaildirReader(tmp_path / "md" / name) as reader:
            got[name] = sorted(m.data.split(b"Subject: ")[1].split(b"\n")[0].decode() for m in reader)
    assert got == {"": ["Inbox 0", "Inbox 1"], ".Inbox.Lists": ["Inbox/Lists 0", "Inbox/Lists 1", "Inbox/Lists 2"],
                   ".Sent Items": ["Sent Items 0"]}
