"""``mboxtool convert``: parse the options, convert one mailbox or a tree, render, exit."""

from __future__ import annotations

from pathlib import Path

import click

from ..convert.mailbox import ConvertOptions, convert_mailbox, owner_plan
from ..convert.tree import convert_tree
from ..formats.compression import MAX_RATIO
from ..formats.fslayout import LAYOUTS
from ..model.flags import KEYWORD_PLACES
from ..render import convert_notes, convert_summary
from .common import (
    FORMAT,
    SECONDS,
    VARIANT,
    absolute,
    finish,
    from_tz_option,
    json_option,
    progress_bar,
    quiet_option,
    source_options,
    status_of,
    user_errors,
    warn,
)


@click.command()
@click.argument("src", type=click.Path(path_type=Path, readable=False))
@click.argument("dst", type=click.Path(path_type=Path, readable=False))
@source_options
@click.option("--to", "to_format", type=FORMAT, default=None,
              help="Destination format (default: that of an existing DST, else maildir for an "
                   "mbox source and mbox for the others).")
@click.option("--variant", type=VARIANT, default="mboxrd", show_default=True,
              help="mbox variant to write.")
@click.option("--recursive", "-r", is_flag=True, help="Convert a folder tree (mbox files with NAME.sbd/ "
              "subfolders <-> Maildir++ .NAME.SUB folders).")
@click.option("--move", is_flag=True, help="Remove each message from SRC once it is durable in DST. "
              "Parts of an mbox or MMDF file that cannot be converted are first set aside in a "
              "quarantine file (DST/.mboxtool-quarantine/, or DST.quarantine/ beside a file "
              "destination), and the run exits 1.")
@click.option("--quarantine", "quarantine", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="With --move: set aside what cannot be converted in DIR instead.")
@click.option("--verify", is_flag=True, help="Re-read DST and compare digests, flags and dates with SRC.")
@click.option("--dry-run", is_flag=True, help="Report what would be written; write nothing.")
@click.option("--no-fsync", is_flag=True, help="Skip fsync: faster, but a crash may lose the last batch.")
@click.option("--lock/--no-lock", default=True, show_default=True, help="Lock mbox files as MDAs do.")
@click.option("--lock-timeout", type=SECONDS, default=30, show_default=True, metavar="SECONDS",
              help="Give up (exit 75) when a lock cannot be had within this time.")
@click.option("--fcntl-only", is_flag=True,
              help="Lock mbox files with fcntl only, without PATH.lock (for spool directories you "
                   "cannot write; safe when every writer takes an fcntl lock: Postfix, Dovecot and "
                   "procmail do, qmail does not).")
@from_tz_option
@click.option("--include-expunged", is_flag=True,
              help="Keep Thunderbird messages marked Expunged (as trashed) instead of skipping them.")
@click.option("--missing-ok", is_flag=True,
              help="A missing SRC is an empty mailbox, not an error (a spool before its first "
                   "delivery, in a cron job): convert nothing and exit 0.")
@click.option("--subscribe/--no-subscribe", default=True, show_default=True,
              help="Add the Maildir++ folders made (.NAME under a Maildir) to Dovecot's subscriptions: "
                   "IMAP clients such as Thunderbird show only subscribed folders.")
@click.option("--thunderbird", is_flag=True,
              help="Writing mbox: also X-Mozilla-Status and X-Mozilla-Keys, from which Thunderbird "
                   "reads read, replied, flagged, forwarded and tags (from Status it takes only "
                   "read, and takes O for read). Not for an mbox an IMAP server serves: its "
                   "clients would see these headers.")
@click.option("--owner", metavar="USER[:GROUP]", default=None,
              help="Run as root: whose mail this is. The work runs as that user and what it creates "
                   "is theirs (default: the owner of SRC; a root-owned SRC runs as root). A DST "
                   "owned by someone else, or that the user cannot reach, is refused (exit 2).")
