"""What every command shares: option types and options, the mapping of library errors to one
stderr line and an exit status, running as a mailbox's owner, and the end of a command (a
progress bar, then JSON or text, then the exit status)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click

from ..errors import ExitStatus, InputError, LockTimeout, MboxtoolError, SourceChanged, UsageError
from ..formats import registry
from ..formats.mboxvariant import VARIANTS
from ..fs.locking import check_timeout
from ..render import ProgressBar, dump_document


class UnusableInput(click.ClickException):
    exit_code = ExitStatus.UNUSABLE


class LockBusy(click.ClickException):
    exit_code = ExitStatus.TEMPFAIL


class Problems(click.ClickException):
    exit_code = ExitStatus.PROBLEMS


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


FORMAT = click.Choice(registry.writable(), case_sensitive=False)
SOURCE_FORMAT = click.Choice(tuple(registry.FORMATS), case_sensitive=False)
VARIANT = click.Choice(VARIANTS, case_sensitive=False)


class _Seconds(click.ParamType):
    """A finite number of seconds, 0 or more: NaN would make every lock wait endless."""

    name = "seconds"

    def convert(self, value, param, ctx):
        try:
            return check_timeout(float(value))
        except (TypeError, ValueError, UsageError):
            self.fail(f"{value!r} is not a finite number of seconds, 0 or more", param, ctx)


SECONDS = _Seconds()
JSON_HELP = ('Print one JSON document on stdout, with "schema": 1; a run that fails prints '
             '{"schema": 1, "error": ..., "exit": N} instead.')


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help=JSON_HELP)(f)


def quiet_option(f):
    return click.option("--quiet", "-q", is_flag=True, help="No progress bar, no warnings.")(f)



def source_options(f):
    f = click.option("--source-variant", type=VARIANT, default=None,
                     help="Read the mbox as this variant instead of detecting it.")(f)
    f = click.option("--from", "from_format", type=SOURCE_FORMAT, default=None,
                     help="Force the source format instead of detecting it (eml: a message file, "
                          "or a directory of them).")(f)
    return f


def lock_options(f):
    f = click.option("--lock-timeout", type=SECONDS, default=30, show_default=True, metavar="SECONDS",
                     help="Give up (exit 75) when the shared lock cannot be had in time.")(f)
    f = click.option("--lock/--no-lock", default=True, show_default=True,
                     help="Take a shared fcntl lock on mbox files while reading.")(f)
    return f


def _zone(ctx, param, value: str) -> str:
    if value not in ("auto", "utc", "local") and not _is_offset(value):
        raise click.BadParameter("use auto, utc, local or +HHMM/-HHMM")
    return value


def _is_offset(text: str) -> bool:
    return len(text) == 5 and text[0] in "+-" and text[1:].isdigit()


def from_tz_option(f):
    return click.option("--from-tz", default="auto", show_default=True, metavar="auto|utc|local|+HHMM",
                        callback=_zone,
                        help="Time zone of From_ dates written without one. auto: the zone a "
                             "Received: header proves (its wall-clock time agrees with the From_ "
                             "time within two minutes), else the zone last proven in the file, "
                             "else UTC.")(f)


def absolute(path: Path) -> Path:
    """``path`` made absolute before giving up root: root's working directory (/root) may be
    out of the user's reach."""
    return Path(os.path.abspath(path))


def as_owner_of(path: Path, writes: Path | None = None) -> tuple[Path, Path | None]:
    """Run as root on a user's mailbox: become that user for the rest of the command
    (privsep). ``writes``: a new file the command makes (repair's copy), which the user must
    be able to create. Returns the paths to use from now on."""
    from ..fs.privsep import plan
    work = plan(path)
    if work is None:
        return path, writes
    path, writes = absolute(path), writes and absolute(writes)
    work.enter()
    if writes is not None and not os.access(writes.parent, os.W_OK | os.X_OK):
        raise UsageError(f"{writes}: {work.user.name} (whose mailbox {path} is, and who this runs as) "
                         f"cannot write in {writes.parent}; choose a destination {work.user.name} can write")
    return path, writes


def damage_note(path: Any, damage: dict) -> None:
    """info and list read a damaged mailbox as best they can, and say so."""
    if damage:
        kinds = ", ".join(sorted(damage))
        warn(f"{path}: the mailbox is damaged ({kinds}); 'mboxtool validate {path}' explains")


@contextmanager
def progress_bar(desc: str, shown: bool) -> Iterator[ProgressBar]:
    """A progress bar on stderr (when it is a terminal) for the work inside; closed however
    that ends."""
    bar = ProgressBar(shown, desc)
    try:
        yield bar
    finally:
        bar.close()


def status_of(ok: bool) -> ExitStatus:
    return ExitStatus.OK if ok else ExitStatus.PROBLEMS


def finish(as_json: bool, document: dict[str, Any], text: str | None, status: ExitStatus) -> NoReturn:
    """The end of a command: its ``--json`` document or its text (None: nothing) on stdout,
    then its exit status."""
    if as_json:
        click.echo(dump_document(document))
    elif text is not None:
        click.echo(text)
    sys.exit(status)
