"""Whole-server migrations: many mailboxes, each converted by its own ``convert`` process.

Each row of a manifest runs as ``python -m mboxtool convert SRC DST --json ...``
in a child process: the conversion is exactly the one ``convert`` makes (same
state, locks, durability, privilege drop when root), a crash or a memory spike
stays in that child, and one mailbox that fails, is damaged or is locked never
stops the others. Up to ``jobs`` children run at a time.
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ExitStatus
from .manifest import Row

STATUSES = ("done", "failed", "busy", "skipped")


@dataclass
class MigrateOptions:
    """What applies to every row; a row's own ``owner``, ``format`` and ``recursive`` win."""

    convert_args: list[str] = field(default_factory=list)   # convert options passed as given
    tree_args: list[str] = field(default_factory=list)      # passed only to the rows of folder trees
    owner: str | None = None
    to_format: str | None = None
    recursive: bool = False
    dry_run: bool = False
    jobs: int = 1


@dataclass
class MailboxResult:
    """How one mailbox went; ``to_dict()`` is its JSON line."""

    source: str
    destination: str
    status: str
    converted: int = 0
    skipped: int = 0
    failed: int = 0
    quarantined: int = 0
    bytes: int = 0
    owner: str | None = None
    seconds: float = 0.0
    errors: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None          # why it is not done, in one line
    exit_code: int | None = None       # convert's
    stuck_runs: int | None = None      # consecutive busy/failed runs, when a log keeps count
    alert: bool = False
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        doc = {"source": self.source, "destination": self.destination, "status": self.status,
               "converted": self.converted, "skipped": self.skipped, "failed": self.failed,
               "quarantined": self.quarantined, "bytes": self.bytes, "owner": self.owner,
               "seconds": round(self.seconds, 3), "errors": self.errors, "reason": self.reason,
               "exit_code": self.exit_code, "dry_run": self.dry_run}
        if self.stuck_runs is not None:
            doc["stuck_runs"] = self.stuck_runs
            doc["alert"] = self.alert
        return doc


def convert_command(row: Row, options: MigrateOptions) -> list[str]:
    """The ``convert`` command line that migrates ``row``."""
    cmd = [sys.executable, "-m", "mboxtool", "convert", row.source, row.destination, "--json"]
    cmd += options.convert_args
    fmt = row.format or options.to_format
    if fmt:
        cmd += ["--to", fmt]
    if row.recursive if row.recursive is not None else options.recursive:
        cmd += ["--recursive", *options.tree_args]
    owner = row.owner or options.owner
    if owner:
        cmd += ["--owner", owner]
    if options.dry_run:
        cmd.append("--dry-run")
    return cmd


def _child_env() -> dict[str, str]:
    # the children run this very package, also from a source tree that is not installed
    env = dict(os.environ)
    here = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    return env


def source_size(row: Row) -> int:
    """Bytes of an mbox source (0 for a directory or a missing file): what a bar can count."""
    try:
        st = os.stat(row.source)
    except OSError:
        return 0
    return st.st_size if not os.path.isdir(row.source) else 0


class Migration:
    """Runs rows in parallel children; ``interrupt()`` passes SIGTERM on to the running ones."""

    def __init__(self, options: MigrateOptions):
        self.options = options
        self._running: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._stopping = False
        self._env = _child_env()

    def run(self, rows: Iterable[Row], on_result: Callable[[MailboxResult], None]) -> list[MailboxResult]:
        """Migrate every row; ``on_result`` is called in this thread as each one finishes."""
        results = []
        pool = ThreadPoolExecutor(max_workers=max(1, self.options.jobs))
        try:
            futures = [pool.submit(self.migrate_one, row) for row in rows]
            for future in as_completed(futures):
                result = future.result()
                results.append(result)
                on_result(result)
        except BaseException:
            self.interrupt()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return results

    def interrupt(self) -> None:
        with self._lock:
            self._stopping = True
            for child in self._running:
                if child.poll() is None:
                    # convert unwinds as for Ctrl-C: locks released, nothing half-written
                    child.send_signal(signal.SIGTERM)

    def migrate_one(self, row: Row) -> MailboxResult:
        owner = row.owner or self.options.owner
        if row.skip_reason:
            return MailboxResult(row.source, row.destination, "skipped", owner=owner,
                                 reason=row.skip_reason, dry_run=self.options.dry_run)
        started = time.monotonic()
        with self._lock:
            if self._stopping:
                return MailboxResult(row.source, row.destination, "skipped", owner=owner,
                                     reason="the migration was interrupted", dry_run=self.options.dry_run)
            child = subprocess.Popen(convert_command(row, self.options), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self._env)
            self._running.add(child)
        try:
            out, err = child.communicate()
        finally:
            with self._lock:
                self._running.discard(child)
        result = outcome(row, child.returncode, out, err, self.options.dry_run)
        result.seconds = time.monotonic() - started
        if result.owner is None:
            result.owner = owner or _default_owner(row.source)
        return result


