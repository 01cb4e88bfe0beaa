"""The command line: each command parses, makes one library call, renders, picks the exit status.

The commands live beside this module, one module per group: ``convert_command``,
``check_commands`` (validate, repair), ``inspect_commands`` (info, list, show) and
``migrate_command``; ``common`` holds what they share.
"""

from __future__ import annotations

import os
import signal
import sys

import click

from ..errors import ExitStatus
from ..fs.durable import reuse_large_buffers
from ..render import error_document
from ..version import __version__
from .check_commands import repair, validate
from .convert_command import convert
from .inspect_commands import info, list_, show
from .migrate_command import migrate


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
            name, code = ("SIGTERM", ExitStatus.SIGTERM) if isinstance(exc, Terminated) else \
                ("SIGINT", ExitStatus.SIGINT)
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
            _json_error(ctx, message, ExitStatus.UNUSABLE)
            ctx.exit(ExitStatus.UNUSABLE)


def _json_error(ctx: click.Context, message: str, code: int) -> None:
    if ctx.meta.get("json"):
        try:
            click.echo(error_document(message, code))
        except OSError:                     # stdout gone: the stderr line and the exit code remain
            pass


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mboxtool")
def cli() -> None:
    """Convert, inspect, validate and repair mailboxes: mbox, Maildir, MH, MMDF, Babyl."""


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


for _command in (convert, info, list_, show, validate, repair, migrate):
    cli.add_command(_command)
