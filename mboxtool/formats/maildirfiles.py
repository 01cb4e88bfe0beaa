"""What a Maildir directory holds (§2, §6): which directories are Maildirs (or Maildir++ folders,
or one being made), which files are messages, which are a server's control files, and which
in tmp/ a delivery abandoned."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..fs.safefs import open_dir
from ..model.message import is_header_line

CONTROL_FILES = ("dovecot-uidlist", "dovecot-keywords", "maildirsize", "maildirfolder",
                 "subscriptions", "courierimapuiddb", "courierimapkeywords", "dovecot.index",
                 "dovecot.index.log")


def is_control_file(name: str) -> bool:
    """A file a mail server or client keeps in a Maildir that is not a message."""
    return name in CONTROL_FILES or name.startswith(("dovecot", "courier"))


STALE_TMP_SECONDS = 36 * 3600


def stale_tmp_files(path: Path, now: float | None = None) -> list[str]:
    """Names of the files in the Maildir's tmp/ a delivery abandoned: neither written nor read
    for 36 hours (the rule qmail's readers clean tmp/ by). Not mail by the Maildir rules."""
    now = time.time() if now is None else now
    stale = []
    try:
        fd = open_dir(path / "tmp")                        # a linked tmp/ is not listed
    except OSError:
        return []
    try:
        with os.scandir(fd) as it:
            for entry in it:
                if entry.name.startswith("."):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:                            # gone meanwhile
                    continue
                if now - st.st_mtime > STALE_TMP_SECONDS and now - st.st_atime > STALE_TMP_SECONDS:
                    stale.append(entry.name)
    except OSError:
        return []
    finally:
        os.close(fd)
    return sorted(stale)


def is_message_file(head: bytes) -> bool:
    """True when the bytes of a file in new/ or cur/ start like a message: a header field, the
    From_ line some tools leave at the top, or the empty line of an empty header section,
    after a byte-order mark if one is there (Windows tools write one). Anything else (an
    image, an editor's file) is no message (§6 foreign-file)."""
    skip = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    nl = head.find(b"\n", skip, 1000)
    first = head[skip:nl if nl >= 0 else 1000].rstrip(b"\r")
    return (not first and nl >= 0) or is_header_line(first) or first.startswith(b"From ")


def is_maildir(path: Path) -> bool:
    try:
        return (path / "cur").is_dir() and (path / "new").is_dir()
    except PermissionError:             # a link to a directory its owner may not enter: not theirs
        return False


def being_made(path: Path) -> bool:
    """A directory that holds nothing but some of tmp/, new/ and cur/: a Maildir that another
    run (an overlapping cron job) is creating this very moment, not a foreign directory."""
    try:
        names = os.listdir(path)
    except OSError:
        return False
    return bool(names) and set(names) <= {"tmp", "new", "cur"}


def maildir_folders(root: Path) -> list[str]:
    """The Maildir++ folders (``.Name`` Maildirs) directly under ``root``, sorted by name."""
    return sorted(n for n in os.listdir(root) if n.startswith(".") and n not in (".", "..")
                  and not (root / n).is_symlink() and is_maildir(root / n))   # a link leads out of the tree
