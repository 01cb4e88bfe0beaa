"""``--move``: take out of SRC what is now durable in DST (§7.5), setting aside first what
could not be converted out of a file that is emptied whole (quarantine.py)."""

from __future__ import annotations

from array import array
from pathlib import Path
from typing import Any

from .quarantine import quarantine_dir, set_aside, spans_of
from .report import ConvertReport


def quarantine_failed(reader: Any, failed_at: list[tuple[str, int, int | None]], starts: array, dst: Path,
                      dst_format: str, where: str | None, report: ConvertReport) -> None:
    """Set aside, durably, the bytes of every message that failed (in ``where``, else beside
    DST), so that the source can be emptied as usual. When that cannot be done the source is kept."""
    if len(failed_at) != report.failed:            # a failure that is no span of the file
        return
    place = Path(where) if where else quarantine_dir(dst, dst_format)
    spans = spans_of(failed_at, list(starts), reader.size)
    try:
        path, placed = set_aside(reader.fd, spans, Path(report.source), place)
    except OSError as exc:
        report.error(f"{place}: cannot set aside the {len(spans)} part(s) that could not be converted "
                     f"({exc.strerror or exc}); the source was kept unchanged")
        return
    report.quarantined = len(placed)
    report.quarantine_files.append(str(path))
    report.quarantine_spans += placed


def remove_moved(reader: Any, keys: list[str], report: ConvertReport) -> None:
    """Remove from SRC what is now durable in DST (§7.5)."""
    if reader.removes_whole_file:
        if report.failed > report.quarantined:
            report.warn({"code": "move-incomplete",
                         "message": f"{report.source}: kept unchanged because "
                                    f"{report.failed} messages could not be converted"})
            return
        reader.remove_all()
    else:
        size = count = 0
        for key in keys:
            try:
                size += reader.remove(key)          # through the directory fd it was read by
                count += 1
            except FileNotFoundError:
                pass
        report.add_warnings(reader.after_removing(keys, size, count))
    report.moved = True
