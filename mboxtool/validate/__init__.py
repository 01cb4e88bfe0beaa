"""validate_mailbox(): find, in one streaming pass, the damage that breaks a mailbox (§5, §6).

mbox files are checked in ``mbox``, Maildirs in ``maildir``, MH, MMDF and Babyl here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..formats.registry import detect_format, inner_mbox, make_reader, normalize_format
from ..model.message import is_empty_message, is_header_line, outside_any_message
from ..problems import SEVERITY, Problem
from .maildir import check_maildir
from .mbox import MboxCheck, glued_from_line
from .report import TRUNCATED_KEYWORD, Progress, ValidationReport

__all__ = ["SEVERITY", "TRUNCATED_KEYWORD", "Problem", "ValidationReport", "glued_from_line",
           "validate_mailbox"]


def validate_mailbox(path: Path, fmt: str | None = None, source_variant: str | None = None,
                     lock: bool = True, lock_timeout: float = 30,
                     progress: Callable[[int], None] | None = None,
                     progress_total: Callable[[int | None, str], None] | None = None) -> ValidationReport:
    """Check ``path`` for damage; every problem found, in one pass. ``source_variant``: read
    an mbox as this variant (default: detected).

    ``progress_total`` is told the size of the work once (bytes of an mbox or MMDF file,
    else no total and a count of messages), ``progress`` each message's bytes as it is
    checked: as convert_mailbox does, for a progress bar.
    """
    path = inner_mbox(path)
    fmt = normalize_format(fmt) or detect_format(path)
    report = ValidationReport(str(path), fmt)
    bar = Progress(progress, progress_total)
    if fmt == "mbox":
        MboxCheck(path, report, source_variant, lock, lock_timeout, bar).run()
    elif fmt == "maildir":
        check_maildir(path, report, bar)
    else:
        check_other(path, fmt, report, lock, lock_timeout, bar)
    return report


def check_other(path: Path, fmt: str, report: ValidationReport, lock: bool, lock_timeout: float,
                 progress: Progress) -> None:
    """MH, MMDF, Babyl: structure and messages that cannot be read."""
    def event(code: str, **info: Any) -> None:
        sev = SEVERITY.get(code, "warning")
        report.add(code if code in SEVERITY else "foreign-file",
                   info.get("reason") or code.replace("-", " "), sev,
                   key=info.get("key"), offset=info.get("offset"))
    try:
        reader = make_reader(path, fmt, lock=lock, lock_timeout=lock_timeout, event=event)
        with reader:
            progress.start(*reader.progress_size())
            for msg in reader:
                progress.update(len(msg.data))
                if outside_any_message(msg):             # reported by the reader, not a message
                    continue
                report.messages += 1
                first = msg.data.split(b"\n", 1)[0].rstrip(b"\r")
                if is_empty_message(msg.data):
                    report.add("empty-message", "an empty message", key=msg.key, offset=msg.offset)
                elif not is_header_line(first):
                    report.add("missing-header-separator", "the message does not start with a header field",
                               key=msg.key, offset=msg.offset)
    except InputError:
        raise
    except Exception as exc:                       # the stdlib Babyl reader raises many kinds
        report.add("not-a-message", f"cannot be read as {fmt}: {exc}", "error")
