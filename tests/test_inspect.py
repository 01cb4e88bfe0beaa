"""info, list and show against mailboxes whose content the test built."""

import csv
import io
import json

import pytest

from mboxtool.render import RowPrinter

from .conftest import SAMPLES, make_maildir, mbox_entry


@pytest.fixture
def box(tmp_path):
    p = tmp_path / "box"
    p.write_bytes(
        mbox_entry("a@example.org", "Mon Jan  6 10:00:00 2020",
                   "From: =?utf-8?b?w4VzYQ==?= <a@example.org>\nSubject: =?iso-8859-1?q?caf=E9?=\n"
                   "Status: RO\nX-Status: A\n", body=">From quoted\n")
        + mbox_entry("b@example.org", "Tue Mar  3 09:00:00 2020",
                     "From: b@example.org\nSubject: =?bogus-charset?q?broken=ZZ?=\nX-Keywords: work\n")
        + mbox_entry("a@example.org", "Wed Jul  7 07:07:07 2021",
                     "From: A <a@example.org>\nSubject: raw \xe9t\xe9 latin1, \"quoted\", comma\nStatus: O\n"
                     .encode("latin-1").decode("latin-1"))
    )
    return p


def test_info_json_fields_and_values(invoke, box):
    r = invoke("info", "--json", box)
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["format"], doc["variant"], doc["messages"]) == ("mbox", "mboxrd", 3)
    assert doc["first_date"] == "2020-01-06T10:00:00Z" and doc["last_date"] == "2021-07-07T07:07:07Z"
    assert doc["flags"] == {"R": 1, "S": 1} and doc["unread"] == 2
    assert doc["top_senders"][0] == ["a@example.org", 2]
    assert doc["per_year"] == {"2020": 2, "2021": 1}
    assert doc["keywords"] == {"work": 1}


def test_info_text_has_a_bar_per_year(invoke, box):
    r = invoke("info", box)
    assert r.exit_code == 0
    years = [l for l in r.stdout.splitlines() if l.strip().startswith(("2020", "2021"))]
    assert len(years) == 2 and all(("█" in l) or ("#" in l) for l in years)


def test_list_json_lines_decode_subjects(invoke, box):
    r = invoke("list", "--json", box)
    rows = [json.loads(l) for l in r.stdout.splitlines()]
    assert [x["subject"] for x in rows][:1] == ["café"]
    assert rows[0]["from"] == "Åsa <a@example.org>" and rows[0]["flags"] == "RS"
    assert "broken" in rows[1]["subject"]                     # unknown charset: still readable
    assert "été" in rows[2]["subject"]                        # raw 8-bit latin-1 header
    assert [x["index"] for x in rows] == [1, 2, 3]


def test_list_csv_parses_back(invoke, box):
    r = invoke("list", "--csv", box)
    table = list(csv.reader(io.StringIO(r.stdout)))
    assert table[0][:7] == ["index", "key", "date", "from", "subject", "flags", "size"]
    assert len(table) == 4 and table[3][4].endswith('"quoted", comma')


@pytest.mark.parametrize("args, expected", [
    (["--since", "2020-02-01"], [2, 3]),
    (["--until", "2020-01-06"], [1]),
    (["--from-address", "b@example"], [2]),
    (["--subject", "CAF"], [1]),
    (["--flag", "R"], [1]),
    (["--no-flag", "S"], [2, 3]),
    (["--limit", "1"], [1]),
])
def test_list_filters(invoke, box, args, expected):
    r = invoke("list", "--json", *args, box)
    assert [json.loads(l)["index"] for l in r.stdout.splitlines()] == expected


