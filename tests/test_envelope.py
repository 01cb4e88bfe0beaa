"""list and info show the SMTP envelope (From_ line, Return-Path, Delivered-To) beside From:/To:."""

import csv
import io
import json

import pytest

from .conftest import mbox_entry


@pytest.fixture
def spool(tmp_path):
    """Four deliveries: a direct one, a mailing list (envelope at the list's domain), a bounce
    (null sender) and a forwarded one that kept its sender."""
    p = tmp_path / "spool"
    p.write_bytes(
        mbox_entry("alice@example.org", "Mon Jan  6 10:00:00 2020",
                   "Return-Path: <alice@example.org>\nDelivered-To: bob@example.net\n"
                   "From: Alice <alice@example.org>\nTo: Bob <bob@example.net>\n"
                   "Message-ID: <one@example.org>\nSubject: direct\n")
        + mbox_entry("list-bounces@lists.example.com", "Mon Jan  6 11:00:00 2020",
                     "X-Original-To: bob+lists@example.net\nFrom: carol@example.org\n"
                     "To: dev@lists.example.com\nMessage-ID: <two@example.org>\nSubject: on a list\n")
        + mbox_entry("MAILER-DAEMON", "Mon Jan  6 12:00:00 2020",
                     "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\nTo: bob@example.net\n"
                     "Message-ID: <three@mx.example.net>\nSubject: Undelivered Mail\n")
        + mbox_entry("list-bounces@lists.example.com", "Mon Jan  6 13:00:00 2020",
                     "From: dave@example.org\nTo: dev@lists.example.com\nSubject: on a list again\n")
    )
    return p


def test_list_json_has_envelope_and_header_addresses(invoke, spool):
    r = invoke("list", "--json", spool)
    assert r.exit_code == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(x["envelope_from"], x["delivered_to"], x["to"], x["message_id"]) for x in rows] == [
        ("alice@example.org", "bob@example.net", "Bob <bob@example.net>", "<one@example.org>"),
        ("list-bounces@lists.example.com", "bob+lists@example.net", "dev@lists.example.com", "<two@example.org>"),
        ("<>", "", "bob@example.net", "<three@mx.example.net>"),
        ("list-bounces@lists.example.com", "", "dev@lists.example.com", ""),
    ]
    assert rows[1]["from"] == "carol@example.org"


def test_list_csv_has_the_new_columns_by_name(invoke, spool):
    r = invoke("list", "--csv", spool)
    table = list(csv.DictReader(io.StringIO(r.stdout)))
    assert table[0]["envelope_from"] == "alice@example.org" and table[0]["delivered_to"] == "bob@example.net"
    assert table[1]["to"] == "dev@lists.example.com" and table[1]["message_id"] == "<two@example.org>"
    assert list(table[0])[:9] == ["index", "key", "date", "from", "subject", "flags", "size", "new", "keywords"]


def test_list_columns_choose_the_table(invoke, spool):
    r = invoke("list", "--columns", "index,envelope_from,delivered_to,message_id", spool)
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["#", "envelope_from", "delivered_to", "message_id"]
    assert lines[1].split() == ["1", "alice@example.org", "bob@example.net", "<one@example.org>"]
    assert lines[3].split() == ["3", "<>", "<three@mx.example.net>"]


def test_list_columns_also_choose_the_csv(invoke, spool):
    r = invoke("list", "--csv", "--columns", "message_id,envelope_from", spool)
    assert list(csv.reader(io.StringIO(r.stdout)))[:2] == [["message_id", "envelope_from"],
                                                          ["<one@example.org>", "alice@example.org"]]


def test_list_unknown_column_is_one_line_and_exit_2(invoke, spool):
    r = invoke("list", "--columns", "index,bogus", spool)
    assert r.exit_code == 2 and "bogus" in r.stderr and "Traceback" not in r.stderr


def test_return_path_is_the_envelope_sender_without_a_from_line(invoke, tmp_path):
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "cur" / "1.a.host:2,S").write_bytes(
        b"Return-Path: <bounce-123@mailer.example.com>\nDelivered-To: bob@example.net\n"
        b"From: shop@example.org\nSubject: offer\n\nbuy\n")
    (maildir / "cur" / "2.a.host:2,S").write_bytes(b"From: x@example.org\nSubject: no envelope\n\nhi\n")
    rows = [json.loads(line) for line in invoke("list", "--json", maildir).stdout.splitlines()]
    assert [(x["envelope_from"], x["delivered_to"]) for x in rows] == [
        ("bounce-123@mailer.example.com", "bob@example.net"), ("", "")]
    doc = json.loads(invoke("info", "--json", maildir).stdout)
    assert doc["envelope_mismatch"] == {"messages": 1, "top_pairs": [["mailer.example.com", "example.org", 1]]}


def test_info_counts_envelope_domains_that_differ_from_the_header(invoke, spool):
    doc = json.loads(invoke("info", "--json", spool).stdout)
    assert doc["envelope_mismatch"] == {"messages": 3, "top_pairs": [
        ["lists.example.com", "example.org", 2], ["<>", "mx.example.net", 1]]}
    r = invoke("info", spool)
    assert "envelope sender domain differs from From: in 3 messages" in r.stdout
    assert any(line.split() == ["2", "lists.example.com", "->", "example.org"] for line in r.stdout.splitlines())


def test_info_top_limits_the_pairs(invoke, spool):
    doc = json.loads(invoke("info", "--json", "--top", "1", spool).stdout)
    assert doc["envelope_mismatch"]["top_pairs"] == [["lists.example.com", "example.org", 2]]


def test_thunderbird_placeholder_from_line_is_no_envelope(invoke, tmp_path):
    p = tmp_path / "Inbox"
    p.write_bytes(mbox_entry("-", "Mon Jan  6 10:00:00 2020"))
    row = json.loads(invoke("list", "--json", p).stdout)
    assert row["envelope_from"] == ""
    assert json.loads(invoke("info", "--json", p).stdout)["envelope_mismatch"]["messages"] == 0


def test_list_csv_of_an_empty_mailbox_is_the_header_row(invoke, tmp_path):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    r = invoke("list", "--csv", "--from", "mbox", empty)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines() == [",".join(["index", "key", "date", "from", "subject", "flags", "size", "new",
                                               "keywords", "envelope_from", "delivered_to", "to", "message_id"])]
