"""Evolution's local folders: mbox files and MH folders whose state is kept in X-Evolution.

Evolution (camel-local-summary.c) writes ``X-Evolution: UUUUUUUU-FFFF[; flags=...]`` into
every message: its uid and Camel's flag bits in hex, then its labels. Status and X-Status
appear only with its "Elm/Pine/Mutt status headers" option, and its MH folders have no
.mh_sequences, so without this header every message came out unread and unmarked.
"""

import json

from mboxtool import MaildirReader, MHReader

from .conftest import mbox_entry

# (X-Evolution value, flags, new, keywords) as an Evolution folder holds them
MESSAGES = [
    (b"00000001-0010", "S", False, ()),
    (b"00000002-0019", "FRS", False, ()),
    (b"00000003-0000", "", True, ()),
    (b'00000004-0014; flags="$Labelimportant,$Labelwork"', "DS", False, ("$Labelimportant", "$Labelwork")),
    (b"00000005-0412", "PST", False, ()),
]


def _headers(n, value):
    return f"From: sender{n}@example.org\nSubject: message {n}\nX-Evolution: ".encode() + value + b"\n"


def _state(msg):
    return msg.flags, msg.new, tuple(sorted(msg.keywords))


def test_an_evolution_mbox_keeps_its_flags_and_labels_in_a_maildir(tmp_path, invoke):
    src = tmp_path / "Inbox"
    src.write_bytes(b"".join(mbox_entry(headers=_headers(n, v).decode(), body=f"body {n}\n")
                             for n, (v, *_) in enumerate(MESSAGES)))
    r = invoke("list", "--json", src)
    assert r.exit_code == 0
    assert [row["flags"] for row in map(json.loads, r.stdout.splitlines())] == [m[1] for m in MESSAGES]
    r = invoke("convert", "--json", src, tmp_path / "md")
    assert r.exit_code == 0 and json.loads(r.stdout)["converted"] == len(MESSAGES), r.output
    with MaildirReader(tmp_path / "md") as reader:
        got = sorted((m.data.split(b"Subject: message ")[1][:1], _state(m)) for m in reader)
        assert all(b"X-Evolution" not in m.data for m in reader)          # Evolution's uid: state, not mail
    assert [state for _, state in got] == [(f, n, k) for _, f, n, k in MESSAGES]
    r = invoke("convert", "--verify", tmp_path / "md", tmp_path / "back.mbox")   # and on into an mbox
    assert r.exit_code == 0, r.output
    r = invoke("list", "--json", tmp_path / "back.mbox")
    assert sorted(json.loads(line)["flags"] for line in r.stdout.splitlines()) == sorted(m[1] for m in MESSAGES)


def test_an_evolution_mh_folder_reads_its_state_from_x_evolution(tmp_path):
    folder = tmp_path / "Evolution-MH"
    folder.mkdir()
    for n, (value, *_) in enumerate(MESSAGES, 1):
        (folder / str(n)).write_bytes(_headers(n, value) + b"\nbody\n")
    with MHReader(folder) as reader:
        assert [_state(m) for m in reader] == [(f, n, k) for _, f, n, k in MESSAGES]


def test_mh_sequences_win_over_x_evolution(tmp_path):
    """An MH folder with .mh_sequences is nmh's (or was handed to it): that is the state."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "1").write_bytes(_headers(1, b"00000001-0018") + b"\nbody\n")
    (folder / ".mh_sequences").write_text("unseen: 1\n")
    with MHReader(folder) as reader:
        (msg,) = list(reader)
    assert (msg.flags, msg.new) == ("", True)
