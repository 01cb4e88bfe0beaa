"""--keywords dovecot|header|both, $Forwarded beside P, the no-letter-left warning, --notmuch-tags."""

import json

import pytest

from mboxtool import ConvertOptions, MaildirReader, MHReader, convert_mailbox
from mboxtool.convert.notmuch import hex_encode, id_query, message_id
from mboxtool.formats.mh import read_sequences
from mboxtool.model.message import core_bytes

from .conftest import mbox_entry


@pytest.fixture
def labelled(tmp_path):
    p = tmp_path / "labelled"
    p.write_bytes(mbox_entry(headers="Message-ID: <one@example.org>\nSubject: one\nStatus: RO\n"
                                     "X-Keywords: work $Label1\n", body="first\n")
                  + mbox_entry(headers="Message-ID: <two@example.org>\nSubject: two\nStatus: RO\n", body="second\n"))
    return p


def _files(md):
    return {p.name: p.read_bytes() for sub in ("cur", "new") for p in (md / sub).iterdir()}


def test_header_choice_keeps_keywords_in_the_file_and_out_of_the_name(labelled, tmp_path):
    md = tmp_path / "md"
    report = convert_mailbox(labelled, md, ConvertOptions(keywords="header", verify=True))
    assert report.ok and report.verified and report.converted == 2
    files = _files(md)
    assert sorted(name.split(":")[1] for name in files) == ["2,S", "2,S"]     # no keyword letters
    assert not (md / "dovecot-keywords").exists()
    one = next(data for data in files.values() if b"<one@example.org>" in data)
    assert one.startswith(b"Message-ID: <one@example.org>\nSubject: one\nX-Keywords: work $Label1\n\nfirst\n")
    two = next(data for data in files.values() if b"<two@example.org>" in data)
    assert b"X-Keywords" not in two
    read = {m.data.split(b"\n")[0]: m.keywords for m in MaildirReader(md)}   # read back from the header
    assert read == {b"Message-ID: <one@example.org>": ("work", "$Label1"), b"Message-ID: <two@example.org>": ()}


def test_both_choice_writes_letters_and_the_header(labelled, tmp_path):
    md = tmp_path / "md"
    assert convert_mailbox(labelled, md, ConvertOptions(keywords="both", verify=True)).verified
    names = sorted(name.split(":")[1] for name in _files(md))
    assert names == ["2,S", "2,Sab"]
    assert (md / "dovecot-keywords").read_text() == "0 work\n1 $Label1\n"
    assert sum(b"X-Keywords: work $Label1\n" in data for data in _files(md).values()) == 1
    assert sorted(m.keywords for m in MaildirReader(md)) == [(), ("work", "$Label1")]   # not twice


def test_header_choice_is_ignored_by_the_digest_so_a_rerun_converts_nothing(labelled, tmp_path):
    md = tmp_path / "md"
    assert convert_mailbox(labelled, md, ConvertOptions(keywords="header")).converted == 2
    copy = tmp_path / "copy"                           # another path: no state file to resume from
    copy.write_bytes(labelled.read_bytes())
    again = convert_mailbox(copy, md, ConvertOptions(keywords="dovecot"))
    assert (again.converted, again.skipped) == (0, 2)
    back = tmp_path / "back.mbox"                      # Maildir -> mbox: the keywords come along
    assert convert_mailbox(md, back, ConvertOptions(verify=True)).verified
    assert back.read_bytes().count(b"X-Keywords: work $Label1\n") == 1
    assert all(core_bytes(m).count(b"X-Keywords") == 0 for m in MaildirReader(md))


def test_header_choice_for_mh_writes_no_keyword_sequence(labelled, tmp_path):
    for places, sequences, in_file in (("header", False, True), ("both", True, True), ("dovecot", True, False)):
        mh = tmp_path / f"mh-{places}"
        assert convert_mailbox(labelled, mh, ConvertOptions(to_format="mh", keywords=places)).converted == 2
        seqs = read_sequences(mh)
        assert ("work" in seqs and "$Label1" in seqs) == sequences, places
        assert (b"X-Keywords: work $Label1\n" in (mh / "1").read_bytes()) == in_file, places
        assert [set(m.keywords) for m in MHReader(mh)] == [{"work", "$Label1"}, set()], places


def test_cli_keywords_choice(labelled, tmp_path, invoke):
    md = tmp_path / "md"
    r = invoke("convert", "--keywords", "header", "--json", labelled, md)
    assert r.exit_code == 0, r.stderr
    assert not (md / "dovecot-keywords").exists()
    r = invoke("convert", "--keywords", "sideways", labelled, tmp_path / "other")
    assert r.exit_code == 2 and "sideways" in r.stderr


def test_passed_gets_the_forwarded_letter_and_reads_back_as_p_only(tmp_path):
    src = tmp_path / "box"
    src.write_bytes(mbox_entry(headers="Subject: fw\nStatus: RO\nX-Keywords: $Forwarded\n"))
    md = tmp_path / "md"
    assert convert_mailbox(src, md, ConvertOptions(verify=True)).verified
    assert [name.split(":")[1] for name in _files(md)] == ["2,PSa"]
    assert (md / "dovecot-keywords").read_text() == "0 $Forwarded\n"
    [msg] = list(MaildirReader(md))
    assert (msg.flags, msg.keywords) == ("PS", ())


