"""validate over several paths and folder trees: one report, one exit code; --select/--ignore."""

import json

import pytest

from .conftest import SAMPLES, mbox_entry

LONG = mbox_entry(body="x" * 1200 + "\n")          # a long line: a warning, as HTML mail has


def test_several_paths_give_one_report_and_one_exit_code(invoke, tmp_path):
    healthy = SAMPLES / "inbox.mbox"
    damaged = tmp_path / "damaged"
    damaged.write_bytes(mbox_entry() + mbox_entry(body="cut off\x00\x00\x00\x00"))
    r = invoke("validate", "--json", healthy, damaged)
    doc = json.loads(r.stdout)
    assert r.exit_code == 1 and doc["schema"] == 1 and not doc["ok"]
    assert doc["mailboxes"] == 2 and doc["damaged"] == [str(damaged)]
    assert [rep["path"] for rep in doc["reports"]] == [str(healthy), str(damaged)]
    assert invoke("validate", healthy, healthy).exit_code == 0


def test_a_path_that_cannot_be_read_is_named_and_the_others_still_checked(invoke, tmp_path):
    r = invoke("validate", "--json", SAMPLES / "inbox.mbox", tmp_path / "missing")
    doc = json.loads(r.stdout)
    assert r.exit_code == 2 and doc["mailboxes"] == 1
    assert doc["unreadable"][0]["path"] == str(tmp_path / "missing")
    assert "missing" in r.stderr


def test_recursive_checks_every_mailbox_of_a_tree(invoke, tmp_path):
    tree = tmp_path / "mail"
    (tree / "Archive.sbd").mkdir(parents=True)
    (tree / "Inbox").write_bytes(mbox_entry())
    (tree / "Archive").write_bytes(mbox_entry())
    (tree / "Archive.sbd" / "2020").write_bytes(mbox_entry() + b"From x@y Mon Jan  6 10:00:00 2020\r\n")
    r = invoke("validate", "--recursive", "--json", tree)
    doc = json.loads(r.stdout)
    assert doc["mailboxes"] == 3 and r.exit_code == (0 if doc["ok"] else 1)
    assert sorted(rep["folder"] for rep in doc["reports"]) == ["Archive", "Archive/2020", "Inbox"]
    text = invoke("validate", "-r", tree).stdout
    assert "3 mailboxes checked" in text


def test_ignore_and_select_filter_problems_and_the_exit_code(invoke, tmp_path):
    box = tmp_path / "html-archive"
    box.write_bytes(LONG + LONG)
    assert invoke("validate", "--strict", box).exit_code == 1
    assert invoke("validate", "--strict", "--ignore", "long-line", box).exit_code == 0
    doc = json.loads(invoke("validate", "--json", "--select", "nul-run", box).stdout)
    assert doc["problems"] == []
    doc = json.loads(invoke("validate", "--json", "--select", "long-line", box, box).stdout)
    assert {p["code"] for rep in doc["reports"] for p in rep["problems"]} == {"long-line"}


@pytest.mark.parametrize("option", ["--ignore", "--select"])
def test_an_unknown_code_is_a_usage_error(invoke, option):
    r = invoke("validate", option, "long-lines", SAMPLES / "inbox.mbox")
    assert r.exit_code == 2 and "long-lines" in r.stderr


def test_info_recursive_names_every_folder_validate_recursive_finds_damaged(invoke, tmp_path):
    tree = tmp_path / "mail"
    tree.mkdir()
    (tree / "Clean").write_bytes(mbox_entry() + LONG)
    (tree / "Nul").write_bytes(mbox_entry() + mbox_entry(body="x\n" + "\x00" * 64 + "\n") + mbox_entry())
    (tree / "CR").write_bytes((mbox_entry() + mbox_entry()).replace(b"\n", b"\r"))
    checked = json.loads(invoke("validate", "-r", "--json", tree).stdout)
    summary = json.loads(invoke("info", "-r", "--json", tree).stdout)
    assert len(checked["damaged"]) == 2, "the tree must hold damage for the comparison to mean anything"
    by_path = {f["path"]: f["folder"] for f in summary["folders"]}
    assert sorted(by_path[p] for p in checked["damaged"]) == sorted(summary["damaged"]) == ["CR", "Nul"]
