"""Every entry of the shared corpus converts with the expected count, or is refused cleanly."""

import json

import pytest

from .conftest import CORPUS

if not (CORPUS / "expected.json").exists():
    pytest.skip(f"corpus not found at {CORPUS} (set MBOXTOOL_CORPUS)", allow_module_level=True)

EXPECTED = {k: v for k, v in json.loads((CORPUS / "expected.json").read_text()).items()
            if not k.startswith("_")}
# What mboxtool refuses on purpose, with the reason a user is told.
REFUSED = {
    "mailroot/notmuch-default": "not a Maildir",
    "mbox/neomutt-cherry-plaintext.mbox": "no From_ line",
    "eml/dovecot-malformed": "a directory of single messages",
}


@pytest.mark.parametrize("entry", sorted(EXPECTED), ids=sorted(EXPECTED))
def test_corpus_entry_converts_or_is_refused_cleanly(invoke, tmp_path, entry):
    info = EXPECTED[entry]
    src = CORPUS / entry
    recursive = ["--recursive"] if "collection" in info.get("format", "") else []
    r = invoke("convert", "--json", *recursive, src, tmp_path / "out")
    assert "Traceback" not in r.stderr
    if r.exit_code == 2:
        # with --json, stdout holds only the error document; stderr the one line
        failed = json.loads(r.stdout)
        assert set(failed) == {"schema", "error", "exit"} and failed["exit"] == 2
        assert str(src) in failed["error"]
        assert len(r.stderr.strip().splitlines()) == 1 and str(src) in r.stderr
        must_convert = not info.get("ambiguous") and entry not in REFUSED and \
            not entry.startswith("eml/") and info["expected"] != 0
        assert not must_convert, f"refused: {r.stderr}"
        if entry.startswith("eml/"):
            # message files are refused as a mailbox, and read as messages when asked to
            r2 = invoke("convert", "--json", "--from", "eml", src, tmp_path / "eml")
            assert r2.exit_code == 0 and json.loads(r2.stdout)["converted"] == info["expected"], r2.output
            assert "--from eml" in r.stderr
            if src.is_file():
                r3 = invoke("convert", "--json", "--from", "mbox", src, tmp_path / "one")
                assert r3.exit_code == 0 and json.loads(r3.stdout)["converted"] == 1
        return
    assert entry not in REFUSED, r.stdout
    doc = json.loads(r.stdout)
    if not info.get("ambiguous"):
        assert doc["converted"] == info["expected"], doc
        assert r.exit_code == 0, r.stderr
    else:
        assert r.exit_code in (0, 1)


@pytest.mark.parametrize("entry", [k for k, v in sorted(EXPECTED.items())
                                   if not v.get("ambiguous") and k.startswith(("mbox/", "maildir/", "mh/", "mmdf/"))
                                   and "collection" not in v.get("format", "")],)
def test_corpus_info_counts_and_list_rows_agree(invoke, entry):
    info = EXPECTED[entry]
    r = invoke("info", "--json", CORPUS / entry)
    if entry in REFUSED:
        assert r.exit_code == 2
        return
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["messages"] == info["expected"]
    rows = invoke("list", "--json", CORPUS / entry)
    lines = [json.loads(line) for line in rows.stdout.splitlines()]
    assert [row["index"] for row in lines] == list(range(1, info["expected"] + 1))


# Corpus files that are really damaged, and the error validate must report for each (and why).
DAMAGED = {
    "mbox/emailfolder-mboxcl2-lies.mbox": {"content-length-mismatch"},   # first CL says 782, body is 682
    "mbox/emailfolder-testmbox-dos-crlf.mbox": {"content-length-mismatch"},  # CLs count LF bytes in a CRLF file
    "mbox/mmp-separators2.mbox": {"content-length-mismatch"},          # CL of message 1 is off by a few bytes
    "mbox/patchwork-mail-0010-invalid-charset.mbox": {"content-length-mismatch"},  # CL runs past EOF
    "mbox/patchwork-fuzz-date-oserror.mbox": {"truncated-message"},    # ends in NULs and a bare CR
    "mbox/patchwork-fuzz-name-len.mbox": {"truncated-message"},        # fuzzed: cut inside an open multipart
    # hand-written messages with no header at all ("Message 1"): each split looks like a phantom
    "mbox/stalwart-mail-parser-sample.mbox": {"possible-phantom-split"},
    # the unescaped format-patch line of its attachment: body text, but Python's mailbox,
    # Dovecot and mutt split the message there (and mboxtool repair quotes it)
    "mbox/notmuch-insert-mbox-attachment.mbox": {"possible-phantom-split"},
}


@pytest.mark.parametrize("entry", [k for k, v in sorted(EXPECTED.items())
                                   if not v.get("ambiguous") and k.startswith(("mbox/", "maildir/", "mh/", "mmdf/"))
                                   and k not in REFUSED and "collection" not in v.get("format", "")])
def test_corpus_validate_has_no_false_errors(invoke, entry):
    r = invoke("validate", "--json", CORPUS / entry)
    assert r.exit_code in (0, 1), r.stderr
    doc = json.loads(r.stdout)
    errors = {p["code"] for p in doc["problems"] if p["severity"] == "error"}
    assert errors == DAMAGED.get(entry, set()), doc["problems"][:5]
    assert doc["messages"] == EXPECTED[entry]["expected"]
