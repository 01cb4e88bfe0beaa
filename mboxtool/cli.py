"""The command line: each command parses, makes one library call, renders, picks the exit code."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import click

from . import __version__
from .convert import ConvertOptions, convert_mailbox
from .detect import FORMATS
from .errors import InputError, LockTimeout, MboxtoolError, SourceChanged, UsageError
from .formats.mbox import VARIANTS
from .output import ProgressBar, dump_json

EXIT_OK, EXIT_PROBLEMS, EXIT_UNUSABLE, EXIT_TEMPFAIL = 0, 1, 2, 75


class UnusableInput(click.ClickException):
    exit_code = EXIT_UNUSABLE


class LockBusy(click.ClickException):
    exit_code = EXIT_TEMPFAIL


class Problems(click.ClickException):
    exit_code = EXIT_PROBLEMS


@contextmanager
def user_errors():
    """The one place where library errors become one stderr line and an exit code."""
    try:
        yield
    except LockTimeout as exc:
        raise LockBusy(str(exc)) from exc
    except (InputError, UsageError) as exc:
        raise UnusableInput(str(exc)) from exc
    except SourceChanged as exc:
        raise Problems(str(exc)) from exc
    except MboxtoolError as exc:
        raise UnusableInput(str(exc)) from exc
    except PermissionError as exc:
        raise UnusableInput(f"{exc.filename or ''}: permission denied".lstrip(": ")) from exc
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise Problems(f"{where}{exc.strerror or exc}") from exc


def warn(message: str) -> None:
    click.echo(f"mboxtool: warning: {message}", err=True)


FORMAT = click.Choice(FORMATS, case_sensitive=False)
VARIANT = click.Choice(VARIANTS, case_sensitive=False)


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")(f)


def quiet_option(f):
    return click.option("--quiet", "-q", is_flag=True, help="No progress bar, no warnings.")(f)


def source_options(f):
    f = click.option("--source-variant", type=VARIANT, default=None,
                     help="Read the mbox as this variant instead of detecting it.")(f)
    f = click.option("--from", "from_format", type=FORMAT, default=None,
                     help="Force the source format instead of detecting it.")(f)
    return f


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mboxtool")
def cli() -> None:
    """Convert, inspect, validate and repair mailboxes: mbox, Maildir, MH, MMDF, Babyl."""


@cli.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@source_options
@click.option("--to", "to_format", type=FORMAT, default=None,
              help="Destination format (default: that of an existing DST, else maildir for an "
                   "mbox source and mbox for the others).")
@click.option("--variant", type=VARIANT, default="mboxrd", show_default=True,
              help="mbox variant to write.")
@click.option("--recursive", is_flag=True, help="Convert a folder tree (mbox files with NAME.sbd/ "
              "subfolders <-> Maildir++ .NAME.SUB folders).")
@click.option("--move", is_flag=True, help="Remove each message from SRC once it is durable in DST.")
@click.option("--verify", is_flag=True, help="Re-read DST and compare digests, flags and dates with SRC.")
@click.option("--dry-run", is_flag=True, help="Report what would be written; write nothing.")
@click.option("--no-fsync", is_flag=True, help="Skip fsync: faster, but a crash may lose the last batch.")
@click.option("--lock/--no-lock", default=True, show_default=True, help="Lock mbox files as MDAs do.")
@click.option("--lock-timeout", type=float, default=30, show_default=True, metavar="SECONDS",
              help="Give up (exit 75) when a lock cannot be had within this time.")
@click.option("--from-tz", default="auto", show_default=True, metavar="auto|utc|local|+HHMM",
              help="Time zone of From_ dates written without one.")
@click.option("--include-expunged", is_flag=True,
              help="Keep Thunderbird messages marked Expunged (as trashed) instead of skipping them.")
@quiet_option
@json_option
def convert(src, dst, from_format, source_variant, to_format, variant, recursive, move, verify,
            dry_run, no_fsync, lock, lock_timeout, from_tz, include_expunged, quiet, as_json):
    """Convert every message of SRC into DST, streaming and losslessly.

    Example: mboxtool convert samples/inbox.mbox ~/Maildir
    """
    if from_tz not in ("auto", "utc", "local") and not _is_offset(from_tz):
        raise click.BadParameter("use auto, utc, local or +HHMM/-HHMM", param_hint="--from-tz")
    options = ConvertOptions(from_format=from_format, to_format=to_format, variant=variant.lower(),
                             source_variant=source_variant.lower() if source_variant else None,
                             fsync=not no_fsync, lock=lock, lock_timeout=lock_timeout,
                             dry_run=dry_run, verify=verify, move=move, from_tz=from_tz,
                             include_expunged=include_expunged)
    bar = ProgressBar(not (quiet or as_json), "converting")
    with user_errors():
        try:
            if recursive:
                from .tree import convert_tree
                report = convert_tree(src, dst, options, progress=bar.update,
                                      warn=None if quiet else warn, progress_total=bar.start)
            else:
                report = convert_mailbox(src, dst, options, progress=bar.update,
                                         warn=None if quiet else warn, progress_total=bar.start)
        finally:
            bar.close()
    if as_json:
        click.echo(dump_json(report.to_dict()))
    else:
        _print_convert(report, quiet)
    sys.exit(EXIT_OK if report.ok else EXIT_PROBLEMS)


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
    verb = "would convert" if report.dry_run else "converted"
    line = (f"{verb} {report.converted} messages ({report.bytes} bytes) from {report.source} "
            f"({report.source_format}) to {report.destination} ({report.destination_format})"
            f"; {report.skipped} already there, {report.failed} failed")
    if report.verified is not None:
        line += "; verified" if report.verified else "; VERIFY FAILED"
    if not quiet or not report.ok:
        click.echo(line)


def main() -> None:
    cli(prog_name="mboxtool")