def test_show_is_byte_exact_and_unquoted(invoke, box, runner):
    from mboxtool.cli import cli
    r = runner.invoke(cli, ["show", str(box), "1"])
    assert r.stdout_bytes.endswith(b"\n\nFrom quoted\n")
    assert r.stdout_bytes.startswith(b"From: =?utf-8?b?w4VzYQ==?=")
    r = runner.invoke(cli, ["show", "--with-from", str(box), "2"])
    assert r.stdout_bytes.startswith(b"From b@example.org Tue Mar  3 09:00:00 2020\nFrom: b@")
    r = runner.invoke(cli, ["show", "--headers", str(box), "2"])
    assert r.stdout_bytes.endswith(b"X-Keywords: work\n\n") and b"hi" not in r.stdout_bytes


@pytest.mark.parametrize("index", ["0", "4", "99999"])
def test_show_bad_index_exit_2(invoke, box, index):
    r = invoke("show", box, index)
    assert r.exit_code == 2 and r.stdout == "" and len(r.stderr.strip().splitlines()) == 1


def test_show_maildir_file_is_identical(runner):
    from mboxtool.cli import cli
    r = runner.invoke(cli, ["list", "--json", str(SAMPLES / "Maildir")])
    keys = [json.loads(l)["key"] for l in r.stdout.splitlines()]
    for i, key in enumerate(keys, 1):
        out = runner.invoke(cli, ["show", str(SAMPLES / "Maildir"), str(i)])
        assert out.stdout_bytes == (SAMPLES / "Maildir" / key).read_bytes()


def test_damaged_mbox_lists_what_it_can_and_points_to_validate(invoke):
    r = invoke("list", "--from", "mbox", SAMPLES / "damaged.mbox")
    assert r.exit_code == 0 and "validate" in r.stderr
    assert len(r.stdout.strip().splitlines()) >= 3


def test_info_recursive_tree(invoke, tmp_path):
    invoke("convert", SAMPLES / "inbox.mbox", tmp_path / "tree" / "Work")
    invoke("convert", "--to", "mbox", SAMPLES / "Maildir", tmp_path / "tree" / "Work.sbd" / "Old")
    r = invoke("info", "--json", "--recursive", tmp_path / "tree")
    doc = json.loads(r.stdout)                      # one object: totals, and a row per folder
    rows = [*doc["folders"], {"folder": "TOTAL", "messages": doc["messages"]}]
    assert [(x["folder"], x["messages"]) for x in rows] == [("Work/Old", 3), ("Work", 5), ("TOTAL", 8)] \
        or sorted((x["folder"], x["messages"]) for x in rows) == [("TOTAL", 8), ("Work", 5), ("Work/Old", 3)]


def test_info_recursive_says_which_folders_are_damaged(invoke, tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "Good").write_bytes((SAMPLES / "inbox.mbox").read_bytes())
    (tree / "Bad").write_bytes(mbox_entry(headers="From: a@example.org\nContent-Length: 9999\n"))
    r = invoke("info", "--recursive", tree)
    assert r.exit_code == 0
    assert [line for line in r.stderr.splitlines() if "damaged" in line] == [
        f"mboxtool: warning: {tree / 'Bad'}: the mailbox is damaged (content-length-mismatch); "
        f"'mboxtool validate {tree / 'Bad'}' explains"]
    doc = json.loads(invoke("info", "--json", "--recursive", tree).stdout)
    assert {row["folder"]: sorted(row["damage"]) for row in doc["folders"]} == {
        "Bad": ["content-length-mismatch"], "Good": []}
    assert doc["damaged"] == ["Bad"]


@pytest.mark.parametrize("command", [["list"], ["list", "--json"], ["info"], ["validate"]])
def test_non_utf8_output_never_raises(command):
    import os
    import subprocess
    import sys
    env = dict(os.environ, PYTHONIOENCODING="ascii")
    r = subprocess.run([sys.executable, "-m", "mboxtool", *command, str(SAMPLES / "inbox.mbox")],
                       capture_output=True, env=env)
    assert r.returncode == 0 and b"Traceback" not in r.stderr
    if "--json" in command:
        rows = [json.loads(line) for line in r.stdout.decode("ascii").splitlines()]
        assert rows[1]["subject"] == "Résumé attached"             # escaped, not lost


