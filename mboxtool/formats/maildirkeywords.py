"""Keywords in Maildir file names: the letters of the info part (``:2,Sa``), which Dovecot's
``dovecot-keywords`` file names, and the characters beyond the flags, kept as
``$MaildirFlag_<c>`` keywords (§6)."""

from __future__ import annotations

from pathlib import Path

from ..fs.safefs import read_control
from ..model import flags

KEYWORDS_FILE = "dovecot-keywords"
MAX_KEYWORD_LETTERS = 26
FLAG_KEYWORD = "$MaildirFlag_"


def read_keyword_map(path: Path) -> dict[int, str]:
    """Dovecot's ``dovecot-keywords``: letter index -> keyword name."""
    mapping: dict[int, str] = {}
    try:
        text = read_control(path / KEYWORDS_FILE).decode("utf-8", "surrogateescape")   # as flags.keyword_bytes
    except OSError:
        return mapping
    for line in text.split("\n"):                          # not splitlines(): U+0085 may be in a keyword
        number, _, name = line.rstrip("\r").partition(" ")
        name = name.strip(" \t")
        if number.isdigit() and name and int(number) < MAX_KEYWORD_LETTERS:
            mapping[int(number)] = name
    return mapping


def odd_flags(name: str, info: flags.MaildirInfo) -> str:
    """The characters after ``:2,`` that are neither flags nor Dovecot keyword letters
    (``!``, ``%``, digits, unknown capitals), in name order."""
    if not info.has_info or name[len(info.unique) + 1:len(info.unique) + 3] != "2,":
        return ""
    chars = name[len(info.unique) + 3:].split(",", 1)[0]
    return "".join(dict.fromkeys(c for c in chars if not c.islower() and c not in flags.LETTERS))


def flag_of_keyword(word: str) -> str | None:
    """The name character a ``$MaildirFlag_<c>`` keyword keeps (read from a name, §6), when
    it can go back into a name as itself; None for any other keyword."""
    if not word.startswith(FLAG_KEYWORD) or len(word) != len(FLAG_KEYWORD) + 1:
        return None
    c = word[-1]
    return c if c.isprintable() and not c.isspace() and not c.islower() and c not in "/,:" else None
