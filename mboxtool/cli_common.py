"""What every command shares: exit statuses, option types, and the mapping of library errors
to one stderr line and an exit code (cli.py and migrate_command.py both use it)."""

from __future__ import annotations

import signal
from contextlib import contextmanager

import click

from .errors import InputError, LockTimeout, MboxtoolError, SourceChanged, UsageError
from .formats import registry
from .formats.mboxvariant import VARIANTS
from .fs.locking import check_timeout

EXIT_OK, EXIT_PROBLEMS, EXIT_UNUSABLE, EXIT_TEMPFAIL = 0, 1, 2, 75
EXIT_SIGINT, EXIT_SIGTERM = 128 + signal.SIGINT, 128 + signal.SIGTERM   # the shell's convention


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

