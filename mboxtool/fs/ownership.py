"""Whose files mboxtool creates: when root writes into a user's mailbox, the user's.

A root cron job that converts /var/mail/alice into /home/alice/Maildir must leave
files that alice, and Dovecot running as alice, can open: files of mode 0600
owned by root would be mail she cannot read. What mboxtool creates in a
destination is therefore given to the owner of the destination, or of its
nearest existing parent when the destination is new. Nothing changes when
mboxtool does not run as root, or when that owner is root.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError

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


@dataclass(frozen=True)
class User:
    """A user mboxtool may work as: ``name`` is for messages only."""

    uid: int
    gid: int
    name: str


def parse_owner(spec: str) -> User:
    """``USER`` or ``USER:GROUP`` (names or numbers) as a User; UsageError when unknown."""
    name, _, group = spec.partition(":")
    try:
        pw = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except (KeyError, OverflowError):
        raise UsageError(f"--owner {spec}: no such user {name!r}") from None
    gid = pw.pw_gid
    if group:
        try:
            gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        except KeyError:
            raise UsageError(f"--owner {spec}: no such group {group!r}") from None
    return User(pw.pw_uid, gid, pw.pw_name)


def user_of(uid: int, fallback_gid: int) -> User:
    """The User with id ``uid``: the password database's primary group, or ``fallback_gid``."""
    try:
        pw = pwd.getpwuid(uid)
    except KeyError:
        return User(uid, fallback_gid, str(uid))
    return User(uid, pw.pw_gid, pw.pw_name)


def path_owner(path: str | os.PathLike[str]) -> User:
    """Whose mailbox ``path`` is: the owner of the path itself. A symlink belongs to whoever
    made it, except that one made by root stands for its target (root vouched for it)."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) and st.st_uid == 0:
        st = os.stat(path)
    return user_of(st.st_uid, st.st_gid)


def acting_user(source: str | os.PathLike[str], owner: str | None = None) -> User | None:
    """Whom the work on ``source`` must run as, or None to run as the caller.

    The rule, the same for whom the work runs as and who owns what it creates: when
    mboxtool runs as root, ``owner`` (``--owner USER[:GROUP]``) if given, else the owner of
    the source (an mbox's file, a Maildir's or MH folder's directory, a tree's root). A
    root-owned source with no ``owner`` runs as root, as do a missing source (nothing to
    read) and ``owner`` root. Not root: None, and an ``owner`` other than the caller is an
    error (only root may act for someone else).
    """
    user = parse_owner(owner) if owner else None
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        if user is not None and user.uid != os.geteuid():
            raise UsageError(f"--owner {owner}: only root can work as another user")
        return None
    if user is None:
        if not os.path.lexists(source):
            return None
        user = path_owner(source)
    return None if user.uid == 0 else user
