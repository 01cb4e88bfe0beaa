"""convert: a rerun adds nothing, resumes where the last run stopped, and its state file is kept right."""

import errno
import json
import os

import pytest

from mboxtool import ConvertOptions, MboxReader, convert_mailbox

from .conftest import SAMPLES, maildir_files, make_maildir, mbox_entry


def test_rerun_adds_nothing_and_new_source_messages_only(tmp_path):
    src = tmp_path / "src.mbox"
    src.write_bytes(mbox_entry(body="one\n") + mbox_entry(body="two\n"))
    md = tmp_path / "md"
    assert convert_mailbox(src, md).converted == 2
    (md / ".mboxtool-state").unlink()             # no resume point: every digest is checked
    again = convert_mailbox(src, md)
    assert (again.converted, again.skipped) == (0, 2)
    with open(src, "ab") as fh:
        fh.write(mbox_entry(body="three\n"))
    (md / ".mboxtool-state").unlink()
    third = convert_mailbox(src, md)
    assert (third.converted, third.skipped) == (1, 2)
    assert len(maildir_files(md)) == 3


def test_rerun_into_mbox_adds_nothing(tmp_path):
    box = tmp_path / "box"
    convert_mailbox(SAMPLES / "Maildir", box)
    before = box.read_bytes()
    again = convert_mailbox(SAMPLES / "Maildir", box)
    assert (again.converted, again.skipped) == (0, 3) and box.read_bytes() == before


def test_dry_run_writes_nothing(tmp_path):
    md = tmp_path / "md"
    report = convert_mailbox(SAMPLES / "inbox.mbox", md, ConvertOptions(dry_run=True))
    assert report.converted == 5 and not md.exists()


def test_source_is_never_modified(tmp_path):
    src = tmp_path / "in.mbox"
    src.write_bytes((SAMPLES / "inbox.mbox").read_bytes())
    before = (src.read_bytes(), src.stat().st_mtime_ns)
    convert_mailbox(src, tmp_path / "md", ConvertOptions(verify=True))
    assert (src.read_bytes(), src.stat().st_mtime_ns) == before


def test_unchanged_source_is_resumed_where_the_last_run_stopped(tmp_path):
    src = tmp_path / "spool"
    src.write_bytes(mbox_entry(body="one\n") + mbox_entry(body="two\n"))
    md = tmp_path / "md"
    assert convert_mailbox(src, md).converted == 2
    again = convert_mailbox(src, md)
    # every message of SRC already in DST counts as skipped, also those before the offset
    assert (again.converted, again.skipped, again.resumed_at) == (0, 2, src.stat().st_size)
    size = src.stat().st_size
    with open(src, "ab") as fh:
        fh.write(mbox_entry(body="three\n"))
    third = convert_mailbox(src, md)
    assert (third.converted, third.skipped, third.resumed_at) == (1, 2, size)
    assert len(maildir_files(md)) == 3
    assert convert_mailbox(src, md).skipped == 3


def test_a_resumed_rerun_says_as_many_already_there_as_converting_a_copy(invoke, tmp_path):
    src = tmp_path / "spool"
    src.write_bytes(b"".join(mbox_entry(body=f"{n}\n") for n in range(5)))
    md = tmp_path / "md"
    assert invoke("convert", src, md).exit_code == 0
    resumed = invoke("convert", "--json", src, md)
    copy = tmp_path / "copy"
    copy.write_bytes(src.read_bytes())
    copied = invoke("convert", "--json", copy, md)
    doc, other = json.loads(resumed.stdout), json.loads(copied.stdout)
    assert doc["resumed_at"] == src.stat().st_size and other["resumed_at"] is None
    assert (doc["converted"], doc["skipped"]) == (other["converted"], other["skipped"]) == (0, 5)
    assert "; 5 already there" in invoke("convert", src, md).stdout


def test_a_state_file_that_cannot_be_written_is_a_warning_not_a_failure(tmp_path, monkeypatch):
    """The mail is in; only the shortcut for the next run is missing, and that run still
    converts nothing twice."""
    import mboxtool.fs.durable as durable_mod
    src = tmp_path / "spool"
    src.write_bytes(mbox_entry(body="one\n"))
    md = tmp_path / "md"
    assert convert_mailbox(src, md).converted == 1
    state_before = (md / ".mboxtool-state").read_bytes()
    first_size = src.stat().st_size
    with open(src, "ab") as fh:
        fh.write(mbox_entry(body="two\n"))

    def full(fd, buffers, offset=None):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(durable_mod, "write_buffers", full)
    report = convert_mailbox(src, md)
    monkeypatch.undo()
    assert report.ok and report.converted == 1
    assert [w["code"] for w in report.warnings] == ["state-not-saved"]
    assert (md / ".mboxtool-state").read_bytes() == state_before            # the old state, whole
    from mboxtool.convert.checkpoint import digests_name
    kept = [".mboxtool-state", digests_name(str(src.resolve())), "cur", "new", "tmp"]
    assert sorted(os.listdir(md)) == sorted(kept)                          # no temporary left
    again = convert_mailbox(src, md)
    # from where the last recorded run stopped: the second message is read again and skipped;
    # the first, before that point, is already there too
    assert (again.converted, again.skipped, again.resumed_at) == (0, 2, first_size)


