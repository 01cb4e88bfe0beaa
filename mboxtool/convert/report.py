"""ConvertReport: what a conversion did, and its ``--json`` document (docs/convert.md)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..problems import Problem


@dataclass
class ConvertReport:
    """What a conversion did; ``to_dict()`` is the ``--json`` document of the contract."""

    source: str
    destination: str
    source_format: str
    destination_format: str
    converted: int = 0
    skipped: int = 0
    failed: int = 0
    bytes: int = 0
    seconds: float = 0.0
    verified: bool | None = None
    errors: list[Problem] = field(default_factory=list)
    source_variant: str | None = None
    variant_evidence: list[str] = field(default_factory=list)
    excluded: list[Problem] = field(default_factory=list)      # messages left out on purpose (their "reason")
    warnings: list[Problem] = field(default_factory=list)
    dry_run: bool = False
    moved: bool = False
    resumed_at: int | None = None         # byte offset where an unchanged source was resumed
    stopped: bool = False                 # a write error stopped the run: the rest of SRC was not attempted
    subscribed: list[str] = field(default_factory=list)   # Maildir++ folders added to Dovecot's list
    quarantined: int = 0                  # --move: failed parts set aside before the source was emptied
    quarantine_files: list[str] = field(default_factory=list)
    quarantine_spans: list[dict[str, Any]] = field(default_factory=list)   # source offset -> file offset
    write_error: OSError | None = field(default=None, repr=False)   # what stopped it (not in --json)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.verified is not False and not self.errors

    def error(self, message: str, key: str | None = None, **extra: Any) -> None:
        """An error: a message that failed, or a part of the run that could not be done."""
        entry: dict[str, Any] = {"message": message}
        if key is not None:
            entry["key"] = key
        entry.update({k: v for k, v in extra.items() if v is not None})
        self.errors.append(Problem.entry("error", entry))

    def warn(self, entry: dict[str, Any]) -> None:
        """A warning, given as its ``--json`` entry (``code`` first)."""
        self.warnings.append(Problem.entry("warning", entry))

    def add_warnings(self, entries: Iterable[dict[str, Any]]) -> None:
        """The warnings a reader, a writer or the notmuch tag file made, as their entries."""
        self.warnings += [Problem.entry("warning", entry) for entry in entries]

    def exclude(self, entry: dict[str, Any]) -> None:
        """A message left out on purpose, given as its ``--json`` entry (``key``, ``reason``)."""
        self.excluded.append(Problem.entry("warning", entry))

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "destination": self.destination,
            "source_format": self.source_format, "destination_format": self.destination_format,
            "source_variant": self.source_variant, "variant_evidence": self.variant_evidence,
            "converted": self.converted, "skipped": self.skipped, "failed": self.failed,
            "bytes": self.bytes, "seconds": round(self.seconds, 3), "verified": self.verified,
            "dry_run": self.dry_run, "moved": self.moved, "resumed_at": self.resumed_at,
            "stopped": self.stopped, "subscribed": self.subscribed,
            "quarantined": self.quarantined, "quarantine_files": self.quarantine_files,
            "quarantine_spans": self.quarantine_spans,
            "errors": [p.to_dict() for p in self.errors], "excluded": [p.to_dict() for p in self.excluded],
            "warnings": [p.to_dict() for p in self.warnings],
        }
