"""The command line: each command parses, makes one library call, renders, picks the exit code."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import click

from .cli_common import (  # noqa: F401  (EXIT_*: the exit statuses, named once)
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_TEMPFAIL,
    EXIT_UNUSABLE,
    FORMAT,
    JSON_HELP,
    SECONDS,
    SOURCE_FORMAT,
    VARIANT,
    UnusableInput,
    json_option,
    quiet_option,
    user_errors,
    warn,
)
from .convert.mailbox import ConvertOptions, convert_mailbox
from .errors import UsageError
from .formats.compression import MAX_RATIO
from .fs.durable import reuse_large_buffers
from .model.flags import KEYWORD_PLACES
from .output import ProgressBar, dump_document, error_document
from .version import __version__


class Terminated(KeyboardInterrupt):
    """SIGTERM (cron's timeout, systemd's stop, kill), raised where the program is, so that
    it unwinds as for Ctrl-C: locks released, a half-made repair copy removed, the writer
    processes left to finish what they were handed."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


class _Commands(click.Group):
    """The command group: an interrupted command says so in one line, not click's 'Aborted!'
    and exit 1, which scripts would read as a run that ended with problems."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # a --json run that fails, even on its own usage, still prints a JSON document
        ctx.meta["json"] = "--json" in (args[:args.index("--")] if "--" in args else args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        _tolerant_streams()                 # here too, for callers of cli() that bypass main()
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            name, code = ("SIGTERM", EXIT_SIGTERM) if isinstance(exc, Terminated) else ("SIGINT", EXIT_SIGINT)
            click.echo(f"mboxtool: interrupted ({name}); nothing was left half-written, "
                       "running the same command again finishes the job", err=True)
            _json_error(ctx, f"interrupted ({name})", code)
            ctx.exit(code)
        except click.exceptions.ClickException as exc:
            _json_error(ctx, exc.format_message(), exc.exit_code)
            raise
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            # a case nobody foresaw (a bug, most likely met on odd input): still one line and
            # the exit code of an input that cannot be used; the cleanup above has run
            if os.environ.get("MBOXTOOL_DEBUG"):
                raise
            message = f"internal error ({type(exc).__name__}: {exc}); this is a bug, " \
                      "please report it (MBOXTOOL_DEBUG=1 shows where)"
            click.echo(f"mboxtool: error: {message}", err=True)
            _json_error(ctx, message, EXIT_UNUSABLE)
            ctx.exit(EXIT_UNUSABLE)


def _json_error(ctx: click.Context, message: str, code: int) -> None:
    if ctx.meta.get("json"):
        try:
            click.echo(error_document(message, code))
        except OSError:                     # stdout gone: the stderr line and the exit code remain
            pass


def source_options(f):
    f = click.option("--source-variant", type=VARIANT, default=None,
                     help="Read the mbox as this variant instead of detecting it.")(f)
    f = click.option("--from", "from_format", type=SOURCE_FORMAT, default=None,
                     help="Force the source format instead of detecting it (eml: a message file, "
                          "or a directory of them).")(f)
    return f


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mboxtool")
def cli() -> None:
    """Convert, inspect, validate and repair mailboxes: mbox, Maildir, MH, MMDF, Babyl."""


def _zone(ctx, param, value: str) -> str:
    if value not in ("auto", "utc", "local") and not _is_offset(value):
        raise click.BadParameter("use auto, utc, local or +HHMM/-HHMM")
    return value


def from_tz_option(f):
    return click.option("--from-tz", default="auto", show_default=True, metavar="auto|utc|local|+HHMM",
                        callback=_zone,
                        help="Time zone of From_ dates written without one. auto: the zone a "
                             "Received: header proves (its wall-clock time agrees with the From_ "
                             "time within two minutes), else the zone last proven in the file, "
                             "else UTC.")(f)


@cli.command()
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
@click.option("--layout", type=click.Choice(("maildir++", "fs")), default="maildir++", show_default=True,
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
    bar = ProgressBar(not (quiet or as_json), "converting")
    with user_errors():
        from .convert.mailbox import owner_plan
        work = owner_plan(src, dst, options, owner)
        if work is not None:                    # root over a user's mail: from here on, that user
            src, dst = _absolute(src), _absolute(dst)
            work.enter()
        try:
            if recursive:
                from .convert.tree import convert_tree
                report = convert_tree(src, dst, options, owner=owner, progress=bar.update,
                                      warn=None if quiet else warn, progress_total=bar.start)
            else:                               # owner: --owner root must not fall back to SRC's owner
                report = convert_mailbox(src, dst, options, progress=bar.update,
                                         warn=None if quiet else warn, progress_total=bar.start, owner=owner)
        finally:
            bar.close()
    if as_json:
        click.echo(dump_document(report.to_dict()))
    else:
        _print_convert(report, quiet)
    sys.exit(EXIT_OK if report.ok else EXIT_PROBLEMS)


def _absolute(path: Path) -> Path:
    """``path`` made absolute before giving up root: root's working directory (/root) may be
    out of the user's reach."""
    return Path(os.path.abspath(path))


