"""info and list: bar charts, aligned tables, CSV and JSON lines."""

from __future__ import annotations

import csv
import io
import shutil
import sys
import unicodedata
from typing import Any

from .documents import dump_document, unicode_ok

BLOCKS = " ▏▎▍▌▋▊▉█"


def bar(value: int, peak: int, width: int, fancy: bool) -> str:
    if peak <= 0 or width <= 0:
        return ""
    cells = value * width / peak
    if not fancy:
        return "#" * max(1 if value else 0, round(cells))
    full, part = int(cells), int((cells - int(cells)) * 8)
    text = "█" * full + (BLOCKS[part] if part else "")
    return text or ("▏" if value else "")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def info_text(doc: dict[str, Any]) -> str:
    width = shutil.get_terminal_size((80, 24)).columns
    fancy = unicode_ok()
    lines = [f"{doc['path']}",
             f"  format      {doc['format']}" + (f" ({doc['variant']}: {'; '.join(doc['variant_evidence'])})"
                                                 if doc.get("variant") else ""),
             f"  messages    {doc['messages']}   ({_size(doc['bytes'])})"
             + (f"   and {_size(doc['outside_bytes'])} outside any message" if doc.get("outside_bytes") else ""),
             f"  dates       {doc['first_date'] or '-'}  ..  {doc['last_date'] or '-'}"
             + (f"   ({doc['undated']} undated)" if doc.get("undated") else ""),
             f"  unread      {doc['unread']}   new {doc['new']}",
             "  flags       " + (", ".join(f"{k} {v}" for k, v in doc["flags"].items()) or "none")]
    if doc["keywords"]:
        lines.append("  keywords    " + ", ".join(f"{k} {v}" for k, v in doc["keywords"].items()))
    if doc["top_senders"]:
        lines.append("  top senders")
        for address, count in doc["top_senders"]:
            lines.append(f"    {count:>6}  {address}")
    mismatch = doc.get("envelope_mismatch") or {}
    if mismatch.get("messages"):
        lines.append(f"  envelope sender domain differs from From: in {mismatch['messages']} messages")
        for envelope, header, count in mismatch["top_pairs"]:
            lines.append(f"    {count:>6}  {envelope} -> {header}")
    if doc["per_year"]:
        lines.append("  messages per year")
        peak = max(doc["per_year"].values())
        room = max(10, width - 20)
        for year, count in doc["per_year"].items():
            lines.append(f"    {year}  {count:>6}  {bar(count, peak, room, fancy)}")
    return "\n".join(lines)


def tree_text(rows: list[dict[str, Any]]) -> str:
    out = [f"{'messages':>9} {'unread':>7} {'size':>10}  {'format':<8} folder"]
    for r in rows:
        out.append(f"{r['messages']:>9} {r['unread']:>7} {_size(r['bytes']):>10}  {r['format']:<8} {r['folder']}")
    return "\n".join(out)


