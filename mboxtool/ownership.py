"""Whose files mboxtool creates: when root writes into a user's mailbox, the user's.

A root cron job that converts /var/mail/alice into /home/alice/Maildir must leave
files that alice, and Dovecot running as alice, can open: files of mode 0600
owned by root would be mail she cannot read. What mboxtool creates in a
destination is therefore given to the owner of the destination, or of its
nearest existing parent when the destination is new. Nothing changes when
mboxtool does not run as root, or when that owner is root.
"""

from __future__ import annotations

import os
from pathlib import Path

Owner = tuple[int, int] | None      # (uid, gid) to give new files and directories, or None


def owner_for(path: str | os.PathLike[str]) -> Owner:
    """The owner new files under ``path`` should get (None: leave them to whoever creates them)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    p = Path(os.path.abspath(path))
    while not p.exists() and p != p.parent:
        p = p.parent
    st = os.stat(p)
    return None if st.st_uid == 0 else (st.st_uid, st.st_gid)


def give(owner: Owner, target: int | str | os.PathLike[str]) -> None:
    """Hand a file or directory we created (an fd or a path) to ``owner``."""
    if owner is None:
        return
    if isinstance(target, int):
        os.fchown(target, *owner)
    else:
        os.chown(target, *owner, follow_symlinks=False)
