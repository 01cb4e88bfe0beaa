"""IMAP modified UTF-7 (RFC 3501 §5.1.3): how Maildir++ folder names and Dovecot's subscription
lists spell names that are not ASCII."""

from __future__ import annotations

import base64


def mutf7_encode(name: str) -> str:
    """IMAP modified UTF-7 (RFC 3501 §5.1.3), as Maildir++ folder names use: 'Entwürfe' -> 'Entw&APw-rfe'."""
    out, pending = [], []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def mutf7_decode(name: str) -> str:
    """The inverse of mutf7_encode; text that is not valid modified UTF-7 is returned unchanged."""
    out, i = [], 0
    while i < len(name):
        if name[i] != "&":
            out.append(name[i])
            i += 1
            continue
        end = name.find("-", i)
        if end < 0:
            return name
        chunk = name[i + 1:end]
        if not chunk:
            out.append("&")
        else:
            b64 = chunk.replace(",", "/")
            try:
                out.append(base64.b64decode(b64 + "=" * (-len(b64) % 4)).decode("utf-16-be"))
            except (ValueError, UnicodeDecodeError):
                return name
        i = end + 1
    return "".join(out)
