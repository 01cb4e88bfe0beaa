#!/usr/bin/env python3
"""Write a man page per command (mboxtool.1, mboxtool-convert.1, ...) from the click definitions.

Usage: python3 tools/manpages.py [DIR]     (default: build/man)
Read one with `man -l DIR/mboxtool-convert.1`.

Generated from the same objects that print `--help`, so a page can never disagree with the
options the command takes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mboxtool import __version__
from mboxtool.cli import cli

EXIT_STATUS = [
    ("0", "done, nothing wrong"),
    ("1", "found problems (failed messages, a verify mismatch, validate errors), "
          "or a write error stopped a conversion"),
    ("2", "bad usage, or an input that cannot be used at all"),
    ("75", "a lock could not be had in time (--lock-timeout): try again later"),
    ("130, 143", "interrupted by SIGINT or SIGTERM; the same command finishes the job"),
]


def roff(text: str) -> str:
    """Text safe for roff: backslashes doubled, a leading dot or quote escaped."""
    lines = [line.strip() for line in text.replace("\\", "\\e").replace("-", "\\-").splitlines()]
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line for line in lines)


def page(name: str, command: click.Command, ctx: click.Context) -> str:
    title = name.upper().replace(" ", "-")
    usage = " ".join(command.collect_usage_pieces(ctx))
    out = [f'.TH {title} 1 "" "mboxtool {__version__}" "User Commands"',
           ".SH NAME", roff(f"{name} - {command.get_short_help_str(limit=200)}"),
           ".SH SYNOPSIS", roff(f"{name} {usage}"),
           ".SH DESCRIPTION", roff(command.help or "")]
    options = [p for p in command.get_params(ctx) if isinstance(p, click.Option)]
    if options:
        out.append(".SH OPTIONS")
        for option in options:
            record = option.get_help_record(ctx)
            if record:
                out += [".TP", ".B " + roff(record[0]), roff(record[1] or "")]
    if isinstance(command, click.Group):
        out.append(".SH COMMANDS")
        for sub in sorted(command.commands):
            out += [".TP", f".B {sub}", roff(command.commands[sub].get_short_help_str(limit=200))]
    out.append(".SH EXIT STATUS")
    for code, meaning in EXIT_STATUS:
        out += [".TP", f".B {code}", roff(meaning)]
    others = ["mboxtool"] + [f"mboxtool-{sub}" for sub in sorted(cli.commands)]
    out += [".SH SEE ALSO", ", ".join(f"\\fB{o}\\fR(1)" for o in others if o != name.replace(" ", "-")),
            "and the manual in the docs/ directory of the source."]
    return "\n".join(out) + "\n"


def write_pages(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    root = click.Context(cli, info_name="mboxtool")
    written = [directory / "mboxtool.1"]
    written[0].write_text(page("mboxtool", cli, root))
    for sub, command in sorted(cli.commands.items()):
        path = directory / f"mboxtool-{sub}.1"
        path.write_text(page(f"mboxtool {sub}", command, click.Context(command, info_name=sub, parent=root)))
        written.append(path)
    return written


if __name__ == "__main__":
    for written in write_pages(Path(sys.argv[1] if len(sys.argv) > 1 else "build/man")):
        print(written)