def test_a_message_deleted_from_the_maildir_does_not_come_back_from_a_rewritten_spool(tmp_path):
    """A user deletes a converted message in the Maildir; then a MUA rewrites the spool (here:
    marks a message read), so the next run reads it from the start. The deleted message must
    stay deleted: it was converted once. Removing the state file starts over."""
    src = tmp_path / "spool"
    src.write_bytes(b"".join(mbox_entry(body=f"{word}\n") for word in ("one", "two", "three")))
    md = tmp_path / "md"
    assert convert_mailbox(src, md).converted == 3
    two = next(p for p in (md / "new").iterdir() if p.read_bytes().endswith(b"two\n"))
    two.unlink()                                          # deleted by the user's mail client
    src.write_bytes(src.read_bytes().replace(b"\n\none\n", b"\nStatus: RO\n\none\n"))   # a MUA rewrote it
    again = convert_mailbox(src, md)
    assert (again.resumed_at, again.converted, again.skipped) == (None, 0, 3)
    assert sorted(p.read_bytes().rsplit(b"\n\n", 1)[1] for sub in ("new", "cur")
                  for p in (md / sub).iterdir()) == [b"one\n", b"three\n"]
    with open(src, "ab") as fh:                           # new mail still comes in
        fh.write(mbox_entry(body="four\n"))
    assert convert_mailbox(src, md).converted == 1
    (md / ".mboxtool-state").unlink()                     # start over: everything not there
    assert convert_mailbox(src, md).converted == 1        # "two" again


def test_a_state_file_from_before_delivered_digests_still_resumes(tmp_path):
    src = tmp_path / "spool"
    src.write_bytes(mbox_entry(body="one\n"))
    md = tmp_path / "md"
    convert_mailbox(src, md)
    state = md / ".mboxtool-state"
    entries = json.loads(state.read_text())
    for entry in entries.values():
        del entry["digests"]
    state.write_text(json.dumps(entries))
    again = convert_mailbox(src, md)
    assert (again.resumed_at, again.converted) == (src.stat().st_size, 0)
    # nothing was read this time, so nothing is known yet of what came before
    from mboxtool.convert.checkpoint import delivered
    assert len(delivered(state, src)) == 0


def test_delivered_digests_live_beside_the_state_and_old_base64_ones_are_still_read(tmp_path):
    """Digests are kept 8 bytes each in a file of their own, never as text in the JSON
    (2 million would be 22 MB of base64, held several times over while written). A state file
    of the earlier format, with base64 digests in the JSON, is still read, and rewritten."""
    import base64
    import struct

    from mboxtool.convert.checkpoint import delivered, digests_name
    from mboxtool.model.digest import short_digest
    src = tmp_path / "spool"
    src.write_bytes(mbox_entry(body="one\n") + mbox_entry(body="two\n"))
    md = tmp_path / "md"
    convert_mailbox(src, md)
    state = md / ".mboxtool-state"
    entry = json.loads(state.read_text())[str(src.resolve())]
    assert "delivered" not in entry and entry["digests"] == digests_name(str(src.resolve()))
    with MboxReader(src) as reader:
        want = sorted(short_digest(m.data) for m in reader)
    raw = (md / entry["digests"]).read_bytes()
    assert list(struct.unpack(f">{len(raw) // 8}Q", raw)) == want          # ascending, 8 bytes each
    # the earlier format: the same digests as base64 in the JSON, no digests file
    (md / entry["digests"]).unlink()
    del entry["digests"]
    entry["delivered"] = base64.b64encode(raw).decode()
    state.write_text(json.dumps({str(src.resolve()): entry}))
    assert sorted(delivered(state, src)) == want
    with open(src, "ab") as fh:
        fh.write(mbox_entry(body="three\n"))
    assert convert_mailbox(src, md).converted == 1
    assert len(delivered(state, src)) == 3 and "delivered" not in json.loads(state.read_text())[str(src.resolve())]


def test_rewritten_source_is_read_from_the_start(tmp_path):
    src = tmp_path / "spool"
    src.write_bytes(mbox_entry(body="one\n") + mbox_entry(body="two\n"))
    md = tmp_path / "md"
    convert_mailbox(src, md)
    data = src.read_bytes().replace(b"one", b"uno")        # a MUA rewrote the file in place
    with open(src, "r+b") as fh:
        fh.write(data)
    report = convert_mailbox(src, md)
    assert (report.resumed_at, report.converted, report.skipped) == (None, 1, 1)


@pytest.mark.parametrize("variant", ["mboxo", "mboxrd", "mboxcl", "mboxcl2"])
def test_rerun_into_mbox_of_any_variant_adds_nothing(tmp_path, variant):
    md = tmp_path / "md"
    make_maildir(md)
    (md / "cur" / "1.x:2,S").write_bytes(b"Subject: q\n\nFrom here\n>From there\n>>From everywhere\n")
    box = tmp_path / "box"
    assert convert_mailbox(md, box, ConvertOptions(variant=variant)).converted == 1
    again = convert_mailbox(md, box, ConvertOptions(variant=variant))
    assert (again.converted, again.skipped) == (0, 1)
