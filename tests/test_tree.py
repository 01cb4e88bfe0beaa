"""Folder trees: mbox files with NAME.sbd/ subfolders <-> Maildir++ .NAME.SUB folders."""

import json

import pytest

from mboxtool.convert.mailbox import ConvertOptions
from mboxtool.convert.tree import convert_tree
from mboxtool.formats.maildir import MaildirReader
from mboxtool.formats.mutf7 import mutf7_decode, mutf7_encode

from .conftest import make_maildir, mbox_entry


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


@pytest.mark.parametrize("with_msf", [True, False])
def test_thunderbird_yearly_archives_are_mbox_folders_not_mh(tmp_path, with_msf):
    """Thunderbird archives into Archives.sbd/2019, 2020, ...: numbered names, but mbox files
    (each starts with a From_ line), so folders, not one MH folder of two 'messages'."""
    tree = tmp_path / "Local Folders"
    (tree / "Archives.sbd").mkdir(parents=True)
    (tree / "Inbox").write_bytes(mbox_entry(body="inbox\n"))
    (tree / "Archives").write_bytes(b"")
    for year in ("2019", "2020"):
        (tree / "Archives.sbd" / year).write_bytes(mbox_entry(body=f"{year} a\n") + mbox_entry(body=f"{year} b\n"))
        if with_msf:
            (tree / "Archives.sbd" / f"{year}.msf").write_bytes(b"thunderbird index")
    md = tmp_path / "Maildir"
    report = convert_tree(tree, md, ConvertOptions())
    assert (report.converted, report.failed) == (5, 0)
    folders = sorted(p.name for p in md.iterdir() if p.name.startswith(".") and p.is_dir())
    assert folders == [".Archives", ".Archives.2019", ".Archives.2020"]
    bodies = {sub: sorted(m.data.split(b"\n\n", 1)[1] for m in MaildirReader(md / sub)) for sub in folders}
    assert bodies[".Archives.2020"] == [b"2020 a\n", b"2020 b\n"]
    assert [m.data.split(b"\n\n", 1)[1] for m in MaildirReader(md)] == [b"inbox\n"]   # Inbox: the root


def test_a_real_mh_folder_is_still_one(tmp_path):
    from mboxtool.formats.registry import detect_format
    folder = tmp_path / "inbox"
    folder.mkdir()
    for n in (1, 2, 10):
        (folder / str(n)).write_bytes(b"Return-Path: <a@b>\nSubject: %d\n\nbody\n" % n)
    assert detect_format(folder) == "mh"


def test_a_directory_of_numbered_mbox_files_is_no_mh_folder(tmp_path):
    """Without --recursive such a directory was converted as MH: each whole mbox one message."""
    from mboxtool.errors import InputError
    from mboxtool.formats.registry import detect_format
    for year in ("2019", "2020"):
        (tmp_path / year).write_bytes(mbox_entry(body=f"{year}\n"))
    with pytest.raises(InputError, match="--recursive"):
        detect_format(tmp_path)


def test_a_write_error_stops_the_tree_instead_of_failing_every_folder(tmp_path, monkeypatch):
    import errno

    from mboxtool.formats.maildir import MaildirWriter
    src = tmp_path / "mail"
    src.mkdir()
    for name in ("a", "b", "c"):
        (src / name).write_bytes(b"".join(mbox_entry(body=f"{name} {i}\n") for i in range(5)))

    def full(self, tmpname, final, parts, mtime, keywords=()):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(MaildirWriter, "deliver", full)
    report = convert_tree(src, tmp_path / "md", ConvertOptions())
    monkeypatch.undo()
    assert report.stopped and not report.ok and report.converted == 0
    assert [e["message"].split(":")[0] for e in report.errors] == ["a", "a"]
    assert "No space left on device" in report.errors[0]["message"]
    assert "2 more folder(s) not attempted" in report.errors[1]["message"]
    assert not (tmp_path / "md" / ".b").exists() and not (tmp_path / "md" / ".c").exists()
    again = convert_tree(src, tmp_path / "md", ConvertOptions())
    assert again.ok and not again.stopped and again.converted == 15


def _bundle(path, subject):
    """An Apple Mail export bundle: NAME.mbox/ with the mbox file ``mbox`` and its index files."""
    path.mkdir(parents=True)
    (path / "mbox").write_bytes(mbox_entry(headers=f"From: a@b\nSubject: {subject}\n"))
    (path / "Info.plist").write_text('<?xml version="1.0"?><plist version="1.0"><dict/></plist>\n')
    (path / "table_of_contents").write_bytes(bytes(range(256)))


