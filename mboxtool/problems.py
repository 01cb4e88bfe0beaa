"""Problem: one finding of any report (validate, convert, repair), and the severity of each
code validate reports (docs/problems.md)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

SEVERITIES = ("error", "warning", "info")

# code -> severity, as in the damage catalogue (docs/formats.md §5, §6; docs/problems.md)
SEVERITY = {
    "not-an-mbox": "error", "garbage-before-first-from": "error", "leading-blank-lines": "info",
    "byte-order-mark": "warning",
    "unescaped-from-line": "warning", "possible-phantom-split": "error",
    "from-line-without-blank": "warning", "from-line-in-header": "warning",
    "glued-from-line": "error", "bad-from-date": "warning", "non-ascii-from-line": "warning",
    "crlf-line-endings": "info", "mixed-line-endings": "warning", "cr-line-endings": "error",
    "nul-run": "error", "nul-byte": "warning", "missing-final-newline": "warning",
    "truncated-message": "error", "concatenated-mbox": "warning", "text-outside-messages": "error",
    "content-length-mismatch": "warning", "pseudo-message": "info", "stale-dotlock": "warning",
    "duplicate-message": "info", "header-8bit": "info", "header-invalid-utf8": "warning",
    "long-line": "warning", "very-long-line": "error", "missing-header-separator": "warning",
    "broken-mime-boundary": "warning", "mixed-quoting": "warning", "empty-message": "warning",
    "compressed-data-broken": "error",
    # Maildir
    "missing-subdir": "error", "stale-tmp-file": "info", "empty-file": "warning",
    "missing-info": "info", "info-in-new": "info", "duplicate-unique": "warning",
    "bad-flag-order": "info", "unknown-flag": "info", "keyword-without-mapping": "warning",
    "bad-size-field": "warning", "foreign-file": "warning", "unreadable-file": "error",
    "insecure-permissions": "warning", "bad-mtime": "info", "mtime-far-from-date": "warning",
    "uid-in-name": "info", "control-files": "info", "not-a-message": "warning",
    "symlink": "error",
}

_ATTRIBUTES = ("code", "severity", "message", "line", "offset", "key")
_PLACES = ("line", "offset", "key")
_ALIASES = {"reason": "message"}         # convert's ``excluded`` entries call their sentence "reason"


@dataclass(eq=False)
class Problem(Mapping):
    """One finding: a stable code, a severity, a sentence, and where it is (line, byte
    offset, message key). ``detail`` holds the further fields of its ``--json`` entry
    (``length``, ``keyword``, ``errno``, ``folder``...).

    Read as a mapping, a problem is its ``--json`` entry: ``fields`` names the entry's
    fields in order (None: code, severity, message, then the places that are known), so
    that each report keeps the entry shape its document has (docs/ pages)."""

    code: str | None
    severity: str
    message: str | None = None
    line: int | None = None
    offset: int | None = None
    key: str | None = None
    detail: dict[str, Any] | None = None   # None when there is none: most findings (a dict each would cost)
    fields: tuple[str, ...] | None = None

    @classmethod
    def entry(cls, severity: str, fields: Mapping[str, Any]) -> Problem:
        """The problem whose ``--json`` entry is ``fields`` (a dict a reader or writer made)."""
        known = {_ALIASES.get(name, name): value for name, value in fields.items()
                 if _ALIASES.get(name, name) in _ATTRIBUTES}
        detail = {name: value for name, value in fields.items()
                  if _ALIASES.get(name, name) not in _ATTRIBUTES}
        known.setdefault("code", None)
        known["severity"] = known.get("severity") or severity
        return cls(**known, detail=detail or None, fields=tuple(fields))

    def amended(self, **changes: Any) -> Problem:
        """A copy with ``changes``; a field the entry did not have is added at its end."""
        names = self._names()
        added = tuple(name for name in changes if name not in names)
        new = replace(self, detail=dict(self.detail or {}), fields=names + added)
        for name, value in changes.items():
            name = _ALIASES.get(name, name)
            if name in _ATTRIBUTES:
                setattr(new, name, value)
            else:
                new.detail[name] = value
        return new

    def _names(self) -> tuple[str, ...]:
        if self.fields is not None:
            return self.fields
        return ("code", "severity", "message",
                *(name for name in _PLACES if getattr(self, name) is not None), *(self.detail or ()))

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __getitem__(self, name: str) -> Any:
        if name not in self._names():
            raise KeyError(name)
        return self._value(name)

    def __len__(self) -> int:
        return len(self._names())

    def __eq__(self, other: object) -> bool:
        """Equal to a problem with the same attributes, and to a mapping equal to its entry."""
        if isinstance(other, Problem):
            return self._identity() == other._identity()
        if isinstance(other, Mapping):
            return self.to_dict() == dict(other)
        return NotImplemented

    __hash__ = None                     # type: ignore[assignment]  (mutable: validate lowers severities)

    def _identity(self) -> tuple:
        return (self.code, self.severity, self.message, self.line, self.offset, self.key, self.detail or {},
                self._names())

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` entry."""
        if self.fields is not None:
            return {name: self._value(name) for name in self.fields}
        entry = {"code": self.code, "severity": self.severity, "message": self.message}
        for name in _PLACES:                # validate's shape: the places that are known
            if getattr(self, name) is not None:
                entry[name] = getattr(self, name)
        return {**entry, **self.detail} if self.detail else entry

    def _value(self, name: str) -> Any:
        name = _ALIASES.get(name, name)
        return getattr(self, name) if name in _ATTRIBUTES else self.detail[name]


def count(problems: list[Problem], severity: str) -> int:
    """How many of ``problems`` have ``severity``."""
    return sum(1 for p in problems if p.severity == severity)


def has_errors(problems: list[Problem]) -> bool:
    return any(p.severity == "error" for p in problems)
