"""--verify holds a copy to the exact bytes (metadata headers aside); what a destination cannot
hold (the final newline an mboxo/mboxrd entry always ends with) is said per message."""

import json
import os

import pytest

from mboxtool.formats.mboxwriter import MboxWriter
from mboxtool.model.message import strip_metadata

from .conftest import make_maildir

NO_NEWLINE = b"From: alice@example.org\nSubject: cut\nMessage-ID: <cut@example.org>\n\nlast line, no end"
WHOLE = b"From: bob@example.org\nSubject: whole\nMessage-ID: <whole@example.org>\n\nbody\nFrom here on\n"


def maildir_with(path, *messages):
    md = make_maildir(path)
    for i, data in enumerate(messages):
        name = md / "cur" / f"170000000{i}.M{i}P1Q{i}.host:2,S"
        name.write_bytes(data)
        os.utime(name, (1700000000 + i, 1700000000 + i))
    return md


def messages_of(md):
    return sorted((md / sub / n).read_bytes() for sub in ("cur", "new") for n in os.listdir(md / sub))


@pytest.mark.parametrize("variant", ["mboxrd", "mboxo"])
def test_an_mbox_that_adds_the_final_newline_says_so(invoke, tmp_path, variant):
    md = maildir_with(tmp_path / "md", NO_NEWLINE, WHOLE)
    r = invoke("convert", "--json", "--verify", "--variant", variant, md, tmp_path / "box")
    assert r.exit_code == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["verified"] is True
    said = [w for w in doc["warnings"] if w["code"] == "final-newline-added"]
    assert [w["key"] for w in said] == ["cur/1700000000.M0P1Q0.host:2,S"]
    r = invoke("convert", "--verify", "--variant", variant, md, tmp_path / "box2")
    assert "without a final newline" in r.stderr and "cur/1700000000.M0P1Q0.host:2,S" in r.stderr
    assert "verified" in r.stdout


def test_mboxcl2_keeps_a_message_without_final_newline_exactly(invoke, tmp_path):
    md = maildir_with(tmp_path / "md", NO_NEWLINE, WHOLE)
    box = tmp_path / "box"
    r = invoke("convert", "--json", "--verify", "--variant", "mboxcl2", md, box)
    assert r.exit_code == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["verified"] is True and doc["warnings"] == []
    r = invoke("validate", "--json", box)
    assert json.loads(r.stdout)["problems"] == []
    r = invoke("show", box, "1")
    assert strip_metadata(r.stdout_bytes) == NO_NEWLINE                # shown as stored, Status: aside
    back = tmp_path / "back"
    r = invoke("convert", "--verify", box, back)
    assert r.exit_code == 0, r.stdout + r.stderr
    assert messages_of(back) == messages_of(md)                       # the very bytes


def test_mboxcl2_appended_to_keeps_it_too(invoke, tmp_path):
    md = maildir_with(tmp_path / "md", NO_NEWLINE)
    box = tmp_path / "box"
    assert invoke("convert", "--variant", "mboxcl2", md, box).exit_code == 0
    more = maildir_with(tmp_path / "more", WHOLE)
    r = invoke("convert", "--verify", "--variant", "mboxcl2", more, box)
    assert r.exit_code == 0, r.stdout + r.stderr
    back = tmp_path / "back"
    assert invoke("convert", box, back).exit_code == 0
    assert messages_of(back) == sorted([NO_NEWLINE, WHOLE])


def test_maildir_mbox_maildir_with_mboxrd_gains_the_byte_it_warned_of(invoke, tmp_path):
    md = maildir_with(tmp_path / "md", NO_NEWLINE)
    r = invoke("convert", "--json", md, tmp_path / "box")
    assert [w["code"] for w in json.loads(r.stdout)["warnings"]] == ["final-newline-added"]
    r = invoke("convert", "--json", "--verify", tmp_path / "box", tmp_path / "back")
    assert json.loads(r.stdout)["warnings"] == [] and json.loads(r.stdout)["verified"] is True
    assert messages_of(tmp_path / "back") == [NO_NEWLINE + b"\n"]


def test_verify_compares_the_exact_bytes(invoke, tmp_path, monkeypatch):
    """A writer that gave a message one byte more without saying so is caught: the digest
    that recognises a message again ignores the final newline, --verify does not."""
    monkeypatch.setattr(MboxWriter, "adds_final_newline", False, raising=False)
    md = maildir_with(tmp_path / "md", NO_NEWLINE)
    r = invoke("convert", "--json", "--verify", md, tmp_path / "box")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["verified"] is False and "differ" in doc["errors"][0]["message"]