def test_apple_mail_bundles_stand_for_their_mbox_file(tmp_path, invoke):
    export = tmp_path / "export"
    _bundle(export / "Inbox.mbox", "in the inbox")
    _bundle(export / "Work.mbox", "at work")
    _bundle(export / "Work.mbox" / "Clients.mbox", "a client")       # a child mailbox: a nested bundle
    (export / "Work.mbox" / "table_of_contents").write_bytes(b"")      # an empty file is an mbox elsewhere
    r = invoke("validate", export / "Work.mbox")
    assert r.exit_code == 0 and "1 messages" in r.stdout
    r = invoke("convert", "--json", export / "Inbox.mbox", tmp_path / "one")
    assert r.exit_code == 0 and json.loads(r.stdout)["converted"] == 1
    r = invoke("convert", "--json", "--recursive", export, tmp_path / "tree")
    assert r.exit_code == 0, r.output
    folders = {name: [m.data.split(b"Subject: ")[1].split(b"\n")[0] for m in MaildirReader(tmp_path / "tree" / name)]
               for name in ("", ".Work", ".Work.Clients")}
    assert folders == {"": [b"in the inbox"], ".Work": [b"at work"], ".Work.Clients": [b"a client"]}
    assert sorted(p.name for p in (tmp_path / "tree").glob(".W*")) == [".Work", ".Work.Clients"]


@pytest.mark.parametrize("kind", ["maildir", "mbox"])
def test_kmail_subfolders_beside_their_folder_are_converted(tmp_path, invoke, kind):
    """KMail keeps folder NAME's subfolders in .NAME.directory/ beside it (Akonadi's Maildir
    resource, and KMail 1's mbox folders): they were hidden files to the walk, so every
    subfolder was left out, exit 0, no word."""
    root = tmp_path / "local-mail"
    folders = {("inbox",): 1, ("inbox", "lists"): 2, ("inbox", "lists", "debian"): 3, ("sent-mail",): 1}
    for parts, count in folders.items():
        where = root.joinpath(*[f".{p}.directory" for p in parts[:-1]], parts[-1])
        where.parent.mkdir(parents=True, exist_ok=True)
        bodies = [f"{'/'.join(parts)} {n}\n" for n in range(count)]
        if kind == "maildir":
            make_maildir(where)
            for n, body in enumerate(bodies):
                (where / "cur" / f"{n}.kmail:2,S").write_bytes(b"Subject: s\n\n" + body.encode())
        else:
            where.write_bytes(b"".join(mbox_entry(body=body) for body in bodies))
            (where.parent / f".{parts[-1]}.index").write_bytes(b"\x00binary index")   # KMail 1's own
    (root / ".directory").write_text("[Desktop Entry]\nIcon=mail\n")              # KDE's, in any folder
    r = invoke("convert", "--json", "--recursive", root, tmp_path / "md")
    assert r.exit_code == 0 and json.loads(r.stdout)["converted"] == 7, r.output
    got = {}
    for name in ("", ".inbox.lists", ".inbox.lists.debian", ".sent-mail"):
        with MaildirReader(tmp_path / "md" / name) as reader:
            got[name] = sorted(m.data.split(b"\n\n", 1)[1].split(b" ")[0].decode() for m in reader)
    assert got == {"": ["inbox"], ".inbox.lists": ["inbox/lists"] * 2,
                   ".inbox.lists.debian": ["inbox/lists/debian"] * 3, ".sent-mail": ["sent-mail"]}


@pytest.mark.parametrize("sequences", [False, True], ids=["no-mh_sequences", "mh_sequences"])
def test_mh_folders_holding_subfolders_lose_neither(tmp_path, invoke, sequences):
    """nmh (+inbox/lists) and Claws Mail nest MH folders in MH folders. Without .mh_sequences
    the folder's own messages were skipped in silence (a directory was no MH folder); with it,
    its subfolders were never visited."""
    root = tmp_path / "Mail"
    for folder, count in (("inbox", 2), ("inbox/lists", 3), ("inbox/lists/deep", 1), ("sent", 1)):
        (root / folder).mkdir(parents=True)
        for n in range(1, count + 1):
            (root / folder / str(n)).write_bytes(b"Subject: %s %d\n\nbody\n" % (folder.encode(), n))
        if sequences:
            (root / folder / ".mh_sequences").write_text("unseen: 1\n")
    (root / "queue").mkdir()                                     # an empty folder: nothing to take
    report = convert_tree(root, tmp_path / "md", ConvertOptions(fsync=False))
    assert (report.converted, report.failed) == (7, 0)
    counts = {}
    for folder, path in (("INBOX", tmp_path / "md"), ("lists", tmp_path / "md" / ".inbox.lists"),
                         ("deep", tmp_path / "md" / ".inbox.lists.deep"), ("sent", tmp_path / "md" / ".sent")):
        with MaildirReader(path) as reader:
            counts[folder] = len(list(reader))
    assert counts == {"INBOX": 2, "lists": 3, "deep": 1, "sent": 1}
    r = invoke("validate", root / "inbox")                       # one folder alone: an MH folder
    assert r.exit_code == 0 and "foreign" not in r.stdout, r.stdout
    r = invoke("convert", root / "inbox", tmp_path / "inbox.mbox")
    assert r.exit_code == 0 and "subfolder(s) not converted (lists)" in r.stderr


