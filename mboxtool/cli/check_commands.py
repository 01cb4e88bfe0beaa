"""``mboxtool validate`` and ``mboxtool repair``: find the damage, write a mended copy."""

from __future__ import annotations

from pathlib import Path

import click

from ..render import repair_text, validation_set_text, validation_text
from ..repair import repair_mailbox
from ..validate import validate_mailbox
from ..validate_many import filtered, unknown_codes, validate_paths
from .common import (
    JSON_HELP,
    VARIANT,
    as_owner_of,
    finish,
    json_option,
    lock_options,
    progress_bar,
    source_options,
    status_of,
    user_errors,
)


def _problem_codes(ctx, param, codes: tuple[str, ...]) -> tuple[str, ...]:
    bad = unknown_codes(codes)
    if bad:
        raise click.BadParameter(f"unknown problem code {bad[0]!r} (the codes are those validate "
                                 "reports, e.g. long-line, nul-run, garbage-before-first-from)")
    return codes


@click.command()
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
@lock_options
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
    if len(paths) > 1 or recursive:
        with progress_bar("checking", not as_json) as bar:
            result = validate_paths(paths, recursive, from_format, source_variant, lock, lock_timeout,
                                    select, ignore, progress=bar.update, progress_total=bar.start)
        for item in result.unreadable:
            click.echo(f"mboxtool: error: {item['error']}", err=True)
        finish(as_json, result.to_dict(strict), validation_set_text(result, strict), result.exit_code(strict))
    with user_errors(), progress_bar("checking", not as_json) as bar:
        path, _ = as_owner_of(paths[0])
        report = validate_mailbox(path, from_format, source_variant, lock, lock_timeout,
                                  progress=bar.update, progress_total=bar.start)
    filtered(report, select, ignore)
    finish(as_json, report.to_dict(strict), validation_text(report, strict), status_of(report.passes(strict)))


@click.command()
@click.argument("src", type=click.Path(path_type=Path, readable=False))
@click.argument("dst", type=click.Path(path_type=Path, readable=False))
@source_options
@click.option("--variant", type=VARIANT, default=None, help="Variant of the copy (default: that of SRC).")
@click.option("--dedupe", is_flag=True, help="Drop exact duplicate messages (same digest).")
@click.option("--no-fsync", is_flag=True, help="Skip fsync of the copy.")
@lock_options
@json_option
def repair(src, dst, from_format, source_variant, variant, dedupe, no_fsync, lock, lock_timeout, as_json):
    """Write a repaired copy of SRC to DST (never in place) and report every change.

    Example: mboxtool repair damaged.mbox repaired.mbox
    """
    with user_errors(), progress_bar("repairing", not as_json) as bar:
        src, dst = as_owner_of(src, writes=dst)
        report = repair_mailbox(src, dst, from_format, source_variant, variant, dedupe,
                                fsync=not no_fsync, lock=lock, lock_timeout=lock_timeout,
                                progress=bar.update, progress_total=bar.start)
    finish(as_json, report.to_dict(), repair_text(report), status_of(report.ok))
