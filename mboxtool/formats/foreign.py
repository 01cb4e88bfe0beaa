"""Digests of the messages other programs put into a Maildir destination.

mboxtool's own file names carry each message's digest (model/digest.py), so a re-run
knows them from a listing alone. A message another program delivered (an
earlier migration by another tool, the stdlib, a mail server) has a name
without one: it is read and digested once, and its digest kept by unique name
in ``.mboxtool-digests`` beside the mail, so that later runs read only the
files they have not seen. Converting a source into a Maildir that another tool
filled from it then adds nothing twice, and a re-run still costs a listing.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..fs.durable import replace_file
from ..fs.safefs import LARGE_CONTROL_CAP, read_control
from ..model.digest import short_digest
from ..model.flags import parse_maildir_name

CACHE_NAME = ".mboxtool-digests"


def read_cache(maildir: Path) -> dict[str, int]:
    """unique name -> digest, as the last run left them (empty when unknown or unreadable)."""
    try:
        text = read_control(maildir / CACHE_NAME, cap=LARGE_CONTROL_CAP).decode("utf-8", "surrogateescape")
    except (OSError, ValueError):
        return {}
    cache = {}
    for line in text.splitlines():
        unique, _, digest = line.rpartition(" ")
        try:
            cache[unique] = int(digest, 16)
        except ValueError:                          # a damaged line: that file is read again
            continue
    return cache


def foreign_digests(maildir: Path, files: list[str], owner=None, fsync: bool = True,
                    save: bool = True) -> set[int]:
    """Digests of ``files`` (``new/NAME`` or ``cur/NAME``: messages without mboxtool's names).

    Files whose unique name the cache knows are not read. With ``save``, the cache is
    written back when it changed: new files added, files that are gone dropped.
    """
    cache = read_cache(maildir)
    found: dict[str, int] = {}
    for relpath in files:
        unique = parse_maildir_name(relpath.split("/", 1)[1]).unique
        digest = cache.get(unique)
        if digest is None:
            digest = _digest_file(maildir / relpath)
            if digest is None:                       # gone, unreadable, a link: not ours to judge
                continue
        found[unique] = digest
    if save and found != cache:
        text = "".join(f"{unique} {digest:016x}\n" for unique, digest in sorted(found.items()))
        try:
            replace_file(CACHE_NAME, text.encode("utf-8", "surrogateescape"), maildir, owner, fsync)
        except OSError:                              # only a shortcut for next time is lost
            pass
    return set(found.values())


def _digest_file(path: Path) -> int | None:
    """The digest of the message in ``path``; None when it cannot be read as a plain file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as fh:
            return short_digest(fh.read())
    except OSError:
        return None