def _fit(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` terminal cells (wide characters count two), padded."""
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    out, used = [], 0
    for ch in text:
        w = 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        if used + w > width:
            if out:
                out[-1] = "…" if unicode_ok() else "~"
            break
        out.append(ch)
        used += w
    return "".join(out) + " " * (width - used)


# list's table: the width of each fixed column; the others share what is left (2:3 from:subject)
TABLE_WIDTHS = {"index": 6, "date": 16, "flags": 6, "size": 8, "new": 3}
TABLE_SHARES = {"subject": 3}
RIGHT_ALIGNED = ("index", "size")
TABLE_HEADINGS = {"index": "#"}
DEFAULT_TABLE = ("index", "date", "from", "subject", "flags", "size")


class RowPrinter:
    """Writes list rows as an aligned table, CSV or JSON lines, flushing as it goes.

    ``columns``: those of the table and the CSV (any of COLUMNS); JSON lines carry them all.
    """

    COLUMNS = ["index", "key", "date", "from", "subject", "flags", "size", "new", "keywords",
               "envelope_from", "delivered_to", "to", "message_id"]

    def __init__(self, mode: str, columns: list[str] | tuple[str, ...] | None = None):
        self.mode = mode
        self.out = sys.stdout
        self.width = shutil.get_terminal_size((120, 24)).columns
        self.started = False
        self.columns = list(columns or (self.COLUMNS if mode == "csv" else DEFAULT_TABLE))
        if mode == "table":
            self._widths = self._table_widths()
        if mode == "csv":
            self.buffer = io.StringIO()
            self.writer = csv.writer(self.buffer)

    def emit(self, row: Any) -> bool:
        try:
            if self.mode == "json":
                self.out.write(dump_document(row.to_dict()) + "\n")
            elif self.mode == "csv":
                self.header()
                d = row.to_dict()
                self.writer.writerow([_csv_cell(name, d[name]) for name in self.columns])
                self._flush_csv()
            else:
                self._table_row(row)
            self.out.flush()
        except BrokenPipeError:
            self._silence()
            return False
        self.started = True
        return True

    def header(self) -> None:
        """The CSV header row, once (also for a mailbox without messages: scripts read it)."""
        if self.mode == "csv" and not self.started:
            self.writer.writerow(self.columns)
            self.started = True

    def _flush_csv(self) -> None:
        self.out.write(self.buffer.getvalue())
        self.buffer.seek(0)
        self.buffer.truncate()

    def _table_widths(self) -> dict[str, int]:
        fixed = sum(TABLE_WIDTHS.get(c, 0) for c in self.columns) + len(self.columns) - 1
        shared = [c for c in self.columns if c not in TABLE_WIDTHS]
        rest = max(10 * len(shared), self.width - fixed - 1)
        shares = sum(TABLE_SHARES.get(c, 2) for c in shared)
        widths, given = {}, 0
        for i, c in enumerate(shared):
            widths[c] = rest - given if i == len(shared) - 1 else rest * TABLE_SHARES.get(c, 2) // shares
            given += widths[c]
        return {c: TABLE_WIDTHS.get(c) or widths[c] for c in self.columns}

    def _table_row(self, row: Any) -> None:
        if not self.started:
            self.out.write(" ".join(self._cell(c, TABLE_HEADINGS.get(c, c)) for c in self.columns).rstrip()
                           + "\n")
        d = row.to_dict()
        self.out.write(" ".join(self._cell(c, _table_value(c, d[c])) for c in self.columns).rstrip() + "\n")

    def _cell(self, column: str, text: str) -> str:
        width = self._widths[column]
        if column in RIGHT_ALIGNED:
            return f"{text:>{width}}"
        if column in TABLE_WIDTHS:
            return f"{text:<{width}}"
        return _fit(text, width)

    def _silence(self) -> None:
        import os
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass

    def close(self) -> None:
        try:
            self.header()
            if self.mode == "csv":
                self._flush_csv()
            self.out.flush()
        except BrokenPipeError:
            self._silence()


def _table_value(column: str, value: Any) -> str:
    if column == "date":
        return (value or "-")[:16].replace("T", " ")
    if column == "flags":
        return value or "-"
    if column == "new":
        return "yes" if value else ""
    if column == "keywords":
        return " ".join(value)
    return str(value)


def _csv_cell(column: str, value: Any) -> Any:
    if column == "new":
        return int(value)
    if column == "keywords":
        return " ".join(value)
    return "" if value is None else value


def tree_document(root: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``info --recursive --json``: one object like ``info --json`` gives for one mailbox, with
    the totals at the top, the folders that are damaged by name, and one row per folder."""
    *folders, total = rows
    return {"path": str(root), "format": "tree", "messages": total["messages"], "unread": total["unread"],
            "bytes": total["bytes"], "damaged": [r["folder"] for r in folders if r["damage"]],
            "folders": folders}
