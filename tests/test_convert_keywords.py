"""convert: keywords (IMAP keywords, Gmail labels) keep their bytes through every format."""


import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mboxtool import ConvertOptions, MaildirReader, convert_mailbox
from mboxtool.model.message import split_message

from .conftest import make_maildir, mbox_entry


def test_keywords_stay_right_across_writer_processes(tmp_path):
    """Batches go to two writer processes in turn; keyword letters are given out by one process
    only, so dovecot-keywords agrees with every file name (and words beyond 26 go to a header)."""
    pool = [f"$Kw{k}" for k in range(30)]
    src = tmp_path / "src"
    expected = {}
    with open(src, "wb") as fh:
        for i in range(1000):
            words = sorted({pool[(i * 7 + j * 11) % 30] for j in range(i % 4)})
            fh.write(mbox_entry(headers=f"X-Keywords: {' '.join(words)}\nMessage-ID: <{i}@t>\n",
                                body=f"message {i}\n"))
            expected[f"<{i}@t>"] = set(words)
    md = tmp_path / "md"
    report = convert_mailbox(src, md)
    assert report.ok and report.converted == 1000
    assert any(w["code"] == "keywords-in-header" for w in report.warnings)   # 30 words, 26 letters
    got = {}
    for msg in MaildirReader(md):
        headers = split_message(msg.data)[0]
        words = set(msg.keywords) | set(" ".join(headers.get_all(b"x-keywords")).split())
        got[headers.get(b"message-id")] = words
    assert got == expected


_KEYWORD_BYTES = st.binary(min_size=1, max_size=10).filter(
    lambda w: not any(b <= 0x20 or b in (0x2C, 0x7F) for b in w) and w != b"$Forwarded")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(_KEYWORD_BYTES, min_size=1, max_size=5, unique=True))
def test_property_keywords_keep_their_bytes_through_maildir_and_back(tmp_path_factory, words):
    """Any keyword bytes (UTF-8 or not; bytes 0x85 and 0xA0, which str.split() takes for blanks,
    included) come back byte for byte from mbox -> Maildir -> mbox, however often."""
    base = tmp_path_factory.mktemp("kw")
    box = base / "box"
    box.write_bytes(b"From a@b Mon Jan  6 10:00:00 2020\nSubject: k\nX-Keywords: " + b" ".join(words) + b"\n\nbody\n")
    convert_mailbox(box, base / "md")
    convert_mailbox(base / "md", base / "box2")
    convert_mailbox(base / "box2", base / "md2")
    convert_mailbox(base / "md2", base / "box3")
    line = next(l for l in (base / "box3").read_bytes().split(b"\n") if l.startswith(b"X-Keywords: "))
    assert sorted(line[len(b"X-Keywords: "):].split(b" ")) == sorted(words)
    (msg,) = MaildirReader(base / "md2")
    assert sorted(msg.keywords) == sorted(w.decode("utf-8", "surrogateescape") for w in words)


def test_gmail_labels_stay_one_keyword_each_through_every_round_trip(tmp_path):
    """A Takeout label with a blank or a comma ("Category Updates") was split into several
    keywords by the first X-Keywords it went through (found by fuzzing)."""
    box = tmp_path / "takeout.mbox"
    box.write_bytes(b'From 1@xxx Mon Jan 06 10:00:00 +0000 2020\nX-Gmail-Labels: Inbox,"Category Updates",'
                    b'"a,b",Opened\nSubject: s\n\nbody\n')
    convert_mailbox(box, tmp_path / "md")
    convert_mailbox(tmp_path / "md", tmp_path / "back.mbox")
    convert_mailbox(tmp_path / "back.mbox", tmp_path / "md2")
    first, again = (sorted(next(iter(MaildirReader(tmp_path / d))).keywords) for d in ("md", "md2"))
    assert first == again == ["Category_Updates", "Inbox", "Opened", "a_b"]


# what each format keeps of the keyword "a,b" (Maildir: the source)
@pytest.mark.parametrize("fmt, kept", [("mbox", "a_b"), ("mmdf", "a_b"), ("babyl", "a_b"), ("mh", "a,b")])
def test_a_keyword_with_a_comma_stays_one_keyword(tmp_path, fmt, kept):
    """An IMAP keyword may hold a comma (Dovecot keeps "a,b"); X-Keywords and Babyl label
    lists split at commas, so there it becomes a_b and is reported, instead of coming back
    as two keywords (mbox, MMDF) or not at all (Babyl). MH sequences keep it as it is."""
    md = tmp_path / "md"
    make_maildir(md)
    (md / "dovecot-keywords").write_text("0 a,b\n1 x\n")
    (md / "cur" / "1.M1.h:2,Sab").write_bytes(b"Subject: s\n\nbody\n")
    out = tmp_path / f"out.{fmt}"
    report = convert_mailbox(md, out, ConvertOptions(to_format=fmt))
    assert report.converted == 1
    renamed = [w["keyword"] for w in report.warnings if w["code"] == "keyword-renamed"]
    assert renamed == ([] if fmt == "mh" else ["a,b"])
    back = tmp_path / "back"
    convert_mailbox(out, back, ConvertOptions(to_format="maildir"))
    with MaildirReader(back) as reader:
        assert [sorted(m.keywords) for m in reader] == [sorted([kept, "x"])]
