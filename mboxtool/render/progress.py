"""Progress bars on stderr, never in pipes or cron."""

from __future__ import annotations

import sys


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
