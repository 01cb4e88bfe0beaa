"""Pieces shared by the readers of formats that keep no delivery date of their own."""

from __future__ import annotations

from .. import dates
from ..message import Headers


def header_date(headers: Headers, mtime: int | None = None) -> tuple[int | None, str]:
    """Delivery date from the newest Received:, then Date:, then the file mtime."""
    received = dates.received_date(headers.get_all(b"received"))
    if received is not None:
        return received, "received"
    date = dates.parse_header_date(headers.get(b"date"))
    if dates.plausible(date):
        return date, "date-header"
    if mtime is not None and dates.plausible(mtime):
        return mtime, "mtime"
    return None, "none"