def test_files_in_a_tree_that_are_no_mailbox_are_named_not_skipped_in_silence(tmp_path):
    root = tmp_path / "Mail"
    (root / "Work.sbd").mkdir(parents=True)
    (root / "Inbox").write_bytes(mbox_entry())
    (root / "Inbox.msf").write_bytes(b"// <!-- <mdb:mork:z v=\"1.4\"/> -->")    # the client's own index
    (root / "popstate.dat").write_bytes(b"# POP3 State File")
    (root / "Inbox.ev-summary").write_bytes(b"\x00\x00\x00\x0dEvolution summary")   # Evolution's
    (root / "Inbox.ibex.index").write_bytes(b"\x00\x01ibex")
    (root / "In.toc").write_bytes(b"\x00Eudora toc")                                 # Eudora's
    (root / "Inbox.snm").write_bytes(b"# Netscape folder cache\x00")                 # Netscape's
    (root / "folders.db").write_bytes(b"SQLite format 3\x00")                           # Evolution's
    (root / "Work.sbd" / "note.eml").write_bytes(b"Return-Path: <a@b>\nSubject: lone\n\nx\n")
    (root / "Work.sbd" / "Projects").write_bytes(mbox_entry(body="p\n"))
    bundle = root / "Old.mbox"                                   # Apple Mail's own files stay quiet
    bundle.mkdir()
    (bundle / "mbox").write_bytes(mbox_entry(body="old\n"))
    (bundle / "Info.plist").write_bytes(b"<plist/>")
    report = convert_tree(root, tmp_path / "md", ConvertOptions(fsync=False))
    assert report.converted == 3
    (warning,) = [w for w in report.warnings if w["code"] == "files-not-converted"]
    assert warning["files"] == [str(root / "Work.sbd" / "note.eml")]
    assert "Work.sbd/note.eml" in warning["message"]


def test_a_notmuch_mail_root_is_converted_or_named_to_the_last_message(tmp_path):
    """A notmuch mail root is a Maildir whose top also holds loose message files and plain
    directories with more Maildirs in them. --recursive took the top Maildir and its dot
    folders only: the rest (27 of the corpus's 53 messages) was left out, exit 0, no word."""
    root = tmp_path / "mail"

    def message(path, n):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"Message-ID: <%d@x>\nSubject: %d\n\nbody\n" % (n, n))
    message(root / "cur" / "1:2,S", 1)
    message(root / "new" / "2", 2)
    (root / "tmp").mkdir()
    message(root / "01:2,", 3)                                   # loose at the top
    message(root / "lists" / "cur" / "4:2,", 4)                  # a Maildir in a plain directory
    (root / "lists" / "new").mkdir()
    message(root / "lists" / "deeper" / "cur" / "5:2,", 5)
    (root / "lists" / "deeper" / "new").mkdir()
    message(root / "lists" / "06:2,", 6)
    (root / "dovecot.index.log").write_bytes(b"\x01")            # control files stay quiet
    report = convert_tree(root, tmp_path / "out", ConvertOptions(fsync=False))
    assert (report.converted, report.failed) == (4, 0)
    (warning,) = [w for w in report.warnings if w["code"] == "files-not-converted"]
    assert sorted(warning["files"]) == [str(root / "01:2,"), str(root / "lists" / "06:2,")]


def test_the_content_decides_not_a_client_suffix(tmp_path):
    """Files ending .dat, .json, .html or .msf were passed over unread: an mbox kept as
    mail.dat was lost. Only lock files, and empty files with those suffixes, are skipped."""
    root = tmp_path / "Mail"
    root.mkdir()
    (root / "archive.dat").write_bytes(mbox_entry(body="kept\n"))
    (root / "session.json").write_bytes(b"")
    (root / "Inbox.lock").write_bytes(b"")
    (root / "Inbox.msf").write_bytes(b"// <!-- <mdb:mork:z v=\"1.4\"/> -->\n")
    report = convert_tree(root, tmp_path / "md", ConvertOptions(fsync=False))
    assert report.converted == 1
    assert not [w for w in report.warnings if w["code"] == "files-not-converted"]
    with MaildirReader(tmp_path / "md" / ".archive_dat") as reader:
        assert [m.data.endswith(b"kept\n") for m in reader] == [True]


