"""``mboxtool migrate``: parse the options, read the rows, run the migration, render, exit."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from ..errors import ExitStatus, UsageError
from ..migrate.manifest import Row, read_manifest, read_users, spool_rows
from ..migrate.run import MailboxResult, MigrateOptions, Migration, exit_code, source_size, summarize
from ..migrate.sharding import parse_shard, shard_of
from ..render import dump_document, migration
from .common import FORMAT, SOURCE_FORMAT, VARIANT, UnusableInput, json_option, progress_bar, quiet_option


def _convert_args(**opts) -> list[str]:
    """The options every convert child gets, only those that differ from convert's defaults."""
    args: list[str] = []
    for name in ("from_format", "source_variant", "variant", "from_tz", "keywords"):
        value = opts[name]
        if value is not None:
            flag = "--from" if name == "from_format" else "--" + name.replace("_", "-")
            args += [flag, value]
    for name in ("move", "verify", "no_fsync", "fcntl_only", "include_expunged", "missing_ok", "thunderbird"):
        if opts[name]:
            args.append("--" + name.replace("_", "-"))
    if not opts["lock"]:
        args.append("--no-lock")
    if not opts["subscribe"]:
        args.append("--no-subscribe")
    if opts["lock_timeout"] is not None:
        args += ["--lock-timeout", repr(opts["lock_timeout"])]
    return args


def _read_text_lines(path: str, what: str) -> list[str]:
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from exc
    return data.decode("utf-8", "surrogateescape").splitlines()


def _rows(manifest, spool, to_template, users_file) -> list[Row]:
    if (manifest is None) == (spool is None):
        raise UsageError("give either a MANIFEST or --spool DIR --to-template TEMPLATE")
    if spool is None and (to_template or users_file):
        raise UsageError("--to-template and --users go with --spool")
    if manifest is not None:
        name = "stdin" if manifest == "-" else manifest
        return read_manifest(_read_text_lines(manifest, "manifest"), name)
    if not to_template:
        raise UsageError("--spool needs --to-template (e.g. '{home}/Maildir')")
    users = read_users(_read_text_lines(users_file, "user list"), users_file) if users_file else None
    return spool_rows(Path(spool), to_template, users)


@click.command()
@click.argument("manifest", required=False, metavar="[MANIFEST]")
@click.option("--spool", type=click.Path(file_okay=False), metavar="DIR",
              help="Every regular file of DIR is one user's mbox, named after the login (e.g. /var/mail).")
@click.option("--to-template", metavar="TEMPLATE",
              help="With --spool: each destination; {user} is the file name, {home} that user's "
                   "home directory (e.g. '{home}/Maildir').")
@click.option("--users", "users_file", metavar="FILE",
              help="With --spool: only these logins (one a line; '-' reads stdin).")
@click.option("--jobs", "-j", type=click.IntRange(1), default=None, metavar="N",
              help="Mailboxes converted at a time, each in its own process (default: the number of CPUs).")
@click.option("--shard", metavar="K/N",
              help="Only the rows of shard K of N: the first 8 bytes of the SHA-256 of the source path "
                   "as written, big-endian, mod N, plus 1. The same on every host and run; the N shards "
                   "are disjoint and together hold every row.")
@click.option("--dry-run", is_flag=True,
              help="Per mailbox: messages and bytes to convert, messages already done, destination "
                   "owner. Writes nothing (no log either).")
@click.option("--log-file", type=click.Path(dir_okay=False), metavar="PATH",
              help="Append one line per mailbox and one per problem, each starting with an ISO 8601 "
                   "UTC time; PATH.state counts the runs each mailbox has been busy or failing.")
@click.option("--alert-after", type=click.IntRange(0), default=None, metavar="N",
              help="With --log-file: report the mailboxes busy or failing for more than N "
                   "consecutive runs (in the summary, the JSON lines and the log).")
@click.option("--from", "from_format", type=SOURCE_FORMAT, default=None,
              help="As convert: force the source format.")
@click.option("--source-variant", type=VARIANT, default=None, help="As convert.")
@click.option("--to", "to_format", type=FORMAT, default=None,
              help="Destination format of rows without a format column (as convert --to).")
@click.option("--variant", type=VARIANT, default=None, help="As convert: mbox variant to write.")
@click.option("--recursive", "-r", is_flag=True, help="Rows without a recursive column are folder trees.")
@click.option("--move", is_flag=True, help="As convert: remove each message from its source once durable.")
@click.option("--verify", is_flag=True, help="As convert: re-read each destination and compare.")
@click.option("--no-fsync", is_flag=True, help="As convert.")
@click.option("--lock/--no-lock", default=True, show_default=True, help="As convert.")
@click.option("--lock-timeout", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="As convert (default 30): a mailbox whose lock is not had in time is 'busy'.")
@click.option("--fcntl-only", is_flag=True, help="As convert: lock with fcntl only, without PATH.lock.")
@click.option("--from-tz", default=None, metavar="auto|utc|local|+HHMM", help="As convert.")
@click.option("--include-expunged", is_flag=True, help="As convert.")
@click.option("--missing-ok", is_flag=True, help="As convert: a missing source (no mail yet) is done, empty.")
@click.option("--subscribe/--no-subscribe", default=True, show_default=True, help="As convert.")
@click.option("--thunderbird", is_flag=True, help="As convert.")
@click.option("--keywords", "keyword_places", type=click.Choice(("dovecot", "header", "both")), default=None,
              help="As convert: where keywords go in a Maildir or MH (default dovecot).")
@click.option("--layout", type=click.Choice(("maildir++", "fs")), default=None,
              help="As convert, for the rows that are folder trees (recursive).")
@click.option("--owner", metavar="USER[:GROUP]",
              help="As convert: whom the destinations belong to, for rows without an owner column.")
