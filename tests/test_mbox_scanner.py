"""The mbox scanner: separators, body From lines, Content-Length, quoting (§1.4)."""

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mboxtool.formats.mboxscan import MboxScanner
from mboxtool.formats.mboxvariant import quote
from mboxtool.model.message import unquote_mboxrd

from .conftest import mbox_entry


def scan(data: bytes, events=None):
    ev = events if events is not None else []
    return list(MboxScanner(io.BytesIO(data), len(data), event=lambda c, **k: ev.append((c, k))))


def test_two_plain_messages_split_and_lose_the_separator_blank():
    data = mbox_entry(body="one\n") + mbox_entry(body="two\n")
    msgs = scan(data)
    assert [m.data.split(b"\n\n", 1)[1] for m in msgs] == [b"one\n", b"two\n"]
    assert [m.line for m in msgs] == [1, 8]


def test_undated_body_from_line_after_blank_does_not_split():
    events = []
    data = mbox_entry(body="Agenda:\n\nFrom the chair, welcome.\n") + mbox_entry()
    msgs = scan(data, events)
    assert len(msgs) == 2
    assert b"\nFrom the chair, welcome.\n" in msgs[0].data
    assert ("unescaped-from-line", 8) in [(c, k["line"]) for c, k in events]


def test_dated_from_line_without_blank_but_with_headers_splits_and_is_reported():
    data = mbox_entry(body="text\n").rstrip(b"\n") + b"\n" + mbox_entry()
    events = []
    assert len(scan(data, events)) == 2
    assert [c for c, _ in events] == ["from-line-without-blank"]


def test_header_line_starting_with_from_is_not_a_separator():
    data = b"From a@b Mon Jan  6 10:00:00 2020\nFrom  :<x@example.com>\nSubject: s\n\nbody\n"
    msgs = scan(data)
    assert len(msgs) == 1 and msgs[0].data.startswith(b"From  :<x@")


def test_a_header_longer_than_the_search_limit_swallows_no_message_after_it(monkeypatch):
    import mboxtool.formats.mboxscan as scanmod
    import mboxtool.formats.mboxseparator as separator_mod
    monkeypatch.setattr(scanmod, "HEADER_LIMIT", 1000)
    monkeypatch.setattr(separator_mod, "HEADER_LIMIT", 1000)
    big = mbox_entry(headers="X-Long: " + "a" * 3000 + "\nSubject: big\n", body="body\n")
    msgs = scan(big + mbox_entry(body="second\n") + mbox_entry(body="third\n"))
    assert len(msgs) == 3
    assert msgs[0].headers.get(b"subject") == "big"
    assert msgs[0].data[msgs[0].body_offset:] == b"body\n"
    assert msgs[2].data.endswith(b"\n\nthird\n")


def test_valid_content_length_protects_unescaped_body_from_lines():
    body = b"line\n\nFrom x Mon Jan  6 10:00:00 2020\nSubject: not a message\n\nmore\n"
    data = (b"From a@b Mon Jan  6 10:00:00 2020\nSubject: s\nContent-Length: %d\n\n" % len(body)
            + body + b"\n" + mbox_entry())
    msgs = scan(data)
    assert len(msgs) == 2 and msgs[0].cl_bounded and msgs[0].data.endswith(body)


def test_lying_content_length_is_ignored_and_reported():
    events = []
    data = (b"From a@b Mon Jan  6 10:00:00 2020\nSubject: s\nContent-Length: 5\n\nbody text\n\n"
            + mbox_entry())
    msgs = scan(data, events)
    assert len(msgs) == 2 and not msgs[0].cl_bounded
    assert events[0][0] == "content-length-mismatch"


def test_from_line_inside_an_open_multipart_is_body():
    body = (b"--XX\nContent-Type: text/plain\n\nsee patch\n\n--XX\nContent-Type: text/x-diff\n\n"
            b"From 0123abc Mon Sep 17 00:00:00 2001\nFrom: Dev <d@example.org>\nSubject: [PATCH]\n\n"
            b"diff\n--XX--\n")
    data = (b"From a@b Mon Jan  6 10:00:00 2020\nSubject: s\nContent-Type: multipart/mixed; "
            b"boundary=\"XX\"\n\n" + body + b"\n" + mbox_entry())
    msgs = scan(data)
    assert len(msgs) == 2 and msgs[0].data.endswith(body)


def test_garbage_before_first_from_is_kept_as_its_own_item():
    data = b"leftover text\n" + mbox_entry()
    msgs = scan(data)
    assert msgs[0].garbage and msgs[0].data == b"leftover text\n" and len(msgs) == 2


