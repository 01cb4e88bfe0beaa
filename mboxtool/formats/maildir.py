"""Maildir: reading in a stable order (§2.5), flags and keywords from the file names. Writing is
maildirwriter.py; what a Maildir directory holds, maildirfiles.py; keywords in file names,
maildirkeywords.py."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from operator import attrgetter
from pathlib import Path

from ..errors import InputError
from ..fs.safefs import NotRegularFile, open_dir, open_regular
from ..model import dates, flags
from ..model.message import MailMessage, split_message
from .common import Reader
from .courier import read_courier_keywords
from .maildirfiles import is_message_file
from .maildirkeywords import FLAG_KEYWORD, odd_flags, read_keyword_map
from .quota import quota_file, record


@dataclass(slots=True)
class MaildirEntry:
    """One message file found in new/ or cur/ (a reader keeps one per file: kept small)."""

    subdir: str
    name: str
    mtime: int
    size: int

    @property
    def info(self) -> flags.MaildirInfo:
        """The parsed name: unique part and flags (parsed when asked, not kept)."""
        return flags.parse_maildir_name(self.name)

    @property
    def relpath(self) -> str:
        return f"{self.subdir}/{self.name}"


def _sane_mtime(mtime: int, name: str, data: bytes | None) -> tuple[int | None, str]:
    if dates.plausible(mtime):
        return mtime, "mtime"
    prefix = name.split(".", 1)[0]
    if prefix.isdigit() and dates.plausible(int(prefix)):
        return int(prefix), "name"
    if data is not None:
        headers, _ = split_message(data)
        d = dates.parse_header_date(headers.get(b"date"))
        if dates.plausible(d):
            return d, "date-header"
    return None, "none"


class MaildirReader(Reader):
    """Messages of one Maildir, ordered by (mtime, name), flags from the file names."""

    format = "maildir"

    def __init__(self, path: Path, event=None, **_: object):
        super().__init__(path, event)
        self.keyword_map = read_keyword_map(self.path)
        self.courier_keywords = read_courier_keywords(self.path)   # Courier-IMAP keeps them apart
        self.groups: dict[str, list[MaildirEntry]] = {}
        self._current: dict[str, str] | None = None     # unique name -> relpath, once files moved
        self.dirfd: dict[str, int | None] = {}             # new/ and cur/, opened once (subdir_fd)
        self._listed: list[MaildirEntry] | None = None     # listed by message_count(), for the next read

    def open(self) -> MaildirReader:
        if not self.path.is_dir():
            what = "no such directory" if not self.path.exists() else "not a directory (a Maildir is one)"
            raise InputError(f"{self.path}: {what}")
        if not (self.path / "cur").is_dir() and not (self.path / "new").is_dir():
            raise InputError(f"{self.path}: not a Maildir (no cur/ or new/)")
        for subdir in ("new", "cur"):
            self.subdir_fd(subdir)                   # a linked cur/ or new/ is refused now
        return self

    def subdir_fd(self, subdir: str) -> int | None:
        """The fd of ``new/`` or ``cur/`` (None when missing), opened once: the walk, the
        reads and --move's removals all go through it, so a ``cur/`` swapped for a symbolic
        link (to /etc) is refused, never followed."""
        if subdir not in self.dirfd:
            try:
                self.dirfd[subdir] = open_dir(self.path / subdir)
            except FileNotFoundError:
                self.dirfd[subdir] = None
            except NotRegularFile as exc:
                raise InputError(f"{self.path / subdir}: {exc.strerror} (a Maildir's own directory "
                                 "must not be a link)") from exc
            except PermissionError as exc:
                raise InputError(f"{self.path / subdir}: permission denied") from exc
            except OSError as exc:
                raise InputError(f"{self.path / subdir}: cannot open: {exc.strerror}") from exc
        return self.dirfd[subdir]

    def remove(self, key: str) -> int:
        """Remove the message file ``key`` (``cur/NAME``), through the fd of the directory it
        was read from (--move); its size. FileNotFoundError when it is gone already."""
        subdir, name = key.split("/", 1)
        fd = self.subdir_fd(subdir)
        if fd is None:
            raise FileNotFoundError(key)
        size = os.stat(name, dir_fd=fd, follow_symlinks=False).st_size
        os.unlink(name, dir_fd=fd)
        return size

    def after_removing(self, keys: list[str], size: int, count: int) -> list[dict]:
        """Take the removed messages off the Maildir++ quota, where one counts them."""
        quota = quota_file(self.path)
        if quota is None:
            return []
        try:
            record(quota, -size, -count)
        except OSError as exc:
            return [{"code": "quota-not-updated", "message":
                     f"{quota}: cannot take off {count} messages ({size} bytes): "
                     f"{exc.strerror or exc}; the quota in use reads high until recalculated"}]
        return []

    def close(self) -> None:
        for fd in self.dirfd.values():
            if fd is not None:
                os.close(fd)
        self.dirfd = {}

    def entries(self) -> list[MaildirEntry]:
        """Message files of new/ and cur/, dot-files and non-regular files skipped, sorted."""
        found: list[MaildirEntry] = []
        renamed: list[str] = []
        for subdir in ("new", "cur"):
            fd = self.subdir_fd(subdir)
            if fd is None:
                self.event("missing-subdir", key=subdir)
                continue
            try:
                it = os.scandir(fd)
            except PermissionError as exc:
                raise InputError(f"{self.path / subdir}: permission denied") from exc
            with it:
                for entry in it:
                    if entry.name.startswith("."):
                        continue
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:                # renamed while listed: a mail client at work
                        renamed.append(entry.name)
                        continue
                    except OSError as exc:
                        self.unreadable(f"{subdir}/{entry.name}", exc)
                        continue
                    if stat.S_ISLNK(st.st_mode):             # never followed: it may lead anywhere
                        self.unreadable(f"{subdir}/{entry.name}", "a symbolic link: not followed")
                        continue
                    if not stat.S_ISREG(st.st_mode):
                        self.event("foreign-file", key=f"{subdir}/{entry.name}", reason="not a regular file")
                        continue
                    found.append(MaildirEntry(subdir, entry.name, int(st.st_mtime), st.st_size))
        if renamed:                                          # readdir may miss a renamed file's new name
            listed = {e.info.unique for e in found}
            for name in renamed:
                unique = flags.parse_maildir_name(name).unique
                moved = None if unique in listed else self._find_moved(unique)
                if moved is not None:
                    found.append(moved)
                    listed.add(unique)
        # by (mtime, name) in two stable sorts: a key tuple per file would double the peak
        found.sort(key=attrgetter("name"))
        found.sort(key=attrgetter("mtime"))
        self._check_duplicates(found)
        return found

    def _check_duplicates(self, found: list[MaildirEntry]) -> None:
        """Group the files that share a unique name (§6), in listing order."""
        self.groups: dict[str, list[MaildirEntry]] = {}
        # a first pass keeps only a sorted list of hashes, so the check costs no copy of every name
        hashes = sorted(hash(e.info.unique) for e in found)
        twice = {h for h, after in pairwise(hashes) if h == after}
        del hashes
        if not twice:
            return
        first: dict[str, MaildirEntry] = {}
        for e in found:
            unique = e.info.unique
            if hash(unique) not in twice:
                continue
            if unique in first:
                self.event("duplicate-unique", key=e.relpath, other=first[unique].relpath)
                self.groups.setdefault(unique, [first[unique]]).append(e)
            else:
                first[unique] = e

    def _find_moved(self, unique: str, gone: str | None = None) -> MaildirEntry | None:
        """Where the message with this unique name is now, if it is still in new/ or cur/.

        A mail client moves new/ files to cur/ and renames cur/ files when their flags
        change, also while a conversion reads the Maildir. The names are listed again
        (once, and again only when a name found that way has moved on too), and the
        message is read where it is, with the flags it has now.
        """
        for fresh in (False, True):
            if fresh or self._current is None:
                self._current = {}
                for subdir in ("new", "cur"):
                    fd = self.subdir_fd(subdir)
                    try:
                        names = os.listdir(fd) if fd is not None else []
                    except OSError:
                        continue
                    for name in names:
                        if not name.startswith("."):
                            self._current[flags.parse_maildir_name(name).unique] = f"{subdir}/{name}"
            relpath = self._current.get(unique)
            if relpath is None or relpath == gone:
                continue
            subdir, name = relpath.split("/", 1)
            try:
                st = os.stat(name, dir_fd=self.subdir_fd(subdir), follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(st.st_mode):
                return MaildirEntry(subdir, name, int(st.st_mtime), st.st_size)
        return None

    def read(self, entry: MaildirEntry) -> MailMessage:
        """The message stored in ``entry``."""
        # listed as a regular file: opened without following a link or waiting on a FIFO, and
        # checked again only if it holds more than listed (a device swapped in would)
        fd, _ = open_regular(entry.name, self.subdir_fd(entry.subdir), check=False)
        try:
            data = os.read(fd, entry.size + 1)
            if len(data) > entry.size:                     # it grew since listing: read the rest
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise NotRegularFile(entry.relpath, "not-a-regular-file", "not a regular file")
                chunks = [data]
                while chunk := os.read(fd, 1 << 20):
                    chunks.append(chunk)
                data = b"".join(chunks)
        finally:
            os.close(fd)
        info = entry.info
        keywords = []
        for c in info.keyword_letters:
            name = self.keyword_map.get(ord(c) - ord("a"))
            keywords.append(name if name else f"$MaildirFlag_{c}")
        if self.courier_keywords:
            keywords = list(dict.fromkeys(keywords + list(self.courier_keywords.get(info.unique, ()))))
        letters = info.letters
        if not info.has_info and entry.subdir == "cur":
            # Thunderbird's maildir store: cur/ only, no flags in the names; it keeps them
            # in each file's X-Mozilla-Status, as in its mbox files
            kept = flags.mozilla_state(split_message(data)[0])
            if kept is not None:
                letters, keywords = kept.flags, list(kept.keywords)
        in_file = flags.file_keywords(data)             # --keywords header, mutt, past 26 letters
        if in_file:
            keywords = list(dict.fromkeys(keywords + in_file))
        if flags.FORWARDED in keywords:
            letters += "P"
            keywords.remove(flags.FORWARDED)
        # kept as keywords (§6), which a Maildir writer puts back into the name as they were
        unknown = odd_flags(entry.name, info)
        keywords += [FLAG_KEYWORD + c for c in unknown if FLAG_KEYWORD + c not in keywords]
        date, source = _sane_mtime(entry.mtime, entry.name, data)
        msg = MailMessage(data, flags.normalize(letters), entry.subdir == "new", tuple(keywords),
                          date, source, None, entry.relpath)
        if unknown:
            msg.notes.append("unknown-flag:" + unknown)
        return msg

    def _merged(self, group: list[MaildirEntry]) -> list[MailMessage]:
        """One unique name twice (a crash between link and unlink): identical bytes are one
        message with the union of the flags; different bytes stay separate messages (§6)."""
        out: list[MailMessage] = []
        any_unreadable = any_left_out = False
        for entry in group:
            try:
                msg = self.read(entry)
            except FileNotFoundError:                   # one of the copies went (a client cleaned up)
                continue
            except OSError as exc:
                self.unreadable(entry.relpath, exc)
                any_unreadable = True
                continue
            if self._left_out(msg):
                any_left_out = True
                continue
            same = next((m for m in out if m.data == msg.data), None)
            if same is None:
                out.append(msg)
            else:
                same.flags = flags.normalize(same.flags + msg.flags)
                same.keywords = tuple(dict.fromkeys(same.keywords + msg.keywords))
                same.new = same.new and msg.new
        if not out and not any_unreadable and not any_left_out:
            self.vanished(group[0].relpath)
        return out

    def message_count(self) -> int:
        """How many message files a read will find: listed now, and the read takes this list
        (for a progress bar's total)."""
        if self._listed is None:
            self._listed = self.entries()
        return len(self._listed)

    def __iter__(self) -> Iterator[MailMessage]:
        done: set[str] = set()
        listed, self._listed = self._listed, None
        for entry in listed if listed is not None else self.entries():
            if self.groups:
                unique = entry.info.unique
                if unique in self.groups:
                    if unique not in done:
                        done.add(unique)
                        yield from self._merged(self.groups[unique])
                    continue
            try:
                try:
                    msg = self.read(entry)
                except FileNotFoundError:
                    moved = self._find_moved(entry.info.unique, gone=entry.relpath)
                    if moved is None:                       # deleted (expunged) during the run
                        self.vanished(entry.relpath)
                        continue
                    msg = self.read(moved)
            except OSError as exc:
                self.unreadable(entry.relpath, exc)
                continue
            if not self._left_out(msg):
                yield msg

    def _left_out(self, msg: MailMessage) -> bool:
        """Skip, and say so, a file of new/ or cur/ that holds no message (§6): True when left out."""
        if not msg.data:
            self.event("empty-file", key=msg.key)
            self.skipped.append((msg, "empty file"))
            return True
        if not is_message_file(msg.data):
            self.event("not-a-message", key=msg.key)
            why = f"not a message (does not start with a header field): {self.path / msg.key}"
            self.skipped.append((msg, why))
            return True
        return False