def _as_owner_of(path: Path, writes: Path | None = None) -> tuple[Path, Path | None]:
    """Run as root on a user's mailbox: become that user for the rest of the command
    (privsep). ``writes``: a new file the command makes (repair's copy), which the user must
    be able to create. Returns the paths to use from now on."""
    from .fs.privsep import plan
    work = plan(path)
    if work is None:
        return path, writes
    path, writes = _absolute(path), writes and _absolute(writes)
    work.enter()
    if writes is not None and not os.access(writes.parent, os.W_OK | os.X_OK):
        raise UsageError(f"{writes}: {work.user.name} (whose mailbox {path} is, and who this runs as) "
                         f"cannot write in {writes.parent}; choose a destination {work.user.name} can write")
    return path, writes


def _is_offset(text: str) -> bool:
    return len(text) == 5 and text[0] in "+-" and text[1:].isdigit()


def _print_convert(report, quiet: bool) -> None:
    for item in report.excluded:
        if not quiet:
            warn(f"{report.source}: message {item['key']} not converted: {item['reason']}")
    for item in report.warnings:
        if not quiet:
            where = f" at offset {item['offset']}" if "offset" in item else \
                f" ({item['key']})" if "key" in item else ""
            warn(f"{report.source}: {item.get('message') or item['code']}{where}")
    for err in report.errors:
        where = f"message {err['key']}: " if "key" in err else ""
        at = f" (offset {err['offset']})" if "offset" in err else ""
        click.echo(f"mboxtool: error: {where}{err['message']}{at}", err=True)
    for path in report.quarantine_files:           # a problem: said even with --quiet
        spans = [s for s in report.quarantine_spans if s["file"] == path]
        at = ", ".join(str(s["offset"]) for s in spans[:5]) + (", ..." if len(spans) > 5 else "")
        click.echo(f"mboxtool: error: {report.source}: {len(spans)} part(s) that could not be converted "
                   f"({sum(s['length'] for s in spans)} bytes at offset {at}) set aside in {path}; "
                   "the source was emptied", err=True)
    verb = "would convert" if report.dry_run else "converted"
    line = (f"{verb} {report.converted} messages ({report.bytes} bytes) from {report.source} "
            f"({report.source_format}) to {report.destination} ({report.destination_format})"
            f"; {report.skipped} already there, {report.failed} failed")
    if report.verified is not None:
        line += "; verified" if report.verified else "; VERIFY FAILED"
    if report.resumed_at:
        line += f" (read from byte {report.resumed_at}: the part before was converted by an earlier run)"
    if report.subscribed:
        line += f"; subscribed {len(report.subscribed)} new folder(s) in Dovecot's list"
    if report.stopped:
        line += "; STOPPED by a write error before the end of the source"
    if report.quarantined:
        line += f"; {report.quarantined} quarantined"
    if not quiet or not report.ok:
        click.echo(line)


