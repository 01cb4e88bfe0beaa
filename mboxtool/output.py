"""Rendering helpers: JSON on stdout, progress bars on stderr (never in pipes or cron)."""

from __future__ import annotations

import json
import sys
from typing import Any


def unicode_ok() -> bool:
    """True when stdout can carry any Unicode text (a UTF encoding)."""
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    return encoding in ("utf8", "utf16", "utf32")


def dump_json(doc: Any) -> str:
    """JSON text; plain ASCII escapes when stdout cannot carry UTF-8, so nothing is lost."""
    return json.dumps(doc, ensure_ascii=not unicode_ok(), default=str)


SCHEMA = 1      # version of every --json document and JSON line: raised when a field changes meaning


def dump_document(doc: dict[str, Any]) -> str:
    """A ``--json`` document (or one JSON line of ``list``): ``schema`` first, then ``doc``."""
    return dump_json({"schema": SCHEMA, **doc})


def error_document(message: str, code: int) -> str:
    """What a ``--json`` run that fails prints on stdout, beside its line on stderr."""
    return dump_document({"error": message, "exit": code})


class ProgressBar:
    """A tqdm bar on stderr when it is a terminal and not silenced; otherwise nothing at all."""

    def __init__(self, enabled: bool, desc: str):
        self.enabled = enabled and sys.stderr.isatty()
        self.desc = desc
        self.bar = None

    def start(self, total: int | None, unit: str) -> None:
        """A bar for the next stretch of work (one before it is closed)."""
        if not self.enabled:
            return
        self.close()
        try:
            from tqdm import tqdm
        except ImportError:             # run from a source tree without its dependencies: no bar
            self.enabled = False
            return
        self.bar = tqdm(total=total, unit=unit, unit_scale=unit == "B", desc=self.desc,
                        file=sys.stderr, leave=False, dynamic_ncols=True)

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n if self.bar.unit == "B" else 1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
