"""validate, Maildirs: the folder's structure, each file's name, mode, size and start (§6)."""

from __future__ import annotations

import os
import re
import stat
import time
from pathlib import Path

from ..formats.maildirfiles import is_control_file, is_message_file, stale_tmp_files
from ..formats.maildirkeywords import odd_flags, read_keyword_map
from ..fs.safefs import NotRegularFile, open_dir, open_regular
from ..model.dates import parse_header_date
from ..model.flags import parse_maildir_name
from ..model.message import Headers, header_end
from .report import Progress, ValidationReport


def check_maildir(path: Path, report: ValidationReport, progress: Progress) -> None:
    r = report
    for sub in ("cur", "new", "tmp"):
        if not (path / sub).is_dir():
            r.add("missing-subdir", f"{sub}/ is missing", key=sub)
    keyword_map = read_keyword_map(path)
    now = time.time()
    for name in sorted(os.listdir(path)):
        if is_control_file(name):
            r.add("control-files", f"{name}: a control file, not a message", key=name)
    uniques: dict[str, str] = {}
    # new/ and cur/ are walked through their descriptors: one swapped for a link after it was
    # opened cannot lead a file's stat or read anywhere else
    listed: dict[str, tuple[int, list[str]]] = {}
    try:
        for sub in ("new", "cur"):
            try:
                fd = open_dir(path / sub)
            except NotRegularFile:                   # never walked: it may lead anywhere (/etc)
                r.add("symlink", f"{sub}/ is a symbolic link: not followed, its files never converted", key=sub)
                continue
            except OSError:                          # missing (said above) or not a directory
                continue
            listed[sub] = (fd, sorted(n for n in os.listdir(fd) if not n.startswith(".")))
        progress.start(sum(len(names) for _, names in listed.values()), "msg")
        for sub, (fd, names) in listed.items():
            for name in names:
                _check_file(name, fd, sub, f"{sub}/{name}", keyword_map, uniques, now, r)
                progress.update(1)
    finally:
        for fd, _ in listed.values():
            os.close(fd)
    for name in stale_tmp_files(path, now):
        r.add("stale-tmp-file", "a delivery abandoned in tmp/ (older than 36 h; never converted)",
              key=f"tmp/{name}")
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        r.add("insecure-permissions", f"the Maildir directory is mode {mode:04o}, not 0700", key=".")


def _check_file(name: str, dir_fd: int, sub: str, key: str, keyword_map: dict, uniques: dict,
                       now: float, r: ValidationReport) -> None:
    """One file of new/ or cur/ (``dir_fd``): what it is, its name, its mode, then its content."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError as exc:
        r.add("unreadable-file", f"cannot stat: {exc.strerror}", key=key)
        return
    if stat.S_ISLNK(st.st_mode):
        r.add("symlink", "a symbolic link: not followed (convert does not take it)", key=key)
        return
    if not stat.S_ISREG(st.st_mode):
        r.add("foreign-file", "not a regular file", key=key)
        return
    _check_name(sub, name, key, keyword_map, uniques, st.st_size, r)
    r.messages += 1
    if stat.S_IMODE(st.st_mode) & 0o077:
        r.add("insecure-permissions", f"mode {stat.S_IMODE(st.st_mode):04o}: readable by others", key=key)
    if st.st_size == 0:
        r.add("empty-file", "an empty file (a failed delivery or copy)", key=key)
        return
    _check_content(name, dir_fd, key, st.st_mtime, now, r)


def _check_name(sub: str, name: str, key: str, keyword_map: dict, uniques: dict, size: int,
                r: ValidationReport) -> None:
    """The file name: unique part, info part, flags, keyword letters, size and UID fields."""
    info = parse_maildir_name(name)
    if info.unique in uniques:
        r.add("duplicate-unique", f"the same unique name as {uniques[info.unique]}", key=key)
    uniques[info.unique] = key
    if sub == "cur" and not info.has_info:
        r.add("missing-info", "in cur/ without a ':2,' info part", key=key)
    if sub == "new" and info.has_info:
        r.add("info-in-new", "in new/ with an info part", key=key)
    chars = name[len(info.unique) + 3:].split(",", 1)[0] if info.has_info else ""
    letters = [c for c in chars if c.isupper()]
    if letters != sorted(set(letters)):
        r.add("bad-flag-order", f"flags {''.join(letters)!r} not in ASCII order or repeated", key=key)
    unknown = odd_flags(name, info)
    if unknown:
        r.add("unknown-flag", f"{unknown!r} after ':2,' are no Maildir flags (convert and repair keep them "
              "as keywords $MaildirFlag_<c>)", key=key)
    for c in info.keyword_letters:
        if ord(c) - ord("a") not in keyword_map:
            r.add("keyword-without-mapping", f"keyword letter {c!r} has no entry in dovecot-keywords", key=key)
            break
    m = re.search(r",S=(\d+)", info.unique)
    if m and int(m.group(1)) != size:
        r.add("bad-size-field", f",S={m.group(1)} but the file has {size} bytes", key=key)
    if ",U=" in info.unique:
        r.add("uid-in-name", "an mbsync ,U= UID in the name (never copy such names)", key=key)


def _check_content(name: str, dir_fd: int, key: str, mtime: float, now: float, r: ValidationReport) -> None:
    """The file's first 64 KiB: a message's start, and a delivery time that fits its Date:."""
    try:
        fd, _ = open_regular(name, dir_fd)              # a link or a FIFO swapped in: refused
        with open(fd, "rb") as fh:
            head = fh.read(64 << 10)
    except OSError as exc:
        r.add("unreadable-file", f"cannot read: {exc.strerror}", key=key)
        return
    if not is_message_file(head):
        r.add("not-a-message", "does not start with a header field (convert and repair leave it out)", key=key)
    if mtime <= 0 or mtime > now + 86400:
        r.add("bad-mtime", "the file time (delivery time) is impossible", key=key)
        return
    d = parse_header_date(Headers(head[:header_end(head)]).get(b"date"))
    if d is not None and abs(d - mtime) > 7 * 86400:
        r.add("mtime-far-from-date", f"delivery time (mtime) is {abs(d - mtime) / 86400:.0f} days "
              "from the Date: header (copied without keeping times?)", key=key)
