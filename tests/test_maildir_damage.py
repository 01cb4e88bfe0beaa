"""Maildir damage (§6): characters after ':2,' that are no flags, files in cur/ and new/ that
are no messages, deliveries abandoned in tmp/."""

import json
import os
import time

import pytest

from .conftest import make_maildir

MESSAGE = b"From: alice@example.org\nSubject: kept\nMessage-ID: <kept@example.org>\n\nbody\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"


def problems(invoke, path, code):
    r = invoke("validate", "--json", path)
    return [p for p in json.loads(r.stdout)["problems"] if p["code"] == code]


def test_characters_that_are_no_flags_are_reported_and_kept(invoke, tmp_path):
    md = make_maildir(tmp_path / "md")
    (md / "cur" / "1700000000.M1P1Q1.host:2,!S%3").write_bytes(MESSAGE)
    (md / "cur" / "1700000001.M1P1Q1.host:2,RS").write_bytes(MESSAGE.replace(b"kept", b"plain"))
    found = problems(invoke, md, "unknown-flag")
    assert [(p["key"], p["severity"]) for p in found] == [("cur/1700000000.M1P1Q1.host:2,!S%3", "info")]
    assert "!%3" in found[0]["message"]

    r = invoke("repair", "--json", md, tmp_path / "fixed")
    assert r.exit_code == 0, r.stdout + r.stderr
    said = [x for x in json.loads(r.stdout)["repaired"] if x["code"] == "unknown-flag"]
    assert [x["key"] for x in said] == ["cur/1700000000.M1P1Q1.host:2,!S%3"]
    names = sorted(os.listdir(tmp_path / "fixed" / "cur"))
    assert [n.split(":2,")[1] for n in names] == ["!%3S", "RS"]          # kept, in ASCII order
    assert not (tmp_path / "fixed" / "dovecot-keywords").exists()      # no keyword letter spent on them


def test_characters_that_are_no_flags_survive_mbox_and_back(invoke, tmp_path):
    md = make_maildir(tmp_path / "md")
    (md / "cur" / "1700000000.M1P1Q1.host:2,%FS").write_bytes(MESSAGE)
    r = invoke("convert", "--json", md, tmp_path / "box")
    assert r.exit_code == 0, r.stdout + r.stderr
    assert [w["code"] for w in json.loads(r.stdout)["warnings"]] == ["unknown-flag"]
    assert b"X-Keywords: $MaildirFlag_%\n" in (tmp_path / "box").read_bytes()
    r = invoke("convert", tmp_path / "box", tmp_path / "back")
    assert r.exit_code == 0, r.stdout + r.stderr
    [name] = os.listdir(tmp_path / "back" / "cur")
    assert name.endswith(":2,%FS")


def non_messages(md):
    (md / "cur" / "1700000000.M1P1Q1.host:2,S").write_bytes(MESSAGE)
    (md / "cur" / "1700000001.M2P1Q1.host:2,S").write_bytes(PNG)                # an image fragment
    (md / "cur" / "1700000000.M1P1Q1.host:2,S~").write_bytes(b"  wrapped text of a draft\n")
    (md / "new" / "1700000002.M3P1Q1.host").write_bytes(b"")                     # a failed delivery
    return {"cur/1700000001.M2P1Q1.host:2,S", "cur/1700000000.M1P1Q1.host:2,S~", "new/1700000002.M3P1Q1.host"}


def test_convert_leaves_out_files_that_are_no_messages_and_says_which(invoke, tmp_path):
    md = make_maildir(tmp_path / "md")
    odd = non_messages(md)
    r = invoke("convert", "--json", md, tmp_path / "box")
    assert r.exit_code == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert (doc["converted"], doc["failed"]) == (1, 0)
    assert {x["key"] for x in doc["excluded"]} == odd
    assert all(str(md) in x["reason"] for x in doc["excluded"] if x["key"].startswith("cur/"))
    data = (tmp_path / "box").read_bytes()
    assert data.count(b"\nFrom ") + data.startswith(b"From ") == 1 and b"PNG" not in data
    r = invoke("convert", md, tmp_path / "box2")
    assert "cur/1700000001.M2P1Q1.host:2,S" in r.stderr


def test_repair_leaves_out_files_that_are_no_messages_and_says_which(invoke, tmp_path):
    md = make_maildir(tmp_path / "md")
    odd = non_messages(md)
    assert {p["key"] for p in problems(invoke, md, "not-a-message")} == odd - {"new/1700000002.M3P1Q1.host"}
    r = invoke("repair", "--json", md, tmp_path / "fixed")
    assert r.exit_code == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["messages"] == 1
    assert {x["key"] for x in doc["repaired"] if x["code"] in ("not-a-message", "empty-file")} == odd
    files = os.listdir(tmp_path / "fixed" / "cur") + os.listdir(tmp_path / "fixed" / "new")
    assert len(files) == 1
    assert problems(invoke, tmp_path / "fixed", "not-a-message") == []
    kept = [n.split("/")[1] for n in odd if n.startswith("cur/")] + ["1700000000.M1P1Q1.host:2,S"]
    assert sorted(os.listdir(md / "cur")) == sorted(kept)                    # the source untouched


def test_abandoned_deliveries_in_tmp_are_reported_young_ones_not(invoke, tmp_path):
    md = make_maildir(tmp_path / "md")
    (md / "cur" / "1700000000.M1P1Q1.host:2,S").write_bytes(MESSAGE)
    old = time.time() - 37 * 3600
    for name, atime in (("abandoned", old), ("read-lately", time.time() - 3600), ("written-lately", old)):
        (md / "tmp" / name).write_bytes(b"Subject: half")
        os.utime(md / "tmp" / name, (atime, old if name != "written-lately" else time.time() - 60))
    found = problems(invoke, md, "stale-tmp-file")
    assert [p["key"] for p in found] == ["tmp/abandoned"]
    r = invoke("convert", "--json", md, tmp_path / "box")
    warnings = json.loads(r.stdout)["warnings"]
    assert [w["code"] for w in warnings] == ["stale-tmp-files"] and "abandoned" in warnings[0]["message"]


@pytest.mark.parametrize("data", [b"\xef\xbb\xbf" + MESSAGE, b"\r\nno header at all\n", b"From x\n" + MESSAGE])
def test_messages_with_odd_starts_are_still_messages(invoke, tmp_path, data):
    """A byte-order mark, an empty header section or a From_ line at the top: a message."""
    md = make_maildir(tmp_path / "md")
    (md / "cur" / "1700000000.M1P1Q1.host:2,S").write_bytes(data)
    assert problems(invoke, md, "not-a-message") == []
    r = invoke("convert", "--json", "--verify", "--to", "maildir", md, tmp_path / "copy")
    doc = json.loads(r.stdout)
    assert (doc["converted"], doc["excluded"], doc["verified"]) == (1, [], True)


@pytest.mark.parametrize("places", ["dovecot", "header", "both"])
def test_characters_that_are_no_flags_go_back_into_the_name_whatever_the_keyword_places(
        invoke, tmp_path, places):
    md = make_maildir(tmp_path / "md")
    (md / "cur" / "1700000000.M1P1Q1.host:2,!S").write_bytes(MESSAGE)
    r = invoke("convert", "--keywords", places, "--to", "maildir", md, tmp_path / "copy")
    assert r.exit_code == 0, r.stdout + r.stderr
    [name] = os.listdir(tmp_path / "copy" / "cur")
    assert name.endswith(":2,!S")
    assert b"MaildirFlag" not in (tmp_path / "copy" / "cur" / name).read_bytes()
