"""Message identity: the digest (done on views of header and body) agrees with the rule written plainly."""

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from mboxtool.model.digest import message_digest, short_digest
from mboxtool.model.message import MailMessage, core_bytes, drop_from_quoting, strip_metadata


def reference_digest(core: bytes) -> int:
    """The identity rule on whole bytes: quoting of any depth ignored, final newline made sure."""
    if b">From " in core:
        core = drop_from_quoting(core)
    if not core.endswith(b"\n"):
        core += b"\n"
    return int.from_bytes(hashlib.sha1(core).digest()[:8], "big")

LINES = st.sampled_from([
    "Subject: hello", "Status: RO", "X-Status: A", "X-Keywords: $Label1", "Content-Length: 12",
    "X-Mozilla-Status: 0001", "From: a@example.org", " folded continuation", "From the desk",
    ">From a quote", ">>From deeper", "From ", ">From ", "plain text", "", "\r",
])


@st.composite
def messages(draw):
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    head = draw(st.lists(LINES, max_size=6))
    body = draw(st.lists(LINES, max_size=8))
    text = eol.join(head) + eol + eol + eol.join(body)
    if draw(st.booleans()):
        text += eol
    if draw(st.booleans()):
        text = eol.join(draw(st.lists(LINES, max_size=5)))      # anything at all, even no header block
    return text.encode()


@settings(max_examples=400, deadline=None)
@given(messages(), st.booleans())
def test_message_digest_matches_core_bytes_and_short_digest(data, quoted):
    reference = MailMessage(data, quoted=quoted)
    core = core_bytes(reference)
    msg = MailMessage(data, quoted=quoted)
    digest, parts = message_digest(msg)
    assert b"".join(bytes(p) for p in parts) == core
    assert digest == reference_digest(core)
    assert short_digest(data) == reference_digest(strip_metadata(data))
    assert msg.data == data and not msg.stripped          # the message itself is left alone


def test_usual_message_body_is_not_copied():
    """A large body is written as a view of the bytes read; a message with nothing to cut, as
    those bytes themselves. (Small bodies are copied: cheaper than a view.)"""
    data = b"Status: RO\nSubject: s\n\n" + b"body line\n" * 10_000
    digest, (head, body) = message_digest(MailMessage(data, quoted=True))
    assert head == b"Subject: s\n\n" and isinstance(body, memoryview) and body.obj is data
    assert digest == short_digest(b"Subject: s\n\n" + b"body line\n" * 10_000)
    plain = b"Subject: s\n\nbody\n"
    assert message_digest(MailMessage(plain, quoted=True))[1][0] is plain


@settings(max_examples=300, deadline=None)
@given(messages(), st.booleans(), st.sampled_from(["mboxo", "mboxrd", "mboxcl", "mboxcl2"]))
def test_mbox_render_after_digest_uses_its_scan_and_writes_the_same(data, quoted, variant):
    """The digest leaves where the body's From lines are for the mbox writer (one pass over a
    large body, not two); the entry it writes is the same as from a message never digested."""
    from mboxtool.formats.mboxwriter import render_mbox_message
    fresh = render_mbox_message(MailMessage(data, "S", False, (), 1578304800, quoted=quoted), variant)
    msg = MailMessage(data, "S", False, (), 1578304800, quoted=quoted)
    message_digest(msg)
    assert (msg.body_froms is not None) == (not quoted)
    assert render_mbox_message(msg, variant) == fresh


def test_a_scan_of_other_bytes_is_never_used():
    """Offsets found in bytes the message no longer holds (repair edits them) are ignored."""
    from mboxtool.formats.mboxwriter import render_mbox_message
    msg = MailMessage(b"Subject: s\n\nFrom here\nbody\n", date=1578304800)
    message_digest(msg)
    msg.data = b"Subject: s\n\nxx\nFrom there\n"             # edited after the digest
    assert render_mbox_message(msg, "mboxrd").endswith(b"\n\nxx\n>From there\n\n")
