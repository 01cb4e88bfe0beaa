"""Every --json output is what its help says: one document (or JSON lines for list), each
with a schema version, and a JSON error document when the run fails."""

import fcntl
import json
import subprocess

import pytest

from .conftest import SAMPLES, mbox_entry, python_cmd, thunderbird_tree


@pytest.mark.parametrize("args", [
    ["info", "--json", SAMPLES / "inbox.mbox"],
    ["validate", "--json", SAMPLES / "inbox.mbox"],
    ["info", "--recursive", "--json", "TREE"],
])
def test_each_document_is_one_object_with_a_schema(invoke, tmp_path, args):
    args = [thunderbird_tree(tmp_path / "tree") if a == "TREE" else a for a in args]
    r = invoke(*args)
    doc = json.loads(r.stdout)                     # one document, nothing else on stdout
    assert isinstance(doc, dict) and doc["schema"] == 1


def test_convert_and_repair_documents_have_a_schema(invoke, tmp_path):
    doc = json.loads(invoke("convert", "--json", SAMPLES / "inbox.mbox", tmp_path / "md").stdout)
    assert doc["schema"] == 1 and doc["converted"] == 5
    doc = json.loads(invoke("repair", "--json", SAMPLES / "inbox.mbox", tmp_path / "copy").stdout)
    assert doc["schema"] == 1


def test_list_prints_json_lines_each_with_a_schema(invoke):
    r = invoke("list", "--json", SAMPLES / "inbox.mbox")
    lines = r.stdout.splitlines()
    assert len(lines) == 5
    assert all(json.loads(line)["schema"] == 1 for line in lines)
    assert "JSON lines" in invoke("list", "--help").stdout


def test_info_recursive_is_one_object_with_its_folders(invoke, tmp_path):
    tree = thunderbird_tree(tmp_path / "tree")
    doc = json.loads(invoke("info", "--recursive", "--json", tree).stdout)
    one = json.loads(invoke("info", "--json", tree / "Inbox").stdout)
    assert doc["messages"] == 4 * one["messages"] and doc["path"] == str(tree)
    assert sorted(f["folder"] for f in doc["folders"]) == ["Archive", "Archive/2020", "Entwürfe", "Inbox"]
    assert doc["damaged"] == []


@pytest.mark.parametrize("args, code", [
    (["info", "--json", "MISSING"], 2),
    (["validate", "--json", "--no-such-option", "X"], 2),
    (["convert", "--json", "--to", "nonsense", "X", "Y"], 2),
    (["list", "--json", "--flag", "Q", "X"], 2),
    (["convert", "--json", "GARBAGE", "OUT"], 2),
])
def test_a_failing_json_run_prints_a_json_error_document(invoke, tmp_path, args, code):
    (tmp_path / "garbage").write_bytes(b"\x00\x01 nothing a mailbox would start with\n")
    names = {"MISSING": tmp_path / "missing", "X": SAMPLES / "inbox.mbox", "Y": tmp_path / "y",
             "GARBAGE": tmp_path / "garbage", "OUT": tmp_path / "out"}
    r = invoke(*[names.get(a, a) for a in args])
    assert r.exit_code == code
    doc = json.loads(r.stdout)
    assert doc["schema"] == 1 and doc["exit"] == code and doc["error"]
    assert r.stderr.strip()                          # the stderr line is still there


def test_a_lock_not_had_in_time_is_a_json_error_with_exit_75(tmp_path):
    src = tmp_path / "spool"
    src.write_bytes(mbox_entry())
    with open(src, "r+b") as held:
        fcntl.lockf(held, fcntl.LOCK_EX)              # a delivery holding the spool
        r = subprocess.run([*python_cmd(), "convert", "--json", "--move", "--lock-timeout", "0",
                            str(src), str(tmp_path / "md")], capture_output=True, text=True)
    doc = json.loads(r.stdout)
    assert r.returncode == 75 and set(doc) == {"schema", "error", "exit"} and doc["exit"] == 75
    assert str(src) in doc["error"] and src.read_bytes() == mbox_entry()


def test_without_json_a_failure_prints_nothing_on_stdout(invoke, tmp_path):
    r = invoke("info", tmp_path / "missing")
    assert r.exit_code == 2 and r.stdout == ""
