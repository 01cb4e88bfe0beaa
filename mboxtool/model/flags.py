"""Flags and keywords between formats, as data tables (docs/formats.md §3).

The canonical form is Maildir's letters, sorted: D draft, F flagged, P passed,
R replied, S seen, T trashed; plus ``new`` and a list of keywords.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from .message import Headers, header_end, split_message

LETTERS = "DFPRST"
FORWARDED = "$Forwarded"            # IMAP keyword standing in for P in mbox (§3.4)

# X-Status letter -> Maildir letter, and back (UW-IMAP / Dovecot).
XSTATUS_TO_MAILDIR = {"A": "R", "F": "F", "T": "D", "D": "T"}
XSTATUS_ORDER = "AFTD"

# Thunderbird X-Mozilla-Status(2) bits.
MOZ_READ, MOZ_REPLIED, MOZ_MARKED, MOZ_EXPUNGED = 0x1, 0x2, 0x4, 0x8
MOZ_FORWARDED, MOZ_REDIRECTED = 0x1000, 0x2000
MOZ_IMAP_DELETED = 0x00200000

# Evolution's X-Evolution header: "UUUUUUUU-FFFF" (uid, Camel's system flag bits, in hex), then
# "; flags=..." (user flags: labels, keywords) and "; tags=..." (name=value) where Camel's
# local stores keep them (camel-local-summary.c). Bits from CamelMessageFlags.
EVOLUTION_BITS = {0x1: "R", 0x2: "T", 0x4: "D", 0x8: "F", 0x10: "S", 0x400: "P"}
EVOLUTION_JUNK_KEYWORDS = {0x80: "$Junk", 0x200: "$NotJunk"}    # the IMAP keywords Camel maps them to
_EVOLUTION = re.compile(r"\s*([0-9A-Fa-f]{8})-([0-9A-Fa-f]{4})\s*(?=;|$)")
_EVOLUTION_PARAM = re.compile(r';\s*([A-Za-z-]+)(\*?)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')

# Gmail Takeout system labels that are flags, not keywords.
GMAIL_FLAG_LABELS = {"starred": "F", "trash": "T", "draft": "D", "drafts": "D"}


_STATE_HEADERS = frozenset({b"status", b"x-status", b"x-keywords", b"x-mozilla-status", b"x-mozilla-keys",
                            b"x-label", b"x-gmail-labels", b"x-rmail-attributes", b"x-rmail-keywords",
                            b"x-evolution"})

# Emacs Rmail's attributes: words on a Babyl labels line, one letter each in the
# X-RMAIL-ATTRIBUTES header of Rmail's mbox (rmail.el's rmail-attr-array; "-" where unset)
RMAIL_ATTRIBUTES = {"A": "answered", "D": "deleted", "E": "edited", "F": "filed", "R": "retried",
                    "S": "forwarded", "U": "unseen", "r": "resent"}
# the attributes that are Maildir flags ("unseen" is the absence of S), first word per flag
# the one written
RMAIL_ATTRIBUTE_FLAGS = {"answered": "R", "deleted": "T", "forwarded": "P", "resent": "P"}
# Rmail has no flagged or draft attribute: they travel as labels of these names
LABEL_FLAGS = {"flagged": "F", "draft": "D"}
_NOT_KEYWORDS = frozenset(RMAIL_ATTRIBUTES.values()) | set(LABEL_FLAGS) | {"copied"}


def from_rmail(words: list[str]) -> tuple[str, tuple[str, ...]]:
    """(flag letters, keywords) of Rmail attribute and label words (a Babyl labels line)."""
    letters = "" if "unseen" in words else "S"
    letters += "".join(RMAIL_ATTRIBUTE_FLAGS.get(w) or LABEL_FLAGS.get(w, "") for w in words)
    return normalize(letters), tuple(w for w in words if w not in _NOT_KEYWORDS)


def to_rmail(letters: str) -> tuple[list[str], list[str]]:
    """(attribute words, label words) that stand for Maildir ``letters`` in Rmail."""
    attributes = [] if "S" in letters else ["unseen"]
    written = set()
    for word, letter in RMAIL_ATTRIBUTE_FLAGS.items():
        if letter in letters and letter not in written:
            attributes.append(word)
            written.add(letter)
    return attributes, [word for word, letter in LABEL_FLAGS.items() if letter in letters]


_STATUS_HEADERS = frozenset({b"status", b"x-status"})


class MessageState(NamedTuple):
    """Flags, new-ness and keywords of one message."""

    flags: str = ""
    new: bool = True
    keywords: tuple[str, ...] = ()
    expunged: bool = False          # Thunderbird: already deleted, awaiting compaction


_NO_STATE = MessageState()


@lru_cache(maxsize=512)
def normalize(letters: str) -> str:
    """Sorted, de-duplicated standard letters of ``letters`` (few distinct inputs: cached)."""
    return "".join(sorted(set(letters) & set(LETTERS)))


def maildir_to_mbox(letters: str) -> str:
    """X-Status letters for Maildir ``letters`` (S and P have no X-Status letter)."""
    return "".join(c for c in XSTATUS_ORDER if XSTATUS_TO_MAILDIR[c] in letters)


_ASCII_BLANKS = re.compile(rb"[ \t\r\n]+")


def _split_keywords(value: bytes, separators: bytes = b" ") -> list[str]:
    """The keywords of a header value, split at ASCII blanks (and ``separators``) only:
    str.split() would also split at bytes 0x85 and 0xA0 of a UTF-8 keyword. Each keyword
    is decoded as UTF-8, undecodable bytes kept as surrogates, so keyword_bytes writes it
    back byte for byte."""
    for sep in separators:
        value = value.replace(bytes((sep,)), b" ")
    return [word.decode("utf-8", "surrogateescape") for word in _ASCII_BLANKS.split(value) if word]


def keyword_bytes(text: str) -> bytes:
    """A keyword (or a line of them) as the bytes it was read from (see _split_keywords)."""
    return text.encode("utf-8", "surrogateescape")


def _unique(words: list[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for word in words:
        seen.setdefault(word, None)
    return tuple(seen)


# What an IMAP keyword (an atom) cannot hold, nor X-Keywords (blank- or comma-separated)
_NOT_IN_KEYWORD = re.compile(r'[\x00-\x20\x7f(){%*"\\\],]+')


_SPLITS_KEYWORDS = re.compile(r"[ \t\r\n,]+")


def as_separated_keyword(name: str) -> str:
    """``name`` as one word of X-Keywords or a Babyl label list, which readers split at ASCII
    blanks and commas: each run of those becomes ``_`` ("a,b" -> a_b); nothing else changes."""
    return _SPLITS_KEYWORDS.sub("_", name) or "_"


def as_keyword(name: str) -> str:
    """``name`` made one IMAP keyword: what an atom cannot hold becomes ``_`` ("a b" -> a_b),
    so that X-Keywords, Maildir letters and Dovecot all keep it as one word."""
    return _NOT_IN_KEYWORD.sub("_", name.strip())


def _gmail_labels(value: str) -> list[str]:
    """The labels of an X-Gmail-Labels value (CSV), each made a keyword: "Category Updates"
    becomes Category_Updates, which Maildir, Dovecot and X-Keywords all keep as one."""
    import csv  # Gmail Takeout only: imported on demand
    try:
        labels = next(csv.reader([value]))
    except (csv.Error, StopIteration):
        labels = value.split(",")
    return [as_keyword(label) for label in labels if label.strip()]


def _evolution_state(value: bytes) -> tuple[str, list[str]] | None:
    """(flag letters, keywords) of an X-Evolution value; None when it is not one Evolution
    would read (it takes only the 8-4 hex form)."""
    text = value.decode("utf-8", "surrogateescape").replace("\r", "").replace("\n", "")
    m = _EVOLUTION.match(text)
    if not m:
        return None
    bits = int(m.group(2), 16)
    letters = "".join(letter for bit, letter in EVOLUTION_BITS.items() if bits & bit)
    keywords = [word for bit, word in EVOLUTION_JUNK_KEYWORDS.items() if bits & bit]
    for pm in _EVOLUTION_PARAM.finditer(text, m.end()):
        name, extended = pm.group(1).lower(), pm.group(2)
        raw = pm.group(3) if pm.group(3) is not None else pm.group(4)
        if pm.group(3) is not None:
            raw = re.sub(r"\\(.)", r"\1", raw)
        if extended:                                    # RFC 2231: charset'language'%XX
            from urllib.parse import unquote
            raw = unquote(raw.split("'", 2)[-1], encoding="utf-8", errors="surrogateescape")
        if name == "flags":                             # user flags: $Labelimportant, junk, ...
            keywords += [as_keyword(word) for word in raw.split(",") if word.strip()]
        elif name == "tags":                            # Evolution 2.x kept its label as a tag
            for tag in raw.split(","):
                key, _, label = tag.partition("=")
                if key.strip() == "label" and label.strip():
                    label = label.strip()
                    keywords.append(as_keyword(label if label.startswith("$Label") else "$Label" + label))
    return letters, keywords


def evolution_state(headers: Headers) -> MessageState | None:
    """The state an X-Evolution header gives (Evolution's MH folders have nothing else)."""
    found = _evolution_state(headers.get_all_raw(b"x-evolution")[0]) if b"x-evolution" in headers else None
    if found is None:
        return None
    letters, keywords = found
    return header_state(letters, keywords)


def mozilla_state(headers: Headers) -> MessageState | None:
    """The state Thunderbird keeps in a message's own X-Mozilla-Status(2) and X-Mozilla-Keys,
    as its maildir store does (its file names carry no flags); None without them."""
    if b"x-mozilla-status" not in headers:
        return None
    letters, _ = _moz_state(headers.get(b"x-mozilla-status"), headers.get(b"x-mozilla-status2"))
    keywords = [k for value in headers.get_all_raw(b"x-mozilla-keys") for k in _split_keywords(value)]
    return header_state(letters, keywords, False)


def header_state(letters: str, keywords: list[str] | tuple[str, ...], new: bool | None = None,
                 expunged: bool = False) -> MessageState:
    """A message's state from what a client recorded: the keyword $Forwarded stands for P
    (§3.4); ``new`` (None: when there is no flag and no keyword, as clients mark nothing
    on a message they have not shown)."""
    if new is None:
        new = not letters and not keywords
    keywords = list(keywords)
    if FORWARDED in keywords:
        letters += "P"
        keywords = [k for k in keywords if k != FORWARDED]
    return MessageState(normalize(letters), new, _unique(keywords), expunged)


def _moz_state(status: str | None, status2: str | None) -> tuple[str, bool]:
    try:
        low = int(status or "0", 16)
        high = int(status2 or "0", 16)
    except ValueError:
        return "", False
    letters = ""
    if low & MOZ_READ:
        letters += "S"
    if low & MOZ_REPLIED:
        letters += "R"
    if low & MOZ_MARKED:
        letters += "F"
    if low & (MOZ_FORWARDED | MOZ_REDIRECTED):
        letters += "P"
    if high & MOZ_IMAP_DELETED:
        letters += "T"
    return normalize(letters), bool(low & MOZ_EXPUNGED)


def from_mbox_headers(headers: Headers) -> MessageState:
    """Flags of an mbox/MMDF message by the §3.3 precedence, keywords from every source."""
    present = headers.names & _STATE_HEADERS
    if not present:
        return _NO_STATE
    if present <= _STATUS_HEADERS:                  # the usual case: only Status / X-Status
        return _status_state(headers.get(b"status") or "", headers.get(b"x-status") or "")
    keywords: list[str] = []
    names = headers.names
    if b"x-keywords" in names:
        for value in headers.get_all_raw(b"x-keywords"):
            keywords += _split_keywords(value, b", ")
    if b"x-mozilla-keys" in names:
        for value in headers.get_all_raw(b"x-mozilla-keys"):
            keywords += _split_keywords(value)
    if b"x-label" in names:
        for value in headers.get_all_raw(b"x-label"):
            keywords += _split_keywords(value, b", ")
    rmail_labels: list[str] = []
    if b"x-rmail-keywords" in names:
        for value in headers.get_all_raw(b"x-rmail-keywords"):
            rmail_labels += _split_keywords(value, b", ")
        keywords += list(from_rmail(rmail_labels)[1])
    status = headers.get(b"status")
    xstatus = headers.get(b"x-status")
    expunged = False
    gmail = headers.get_all_raw(b"x-gmail-labels")
    labels = gmail[0].replace(b"\r", b"").replace(b"\n", b"").decode("utf-8", "surrogateescape").strip() \
        if gmail else None
    if status is not None or xstatus is not None:
        letters, new = _status_state(status or "", xstatus or "")[:2]
    elif b"x-mozilla-status" in headers:
        letters, expunged = _moz_state(headers.get(b"x-mozilla-status"),
                                       headers.get(b"x-mozilla-status2"))
        new = not letters and not keywords
    elif b"x-evolution" in names and (evolution := _evolution_state(headers.get_all_raw(b"x-evolution")[0])):
        letters, user_flags = evolution
        keywords += user_flags
        new = not letters and not keywords
    elif b"x-rmail-attributes" in names:
        attributes = [RMAIL_ATTRIBUTES[c] for c in headers.get(b"x-rmail-attributes") or "" if c in RMAIL_ATTRIBUTES]
        letters = from_rmail(attributes + rmail_labels)[0]
        new = not letters and not keywords
    elif labels is not None:
        names = _gmail_labels(labels)
        lowered = {name.lower() for name in names}
        letters = "" if "unread" in lowered else "S"
        letters += "".join(GMAIL_FLAG_LABELS.get(name, "") for name in lowered)
        keywords += [n for n in names if n.lower() not in GMAIL_FLAG_LABELS and n.lower() != "unread"]
        new = "unread" in lowered
    else:
        letters, new = "", True
    return header_state(letters, keywords, new, expunged)


@lru_cache(maxsize=256)
def _status_state(status: str, xstatus: str) -> MessageState:
    """The state that Status (R = seen, O = not new) and X-Status (UW-IMAP letters) give."""
    letters = "S" if "R" in status else ""
    letters += "".join(XSTATUS_TO_MAILDIR.get(c, "") for c in xstatus)
    return MessageState(normalize(letters), "O" not in status)


def to_mbox_headers(flags: str, new: bool, keywords: tuple[str, ...] | list[str],
                    mozilla: bool = False) -> list[bytes]:
    """The Status / X-Status / X-Keywords header lines (§1.6 step 2) for this state.

    With ``mozilla``, also Thunderbird's: it reads an mbox's state from X-Mozilla-Status and
    X-Mozilla-Keys, and without them only from Status, where it takes ``O`` for read (an
    unread message that is not new would open read) and ignores X-Status (replied, flagged).
    Trashed has no Thunderbird bit that keeps the message in view, and is left out there.
    """
    lines = []
    status = ("R" if "S" in flags else "") + ("" if new else "O")
    if status:
        lines.append(b"Status: " + status.encode())
    xstatus = maildir_to_mbox(flags)
    if xstatus:
        lines.append(b"X-Status: " + xstatus.encode())
    words = list(keywords) + ([FORWARDED] if "P" in flags else [])
    if words:
        lines.append(b"X-Keywords: " + keyword_bytes(" ".join(words)))
    if mozilla:
        bits = (MOZ_READ * ("S" in flags) | MOZ_REPLIED * ("R" in flags) | MOZ_MARKED * ("F" in flags)
                | MOZ_FORWARDED * ("P" in flags))
        lines.append(b"X-Mozilla-Status: %04x" % bits)
        if keywords:
            lines.append(b"X-Mozilla-Keys: " + keyword_bytes(" ".join(keywords)))
    return lines


KEYWORD_PLACES = ("dovecot", "header", "both")   # --keywords: where a Maildir or MH keeps them


def keywords_header(keywords: tuple[str, ...] | list[str]) -> bytes:
    """An X-Keywords header line holding ``keywords`` (what mutt and NeoMutt read)."""
    return b"X-Keywords: " + keyword_bytes(" ".join(as_separated_keyword(k) for k in keywords))


_X_KEYWORDS = re.compile(rb"^x-keywords[ \t]*:", re.IGNORECASE | re.MULTILINE)


def file_keywords(data: bytes) -> list[str]:
    """The keywords an X-Keywords header inside a Maildir or MH message file holds (written
    by ``--keywords header``, by mutt, or for keywords beyond Dovecot's 26 letters)."""
    if not _X_KEYWORDS.search(data, 0, header_end(data)):       # never a body line
        return []
    words: list[str] = []
    for value in split_message(data)[0].get_all_raw(b"x-keywords"):
        words += _split_keywords(value, b", ")
    return words


class MaildirInfo(NamedTuple):
    """The parts of a Maildir file name: unique part, standard letters, keyword letters."""

    unique: str
    letters: str
    keyword_letters: str
    has_info: bool


INFO_SEPARATORS = ":!;,"


def parse_maildir_name(name: str) -> MaildirInfo:
    """Split a Maildir name at its last info separator followed by ``2,`` or ``1,`` (§2.5)."""
    if "2," not in name and "1," not in name:
        return MaildirInfo(name, "", "", False)
    best = name.rfind(":2,")
    rest = name[best + 3:]
    if best < 0 or "2," in rest or "1," in rest:     # not the usual ":2,<letters>" at the end
        best = -1
        for sep in INFO_SEPARATORS:
            for version in ("2,", "1,"):
                i = name.rfind(sep + version)
                if i > best:
                    best = i
    if best < 0:
        return MaildirInfo(name, "", "", False)
    unique, info = name[:best], name[best + 1:]
    if info.startswith("1,"):
        return MaildirInfo(unique, "", "", True)
    return MaildirInfo(unique, *_info_letters(info[2:].split(",", 1)[0]), True)


@lru_cache(maxsize=1024)
def _info_letters(chars: str) -> tuple[str, str]:
    """(flag letters, keyword letters) of an info part: few distinct values, so cached."""
    return "".join(c for c in chars if c.isupper()), "".join(c for c in chars if c.islower())


@lru_cache(maxsize=1024)
def maildir_info(flags: str, keyword_letters: str = "") -> str:
    """The ``:2,`` info suffix for these flags, letters in ASCII order."""
    return ":2," + "".join(sorted(set(flags) | set(keyword_letters)))
