"""The ``--json`` documents: JSON text that stdout can carry, with the schema version first."""

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