def test_no_letter_left_is_said_once_per_keyword_with_its_count(tmp_path):
    src = tmp_path / "box"
    words = [f"kw{i:02}" for i in range(26)]
    with open(src, "wb") as fh:
        fh.write(mbox_entry(headers=f"Subject: all\nX-Keywords: {' '.join(words)}\n"))
        for i in range(5):                               # 5 messages, two keywords past the 26th letter
            fh.write(mbox_entry(headers=f"Subject: {i}\nX-Keywords: late1 late2\n", body=f"{i}\n"))
    md = tmp_path / "md"
    report = convert_mailbox(src, md)
    said = [w for w in report.warnings if w["code"] == "keywords-in-header"]
    assert sorted((w["keyword"], w["messages"]) for w in said) == [("late1", 5), ("late2", 5)]
    assert all("5 message(s)" in w["message"] for w in said)
    assert sorted(len(m.keywords) for m in MaildirReader(md)) == [2] * 5 + [26]


def test_notmuch_batch_quoting():
    assert hex_encode(b"work") == "work" and hex_encode(b"a b%") == "a%20b%25"
    assert hex_encode("Entwürfe".encode()) == "Entw%C3%BCrfe"
    assert id_query("x.1@example.org") == "id:x.1@example.org"
    assert id_query('odd"id"here') == 'id:"odd""id""here"'
    assert id_query("pct%20x@example.org") == 'id:"pct%20x@example.org"'
    assert message_id(b"Message-ID:\n <a@b>\n\nbody") == "a@b"
    assert message_id(b"Message-ID: <odd id@b>\n\n") == "oddid@b"        # notmuch drops the blank
    assert message_id(b"Message-Id: no-brackets@x\n\n") == "no-brackets@x"
    assert message_id(b"Subject: none\n\n") is None


def test_notmuch_tags_file_lines(labelled, tmp_path, invoke):
    tags = tmp_path / "tags.batch"
    r = invoke("convert", "--notmuch-tags", tags, "--json", labelled, tmp_path / "md")
    assert r.exit_code == 0, r.stderr
    assert tags.read_text() == "+work +%24Label1 -- id:one@example.org\n"
    assert json.loads(r.stdout)["warnings"] == []


def test_notmuch_tags_counts_messages_without_message_id(tmp_path):
    src = tmp_path / "box"
    src.write_bytes(mbox_entry(headers="Subject: no id\nX-Keywords: work\n"))
    tags = tmp_path / "tags"
    report = convert_mailbox(src, tmp_path / "md", ConvertOptions(notmuch_tags=tags))
    assert tags.read_text() == ""
    assert [(w["code"], w["messages"]) for w in report.warnings] == [("notmuch-tags-without-id", 1)]


def test_notmuch_tags_dry_run_writes_nothing(labelled, tmp_path):
    tags = tmp_path / "tags"
    convert_mailbox(labelled, tmp_path / "md", ConvertOptions(notmuch_tags=tags, dry_run=True))
    assert not tags.exists()


def test_forwarded_without_a_letter_left_is_said_as_such(tmp_path):
    src = tmp_path / "box"
    words = " ".join(f"kw{i:02}" for i in range(26))
    src.write_bytes(mbox_entry(headers=f"Subject: all\nX-Keywords: {words}\n")
                    + mbox_entry(headers="Subject: fw\nStatus: RO\nX-Keywords: $Forwarded\n", body="fw\n"))
    md = tmp_path / "md"
    report = convert_mailbox(src, md)
    [said] = [w for w in report.warnings if w["code"] == "keywords-in-header"]
    assert said["keyword"] == "$Forwarded" and "letter P only" in said["message"]
    fw = next(m for m in MaildirReader(md) if m.flags)
    assert (fw.flags, fw.keywords) == ("PS", ()) and b"X-Keywords" not in fw.data


def test_notmuch_tags_of_a_recursive_run_are_one_file_for_every_folder(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "Inbox").write_bytes(mbox_entry(headers="Message-ID: <in@x>\nSubject: a\nX-Keywords: one\n"))
    (tree / "Archive").write_bytes(mbox_entry(headers="Message-ID: <ar@x>\nSubject: b\nX-Keywords: two\n"))
    tags = tmp_path / "tags"
    from mboxtool import convert_tree
    report = convert_tree(tree, tmp_path / "md", ConvertOptions(notmuch_tags=tags, layout="fs"))
    assert report.ok and report.converted == 2
    assert sorted(tags.read_text().splitlines()) == ["+one -- id:in@x", "+two -- id:ar@x"]


def test_x_keywords_in_a_body_are_no_keywords_of_a_maildir_file(tmp_path):
    md = tmp_path / "md"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True)
    (md / "cur" / "1.a.host:2,S").write_bytes(b"Subject: crlf\r\n\r\nforwarded:\r\nX-Keywords: spam\r\n")
    (md / "cur" / "2.a.host:2,S").write_bytes(b"Subject: lf\r\nX-Keywords: real\r\n\r\nX-Keywords: body\r\n")
    assert sorted(m.keywords for m in MaildirReader(md)) == [(), ("real",)]