def test_crlf_file_keeps_crlf_in_message_bytes():
    data = mbox_entry(body="a\n").replace(b"\n", b"\r\n") * 2
    msgs = scan(data)
    assert len(msgs) == 2
    assert msgs[0].data == b"From: a@example.org\r\nSubject: test\r\nDate: Mon, 6 Jan 2020 10:00:00 +0000\r\n\r\na\r\n"


def test_cr_only_file_is_read_with_cr_as_line_end():
    data = (mbox_entry() * 3).replace(b"\n", b"\r")
    events = []
    assert len(scan(data, events)) == 3
    assert events[0][0] == "cr-line-endings"


def test_messages_larger_than_a_chunk_stream(monkeypatch):
    import mboxtool.formats.mboxwindow as ms
    monkeypatch.setattr(ms, "CHUNK", 1024)
    big = "x" * 70 + "\n"
    data = mbox_entry(body=big * 200) + mbox_entry(body="From me\n" + big * 50) + mbox_entry()
    msgs = scan(data)
    assert len(msgs) == 3
    assert msgs[1].data.endswith(b"From me\n" + (big * 50).encode())


@pytest.mark.parametrize("variant, text, quoted", [
    ("mboxrd", b"From a\n>From b\n>>From c\n", b">From a\n>>From b\n>>>From c\n"),
    ("mboxo", b"From a\n>From b\n", b">From a\n>From b\n"),
    ("mboxcl2", b"From a\n", b"From a\n"),
])
def test_quoting(variant, text, quoted):
    assert quote(text, variant) == quoted
    if variant == "mboxrd":
        assert unquote_mboxrd(quoted) == text


LINES = ["From here", ">From there", ">>From x", "plain", "", " From space", "From a Mon Jan  6 10:00:00 2020",
         "Subject: fake", "--b", "\tcont", "Content-Length: 5", "Status: RO", "From  :<x@y>", "\r", "x\r"]


@pytest.mark.parametrize("variant", ["mboxrd", "mboxcl2"])
@pytest.mark.parametrize("crlf", [False, True])
def test_message_with_empty_body_survives(variant, crlf):    # regression: CL-bounded blank line
    from mboxtool.formats.mboxwriter import render_mbox_message
    from mboxtool.model.message import MailMessage, strip_metadata
    eol = b"\r\n" if crlf else b"\n"
    data = b"From: u@example.org" + eol + b"Subject: s" + eol + eol
    out = render_mbox_message(MailMessage(data, "S", False, (), 1578304800), variant)
    msgs = scan(out)
    assert len(msgs) == 1
    core = strip_metadata(msgs[0].data)
    assert core == data




@settings(max_examples=150, deadline=None)
@given(msgs=st.lists(st.tuples(st.lists(st.sampled_from(LINES), max_size=10), st.booleans()),
                     min_size=1, max_size=6),
       variant=st.sampled_from(["mboxrd", "mboxcl2"]))
def test_property_written_mbox_reads_back_every_message(msgs, variant):
    from mboxtool.formats.mboxwriter import render_mbox_message
    from mboxtool.model.message import MailMessage, strip_metadata
    originals, out = [], b""
    for i, (lines, crlf) in enumerate(msgs):
        eol = "\r\n" if crlf else "\n"
        data = (f"From: u{i}@example.org{eol}Subject: s{i}{eol}{eol}" + "".join(l + eol for l in lines)).encode()
        originals.append(data if data.endswith(b"\n") else data + b"\n")
        out += render_mbox_message(MailMessage(data, "S", False, (), 1578304800), variant)
    got = [strip_metadata(m.data if m.cl_bounded else unquote_mboxrd(m.data)) for m in scan(out)]
    assert got == originals


HEAD_LINES = ["From: a@example.org", "Return-Path: <rp@example.org>", "Status: RO", "X-Status: A",
              "X-Keywords: work", "Content-Length: 12", "Subject: s", "\tcontinued", "From here"]


@settings(max_examples=400, deadline=None)
@given(head=st.lists(st.sampled_from(HEAD_LINES), max_size=6), body=st.lists(st.sampled_from(LINES), max_size=8),
       blank=st.booleans(), crlf=st.booleans(), final_eol=st.booleans(), quoted=st.booleans(),
       sender=st.sampled_from([None, "", "env@example.org"]),
       variant=st.sampled_from(["mboxrd", "mboxo", "mboxcl", "mboxcl2"]))
