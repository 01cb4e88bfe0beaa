"""The migration log: append-only timestamped lines, and the runs each mailbox has been stuck.

Every line starts with an ISO 8601 UTC timestamp. The log is opened with
O_APPEND and never truncated; each line is one ``write`` so that several runs
sharing a log (shards on one host) interleave whole lines. Beside it,
``LOG.state`` records, per source, how many consecutive runs have ended busy or
failed; a run that ends done forgets the mailbox. It is read as a run starts and
written once as it ends, under an exclusive lock on the log, so runs sharing a log
keep each other's counts.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from pathlib import Path

from ..fs.durable import replace_file

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
        self._state: dict | None = None

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

    def stuck_runs(self, source: str, status: str) -> int:
        """How many consecutive runs, this one included, ``source`` has ended busy or failed
        (0 when this run ended otherwise). Counted from the state as the run started."""
        if status not in STUCK:
            return 0
        if self._state is None:
            self._state = self._locked(self._read_state)
        return int((self._state.get(source) or {}).get("runs", 0)) + 1

    def record(self, statuses: dict[str, str]) -> None:
        """Write this run's outcome into the state: stuck mailboxes count one run more, done
        ones are forgotten, the mailboxes of other runs sharing the log are left as they are."""
        def update() -> None:
            state = self._read_state()
            for source, status in statuses.items():
                if status in STUCK:
                    entry = state.get(source) or {"runs": 0, "since": timestamp()}
                    entry["runs"] += 1
                    entry["last"] = status
                    state[source] = entry
                elif status == "done":
                    state.pop(source, None)
            replace_file(self.state_path.name, json.dumps(state, indent=0).encode(), self.state_path.parent)
        self._locked(update)

    def _locked(self, work):
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            return work()
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
