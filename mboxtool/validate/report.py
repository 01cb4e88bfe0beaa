"""What validate found in one mailbox: its format, variant, message count and problems."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..problems import SEVERITIES, SEVERITY, Problem, count, has_errors

TRUNCATED_KEYWORD = "$Truncated"        # the keyword repair marks a cut-off message with


@dataclass
class ValidationReport:
    """The problems of one mailbox. ``ok``: no error; ``passes(strict=True)``: no warning either."""

    path: str
    format: str
    variant: str | None = None
    variant_evidence: list[str] = field(default_factory=list)
    messages: int = 0
    problems: list[Problem] = field(default_factory=list)
    line_ends: dict[str, int] = field(default_factory=dict)   # messages by header line-end style

    def add(self, code: str, message: str, severity: str | None = None, **where: Any) -> None:
        self.problems.append(Problem(code, severity or SEVERITY[code], message, **where))

    def count(self, severity: str) -> int:
        return count(self.problems, severity)

    @property
    def ok(self) -> bool:
        return not has_errors(self.problems)

    def passes(self, strict: bool = False) -> bool:
        """``ok``, and with ``strict`` no warning either (``validate --strict``)."""
        return self.ok and not (strict and self.count("warning"))

    def to_dict(self, strict: bool = False) -> dict[str, Any]:
        return {"path": self.path, "format": self.format, "variant": self.variant,
                "variant_evidence": self.variant_evidence, "messages": self.messages,
                "ok": self.passes(strict),
                "counts": {s: self.count(s) for s in SEVERITIES},
                "line_ends": self.line_ends,
                "problems": [p.to_dict() for p in self.problems]}


class Progress:
    """The two progress callables, either of which may be missing."""

    def __init__(self, update: Callable[[int], None] | None, total: Callable[[int | None, str], None] | None):
        self.update = update or (lambda n: None)
        self.start = total or (lambda size, unit: None)
