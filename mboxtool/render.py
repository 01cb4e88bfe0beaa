"""Text rendering for info and list: bar charts, aligned tables, CSV and JSON lines."""

from __future__ import annotations

import csv
import io
import shutil
import sys
import unicodedata
from typing import Any

from .output import dump_json, unicode_ok

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


class RowPrinter:
    """Writes list rows as an aligned table, CSV or JSON lines, flushing as it goes."""

    COLUMNS = ["index", "key", "date", "from", "subject", "flags", "size", "new", "keywords"]

    def __init__(self, mode: str):
        self.mode = mode
        self.out = sys.stdout
        self.width = shutil.get_terminal_size((120, 24)).columns
        self.started = False
        if mode == "csv":
            self.buffer = io.StringIO()
            self.writer = csv.writer(self.buffer)

    def emit(self, row: Any) -> bool:
        try:
            if self.mode == "json":
                self.out.write(dump_json(row.to_dict()) + "\n")
            elif self.mode == "csv":
                if not self.started:
                    self.writer.writerow(self.COLUMNS)
                d = row.to_dict()
                self.writer.writerow([d["index"], d["key"], d["date"] or "", d["from"], d["subject"],
                                      d["flags"], d["size"], int(d["new"]), " ".join(d["keywords"])])
                self.out.write(self.buffer.getvalue())
                self.buffer.seek(0)
                self.buffer.truncate()
            else:
                self._table_row(row)
            self.out.flush()
        except BrokenPipeError:
            self._silence()
            return False
        self.started = True
        return True

    def _table_row(self, row: Any) -> None:
        rest = max(20, self.width - (6 + 1 + 16 + 1 + 6 + 1 + 8 + 3))
        who, subject = rest * 2 // 5, rest - rest * 2 // 5
        if not self.started:
            self.out.write(f"{'#':>6} {'date':<16} {_fit('from', who)} {_fit('subject', subject)} "
                           f"{'flags':<6} {'size':>8}\n")
        date = (row.to_dict()["date"] or "-")[:16].replace("T", " ")
        self.out.write(f"{row.index:>6} {date:<16} {_fit(row.sender, who)} {_fit(row.subject, subject)} "
                       f"{row.flags or '-':<6} {row.size:>8}\n")

    def _silence(self) -> None:
        import os
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass

    def close(self) -> None:
        try:
            if self.mode == "csv" and not self.started:      # no rows: scripts still read the columns
                self.writer.writerow(self.COLUMNS)
                self.out.write(self.buffer.getvalue())
            self.out.flush()
        except BrokenPipeError:
            self._silence()