def test_property_entry_buffers_equal_the_joined_entry(head, body, blank, crlf, final_eol, quoted, sender, variant):
    """The writer's buffers (the body passed on as views) make exactly the bytes of the plain,
    copy-everything composition of quote, metadata headers and From_ line (the path the writer
    keeps for messages without a body)."""
    from mboxtool.formats.fromline import from_line_for
    from mboxtool.formats.mboxwriter import _render_joined, render_mbox_message
    from mboxtool.model.message import MailMessage
    eol = "\r\n" if crlf else "\n"
    text = "".join(line + eol for line in head) + (eol if blank else "") + eol.join(body)
    text += eol if final_eol and body else ""
    data = text.encode()

    def message():
        return MailMessage(data, "RS", False, ("work",), 1578304800, sender=sender, quoted=quoted)
    joined = message()
    assert render_mbox_message(message(), variant) == \
        from_line_for(joined, None, False) + _render_joined(joined, variant) + b"\n"


RAW_LINES = LINES + ["From a@b Mon Jan  6 10:00:00 2020", ">>>From deep", "x >From mid-line", "a From b",
                     ">", ">>", "From", ">From", "Subject: s", "Status: RO", "\r\n>From crlf"]


@settings(max_examples=500, deadline=None)
@given(lines=st.lists(st.sampled_from(RAW_LINES), max_size=40), chunk=st.sampled_from([7, 64, 1 << 20]))
def test_property_scanner_quote_positions_are_those_of_the_body(lines, chunk):
    """Where the scanner reports a message's body >From lines, they are exactly the ones
    from_line_starts finds after the header block: what core_digest would find by itself."""
    import mboxtool.formats.mboxwindow as scan_mod
    from mboxtool.model.message import from_line_starts, header_end
    data = ("\n".join(lines) + "\n").encode()
    old, scan_mod.CHUNK = scan_mod.CHUNK, chunk                # seams of the sliding window too
    try:
        msgs = scan(data)
    finally:
        scan_mod.CHUNK = old
    for m in msgs:
        if m.body_quotes is not None:
            assert m.body_quotes == from_line_starts(m.data, b">From ", header_end(m.data))


def test_scanner_reports_body_quotes_and_leaves_content_length_messages_alone():
    body = b"a\n>From b\nx >From not a line start\n>>From c\n"
    data = mbox_entry(body=body.decode()) + b"From x Mon Jan  6 10:00:00 2020\nContent-Length: 9\n\n>From cl\n"
    first, second = scan(data)
    start = first.data.index(b"\n\n") + 2
    assert [first.data[q:q + 8] for q in first.body_quotes] == [b">From b\n", b">>From c"]
    assert first.body_quotes[0] == start + 2
    assert second.cl_bounded and second.body_quotes is None


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(st.sampled_from(RAW_LINES + ["x" * 300, "y" * 40]), max_size=60),
       chunk=st.sampled_from([5, 7, 64, 300]))
def test_property_the_read_size_never_changes_what_is_found(lines, chunk):
    """Whatever the reads are (a window that grows by half of itself for a large message,
    needles across the seams), the messages are those of one read of the whole file."""
    import mboxtool.formats.mboxwindow as scan_mod
    data = ("\n".join(lines) + "\n").encode()
    whole = [(m.offset, m.data, m.body_quotes) for m in scan(data)]
    old, scan_mod.CHUNK = scan_mod.CHUNK, chunk
    try:
        pieces = [(m.offset, m.data, m.body_quotes) for m in scan(data)]
    finally:
        scan_mod.CHUNK = old
    assert pieces == whole


def test_a_large_message_costs_about_twice_its_size_and_comes_out_as_bytes(monkeypatch):
    """The window grows in place (a bytearray) and the message gets one copy of its own:
    about 2x the message at the peak, whatever the read size; and every piece handed out
    is immutable bytes, which the digest, the writers and the readers rely on."""
    import tracemalloc

    import mboxtool.formats.mboxwindow as scan_mod
    monkeypatch.setattr(scan_mod, "CHUNK", 64 << 10)
    big = mbox_entry(body=("z" * 70 + "\n") * 140_000)
    big += mbox_entry(body="From the middle\nsmall\n")
    tracemalloc.start()
    try:
        msgs = []
        for m in MboxScanner(io.BytesIO(big), len(big)):
            msgs.append((len(m.data), type(m.data), type(m.from_line), type(m.headers.raw)))
            del m
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    size = msgs[0][0]
    assert size > 9_900_000 and len(msgs) == 2
    assert [m[1:] for m in msgs] == [(bytes, bytes, bytes)] * 2
    assert peak < 2.3 * size + (1 << 20), peak / size


