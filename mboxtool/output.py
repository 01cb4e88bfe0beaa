"""Rendering helpers: JSON on stdout, progress bars on stderr (never in pipes or cron)."""

from __future__ import annotations

import json
import sys
from typing import Any


def dump_json(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, default=str)


class ProgressBar:
    """A tqdm bar on stderr when it is a terminal and not silenced; otherwise nothing at all."""

    def __init__(self, enabled: bool, desc: str):
        self.enabled = enabled and sys.stderr.isatty()
        self.desc = desc
        self.bar = None

    def start(self, total: int | None, unit: str) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm
        self.bar = tqdm(total=total, unit=unit, unit_scale=unit == "B", desc=self.desc,
                        file=sys.stderr, leave=False, dynamic_ncols=True)

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n if self.bar.unit == "B" else 1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