def test_every_sbd_directory_gets_the_mailbox_thunderbird_finds_it_by(tmp_path):
    """Dovecot makes no parent folder: a Maildir++ tree may hold .Lists.debian without .Lists.
    Thunderbird lists NAME.sbd/ only beside a mailbox file NAME, so an empty one is made."""
    md = tmp_path / "Maildir"
    for folder in ("", ".Lists.debian", ".Archive", ".Archive.2020"):
        for sub in ("cur", "new", "tmp"):
            (md / folder / sub).mkdir(parents=True, exist_ok=True)
    (md / ".Lists.debian" / "cur" / "1.a.h:2,S").write_bytes(b"From: a@b\nSubject: deb\n\nbody\n")
    (md / ".Archive" / "cur" / "2.a.h:2,S").write_bytes(b"From: a@b\nSubject: old\n\nbody\n")
    tree = tmp_path / "Local Folders"
    assert convert_tree(md, tree, ConvertOptions(to_format="mbox")).converted == 2
    assert (tree / "Lists").read_bytes() == b"" and (tree / "Lists.sbd" / "debian").stat().st_size > 0
    assert (tree / "Archive").stat().st_size > 0                 # a real folder is left as it is
    back = tmp_path / "back"
    assert convert_tree(tree, back, ConvertOptions(to_format="maildir")).converted == 2
    assert [m.data for m in MaildirReader(back / ".Lists.debian")] == [b"From: a@b\nSubject: deb\n\nbody\n"]


def test_a_thunderbird_maildir_store_keeps_its_flags(tmp_path, invoke):
    """Thunderbird's maildir store: a folder is NAME/ with cur/ and tmp/ but no new/, its
    subfolders in NAME.sbd/, and no flags in the file names: it keeps them in each file's
    X-Mozilla-Status, which a Maildir reader took for a stale copy (every message unread)."""
    root = tmp_path / "Local Folders"

    def folder(path, messages):
        for sub in ("cur", "tmp"):
            (path / sub).mkdir(parents=True)
        for n, (status, extra) in enumerate(messages):
            (path / "cur" / f"17000000{n}.M1P1.host").write_bytes(
                f"X-Mozilla-Status: {status}\nX-Mozilla-Status2: 00000000\n{extra}"
                f"From: a@b\nSubject: {path.name} {n}\n\nbody\n".encode())

    folder(root / "Inbox", [("0003", "X-Mozilla-Keys: $label1 work\n"), ("0000", ""),
                            ("0005", "Status: O\n")])                 # a stale Status: Thunderbird's bits win
    folder(root / "Inbox.sbd" / "Lists", [("0001", "")])
    r = invoke("convert", root / "Inbox", tmp_path / "one.mbox")
    assert r.exit_code == 2 and "Thunderbird maildir" in r.stderr
    r = invoke("convert", "--json", "--recursive", root, tmp_path / "md")
    assert r.exit_code == 0 and json.loads(r.stdout)["converted"] == 4, r.output
    got = {}
    for name in ("", ".Inbox.Lists"):
        with MaildirReader(tmp_path / "md" / name) as reader:
            for m in reader:
                got[m.data.split(b"Subject: ")[1].split(b"\n")[0].decode()] = (m.flags, m.keywords)
                assert b"X-Mozilla" not in m.data
    assert got == {"Inbox 0": ("RS", ("$label1", "work")), "Inbox 1": ("", ()), "Inbox 2": ("FS", ()),
                   "Lists 0": ("S", ())}


def test_thunderbirds_desktop_search_copies_are_not_a_second_folder(tmp_path):
    """With its Windows Search (or Spotlight) integration on, Thunderbird keeps a copy of each
    message of folder NAME in NAME.mozmsgs/ (.wdseml, .mozeml files). Taken as a folder of
    message files, every message came in twice; Thunderbird itself passes them over."""
    root = tmp_path / "Local Folders"
    copies = root / "Inbox.mozmsgs"
    copies.mkdir(parents=True)
    (root / "Inbox").write_bytes(mbox_entry(body="one\n") + mbox_entry(body="two\n"))
    (copies / "1.wdseml").write_bytes(b"From: a@example.org\nSubject: test\n\none\n")
    (copies / "2.mozeml").write_bytes(b"From: a@example.org\nSubject: test\n\ntwo\n")
    for name in ("mailfilt.log", "filters.js", "feeds.rdf", "feeditems.rdf", "feeds.json.backup"):
        (root / name).write_bytes(b"x = 1;\n")
    report = convert_tree(root, tmp_path / "md", ConvertOptions(fsync=False))
    assert (report.converted, report.failed) == (2, 0)
    assert not (tmp_path / "md" / ".Inbox_mozmsgs").exists()
    assert not [w for w in report.warnings if w["code"] == "files-not-converted"]