@click.option("--keywords", "keyword_places", type=click.Choice(KEYWORD_PLACES), default="dovecot",
              show_default=True,
              help="Writing Maildir or MH, where keywords (labels, tags) go: dovecot: Maildir letters "
                   "named in dovecot-keywords (Dovecot; MH: sequences); header: an X-Keywords header "
                   "in the message file (mutt, NeoMutt); both.")
@click.option("--layout", type=click.Choice(LAYOUTS), default="maildir++", show_default=True,
              help="With --recursive into a Maildir: maildir++ folders (.Work.2024, names in IMAP's "
                   "UTF-7), or fs: nested directories with plain UTF-8 names (Work/2024, Dovecot's "
                   "LAYOUT=fs:UTF-8, what mutt and notmuch users browse). A folder whose name cannot "
                   "be one safe directory name per level is reported and not converted.")
@click.option("--notmuch-tags", type=click.Path(path_type=Path, dir_okay=False), default=None, metavar="FILE",
              help="Also write the keywords as a 'notmuch tag --batch' file: after 'notmuch new', "
                   "'notmuch tag --batch --input=FILE' gives every message its labels.")
@click.option("--max-ratio", type=click.FloatRange(min=0, max=1e9), default=MAX_RATIO, show_default=True,
              metavar="N", help="A compressed mbox (decompressed into $TMPDIR) may grow to 16 MiB plus N "
              "times its size; beyond that it is refused as a decompression bomb (exit 2). 0: no bound.")
@quiet_option
@json_option
def convert(src, dst, from_format, source_variant, to_format, variant, recursive, move, verify,
            dry_run, no_fsync, lock, lock_timeout, fcntl_only, from_tz, include_expunged, missing_ok,
            subscribe, thunderbird, keyword_places, layout, notmuch_tags, owner, max_ratio, quarantine, quiet,
            as_json):
    """Convert every message of SRC into DST, streaming and losslessly.

    Example: mboxtool convert samples/inbox.mbox ~/Maildir
    """
    if max_ratio != max_ratio:                        # NaN: no comparison would ever stop the copy
        raise click.BadParameter("a number, 0 or more", param_hint="--max-ratio")
    if quarantine is not None and not move:
        raise click.BadParameter("only --move empties a source; without it nothing is set aside",
                                 param_hint="--quarantine")
    if layout != "maildir++" and not recursive:
        raise click.BadParameter("a folder layout needs --recursive", param_hint="--layout")
    options = ConvertOptions(from_format=from_format, to_format=to_format, variant=variant.lower(),
                             source_variant=source_variant.lower() if source_variant else None,
                             fsync=not no_fsync, lock=lock, lock_timeout=lock_timeout,
                             dry_run=dry_run, verify=verify, move=move, from_tz=from_tz,
                             include_expunged=include_expunged, dotlock=not fcntl_only,
                             missing_ok=missing_ok, subscribe=subscribe, thunderbird=thunderbird,
                             keywords=keyword_places, layout=layout, notmuch_tags=notmuch_tags,
                             max_ratio=max_ratio or None,
                             quarantine=str(quarantine) if quarantine else None)
    with user_errors(), progress_bar("converting", not (quiet or as_json)) as bar:
        work = owner_plan(src, dst, options, owner)
        if work is not None:                    # root over a user's mail: from here on, that user
            src, dst = absolute(src), absolute(dst)
            work.enter()
        if recursive:
            report = convert_tree(src, dst, options, owner=owner, progress=bar.update,
                                  warn=None if quiet else warn, progress_total=bar.start)
        else:                                   # owner: --owner root must not fall back to SRC's owner
            report = convert_mailbox(src, dst, options, progress=bar.update,
                                     warn=None if quiet else warn, progress_total=bar.start, owner=owner)
    if not as_json:
        for line in convert_notes(report, quiet):
            click.echo(line, err=True)
    finish(as_json, report.to_dict(), None if quiet and report.ok else convert_summary(report),
           status_of(report.ok))
