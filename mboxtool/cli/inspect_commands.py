"""``mboxtool info``, ``list`` and ``show``: read a mailbox and show what it holds."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from ..inspection import Inspection, find_message, mailbox_info, tree_info
from ..model.dates import asctime_utc
from ..model.message import header_end
from ..render import RowPrinter, dump_document, info_text, tree_document, tree_text
from .common import (
    UnusableInput,
    as_owner_of,
    damage_note,
    from_tz_option,
    json_option,
    lock_options,
    progress_bar,
    source_options,
    user_errors,
)


@click.command()
@click.argument("path", type=click.Path(path_type=Path, readable=False))
@source_options
@click.option("--recursive", "-r", is_flag=True, help="Summarise every mailbox in a folder tree (--json: one "
              "object: totals, the damaged folders by name, and a folders list of one object each).")
@click.option("--top", type=click.IntRange(1), default=10, show_default=True, help="How many top senders.")
@from_tz_option
@lock_options
@json_option
def info(path, from_format, source_variant, recursive, top, from_tz, lock, lock_timeout, as_json):
    """Summarise a mailbox: format, variant, counts, dates, flags, senders, messages per year.

    Example: mboxtool info samples/inbox.mbox
    """
    with user_errors():
        path, _ = as_owner_of(path)
        if recursive:
            rows = tree_info(path, lock=lock, lock_timeout=lock_timeout, from_tz=from_tz)
            if as_json:
                click.echo(dump_document(tree_document(path, rows)))
            else:
                click.echo(tree_text(rows))
            for row in rows:                         # as for one mailbox: damage is said, once a folder
                damage_note(row["path"], row["damage"])
            return
        with progress_bar("reading", not as_json) as bar:
            result = mailbox_info(path, from_format, source_variant, lock, lock_timeout,
                                  progress=bar.update, progress_total=bar.start, from_tz=from_tz)
    if as_json:
        click.echo(dump_document(result.to_dict(top)))
    else:
        click.echo(info_text(result.to_dict(top)))
    damage_note(path, result.damage)


def _parse_day(value: str | None, end: bool = False) -> int | None:
    if value is None:
        return None
    try:
        day = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc
    if day.tzinfo is None:
        day = day.replace(tzinfo=dt.timezone.utc)
    if end and len(value) <= 10:
        day += dt.timedelta(days=1)
    return int(day.timestamp())


@click.command(name="list")
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
@lock_options
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
    lo, hi = _parse_day(since), _parse_day(until, end=True)
    bad = set((with_flags + without_flags).upper()) - set("DFPRST")
    if bad:
        raise click.BadParameter(f"unknown flag letters {''.join(sorted(bad))}; use D F P R S T")
    chosen = _columns(columns, RowPrinter.COLUMNS)
    printer = RowPrinter("json" if as_json else "csv" if as_csv else "table", chosen)
    shown = 0
    with user_errors():
        path, _ = as_owner_of(path)
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
    damage_note(path, damage)


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


@click.command()
@click.argument("path", type=click.Path(path_type=Path, readable=False))
@click.argument("index", type=int)
@source_options
@click.option("--with-from", is_flag=True, help="Start with the From_ line (mbox sources).")
@click.option("--headers", "headers_only", is_flag=True, help="Only the header block.")
@lock_options
def show(path, index, from_format, source_variant, with_from, headers_only, lock, lock_timeout):
    """Write message INDEX (1-based, as in list) exactly as stored, mbox quoting removed.

    Example: mboxtool show samples/inbox.mbox 2 > message.eml
    """
    with user_errors():
        path, _ = as_owner_of(path)
        msg = find_message(path, index, from_format, source_variant, lock, lock_timeout)
    if msg is None:
        raise UnusableInput(f"{path}: no message {index}")
    data = msg.data[:header_end(msg.data)] if headers_only else msg.data
    out = sys.stdout.buffer
    if with_from:
        line = msg.from_line or (f"From MAILER-DAEMON {asctime_utc(msg.date or 0)}".encode())
        out.write(line + b"\n")
    out.write(data)
    out.flush()
