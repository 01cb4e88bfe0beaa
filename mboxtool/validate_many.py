"""validate_paths(): ``validate`` over several paths and folder trees, as one report.

Each mailbox is checked by validate_mailbox(); a tree (``--recursive``) is walked
as ``convert --recursive`` and ``info --recursive`` walk it. ``select`` keeps only
the problems of those codes, ``ignore`` drops those (an archive of HTML mail
that always trips ``long-line``). A path that cannot be read does not stop the
others: it is named in the report, and makes the exit code 2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ExitStatus, LockTimeout, MboxtoolError
from .fs.privsep import allow_result, plan, run_as
from .problems import SEVERITIES, SEVERITY, Problem
from .validate import ValidationReport, validate_mailbox


def unknown_codes(codes: Iterable[str]) -> list[str]:
    """The codes that are no problem code of ``validate`` (mailbox-formats §5-6)."""
    return [c for c in codes if c not in SEVERITY]


def filtered(report: ValidationReport, select: Iterable[str] = (),
             ignore: Iterable[str] = ()) -> ValidationReport:
    """``report`` with only the problems of ``select`` (all when empty), less those of ``ignore``."""
    keep, drop = set(select), set(ignore)
    report.problems = [p for p in report.problems if (not keep or p.code in keep) and p.code not in drop]
    return report


@dataclass
class ValidationSet:
    """The combined report of a ``validate`` run over several mailboxes."""

    paths: list[str]
    reports: list[tuple[str | None, ValidationReport]] = field(default_factory=list)   # (folder, report)
    unreadable: list[dict[str, Any]] = field(default_factory=list)
    not_mailboxes: list[str] = field(default_factory=list)
    busy: bool = False                         # a path was skipped for a lock not had in time

    @property
    def ok(self) -> bool:
        return self.passes()

    def passes(self, strict: bool = False) -> bool:
        """Every path read, and every mailbox passes (ValidationReport.passes)."""
        return not self.unreadable and all(r.passes(strict) for _, r in self.reports)

    def exit_code(self, strict: bool = False) -> ExitStatus:
        if self.unreadable:
            busy = self.busy and all(u.get("busy") for u in self.unreadable)
            return ExitStatus.TEMPFAIL if busy else ExitStatus.UNUSABLE
        return ExitStatus.OK if self.passes(strict) else ExitStatus.PROBLEMS

    def damaged(self, strict: bool = False) -> list[str]:
        return [r.path for _, r in self.reports if not r.passes(strict)]

    def to_dict(self, strict: bool = False) -> dict[str, Any]:
        counts = {s: sum(r.count(s) for _, r in self.reports) for s in SEVERITIES}
        return {"paths": self.paths, "ok": self.passes(strict), "mailboxes": len(self.reports),
                "messages": sum(r.messages for _, r in self.reports), "counts": counts,
                "damaged": self.damaged(strict),
                "reports": [{**({"folder": folder} if folder is not None else {}), **r.to_dict(strict)}
                            for folder, r in self.reports],
                "unreadable": self.unreadable, "not_mailboxes": self.not_mailboxes}


def validate_paths(paths: Iterable[Path], recursive: bool = False, fmt: str | None = None,
                   source_variant: str | None = None, lock: bool = True, lock_timeout: float = 30,
                   select: Iterable[str] = (), ignore: Iterable[str] = (),
                   progress: Callable[[int], None] | None = None,
                   progress_total: Callable[[int | None, str], None] | None = None) -> ValidationSet:
    """Check every path (every mailbox of each tree, with ``recursive``); one combined report.

    Run as root, each path is checked by its owner, in a forked child (privsep.run_as), as a
    single ``validate PATH`` is: a tree of several users' mailboxes is read by each in turn."""
    paths = [Path(p) for p in paths]
    result = ValidationSet([str(p) for p in paths])
    callbacks = {"progress": progress, "progress_total": progress_total}
    for path in paths:
        args = (path, recursive, fmt, source_variant, lock, lock_timeout, tuple(select), tuple(ignore))
        try:
            work = plan(path)
            part = run_as(work, _check_path, *args, callbacks=callbacks) if work else _check_path(*args, **callbacks)
        except (MboxtoolError, OSError) as exc:
            _unreadable(result, path, exc)
            continue
        result.reports += part.reports
        result.unreadable += part.unreadable
        result.not_mailboxes += part.not_mailboxes
        result.busy = result.busy or part.busy
    return result


def _check_path(path: Path, recursive: bool, fmt: str | None, source_variant: str | None, lock: bool,
                lock_timeout: float, select: tuple, ignore: tuple,
                progress: Callable[[int], None] | None = None,
                progress_total: Callable[[int | None, str], None] | None = None) -> ValidationSet:
    """The reports of one path: the mailbox, or each mailbox of the tree."""
    result = ValidationSet([str(path)])
    try:
        if recursive:
            from .formats.foldertree import mailboxes
            strangers: list[Path] = []
            boxes = mailboxes(path, strangers)
            result.not_mailboxes += [str(p) for p in strangers]
        else:
            boxes = [(None, path, fmt)]
    except (MboxtoolError, OSError) as exc:
        _unreadable(result, path, exc)
        return result
    for parts, box, box_fmt in boxes:
        try:
            report = validate_mailbox(box, box_fmt, source_variant, lock, lock_timeout,
                                      progress=progress, progress_total=progress_total)
        except (MboxtoolError, OSError) as exc:
            _unreadable(result, box, exc)
            continue
        folder = None if parts is None else "/".join(parts) or "INBOX"
        result.reports.append((folder, filtered(report, select, ignore)))
    return result


def _unreadable(result: ValidationSet, path: Path, exc: Exception) -> None:
    busy = isinstance(exc, LockTimeout)
    text = str(exc) if isinstance(exc, MboxtoolError) else f"{getattr(exc, 'strerror', None) or exc}"
    if not text.startswith(str(path)):
        text = f"{path}: {text}"
    result.busy = result.busy or busy
    result.unreadable.append({"path": str(path), "error": text, **({"busy": True} if busy else {})})


for _cls in (ValidationSet, ValidationReport, Problem):      # what a child checking as the owner sends back
    allow_result(_cls)
