"""--layout fs: a --recursive Maildir destination of nested directories with plain UTF-8 names."""

import shutil

import pytest

from mboxtool import ConvertOptions, convert_tree
from mboxtool.formats.foldertree import mailboxes
from mboxtool.formats.fslayout import fs_target, unsafe_level

from .conftest import SAMPLES


@pytest.mark.parametrize("level, why", [
    ("..", "no folder name"), (".", "no folder name"), ("", "no folder name"),
    ("a/b", "'/' or NUL"), ("a\0b", "'/' or NUL"), ("a\nb", "control character"),
    (".hidden", "starts with '.'"), ("new", "Maildir's own"), ("dovecot-keywords", "Maildir's own"),
    ("x" * 256, "256 bytes long"), ("é" * 128, "256 bytes long"), ("bad\udcff", "not valid UTF-8"),
])
def test_unsafe_levels_are_refused_with_the_reason(level, why):
    assert why in unsafe_level(level, 255)


@pytest.mark.parametrize("level", ["Entwürfe", "a.b", "x" * 255, "é" * 127 + "x", "Sent Items", "R&D"])
def test_plain_names_are_one_directory_each(level, tmp_path):
    assert unsafe_level(level, 255) is None
    assert fs_target(["Archive", level], tmp_path, 255) == (tmp_path / "Archive" / level, None)


def test_inbox_is_the_root(tmp_path):
    assert fs_target([], tmp_path) == (tmp_path, None)
    assert fs_target(["Inbox"], tmp_path) == (tmp_path, None)


def _maildir(path):
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True)
    (path / "cur" / "1.x.host:2,S").write_bytes(b"Subject: m\n\nbody\n")


def test_a_maildirpp_name_that_decodes_to_a_slash_is_refused_not_nested(tmp_path):
    src = tmp_path / "src"
    _maildir(src)
    _maildir(src / ".a&AC8-b")                           # IMAP UTF-7 for "a/b": one folder name
    _maildir(src / ".Work.2024")
    dst = tmp_path / "dst"
    report = convert_tree(src, dst, ConvertOptions(layout="fs", to_format="maildir"))
    assert report.converted == 2
    assert [e["message"] for e in report.errors] == [
        "a/b: not converted: folder name 'a/b' cannot be a directory of the fs layout: it holds '/' or NUL"]
    assert report.errors[0]["code"] == "folder-name-unsafe"
    assert not (dst / "a").exists()
    assert (dst / "Work" / "2024" / "cur").is_dir()


def test_an_fs_tree_reads_back_as_the_same_folders(tmp_path, invoke):
    tree = tmp_path / "tree"
    (tree / "Archive.sbd").mkdir(parents=True)
    for name in ("Inbox", "Archive", "Archive.sbd/2020", "Entwürfe"):
        shutil.copyfile(SAMPLES / "inbox.mbox", tree / name)
    md = tmp_path / "md"
    r = invoke("convert", "-r", "--layout", "fs", tree, md)
    assert r.exit_code == 0, r.stderr
    assert sorted("/".join(parts) for parts, _, _ in mailboxes(md)) == ["", "Archive", "Archive/2020", "Entwürfe"]
    back = tmp_path / "back"
    r = invoke("convert", "-r", "--verify", md, back)
    assert r.exit_code == 0, r.stderr
    assert sorted(p.relative_to(back).as_posix() for p in back.rglob("*") if p.is_file()
                  and not p.name.startswith(".")) == ["Archive", "Archive.sbd/2020", "Entwürfe", "INBOX"]


def test_maildirpp_stays_the_default(tmp_path, invoke):
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copyfile(SAMPLES / "inbox.mbox", tree / "Entwürfe")
    md = tmp_path / "md"
    assert invoke("convert", "-r", tree, md).exit_code == 0
    assert (md / ".Entw&APw-rfe" / "cur").is_dir() and not (md / "Entwürfe").exists()


def test_fs_layout_needs_recursive_and_a_maildir_destination(tmp_path, invoke):
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copyfile(SAMPLES / "inbox.mbox", tree / "Inbox")
    r = invoke("convert", "--layout", "fs", tree / "Inbox", tmp_path / "md")
    assert r.exit_code == 2 and "--recursive" in r.stderr and not (tmp_path / "md").exists()
    r = invoke("convert", "-r", "--layout", "fs", "--to", "mbox", tree, tmp_path / "mb")
    assert r.exit_code == 2 and "--layout fs makes Maildir folders" in r.stderr
