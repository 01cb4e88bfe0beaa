"""Courier-IMAP's keywords: kept beside the messages, not in their file names.

A Maildir served by Courier-IMAP keeps IMAP keywords in ``courierimapkeywords/``:

* ``:list`` — the keyword names, one per line, an empty line, then one line per
  message ``<unique name>:<index> <index> ...`` (indexes into the names);
* update files written since ``:list`` was last rebuilt, one per message, each
  holding that message's whole keyword set, one name per line (an empty file
  clears it): ``<unique name>`` is the newest, else ``.<N>.<unique name>`` with
  the highest N. ``.tmp.*`` files are scratch.

The unique name is the file name without its info part (``:2,...``). An update
replaces what ``:list`` says; this is how Courier itself reads them
(maildirkeywords.c). Only messages that have keywords take memory.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..fs.safefs import open_dir
from ..model.flags import as_keyword
from .common import read_regular_file

KEYWORD_DIR = "courierimapkeywords"


def _lines(data: bytes) -> list[str]:
    # keywords keep their bytes, as everywhere in mboxtool (flags.keyword_bytes)
    return data.decode("utf-8", "surrogateescape").split("\n")


def _names_until_blank(lines: list[str]) -> tuple[list[str], int]:
    """The keywords named up to the first empty line, and the index after it. Courier-IMAP
    refuses blanks and IMAP specials in a keyword; a hand-made one is made an atom."""
    names = []
    for i, line in enumerate(lines):
        line = line.rstrip("\r")
        if not line:
            return names, i + 1
        names.append(as_keyword(line) or "_")
    return names, len(lines)


def _unique(name: str) -> str:
    return name.split(":", 1)[0]


def read_courier_keywords(maildir: Path) -> dict[str, tuple[str, ...]]:
    """Unique name -> keywords, for every message Courier-IMAP gave a keyword to."""
    folder = maildir / KEYWORD_DIR
    try:
        folder_fd = open_dir(folder)                   # never a link out of the Maildir
    except OSError:                                    # no Courier keywords here
        return {}
    try:
        return _read_keywords(folder_fd)
    finally:
        os.close(folder_fd)


def _read_keywords(folder: int) -> dict[str, tuple[str, ...]]:
    try:
        entries = os.listdir(folder)
    except OSError:
        return {}
    found: dict[str, tuple[str, ...]] = {}
    try:
        lines = _lines(read_regular_file(":list", folder))
    except OSError:
        lines = []
    names, start = _names_until_blank(lines)
    for line in lines[start:]:
        unique, sep, numbers = line.rstrip("\r").partition(":")
        if not sep or not unique:
            continue                                   # Courier skips such lines too
        words = [names[int(n)] for n in numbers.split() if n.isdigit() and int(n) < len(names)]
        if words:
            found[unique] = tuple(dict.fromkeys(words))

    newest: dict[str, tuple[int, str]] = {}            # unique -> (rank, file name) of its newest update
    for entry in entries:
        if entry.startswith(":"):
            continue
        if entry.startswith("."):
            number, dot, rest = entry[1:].partition(".")
            if not dot or not number.isdigit() or not rest:
                continue                               # .tmp.* scratch files and strangers
            unique, rank = _unique(rest), int(number)
        else:
            unique, rank = _unique(entry), 1 << 62     # a plain name beats every numbered one
        if unique not in newest or rank > newest[unique][0]:
            newest[unique] = (rank, entry)
    for unique, (_, entry) in newest.items():
        try:
            words, _ = _names_until_blank(_lines(read_regular_file(entry, folder)))
        except OSError:
            continue                                   # replaced while we looked: :list stands
        if words:
            found[unique] = tuple(dict.fromkeys(words))
        else:
            found.pop(unique, None)
    return found
