import pytest
from hypothesis import given
from hypothesis import strategies as st

from mboxtool.model import flags
from mboxtool.model.message import Headers


def state(raw):
    return flags.from_mbox_headers(Headers(raw))


@pytest.mark.parametrize("maildir, xstatus", [("R", "A"), ("F", "F"), ("D", "T"), ("T", "D"), ("S", "")])
def test_maildir_letter_maps_to_x_status_letter(maildir, xstatus):
    assert flags.maildir_to_mbox(maildir) == xstatus


def test_status_ro_is_seen_and_not_new():
    s = state(b"Status: RO\nX-Status: AF\n")
    assert (s.flags, s.new) == ("FRS", False)


def test_read_but_new_message_is_seen_and_new():
    s = state(b"Status: R\n")
    assert (s.flags, s.new) == ("S", True)


def test_thunderbird_status_bits_and_expunged():
    s = state(b"X-Mozilla-Status: 1003\nX-Mozilla-Status2: 00000000\nX-Mozilla-Keys: $label4     \n")
    assert (s.flags, s.keywords, s.expunged) == ("PRS", ("$label4",), False)
    assert state(b"X-Mozilla-Status: 0009\n").expunged


def test_status_headers_win_over_mozilla():
    assert state(b"Status: O\nX-Mozilla-Status: 0001\n").flags == ""


@pytest.mark.parametrize("value, letters, new, keywords", [
    (b"00000001-0010", "S", False, ()),                                 # seen
    (b"0000002a-0019", "FRS", False, ()),                               # answered, flagged, seen
    (b"00000003-0006", "DT", False, ()),                                # deleted, draft
    (b"00000004-0410", "PS", False, ()),                                # forwarded (1 << 10)
    (b"00000005-0000", "", True, ()),                                   # unread, nothing else
    (b'00000006-0090; flags="$Labelimportant,work"; tags="follow-up=Call"', "S", False,
     ("$Junk", "$Labelimportant", "work")),
    (b"00000007-0210;\n tags=\"label=later,score=3\"", "S", False, ("$NotJunk", "$Labellater")),  # Evolution 2.x
    (b"00000008-0000; flags*=utf-8''caf%C3%A9", "", False, ("caf\u00e9",)),
    (b"8-0010", "", True, ()),                                          # not the 8-4 form: Evolution ignores it
])
def test_evolution_header_gives_flags_and_labels(value, letters, new, keywords):
    """Evolution's mbox and MH folders keep their state only in X-Evolution (Status and
    X-Status only with its "Elm/Pine/Mutt status headers" option): read, every message
    came out unread and unmarked."""
    s = state(b"Subject: x\nX-Evolution: " + value + b"\n")
    assert (s.flags, s.new, s.keywords) == (letters, new, keywords)


def test_status_headers_win_over_evolution():
    assert state(b"Status: O\nX-Evolution: 00000001-0018\n").flags == ""


def test_gmail_labels_map_to_flags_and_keywords():
    s = state(b'X-Gmail-Labels: Inbox,Starred,"Category Updates",Unread,"a,b (old)"\n')
    assert s.flags == "F" and s.new
    # one keyword each, as IMAP atoms: a blank or comma would split them in X-Keywords
    assert s.keywords == ("Inbox", "Category_Updates", "a_b_old_")


def test_forwarded_keyword_is_passed_flag():
    s = state(b"Status: RO\nX-Keywords: $Forwarded work\n")
    assert (s.flags, s.keywords) == ("PS", ("work",))


@given(st.sets(st.sampled_from("DFPRST")), st.booleans(),
       st.lists(st.from_regex(r"[A-Za-z$][A-Za-z0-9_]{0,8}", fullmatch=True), unique=True, max_size=4))
def test_every_state_survives_mbox_headers_and_back(letters, new, keywords):
    keywords = [k for k in keywords if k != flags.FORWARDED]
    original = "".join(sorted(letters))
    raw = b"".join(line + b"\n" for line in flags.to_mbox_headers(original, new, keywords))
    back = state(raw)
    assert (back.flags, back.new, list(back.keywords)) == (original, new, keywords)


@pytest.mark.parametrize("name, unique, letters, kw", [
    ("123.abc:2,FRS", "123.abc", "FRS", ""),
    ("123.abc!2,Sabc", "123.abc", "S", "abc"),
    ("1379857166.25979_1.hottie,2,S", "1379857166.25979_1.hottie", "S", ""),
    ("1.x,S=1234:2,S,W=999", "1.x,S=1234", "S", ""),
    ("plain", "plain", "", ""),
])
def test_maildir_names(name, unique, letters, kw):
    info = flags.parse_maildir_name(name)
    assert (info.unique, info.letters, info.keyword_letters) == (unique, letters, kw)


def _last_info_separator(name):
    """The §2.5 rule as written: the last separator followed by ``2,`` or ``1,``."""
    return max(name.rfind(sep + v) for sep in flags.INFO_SEPARATORS for v in ("2,", "1,"))


@given(st.text(alphabet="ab.:!;,12SRF=", max_size=24))
def test_maildir_name_split_follows_the_last_separator_rule(name):
    info = flags.parse_maildir_name(name)
    cut = _last_info_separator(name)
    if cut < 0:
        assert (info.unique, info.has_info) == (name, False)
    else:
        assert (info.unique, info.has_info) == (name[:cut], True)
        if name[cut + 1:].startswith("2,"):
            chars = name[cut + 3:].split(",", 1)[0]
            assert info.letters == "".join(c for c in chars if c.isupper())
