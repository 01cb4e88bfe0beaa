"""The migration log: append-only timestamped lines, and the runs each mailbox has been stuck.

Every line starts with an ISO 8601 UTC timestamp. The log is opened with
O_APPEND and never truncated; each line is one ``write`` so that several runs
sharing a log (shards on one host) interleave whole lines. Beside it,
``LOG.state`` records, per source, how many consecutive runs have ended busy or
failed; a run that ends done forgets the mailbox. Updates to it are made under
an exclusive lock on the log, so concurrent runs keep each other's counts.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from pathlib import Path

from .durable import replace_file

STUCK = ("busy", "failed")


def timestamp() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class RunLog:
    """An open migration log (a context manager)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.state_path = self.path.with_name(self.path.name + ".state")
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW,
                          0o600)

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def write(self, text: str) -> None:
        """One line, stamped; control characters of paths are escaped so a line stays a line."""
        line = f"{timestamp()} {text}".replace("\r", "\\r").replace("\n", "\\n") + "\n"
        os.write(self.fd, line.encode("utf-8", "backslashreplace"))

    def count_stuck(self, statuses: dict[str, str]) -> dict[str, int]:
        """Record this run's status of each source; return, for each source that ended busy or
        failed, the number of consecutive runs (this one included) it has done so."""
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            state = self._read_state()
            counts = {}
            for source, status in statuses.items():
                if status in STUCK:
                    entry = state.get(source) or {"runs": 0, "since": timestamp()}
                    entry["runs"] += 1
                    entry["last"] = status
                    state[source] = entry
                    counts[source] = entry["runs"]
                elif status == "done":
                    state.pop(source, None)
            replace_file(self.state_path.name, json.dumps(state, indent=0).encode(),
                         self.state_path.parent)
            return counts
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def _read_state(self) -> dict:
        try:
            data = json.loads(self.state_path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}             # unreadable: start counting again rather than stop the migration
        return data if isinstance(data, dict) else {}