@settings(max_examples=200, deadline=None)
@given(bodies=st.lists(st.lists(st.sampled_from(["a", "x" * 50, "\x01\x01\x01\x01", "From x", ""]), max_size=12),
                       min_size=1, max_size=6),
       chunk=st.sampled_from([3, 5, 17, 100]))
def test_property_mmdf_reads_of_any_size_find_the_same_messages(tmp_path_factory, bodies, chunk):
    import mboxtool.formats.mmdf as mmdf_mod
    from mboxtool.formats.mmdf import MMDFReader
    delim = b"\x01\x01\x01\x01\n"
    data = b"".join(delim + b"Subject: s\n\n" + "".join(line + "\n" for line in body).encode() + delim
                    for body in bodies)
    path = tmp_path_factory.mktemp("mmdf") / "box"
    path.write_bytes(data)

    def read_all():
        with MMDFReader(path) as reader:
            return list(reader.raw_messages())
    whole = read_all()
    old, mmdf_mod.CHUNK = mmdf_mod.CHUNK, chunk
    try:
        assert read_all() == whole
    finally:
        mmdf_mod.CHUNK = old


def test_a_forked_writer_frees_the_scanner_window_it_inherited():
    """Writer processes are forked while the reading process holds its window (a large
    message, say); the child frees its copy at once, the parent keeps reading."""
    import os

    from mboxtool.formats import mboxwindow
    data = mbox_entry(body="x" * 300_000 + "\n") + mbox_entry(body="second\n")
    it = iter(MboxScanner(io.BytesIO(data), len(data)))
    first = next(it)
    held = [w for w in mboxwindow._WINDOWS if len(w.buf)]
    assert held
    pid = os.fork()
    if pid == 0:                                              # the child: nothing left to hold
        os._exit(0 if all(len(w.buf) == 0 for w in mboxwindow._WINDOWS) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [m.data.endswith(b"\n\nsecond\n") for m in it] == [True]
    assert len(first.data) > 300_000


@settings(max_examples=150, deadline=None)
@given(entries=st.lists(st.tuples(st.sampled_from(["a", "x" * 40, "From x", ""]),
                                  st.sampled_from(["", "\n", "junk\n", "Subject: lost\n\nbody\n", "\x01\n"])),
                        min_size=1, max_size=6),
       chunk=st.sampled_from([3, 5, 17, 100]))
def test_property_mmdf_text_between_entries_is_found_at_any_read_size(tmp_path_factory, entries, chunk):
    """Text outside the delimiter pairs (what a lost delimiter leaves) comes out as such, at
    its offset, whatever the read size: never dropped, never glued to a message."""
    import mboxtool.formats.mmdf as mmdf_mod
    from mboxtool.formats.mmdf import MMDFReader
    delim = b"\x01\x01\x01\x01\n"
    data = b"".join(delim + b"Subject: s\n\n" + body.encode() + b"\n" + delim + gap.encode()
                    for body, gap in entries)
    path = tmp_path_factory.mktemp("mmdf") / "box"
    path.write_bytes(data)
    old, mmdf_mod.CHUNK = mmdf_mod.CHUNK, chunk
    try:
        with MMDFReader(path) as reader:
            got = list(reader.raw_messages())
    finally:
        mmdf_mod.CHUNK = old
    gaps = [gap.encode() for _, gap in entries if gap.strip("\r\n\t \x01")]
    assert [d for _, d, outside in got if outside] == gaps
    assert [d for _, d, outside in got if not outside] == [b"Subject: s\n\n" + b.encode() + b"\n" for b, _ in entries]
    assert all(data[o:o + len(d)] == d for o, d, _ in got)


ATTACHED_MBOX = (b"From x@y Fri Jul 10 18:59:26 1998\nFrom: x@y\nSubject: first\n\none\n\n"
                 b"From z@y Fri Jul 10 19:00:00 1998\nFrom: z@y\nSubject: second\n\ntwo\n")


def test_an_attached_mbox_of_several_messages_is_body():
    # dtmail forwards a mailbox as a message/rfc822 part: both of its From_ lines follow an
    # empty line and carry a date, and the closing delimiter after them is the only one
    body = (b"--B\nContent-Type: text/plain\n\nsee attached\n\n--B\nContent-Type: message/rfc822\n\n"
            + ATTACHED_MBOX + b"\n--B--\n")
    data = (b"From a@b Thu Jul 16 03:42:38 1998\nSubject: s\nContent-Type: multipart/mixed; "
            b"boundary=B\n\n" + body + b"\n" + mbox_entry())
    events = []
    msgs = scan(data, events)
    assert len(msgs) == 2 and msgs[0].data.endswith(body)
    inside = [k for c, k in events if c == "unescaped-from-line"]
    assert len(inside) == 2 and all(k["in_multipart"] for k in inside)


def test_an_unclosed_multipart_does_not_swallow_the_messages_up_to_another_with_its_boundary():
    # the first message's multipart never closes; a later message declares the same boundary
    # (a copy of it, or the same mailer counting from the same start) and closes its own
    part = b"--B\nContent-Type: text/plain\n\ntext\n"
    multipart = b"Subject: s\nContent-Type: multipart/mixed; boundary=B\n\n"
    data = (b"From a@b Thu Jul 16 03:42:38 1998\n" + multipart + part + b"\n"
            + mbox_entry(body="in between\n")
            + b"From a@b Thu Jul 16 04:42:38 1998\n" + multipart + part + b"--B--\n")
    msgs = scan(data)
    assert len(msgs) == 3
    assert b"in between" in msgs[1].data and msgs[2].data.endswith(b"--B--\n")


def test_header_only_messages_without_empty_lines_between_are_apart():
    # mblaze's mexport writes no empty line after a message; git's mailsplit tests hold
    # messages that are all header. The envelope line stacked under a From_ line stays.
    data = (b"From nobody Wed Dec 31 23:59:59 1969\nSubject: one\nX-A: 1\n"
            b"From nobody Wed Dec 31 23:59:59 1969\nSubject: two\n\n"
            b"From x@y Mon Jan  6 10:00:00 2020\nFrom x@y Mon Jan  6 09:00:00 2020 remote from z\n"
            b"Subject: three\n\nbody\nFrom the body, Subject: no\nX-D: d\n")
    events = []
    msgs = scan(data, events)
    assert [m.data for m in msgs] == [
        b"Subject: one\nX-A: 1\n", b"Subject: two\n",
        b"From x@y Mon Jan  6 09:00:00 2020 remote from z\nSubject: three\n\nbody\n"
        b"From the body, Subject: no\nX-D: d\n"]
    assert [m.body_offset for m in msgs[:2]] == [20, 13]
    assert [c for c, _ in events].count("from-line-without-blank") == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([b"Subject: s\n", b"X-B: 1\n", b" folded\n", b"From: a@b\n"]),
                min_size=1, max_size=4), st.integers(2, 6), st.sampled_from([64, 100, 1 << 20]))
