"""Apple Mail's .emlx message files, read through --from eml: the message byte for byte,
its state from the plist's flag bits, its delivery time from date-received."""

import json
import os
import plistlib

import pytest

from mboxtool.formats.emlx import EmlxError, parse_emlx

READ, DELETED, ANSWERED, FLAGGED, DRAFT, FORWARDED = 1, 2, 4, 16, 64, 256
JUNK, NOT_JUNK = 1 << 24, 1 << 25
MESSAGE = (b"From: a@example.org\nSubject: with a body From line\nDate: Mon, 6 Jan 2020 10:00:00 +0000\n\n"
           b"body\nFrom here on\n>From quoted\n")


def emlx(message=MESSAGE, flags=0, received=None, count=None, count_line=None):
    meta = {"flags": flags, "subject": "s", "sender": "a@example.org"}
    if received is not None:
        meta["date-received"] = received
    head = count_line if count_line is not None else b"%d\n" % (len(message) if count is None else count)
    return head + message + plistlib.dumps(meta)


@pytest.mark.parametrize("bits, letters, keywords", [
    (0, "", ()),
    (READ, "S", ()),
    (READ | ANSWERED | FLAGGED | FORWARDED, "FPRS", ()),
    (DELETED | DRAFT, "DT", ()),
    (READ | JUNK, "S", ("$Junk",)),
    (NOT_JUNK | (5 << 10) | (3 << 16) | (1 << 23) | (1 << 29), "", ("$NotJunk",)),   # counts, priority, signed
    (READ | (7 << 41), "S", ()),                                  # a flag colour, beyond 32 bits
])
def test_flag_bits(bits, letters, keywords):
    parsed = parse_emlx(emlx(flags=bits))
    assert parsed.data == MESSAGE
    assert "".join(sorted(parsed.flags)) == letters and parsed.keywords == keywords


def test_count_line_with_blanks_or_crlf_and_a_missing_plist():
    assert parse_emlx(emlx(count_line=b"%d   \n" % len(MESSAGE))).data == MESSAGE
    assert parse_emlx(b"%d \r\n" % len(MESSAGE) + MESSAGE).data == MESSAGE
    bare = parse_emlx(b"%d\n" % len(MESSAGE) + MESSAGE)
    assert (bare.data, bare.flags, bare.received) == (MESSAGE, "", None)


@pytest.mark.parametrize("raw, why", [
    (b"From: a@example.org\n\nnot an emlx\n", "byte count"),
    (emlx(count=len(MESSAGE) + 500), "cut short"),
    (b"%d\n" % len(MESSAGE) + MESSAGE + b"<?xml version='1.0'?><plist><dict><key>flags", "property list"),
])
def test_what_is_not_an_emlx_is_refused(raw, why):
    with pytest.raises(EmlxError, match=why):
        parse_emlx(raw)


def test_convert_keeps_bytes_flags_and_date_received_and_refuses_partial_files(tmp_path, invoke):
    folder = tmp_path / "INBOX.mbox" / "Data" / "Messages"
    folder.mkdir(parents=True)
    (folder / "10.emlx").write_bytes(emlx(flags=READ | ANSWERED, received=1578304800))
    (folder / "11.emlx").write_bytes(emlx(MESSAGE.replace(b"with", b"without"), flags=FLAGGED))
    (folder / "12.partial.emlx").write_bytes(emlx(flags=READ))
    md = tmp_path / "Maildir"
    r = invoke("convert", "--json", "--from", "eml", "--to", "maildir", folder, md)
    doc = json.loads(r.stdout)
    assert r.exit_code == 1 and (doc["converted"], doc["failed"]) == (2, 1)
    assert any("12.partial.emlx" in str(e) and "Apple Mail" in str(e) for e in doc["errors"])
    assert not list((md / "new").iterdir())                        # both were seen or flagged
    files = {p.name.split(":2,")[-1]: p for p in (md / "cur").iterdir()}
    assert files["RS"].read_bytes() == MESSAGE                     # the message only, byte for byte
    assert int(os.stat(files["RS"]).st_mtime) == 1578304800         # date-received
    assert set(files) == {"RS", "F"}                               # flagged but unread: in cur/, no S


def test_a_directory_of_emlx_files_is_a_folder_in_a_tree(tmp_path, invoke):
    messages = tmp_path / "Mail" / "Work" / "Messages"
    messages.mkdir(parents=True)
    (messages / "1.emlx").write_bytes(emlx(flags=READ))
    r = invoke("convert", "--json", "--recursive", tmp_path / "Mail", tmp_path / "out")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["converted"] == 1


def test_apple_mails_store_gives_one_folder_per_mailbox(tmp_path, invoke):
    """NAME.mbox/UUID/Data/[N/M/]Messages/*.emlx: every Messages directory of a mailbox is that
    mailbox, named without .mbox; Mail's Info.plist is its own file, not mail left out."""
    account = tmp_path / "V10" / "ACCOUNT-UUID"
    layout = {"INBOX.mbox/AB12/Data/Messages/1.emlx": READ, "INBOX.mbox/AB12/Data/0/3/Messages/300.emlx": 0,
              "Projects.mbox/Work.mbox/CD34/Data/Messages/7.emlx": FLAGGED}
    for rel, bits in layout.items():
        (account / rel).parent.mkdir(parents=True, exist_ok=True)
        (account / rel).write_bytes(emlx(MESSAGE.replace(b"with", rel.encode()), flags=bits))
    (account / "INBOX.mbox" / "Info.plist").write_bytes(plistlib.dumps({"MailboxName": "INBOX"}))
    out = tmp_path / "Maildir"
    r = invoke("convert", "--json", "--recursive", account, out)
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["converted"] == 3 and not doc["warnings"]
    assert len(list((out / "cur").iterdir()) + list((out / "new").iterdir())) == 2     # INBOX: the root
    assert [p.name.split(":2,")[1] for p in (out / ".Projects.Work" / "cur").iterdir()] == ["F"]