def _tolerant_streams() -> None:
    """Text that cannot be encoded (a C or Latin-1 locale in cron, a keyword's undecodable
    bytes) is written escaped, never turned into a traceback."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError):
            pass


def main() -> None:
    _tolerant_streams()
    reuse_large_buffers()
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_terminated)
    cli(prog_name="mboxtool")


# -- inspection ------------------------------------------------------------------------

def _lock_options(f):
    f = click.option("--lock-timeout", type=SECONDS, default=30, show_default=True, metavar="SECONDS",
                     help="Give up (exit 75) when the shared lock cannot be had in time.")(f)
    f = click.option("--lock/--no-lock", default=True, show_default=True,
                     help="Take a shared fcntl lock on mbox files while reading.")(f)
    return f


def _damage_note(path, damage: dict) -> None:
    if damage:
        kinds = ", ".join(sorted(damage))
        warn(f"{path}: the mailbox is damaged ({kinds}); 'mboxtool validate {path}' explains")


@cli.command()
@click.argument("path", type=click.Path(path_type=Path, readable=False))
@source_options
@click.option("--recursive", "-r", is_flag=True, help="Summarise every mailbox in a folder tree (--json: one "
              "object: totals, the damaged folders by name, and a folders list of one object each).")
@click.option("--top", type=click.IntRange(1), default=10, show_default=True, help="How many top senders.")
@from_tz_option
@_lock_options
@json_option
def info(path, from_format, source_variant, recursive, top, from_tz, lock, lock_timeout, as_json):
    """Summarise a mailbox: format, variant, counts, dates, flags, senders, messages per year.

    Example: mboxtool info samples/inbox.mbox
    """
    from .inspection import mailbox_info
    from .render import info_text, tree_document, tree_text
    with user_errors():
        path, _ = _as_owner_of(path)
        if recursive:
            from .inspection import tree_info
            rows = tree_info(path, lock=lock, lock_timeout=lock_timeout, from_tz=from_tz)
            if as_json:
                click.echo(dump_document(tree_document(path, rows)))
            else:
                click.echo(tree_text(rows))
            for row in rows:                         # as for one mailbox: damage is said, once a folder
                _damage_note(row["path"], row["damage"])
            return
        bar = ProgressBar(not as_json, "reading")
        try:
            result = mailbox_info(path, from_format, source_variant, lock, lock_timeout,
                                  progress=bar.update, progress_total=bar.start, from_tz=from_tz)
        finally:
            bar.close()
    if as_json:
        click.echo(dump_document(result.to_dict(top)))
    else:
        click.echo(info_text(result.to_dict(top)))
    _damage_note(path, result.damage)


def _parse_day(value: str | None, end: bool = False) -> int | None:
    if value is None:
        return None
    import datetime as dt
    try:
        day = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc
    if day.tzinfo is None:
        day = day.replace(tzinfo=dt.timezone.utc)
    if end and len(value) <= 10:
        day += dt.timedelta(days=1)
    return int(day.timestamp())


@cli.command(name="list")
@click.argument("path", type=click.Path(path_type=Path, readable=False))
@source_options
@click.option("--since", metavar="DATE", help="Only messages delivered on or after DATE (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", help="Only messages delivered on or before DATE.")
@click.option("--from-address", metavar="TEXT", help="Only messages whose From: contains TEXT.")
@click.option("--subject", "subject_filter", metavar="TEXT", help="Only subjects containing TEXT.")
@click.option("--flag", "with_flags", metavar="LETTERS", default="", help="Only messages with all these flags.")
@click.option("--no-flag", "without_flags", metavar="LETTERS", default="",
              help="Only messages with none of these flags (e.g. --no-flag S: unread).")
@click.option("--limit", type=click.IntRange(0), default=None, help="Stop after N rows.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row.")
@click.option("--columns", metavar="NAME,...", default=None,
              help="The columns of the table (and of --csv), comma-separated, from: index, key, date, "
                   "from, envelope_from, delivered_to, to, message_id, subject, flags, size, new, "
                   "keywords (default: index,date,from,subject,flags,size; --csv: all).")
@from_tz_option
@_lock_options
@click.option("--json", "as_json", is_flag=True,
              help='JSON lines: one JSON object per message, each with "schema": 1 (not one document); '
                   'a run that fails ends with a line {"schema": 1, "error": ..., "exit": N}.')
def list_(path, from_format, source_variant, since, until, from_address, subject_filter,
          with_flags, without_flags, limit, as_csv, columns, from_tz, lock, lock_timeout, as_json):
    """One row per message: index, key, date, sender, subject, flags, size; the envelope
    sender (From_ line or Return-Path), envelope recipient (Delivered-To or X-Original-To),
    To and Message-ID in --json, --csv and --columns.

    Example: mboxtool list --no-flag S samples/inbox.mbox
    """
    from .inspection import Inspection
    from .render import RowPrinter
    lo, hi = _parse_day(since), _parse_day(until, end=True)
    bad = set((with_flags + without_flags).upper()) - set("DFPRST")
    if bad:
        raise click.BadParameter(f"unknown flag letters {''.join(sorted(bad))}; use D F P R S T")
    chosen = _columns(columns, RowPrinter.COLUMNS)
    printer = RowPrinter("json" if as_json else "csv" if as_csv else "table", chosen)
    shown = 0
    with user_errors():
        path, _ = _as_owner_of(path)
        with Inspection(path, from_format, source_variant, lock, lock_timeout, from_tz) as insp:
            for row in insp.rows():
                if limit is not None and shown >= limit:
                    break
                if lo is not None and (row.date is None or row.date < lo):
                    continue
                if hi is not None and (row.date is None or row.date >= hi):
                    continue
                if from_address and from_address.lower() not in row.sender.lower():
                    continue
                if subject_filter and subject_filter.lower() not in row.subject.lower():
                    continue
                if not set(with_flags.upper()) <= set(row.flags) or set(without_flags.upper()) & set(row.flags):
                    continue
                if not printer.emit(row):
                    break                       # the reader went away (head, a pager quit)
                shown += 1
            damage = dict(insp.damage)
    printer.close()
    _damage_note(path, damage)


def _columns(text: str | None, known: list[str]) -> list[str] | None:
    """The column names of ``--columns``, each one of ``known``."""
    if text is None:
        return None
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise click.BadParameter(f"unknown column {', '.join(unknown) or '(none given)'}; "
                                 f"choose from {', '.join(known)}", param_hint="--columns")
    return names


@cli.command()
@click.argument("path", type=click.Path(path_type=Path, readable=False))
@click.argument("index", type=int)
@source_options
@click.option("--with-from", is_flag=True, help="Start with the From_ line (mbox sources).")
@click.option("--headers", "headers_only", is_flag=True, help="Only the header block.")
@_lock_options
def show(path, index, from_format, source_variant, with_from, headers_only, lock, lock_timeout):
    """Write message INDEX (1-based, as in list) exactly as stored, mbox quoting removed.

    Example: mboxtool show samples/inbox.mbox 2 > message.eml
    """
    from .inspection import find_message
    from .model.message import header_end
    with user_errors():
        path, _ = _as_owner_of(path)
        msg = find_message(path, index, from_format, source_variant, lock, lock_timeout)
    if msg is None:
        raise UnusableInput(f"{path}: no message {index}")
    data = msg.data[:header_end(msg.data)] if headers_only else msg.data
    out = sys.stdout.buffer
    if with_from:
        from .model.dates import asctime_utc
        line = msg.from_line or (f"From MAILER-DAEMON {asctime_utc(msg.date or 0)}".encode())
        out.write(line + b"\n")
    out.write(data)
    out.flush()


# -- validation and repair -------------------------------------------------------------

def _problem_codes(ctx, param, codes: tuple[str, ...]) -> tuple[str, ...]:
    from .validate_many import unknown_codes
    bad = unknown_codes(codes)
    if bad:
        raise click.BadParameter(f"unknown problem code {bad[0]!r} (the codes are those validate "
                                 "reports, e.g. long-line, nul-run, garbage-before-first-from)")
    return codes


@cli.command()
@click.argument("paths", metavar="PATH...", nargs=-1, required=True,
                type=click.Path(path_type=Path, readable=False))
@source_options
@click.option("--strict", is_flag=True, help="Warnings also make the exit code 1.")
@click.option("--recursive", "-r", is_flag=True,
              help="Check every mailbox of each folder tree (as convert and info --recursive walk it).")
@click.option("--select", "select", multiple=True, metavar="CODE", callback=_problem_codes,
              help="Report only problems of this code (repeatable).")
@click.option("--ignore", "ignore", multiple=True, metavar="CODE", callback=_problem_codes,
              help="Do not report problems of this code (repeatable), e.g. --ignore long-line.")
@_lock_options
@click.option("--json", "as_json", is_flag=True,
              help=JSON_HELP + ' Several paths or --recursive: one combined document (paths, ok, '
                   'mailboxes, counts, damaged, reports: one validate document each, unreadable).')
def validate(paths, from_format, source_variant, strict, recursive, select, ignore, lock, lock_timeout,
             as_json):
    """Check each PATH for damage and report every problem found, with line and byte positions.

    Several paths, or --recursive, give one combined report and one exit code: 0 when every
    mailbox is OK, 1 when any is not, 2 when a path cannot be read.

    Example: mboxtool validate --json /var/mail/alice
    """
    from .validate import validate_mailbox
    from .validate_many import filtered, validate_paths
    bar = ProgressBar(not as_json, "checking")
    if len(paths) > 1 or recursive:
        try:
            result = validate_paths(paths, recursive, from_format, source_variant, lock, lock_timeout,
                                    select, ignore, progress=bar.update, progress_total=bar.start)
        finally:
            bar.close()
        for item in result.unreadable:
            click.echo(f"mboxtool: error: {item['error']}", err=True)
        click.echo(dump_document(result.to_dict(strict)) if as_json else result.to_text(strict))
        sys.exit(result.exit_code(strict))
    with user_errors():
        path, _ = _as_owner_of(paths[0])
        try:
            report = validate_mailbox(path, from_format, source_variant, lock, lock_timeout,
                                      progress=bar.update, progress_total=bar.start)
        finally:
            bar.close()
    filtered(report, select, ignore)
    click.echo(dump_document(report.to_dict(strict)) if as_json else report.to_text(strict))
    sys.exit(EXIT_OK if report.ok(strict) else EXIT_PROBLEMS)


@cli.command()
@click.argument("src", type=click.Path(path_type=Path, readable=False))
@click.argument("dst", type=click.Path(path_type=Path, readable=False))
@source_options
@click.option("--variant", type=VARIANT, default=None, help="Variant of the copy (default: that of SRC).")
@click.option("--dedupe", is_flag=True, help="Drop exact duplicate messages (same digest).")
@click.option("--no-fsync", is_flag=True, help="Skip fsync of the copy.")
@_lock_options
@json_option
def repair(src, dst, from_format, source_variant, variant, dedupe, no_fsync, lock, lock_timeout, as_json):
    """Write a repaired copy of SRC to DST (never in place) and report every change.

    Example: mboxtool repair damaged.mbox repaired.mbox
    """
    from .repair import repair_mailbox
    bar = ProgressBar(not as_json, "repairing")
    with user_errors():
        src, dst = _as_owner_of(src, writes=dst)
        try:
            report = repair_mailbox(src, dst, from_format, source_variant, variant, dedupe,
                                    fsync=not no_fsync, lock=lock, lock_timeout=lock_timeout,
                                    progress=bar.update, progress_total=bar.start)
        finally:
            bar.close()
    if as_json:
        click.echo(dump_document(report.to_dict()))
    else:
        click.echo(report.to_text())
    sys.exit(EXIT_OK if report.ok else EXIT_PROBLEMS)


# -- many mailboxes ---------------------------------------------------------------------

from .migrate_command import migrate  # noqa: E402  (it uses the helpers above)

cli.add_command(migrate)