# each writable directory format with the words its error uses
@pytest.mark.parametrize("fmt, what", [("maildir", "a Maildir"), ("mh", "an MH folder")])
def test_forcing_a_directory_format_on_a_file_says_so(tmp_path, invoke, fmt, what):
    box = tmp_path / "box.mbox"
    box.write_bytes(mbox_entry())
    r = invoke("info", "--from", fmt, box)
    assert r.exit_code == 2
    assert r.stderr.strip().endswith(f"box.mbox: not a directory ({what} is one)")


def test_undecodable_keyword_bytes_are_printed_escaped_not_a_crash(tmp_path, invoke):
    """A keyword keeps its bytes, valid UTF-8 or not; text output prints them escaped, also
    when cli() is called without main() (which sets the streams up)."""
    box = tmp_path / "box.mbox"
    box.write_bytes(b"From a@b Mon Jan  6 10:00:00 2020\nSubject: s\nX-Keywords: \xff\xfe ok\n\nbody\n")
    r = invoke("info", box)
    assert r.exit_code == 0 and "\\udcff\\udcfe" in r.stdout
    r = invoke("list", "--json", box)
    assert json.loads(r.stdout)["keywords"] == ["\udcff\udcfe", "ok"]


@pytest.mark.parametrize("lead, counted", [
    (b"garbage left by an interrupted copy\n\n", False),        # no message: reported, not counted
    (b"Subject: its From_ line was lost\n\nbody\n\n", True),     # a message: convert converts it
])
def test_info_validate_and_convert_count_bytes_before_the_first_from_line_alike(
        invoke, tmp_path, lead, counted):
    """Bytes before the first From_ line are a message to every command when they start with a
    header field, and to none when they do not (list still shows them, so that show reaches them)."""
    box = tmp_path / "box"
    box.write_bytes(lead + mbox_entry("a@example.org", "Mon Jan  6 10:00:00 2020", "Subject: one\n")
                    + mbox_entry("b@example.org", "Mon Jan  6 11:00:00 2020", "Subject: two\n"))
    expected = 2 + counted
    info = json.loads(invoke("info", "--json", box).stdout)
    assert info["messages"] == expected
    assert info["outside_bytes"] == (0 if counted else len(lead))
    assert json.loads(invoke("validate", "--json", "--from", "mbox", box).stdout)["messages"] == expected
    done = json.loads(invoke("convert", "--json", "--from", "mbox", box, tmp_path / "md").stdout)
    assert (done["converted"], done["failed"]) == (expected, 0 if counted else 1)
    assert len(invoke("list", "--json", box).stdout.splitlines()) == 3
    text = invoke("info", box).stdout
    assert ("outside any message" in text) is not counted


def test_info_and_validate_leave_mmdf_text_outside_delimiters_uncounted(invoke, tmp_path):
    box = tmp_path / "box.mmdf"
    entry = b"\x01\x01\x01\x01\nFrom: a@example.org\nSubject: %d\n\nbody\n\x01\x01\x01\x01\n"
    box.write_bytes(entry % 1 + b"stray words between the entries\n" + entry % 2)
    info = json.loads(invoke("info", "--json", box).stdout)
    assert (info["messages"], info["outside_bytes"] > 0) == (2, True)
    assert json.loads(invoke("validate", "--json", box).stdout)["messages"] == 2


@pytest.mark.parametrize("kind", ["mbox", "maildir"])         # a file and a directory
def test_list_csv_of_an_empty_mailbox_prints_the_header_row(invoke, tmp_path, kind):
    empty = tmp_path / "empty"
    if kind == "mbox":
        empty.write_bytes(b"")
    else:
        make_maildir(empty)
    r = invoke("list", "--csv", empty)
    assert r.exit_code == 0, r.stderr
    assert list(csv.reader(io.StringIO(r.stdout))) == [RowPrinter.COLUMNS]
