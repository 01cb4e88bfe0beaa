"""Format detection from content (docs/formats.md §9); registry.detect_format asks it."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

from ..errors import InputError
from ..fs.safefs import open_regular
from .compression import compression_of, decompress
from .eml import is_message_file
from .maildirfiles import is_control_file
from .mboxscan import BOM, first_separator
from .mh import is_mh

SNIFF = 64 << 10


def _describe(head: bytes) -> str:
    first = head.split(b"\n", 1)[0][:40]
    if not head:
        return "an empty file"
    sample = head[:512]
    control = sum(1 for b in sample if b < 9 or 13 < b < 32 or b == 127)
    if (b"\x00" in sample or control > len(sample) // 20) and not head.startswith(b"From "):
        return "binary data"
    text = first.decode("latin-1").rstrip("\r")
    return f"a file starting with {text!r}"


def read_head(path: Path, size: int = SNIFF) -> bytes:
    """The first bytes of ``path``, leaving its access time as it was ("new mail" stays new)."""
    try:
        before = os.stat(path)
        fd, _ = open_regular(path, follow=True)     # swapped for a FIFO since: refused, not waited on
        with os.fdopen(fd, "rb") as fh:
            head = fh.read(size)
        _restore_atime(path, before)
        return head
    except PermissionError as exc:
        raise InputError(f"{path}: permission denied") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc


def _restore_atime(path: Path, before: os.stat_result) -> None:
    try:
        now = os.stat(path)
        if now.st_atime_ns != before.st_atime_ns and now.st_mtime_ns == before.st_mtime_ns:
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    except OSError:                       # not ours to change: never mind
        pass


def inner_mbox(path: Path) -> Path:
    """An Apple Mail export bundle, ``NAME.mbox/`` holding the mbox file ``mbox`` (with
    ``Info.plist`` and ``table_of_contents``), stands for that file; any other path for itself."""
    path = Path(path)
    if path.name.lower().endswith(".mbox") and (path / "mbox").is_file() and not (path / "cur").is_dir():
        return path / "mbox"
    return path


def sniff_format(path: Path) -> str:
    """The format of the mailbox at ``path``, from its content (callers ask
    registry.detect_format); InputError naming what was found otherwise.

    A file is an mbox when the scanner finds a message in its first 64 KiB (is_mbox_head):
    also one with bytes before its first From_ line, which every command then reads as an
    mbox with ``garbage-before-first-from``.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file or directory") from exc
    except PermissionError as exc:
        raise InputError(f"{path}: permission denied") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot stat: {exc.strerror}") from exc
    if stat.S_ISDIR(st.st_mode):
        return _detect_dir(path)
    if not stat.S_ISREG(st.st_mode):
        kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) \
            else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "not a regular file"
        raise InputError(f"{path}: is {kind}, not a mailbox")
    head = read_head(path)
    kind = compression_of(head)
    if kind is not None:
        return _detect_compressed(path, kind)
    if not head or head.removeprefix(BOM).lstrip(b" \t\r\n").startswith(b"From "):
        return "mbox"                       # leading blank lines, or a byte-order mark: still mbox
    if head.startswith(b"\x01\x01\x01\x01\n") or head.startswith(b"\x01\x01\x01\x01\r\n"):
        return "mmdf"
    if head.startswith(b"BABYL OPTIONS:"):
        return "babyl"
    if is_mbox_head(head):
        return "mbox"
    hint = ""
    if b":" in head.split(b"\n", 1)[0]:
        hint = " (a single message, not a mailbox? --from eml reads it as one)"
    raise InputError(f"{path}: not a known mailbox format: found {_describe(head)}{hint}")


def is_mbox_head(head: bytes) -> bool:
    """True when the first bytes of a file hold an mbox's first separator (§1.4 step 5),
    maybe after bytes that are no message: the one test of every command."""
    return first_separator(head) is not None


def _detect_compressed(path: Path, kind: str) -> str:
    """A compressed file holding an mbox (as list archives ship) reads as mbox; anything else is refused."""
    sniffed = io.BytesIO()
    try:
        before = os.stat(path)
        fd, _ = open_regular(path, follow=True)
        with os.fdopen(fd, "rb") as raw:
            decompress(raw, kind, path, sniffed, SNIFF)  # a later break is the reader's to report
        _restore_atime(path, before)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    head = sniffed.getvalue()
    if head.lstrip(b" \t\r\n").startswith(b"From ") or is_mbox_head(head):
        return "mbox"
    raise InputError(f"{path}: a {kind} file that does not hold an mbox: found {_describe(head)}")


def _detect_dir(path: Path) -> str:
    try:
        names = os.listdir(path)
    except PermissionError as exc:
        raise InputError(f"{path}: permission denied") from exc
    if (path / "cur").is_dir() and (path / "new").is_dir():
        loose = [n for n in names if not n.startswith(".") and n not in ("cur", "new", "tmp")
                 and not is_control_file(n) and (path / n).is_file() and is_message_file(path / n)]
        if loose:
            raise InputError(f"{path}: has cur/ and new/ but also {len(loose)} message files at its top "
                             f"(e.g. {sorted(loose)[0]!r}): a mail root, not a Maildir "
                             "(--from maildir reads only cur/ and new/)")
        return "maildir"
    if is_mh(path):
        return "mh"
    visible = [n for n in names if not n.startswith(".")]
    if not names:
        raise InputError(f"{path}: is an empty directory, not a mailbox")
    if (path / "cur").is_dir():
        raise InputError(f"{path}: has cur/ but no new/ (a damaged Maildir, or a Thunderbird maildir "
                         "folder? --from maildir reads it)")
    return _refuse_dir(path, visible)


def _refuse_dir(path: Path, visible: list[str]) -> str:
    if not visible:
        hidden = sorted(os.listdir(path))
        sample = "only hidden entries: " + ", ".join(hidden[:3])
        visible = hidden
    else:
        sample = ", ".join(sorted(visible)[:3])
    raise InputError(f"{path}: a directory that is neither a Maildir (no cur/ and new/) nor an MH "
                     f"folder: found {sample}{', ...' if len(visible) > 3 else ''}"
                     f"{_dir_hint(path, visible)}")


def _dir_hint(path: Path, visible: list[str]) -> str:
    """What to try with a directory no format claims: message files call for --from eml."""
    files = [n for n in sorted(visible)[:20] if (path / n).is_file()]
    if files and 2 * sum(is_message_file(path / n) for n in files) >= len(files):
        return " (message files? --from eml reads each as one message)"
    return " (--recursive converts a folder tree)"
