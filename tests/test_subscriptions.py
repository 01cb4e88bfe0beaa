"""Converted Maildir++ folders are added to Dovecot's subscriptions (clients list only those)."""

import json
import os
import time

import pytest

from mboxtool.formats.subscriptions import maildirpp_root, storage_name, subscribe

from .conftest import SAMPLES, make_maildir, mbox_entry, thunderbird_tree


def test_a_new_list_is_version_2_and_only_missing_names_are_added(tmp_path):
    make_maildir(tmp_path)
    assert subscribe(tmp_path, ["Archive", "Archive\t2020"]) == ["Archive", "Archive\t2020"]
    assert (tmp_path / "subscriptions").read_bytes() == b"V\t2\n\nArchive\nArchive\t2020\n"
    assert subscribe(tmp_path, ["Archive", "Sent", "Sent"]) == ["Sent"]
    assert (tmp_path / "subscriptions").read_bytes() == b"V\t2\n\nArchive\nArchive\t2020\nSent\n"
    assert subscribe(tmp_path, ["Sent"]) == []
    assert not (tmp_path / "subscriptions.lock").exists()


def test_a_version_1_list_is_extended_in_its_own_form(tmp_path):
    (tmp_path / "subscriptions").write_bytes(b"INBOX\nArchive.2020\n")
    assert subscribe(tmp_path, ["Archive\t2020", "Lists\tdebian"]) == ["Lists\tdebian"]
    assert (tmp_path / "subscriptions").read_bytes() == b"INBOX\nArchive.2020\nLists.debian\n"


def test_names_that_would_break_the_file_are_left_out(tmp_path):
    assert subscribe(tmp_path, ["bad\nname", "ok"]) == ["ok"]
    assert (tmp_path / "subscriptions").read_bytes() == b"V\t2\n\nok\n"


def test_a_held_lock_is_waited_for_and_a_stale_one_taken_over(tmp_path):
    lock = tmp_path / "subscriptions.lock"
    lock.write_bytes(b"")
    with pytest.raises(TimeoutError):
        subscribe(tmp_path, ["A"], timeout=0.3)
    assert lock.exists() and not (tmp_path / "subscriptions").exists()   # Dovecot's lock is left alone
    old = time.time() - 60
    os.utime(lock, (old, old))                                            # its holder died long ago
    assert subscribe(tmp_path, ["A"], timeout=0.3) == ["A"]
    assert not lock.exists()


def test_which_directories_are_maildirpp_folders(tmp_path):
    make_maildir(tmp_path / "Maildir")
    assert maildirpp_root(tmp_path / "Maildir" / ".Sent") == tmp_path / "Maildir"
    assert maildirpp_root(tmp_path / "Maildir" / "Sent") is None          # not a .NAME
    assert maildirpp_root(tmp_path / ".Sent") is None                     # no Maildir above
    assert storage_name(tmp_path / "Maildir" / ".Lists.debian") == "Lists\tdebian"


def test_converting_into_a_new_folder_of_a_maildir_marks_and_subscribes_it(tmp_path, invoke):
    root = tmp_path / "Maildir"
    make_maildir(root)
    r = invoke("convert", "--json", SAMPLES / "inbox.mbox", root / ".Sent")
    doc = json.loads(r.stdout)
    assert r.exit_code == 0 and doc["subscribed"] == ["Sent"] and doc["converted"] == 5
    assert (root / ".Sent" / "maildirfolder").is_file()
    assert (root / "subscriptions").read_bytes() == b"V\t2\n\nSent\n"
    r = invoke("convert", SAMPLES / "inbox.mbox", root / ".Sent")          # again: nothing new
    assert r.exit_code == 0 and "subscribed" not in r.stdout
    assert (root / "subscriptions").read_bytes() == b"V\t2\n\nSent\n"


def test_no_subscribe_dry_run_and_plain_maildirs_leave_no_list(tmp_path, invoke):
    root = tmp_path / "Maildir"
    make_maildir(root)
    assert invoke("convert", "--no-subscribe", SAMPLES / "inbox.mbox", root / ".Sent").exit_code == 0
    assert invoke("convert", "--dry-run", SAMPLES / "inbox.mbox", root / ".Drafts").exit_code == 0
    assert invoke("convert", SAMPLES / "inbox.mbox", tmp_path / "other").exit_code == 0
    assert not (root / "subscriptions").exists() and not (tmp_path / "subscriptions").exists()
    assert (root / ".Sent" / "maildirfolder").is_file()          # still a folder of the root


def test_a_tree_subscribes_every_folder_it_makes(tmp_path, invoke):
    tree = thunderbird_tree(tmp_path / "tree")
    md = tmp_path / "Maildir"
    r = invoke("convert", "--recursive", "--json", tree, md)
    assert r.exit_code == 0
    assert sorted(json.loads(r.stdout)["subscribed"]) == ["Archive", "Archive.2020", "Entwürfe"]
    listed = (md / "subscriptions").read_bytes().split(b"\n")
    assert listed[:2] == [b"V\t2", b""]
    assert sorted(listed[2:-1]) == [b"Archive", b"Archive\t2020", b"Entw&APw-rfe"]
    assert all((md / name / "maildirfolder").is_file() for name in (".Archive", ".Archive.2020"))
    before = (md / "subscriptions").read_bytes()
    r = invoke("convert", "--recursive", "--json", tree, md)
    assert r.exit_code == 0 and json.loads(r.stdout)["subscribed"] == []
    assert (md / "subscriptions").read_bytes() == before


def test_a_list_that_cannot_be_written_is_a_warning_not_a_failure(tmp_path, invoke):
    root = tmp_path / "Maildir"
    make_maildir(root)
    (root / "subscriptions.lock").write_bytes(b"")                # Dovecot is rewriting it
    src = tmp_path / "box"
    src.write_bytes(mbox_entry())
    r = invoke("convert", "--json", "--lock-timeout", "0.3", src, root / ".Sent")
    doc = json.loads(r.stdout)
    assert r.exit_code == 0 and doc["converted"] == 1 and doc["subscribed"] == []
    assert [w["code"] for w in doc["warnings"]] == ["folders-not-subscribed"]
    assert "doveadm mailbox subscribe" in doc["warnings"][0]["message"]


def test_a_courier_root_gets_its_own_list_too(tmp_path, invoke):
    root = tmp_path / "Maildir"
    make_maildir(root)
    (root / "courierimapkeywords").mkdir()
    (root / "courierimapsubscribed").write_bytes(b"INBOX.Trash\n")
    r = invoke("convert", "--json", SAMPLES / "inbox.mbox", root / ".Lists.debian")
    assert r.exit_code == 0 and json.loads(r.stdout)["subscribed"] == ["Lists.debian"]
    assert (root / "courierimapsubscribed").read_bytes() == b"INBOX.Trash\nINBOX.Lists.debian\n"
    assert (root / "subscriptions").read_bytes() == b"V\t2\n\nLists\tdebian\n"
    assert not [p for p in root.iterdir() if p.name.endswith(".tmp")]
    plain = tmp_path / "Plain"
    make_maildir(plain)
    assert invoke("convert", SAMPLES / "inbox.mbox", plain / ".Sent").exit_code == 0
    assert not (plain / "courierimapsubscribed").exists()
