"""The mailboxes a migration converts: a CSV manifest, or a mail spool with a path template.

A manifest is CSV with a header row naming its columns: ``source`` and
``destination`` (required), ``owner``, ``format`` (the destination format, as
``convert --to``) and ``recursive`` (``true``/``false``). Each row takes one
physical line (paths holding a newline cannot be written in it); blank lines
and lines starting with ``#`` are ignored. Every error names its line number.
"""

from __future__ import annotations

import csv
import os
import pwd
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..formats.registry import detected

COLUMNS = ("source", "destination", "owner", "format", "recursive")
REQUIRED = ("source", "destination")
_BOOLEANS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


@dataclass(frozen=True)
class Row:
    """One mailbox to convert; ``None`` fields take the value of the command's options."""

    source: str
    destination: str
    owner: str | None = None
    format: str | None = None
    recursive: bool | None = None
    line: int | None = None           # where the manifest gave it
    skip_reason: str | None = None    # set when the row is reported but not converted


def read_manifest(lines: Iterable[str], name: str = "manifest") -> list[Row]:
    """The rows of a manifest; a UsageError naming ``name`` and the line for anything unusable."""
    header: list[str] | None = None
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for number, text in enumerate(lines, 1):
        text = text.rstrip("\r\n")
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        where = f"{name}: line {number}"
        try:
            fields = [f.strip() for f in next(csv.reader([text], strict=True))]
        except csv.Error as exc:
            raise UsageError(f"{where}: not a CSV row ({exc})") from exc
        if header is None:
            header = _header(fields, where)
            continue
        if len(fields) != len(header):
            raise UsageError(f"{where}: {len(fields)} fields, the header names {len(header)}")
        row = _row(dict(zip(header, fields)), number, where)
        if row.source in seen:
            raise UsageError(f"{where}: source {row.source} is already on line {seen[row.source]}")
        seen[row.source] = number
        rows.append(row)
    if header is None:
        raise UsageError(f"{name}: no header row (expected {','.join(REQUIRED)}[,owner,format,recursive])")
    return rows


def _header(fields: list[str], where: str) -> list[str]:
    names = [f.lower() for f in fields]
    unknown = [f for f in names if f not in COLUMNS]
    if unknown:
        raise UsageError(f"{where}: unknown column {unknown[0]!r} (columns: {', '.join(COLUMNS)})")
    doubled = [f for f in names if names.count(f) > 1]
    if doubled:
        raise UsageError(f"{where}: column {doubled[0]!r} is named twice")
    missing = [f for f in REQUIRED if f not in names]
    if missing:
        raise UsageError(f"{where}: the header has no {missing[0]!r} column")
    return names


def _row(cells: dict[str, str], number: int, where: str) -> Row:
    for column in REQUIRED:
        if not cells[column]:
            raise UsageError(f"{where}: empty {column}")
    fmt = cells.get("format") or None
    if fmt is not None and fmt.lower() not in detected():
        raise UsageError(f"{where}: unknown format {fmt!r} (use {', '.join(detected())})")
    recursive = cells.get("recursive") or None
    if recursive is not None:
        if recursive.lower() not in _BOOLEANS:
            raise UsageError(f"{where}: recursive must be true or false, not {recursive!r}")
        recursive = _BOOLEANS[recursive.lower()]
    return Row(cells["source"], cells["destination"], cells.get("owner") or None,
               fmt.lower() if fmt else None, recursive, number)


# -- the spool shorthand ------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def check_template(template: str) -> None:
    """A UsageError unless every ``{...}`` of ``template`` is ``{user}`` or ``{home}``."""
    for name in _PLACEHOLDER.findall(template):
        if name not in ("user", "home"):
            raise UsageError(f"--to-template: unknown placeholder {{{name}}} (use {{user}} and {{home}})")


def spool_rows(spool: Path, template: str, users: list[str] | None = None) -> list[Row]:
    """One row per user's mbox in ``spool``: every regular file (dotlocks and hidden files
    aside), or the files named after ``users``. A login that is not a user of the system gets
    a row with a ``skip_reason`` when ``template`` needs its ``{home}``."""
    check_template(template)
    if users is None:
        try:
            names = sorted(entry.name for entry in os.scandir(spool)
                           if entry.is_file(follow_symlinks=False) and _is_spool_name(entry.name))
        except OSError as exc:
            raise UsageError(f"{spool}: cannot list the spool ({exc.strerror or exc})") from exc
    else:
        names = users
    rows = []
    for login in names:
        source = str(spool / login)
        home = None
        if "{home}" in template:
            try:
                home = pwd.getpwnam(login).pw_dir
            except KeyError:
                rows.append(Row(source, _expand(template, login, None), skip_reason=(
                    f"{login} is not a user of this system (no home directory for {{home}})")))
                continue
        rows.append(Row(source, _expand(template, login, home)))
    return rows


def _expand(template: str, login: str, home: str | None) -> str:
    values = {"user": login, "home": home if home is not None else "{home}"}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def _is_spool_name(name: str) -> bool:
    # dotlocks (alice.lock) and the hidden files of tools are not users' mailboxes
    return not name.startswith(".") and not name.endswith(".lock")


def read_users(lines: Iterable[str], name: str) -> list[str]:
    """Logins, one a line (blank lines and ``#`` comments ignored); a UsageError for a name
    that cannot be a spool file."""
    users = []
    for number, text in enumerate(lines, 1):
        login = text.strip()
        if not login or login.startswith("#"):
            continue
        if "/" in login or login in (".", "..") or "\0" in login:
            raise UsageError(f"{name}: line {number}: {login!r} is not a login name")
        if login not in users:
            users.append(login)
    return users