def outcome(row: Row, code: int, stdout: bytes, stderr: bytes, dry_run: bool = False) -> MailboxResult:
    """A mailbox's result from its convert child's exit code, JSON document and stderr."""
    status = "done" if code == 0 else "busy" if code == ExitStatus.TEMPFAIL else "failed"
    report = _json_document(stdout)
    result = MailboxResult(row.source, row.destination, status, exit_code=code, dry_run=dry_run)
    if report is not None:
        result.converted = int(report.get("converted") or 0)
        result.skipped = int(report.get("skipped") or 0)
        result.failed = int(report.get("failed") or 0)
        result.quarantined = int(report.get("quarantined") or 0)
        result.bytes = int(report.get("bytes") or 0)
        result.owner = report.get("owner") if isinstance(report.get("owner"), str) else None
        result.errors = [e for e in report.get("errors") or [] if isinstance(e, dict)]
    if status != "done":
        result.reason = _reason(code, report, stderr).removeprefix(f"{row.source}: ")
        if not result.errors:
            result.errors = [{"message": result.reason}]
    return result


def _json_document(stdout: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(stdout.decode("utf-8", "replace"))
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _reason(code: int, report: dict[str, Any] | None, stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode("utf-8", "backslashreplace").splitlines() if ln.strip()]
    errors = [ln for ln in lines if not ln.startswith("mboxtool: warning:")]
    if errors:
        text = errors[-1]
        for prefix in ("mboxtool: error: ", "Error: ", "mboxtool: "):
            text = text.removeprefix(prefix)
        return text
    if report and report.get("errors"):
        return str(report["errors"][0].get("message", report["errors"][0]))
    if report and report.get("error"):
        return str(report["error"])
    if code < 0:
        return f"convert was killed by signal {-code}"
    return f"convert exited with status {code}"


def _default_owner(source: str) -> str | None:
    """Whom the destination belongs to when no owner is given, as convert resolves it (root:
    the owner of the source; anyone else: themselves); None when that cannot be told."""
    try:
        uid = os.stat(source).st_uid if os.geteuid() == 0 else os.geteuid()
    except OSError:
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)                     # a uid without a name in the password database


def summarize(results: list[MailboxResult], seconds: float, dry_run: bool = False) -> dict[str, Any]:
    """The final JSON line of a migration."""
    counts = {status: sum(r.status == status for r in results) for status in STATUSES}
    return {"summary": True, "mailboxes": len(results), **counts,
            "converted": sum(r.converted for r in results),
            "already_there": sum(r.skipped for r in results),
            "failed_messages": sum(r.failed for r in results),
            "quarantined": sum(r.quarantined for r in results),
            "bytes": sum(r.bytes for r in results), "seconds": round(seconds, 3),
            "alerts": sorted(r.source for r in results if r.alert), "dry_run": dry_run}


def exit_code(results: list[MailboxResult]) -> ExitStatus:
    """0 when all are done (or skipped by design); 1 when any failed, quarantined bytes or has
    been stuck for more runs than the alert allows; else 75 when some were busy."""
    if any(r.status == "failed" or r.quarantined or r.alert for r in results):
        return ExitStatus.PROBLEMS
    if any(r.status == "busy" for r in results):
        return ExitStatus.TEMPFAIL
    return ExitStatus.OK