@quiet_option
@json_option
def migrate(manifest, spool, to_template, users_file, jobs, shard, dry_run, log_file, alert_after,
            from_format, source_variant, to_format, variant, recursive, move, verify, no_fsync, lock,
            lock_timeout, fcntl_only, from_tz, include_expunged, missing_ok, subscribe, thunderbird,
            keyword_places, layout, owner, quiet, as_json):
    """Convert many mailboxes, each as 'convert SRC DST' would, in parallel processes.

    MANIFEST is a CSV file ('-': stdin) with a header row: source,destination and optionally
    owner, format, recursive. Or --spool DIR --to-template TEMPLATE: one row per user's mbox.
    One mailbox that fails, is damaged or is locked never stops the others.

    --json prints JSON lines: one object per mailbox as it finishes, then one with
    "summary": true. Exit 0 when every mailbox is done, 75 when the only problems were
    busy locks (try again later), 1 when any mailbox failed, 2 when the manifest or the
    options cannot be used (a manifest error names its line).

    Example: mboxtool migrate --spool /var/mail --to-template '{home}/Maildir' --move
    """
    try:
        if alert_after is not None and not log_file:
            raise UsageError("--alert-after needs --log-file (the runs are counted beside the log)")
        rows = _rows(manifest, spool, to_template, users_file)
        if shard:
            k, n = parse_shard(shard)
            rows = [row for row in rows if shard_of(row.source, n) == k]
    except UsageError as exc:
        raise UnusableInput(str(exc)) from exc
    if from_tz is not None and from_tz not in ("auto", "utc", "local") and not (
            len(from_tz) == 5 and from_tz[0] in "+-" and from_tz[1:].isdigit()):
        raise click.BadParameter("use auto, utc, local or +HHMM/-HHMM", param_hint="--from-tz")
    if lock_timeout is not None and lock_timeout != lock_timeout:
        raise click.BadParameter("not a number of seconds", param_hint="--lock-timeout")
    options = MigrateOptions(
        convert_args=_convert_args(from_format=from_format, source_variant=source_variant, variant=variant,
                                   from_tz=from_tz, move=move, verify=verify, no_fsync=no_fsync,
                                   fcntl_only=fcntl_only, include_expunged=include_expunged,
                                   missing_ok=missing_ok, thunderbird=thunderbird, lock=lock,
                                   subscribe=subscribe, lock_timeout=lock_timeout,
                                   keywords=keyword_places),
        tree_args=["--layout", layout] if layout else [], owner=owner, to_format=to_format, recursive=recursive, dry_run=dry_run,
        jobs=jobs or os.cpu_count() or 1)
    log = None
    if log_file and not dry_run:
        from ..migrate.runlog import RunLog
        try:
            log = RunLog(Path(log_file))
        except OSError as exc:
            raise UnusableInput(f"{log_file}: cannot open the log ({exc.strerror or exc})") from exc
    try:
        sys.exit(_run(rows, options, log, alert_after, quiet, as_json))
    finally:
        if log is not None:
            log.close()


def _run(rows: list[Row], options: MigrateOptions, log, alert_after, quiet: bool, as_json: bool) -> ExitStatus:
    started = time.monotonic()
    finished: list[MailboxResult] = []
    with progress_bar("migrating", not (quiet or as_json)) as bar:
        sizes = {row.source: source_size(row) for row in rows}
        bar.start(sum(sizes.values()), "B")
        if bar.bar is not None:
            bar.bar.set_postfix_str(f"0/{len(rows)} mailboxes")

        def on_result(result: MailboxResult) -> None:
            finished.append(result)
            if bar.bar is not None:
                bar.bar.set_postfix_str(f"{len(finished)}/{len(rows)} mailboxes", refresh=False)
            bar.update(sizes.get(result.source, 0))
            if log is not None:
                _log(log, result, alert_after)
            if as_json:
                click.echo(dump_document(result.to_dict()))

        results = Migration(options).run(rows, on_result)
    summary = summarize(results, time.monotonic() - started, options.dry_run)
    if log is not None:
        log.record({r.source: r.status for r in results})
        log.write(f"run: {migration.summary_line(summary)}")
    if as_json:
        click.echo(dump_document(summary))
    else:
        _print_text(results, summary, options.dry_run, alert_after, quiet)
    return exit_code(results)


def _log(log, result: MailboxResult, alert_after: int | None) -> None:
    result.stuck_runs = log.stuck_runs(result.source, result.status)
    result.alert = alert_after is not None and result.stuck_runs > alert_after
    log.write(migration.result_line(result))
    if result.status != "done":
        for line in migration.problem_lines(result):
            log.write(line)
    if result.alert:
        log.write(f"alert: {result.source}: {result.status} for {result.stuck_runs} consecutive runs "
                  f"(more than {alert_after})")


def _print_text(results: list[MailboxResult], summary: dict, dry_run: bool, alert_after, quiet: bool) -> None:
    if dry_run:
        click.echo(migration.dry_run_table(results))
    # --quiet (cron) keeps the problems: failures, quarantines, alerts; a busy lock is retried next run
    not_done = sorted((r for r in results if (r.status != "done" or r.quarantined)
                       and not (quiet and r.status in ("busy", "skipped") and not r.alert)),
                      key=lambda r: r.source)
    if not_done and not dry_run:
        if sys.stdout.isatty():
            click.echo(migration.not_done_table(not_done))
        else:
            for r in not_done:
                click.echo(migration.not_done_line(r), err=True)
    alerts = [r for r in results if r.alert]
    if alerts:
        click.echo(migration.alert_line(alerts, alert_after), err=True)
    if not quiet or exit_code(results) == 1:
        click.echo(migration.summary_line(summary))

