"""``--layout fs``: a Maildir folder tree of nested directories with plain UTF-8 names.

Dovecot's ``LAYOUT=fs`` (``mail_location = maildir:~/Maildir:LAYOUT=fs:UTF-8``), and what
mutt and notmuch users browse: folder ``Work/2024`` is the Maildir ``DST/Work/2024`` (its own
cur/, new/, tmp/), INBOX is DST itself. Each level of a folder name must be exactly one safe
path component; a name that is not one is refused (the folder is reported, not converted),
never cut or rewritten into a path that would land elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

from .maildirfiles import is_control_file

LAYOUTS = ("maildir++", "fs")
MAILDIR_SUBDIRS = ("cur", "new", "tmp")


def name_max(directory: Path) -> int:
    """The longest file name (bytes) the file system under ``directory`` takes."""
    for path in (directory, *directory.parents):
        try:
            return os.pathconf(path, "PC_NAME_MAX")
        except (OSError, ValueError):
            continue
    return 255


def unsafe_level(level: str, limit: int) -> str | None:
    """Why ``level`` cannot be one directory name of an fs-layout tree, or None when it can."""
    if level in ("", ".", ".."):
        return f"the name {level!r} is no folder name"
    if "/" in level or "\0" in level:
        return "it holds '/' or NUL"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in level):
        return "it holds a control character"
    if level.startswith("."):
        return "it starts with '.' (hidden; Dovecot's own files start so)"
    if level in MAILDIR_SUBDIRS or is_control_file(level):
        return "it is the name of a Maildir's own directory or file"
    try:
        size = len(level.encode("utf-8"))
    except UnicodeEncodeError:
        return "it is not valid UTF-8"
    if size > limit:
        return f"it is {size} bytes long, more than the {limit} a file name may have here"
    return None


def fs_target(parts: list[str], dst: Path, limit: int | None = None) -> tuple[Path | None, str | None]:
    """(the Maildir of folder ``parts`` under ``dst``, None), or (None, why it is refused)."""
    if not parts or len(parts) == 1 and parts[0].upper() == "INBOX":      # IMAP: any case
        return dst, None
    limit = name_max(dst) if limit is None else limit
    for level in parts:
        why = unsafe_level(level, limit)
        if why is not None:
            return None, f"folder name {level!r} cannot be a directory of the fs layout: {why}"
    return dst.joinpath(*parts), None


def storage_name(parts: list[str]) -> str:
    """The name Dovecot's version 2 subscription list gives the folder (levels TAB-joined)."""
    return "\t".join(parts)