def test_header_only_messages_back_to_back_at_any_read_size(head, n, chunk):
    import mboxtool.formats.mboxwindow as ms
    old, ms.CHUNK = ms.CHUNK, chunk
    try:
        if head[0].startswith(b" "):
            head = [b"X-C: c\n"] + head
        block = b"".join(head)
        data = b"".join(b"From u@h Mon Jan  6 10:00:%02d 2020\n" % i + block for i in range(n))
        msgs = scan(data)
        assert [m.data for m in msgs] == [block] * n
    finally:
        ms.CHUNK = old


def test_a_from_line_inside_a_multipart_header_does_not_split_it():
    data = (b"From a@b Mon Jan  6 10:00:00 2020\nSubject: s\nContent-Type: multipart/mixed; boundary=q\n"
            b"From x@y Mon Jan  6 10:00:00 2020\nStatus: O\n\n--q\n\nx\n--q--\n")
    events = []
    msgs = scan(data, events)
    assert len(msgs) == 1 and ("from-line-in-header" in [c for c, _ in events])


@pytest.mark.parametrize("chunk", [8, 16, 33, 64, 1 << 20])
def test_header_only_split_and_its_multipart_exception_at_any_read_size(monkeypatch, chunk):
    import mboxtool.formats.mboxwindow as ms
    monkeypatch.setattr(ms, "CHUNK", chunk)
    second = b"From x@y Mon Jan  6 10:00:00 2020\nStatus: O\nSubject: two\n"
    plain = b"From a@b Mon Jan  6 10:00:00 2020\nSubject: one\nX-A: 1\n" + second
    assert [m.data for m in scan(plain)] == [b"Subject: one\nX-A: 1\n", b"Status: O\nSubject: two\n"]
    multipart = plain.replace(b"X-A: 1\n", b"Content-Type: multipart/mixed; boundary=q\n")
    assert len(scan(multipart)) == 1
    # only the header above the From_ line counts, however the window moved meanwhile
    later = plain.replace(b"Status: O\n", b"Content-Type: multipart/mixed; boundary=q\n")
    assert len(scan(later)) == 2
    assert len(scan(mbox_entry(body="x" * 50 + "\n") + later)) == 3     # the window has moved on
