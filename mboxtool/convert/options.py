"""ConvertOptions: everything ``mboxtool convert`` can be asked for (docs/convert.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..formats.compression import MAX_RATIO


@dataclass
class ConvertOptions:
    """Everything ``mboxtool convert`` can be asked for."""

    from_format: str | None = None
    to_format: str | None = None
    variant: str = "mboxrd"
    source_variant: str | None = None
    fsync: bool = True
    lock: bool = True
    lock_timeout: float = 30
    dry_run: bool = False
    verify: bool = False
    move: bool = False
    from_tz: str = "auto"
    include_expunged: bool = False
    dotlock: bool = True                  # False: fcntl only (spool directory not writable)
    in_tree: bool = False                 # one folder of a --recursive run: its subfolders are taken care of
    missing_ok: bool = False              # a missing SRC is an empty mailbox (a spool before its first mail)
    subscribe: bool = True                # a new Maildir++ folder goes into Dovecot's subscriptions
    thunderbird: bool = False             # mbox: also X-Mozilla-Status / X-Mozilla-Keys
    keywords: str = "dovecot"             # Maildir, MH: where keywords go (flags.KEYWORD_PLACES)
    layout: str = "maildir++"             # --recursive Maildir: maildir++ (.A.B) or fs (A/B, fslayout.py)
    notmuch_tags: Any = None              # a path (or a notmuch.TagFile a tree shares): --notmuch-tags
    max_ratio: float | None = MAX_RATIO   # a compressed mbox: bound of its copy (compression.py)
    quarantine: str | None = None         # --move: where to set aside what cannot be converted
