"""Maildir: reading in a stable order (§2.5) and writing through tmp/ with batched durability (§2.4)."""

from __future__ import annotations

import os
import random
import re
import stat
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from operator import attrgetter
from pathlib import Path

from ..errors import InputError
from ..fs.durable import create_empty_file, fsync_dir, make_private_dir, replace_file, syncfs
from ..fs.fdio import write_buffers
from ..fs.locking import lock_directory
from ..fs.ownership import Owner, give, owner_for
from ..fs.safefs import NotRegularFile, open_dir, open_regular, read_control
from ..fs.staging import Stager, host_name, remove_abandoned
from ..model import dates, flags
from ..model.digesttable import DigestTable
from ..model.message import MailMessage, add_headers, core_bytes, is_header_line, split_message
from .base import MailboxWriter
from .common import Reader
from .courier import KEYWORD_DIR as COURIER_KEYWORD_DIR
from .courier import read_courier_keywords
from .foreign import CACHE_NAME, foreign_digests
from .quota import quota_file, record

KEYWORDS_FILE = "dovecot-keywords"
MAX_KEYWORD_LETTERS = 26
CONTROL_FILES = ("dovecot-uidlist", "dovecot-keywords", "maildirsize", "maildirfolder",
                 "subscriptions", "courierimapuiddb", "courierimapkeywords", "dovecot.index",
                 "dovecot.index.log")


def is_control_file(name: str) -> bool:
    """A file a mail server or client keeps in a Maildir that is not a message."""
    return name in CONTROL_FILES or name.startswith(("dovecot", "courier"))


STALE_TMP_SECONDS = 36 * 3600


def stale_tmp_files(path: Path, now: float | None = None) -> list[str]:
    """Names of the files in the Maildir's tmp/ a delivery abandoned: neither written nor read
    for 36 hours (the rule qmail's readers clean tmp/ by). Not mail by the Maildir rules."""
    now = time.time() if now is None else now
    stale = []
    try:
        with os.scandir(path / "tmp") as it:
            for entry in it:
                if entry.name.startswith("."):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:                            # gone meanwhile
                    continue
                if now - st.st_mtime > STALE_TMP_SECONDS and now - st.st_atime > STALE_TMP_SECONDS:
                    stale.append(entry.name)
    except OSError:
        return []
    return sorted(stale)


def is_message_file(head: bytes) -> bool:
    """True when the bytes of a file in new/ or cur/ start like a message: a header field, the
    From_ line some tools leave at the top, or the empty line of an empty header section,
    after a byte-order mark if one is there (Windows tools write one). Anything else (an
    image, an editor's file) is no message (§6 foreign-file)."""
    skip = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    nl = head.find(b"\n", skip, 1000)
    first = head[skip:nl if nl >= 0 else 1000].rstrip(b"\r")
    return (not first and nl >= 0) or is_header_line(first) or first.startswith(b"From ")


FLAG_KEYWORD = "$MaildirFlag_"


def odd_flags(name: str, info: flags.MaildirInfo) -> str:
    """The characters after ``:2,`` that are neither flags nor Dovecot keyword letters
    (``!``, ``%``, digits, unknown capitals), in name order."""
    if not info.has_info or name[len(info.unique) + 1:len(info.unique) + 3] != "2,":
        return ""
    chars = name[len(info.unique) + 3:].split(",", 1)[0]
    return "".join(dict.fromkeys(c for c in chars if not c.islower() and c not in flags.LETTERS))


def flag_of_keyword(word: str) -> str | None:
    """The name character a ``$MaildirFlag_<c>`` keyword keeps (read from a name, §6), when
    it can go back into a name as itself; None for any other keyword."""
    if not word.startswith(FLAG_KEYWORD) or len(word) != len(FLAG_KEYWORD) + 1:
        return None
    c = word[-1]
    return c if c.isprintable() and not c.isspace() and not c.islower() and c not in "/,:" else None


def is_maildir(path: Path) -> bool:
    try:
        return (path / "cur").is_dir() and (path / "new").is_dir()
    except PermissionError:             # a link to a directory its owner may not enter: not theirs
        return False


def being_made(path: Path) -> bool:
    """A directory that holds nothing but some of tmp/, new/ and cur/: a Maildir that another
    run (an overlapping cron job) is creating this very moment, not a foreign directory."""
    try:
        names = os.listdir(path)
    except OSError:
        return False
    return bool(names) and set(names) <= {"tmp", "new", "cur"}


def maildir_folders(root: Path) -> list[str]:
    """The Maildir++ folders (``.Name`` Maildirs) directly under ``root``, sorted by name."""
    return sorted(n for n in os.listdir(root) if n.startswith(".") and n not in (".", "..")
                  and not (root / n).is_symlink() and is_maildir(root / n))   # a link leads out of the tree


def read_keyword_map(path: Path) -> dict[int, str]:
    """Dovecot's ``dovecot-keywords``: letter index -> keyword name."""
    mapping: dict[int, str] = {}
    try:
        text = read_control(path / KEYWORDS_FILE).decode("utf-8", "surrogateescape")   # as flags.keyword_bytes
    except OSError:
        return mapping
    for line in text.split("\n"):                          # not splitlines(): U+0085 may be in a keyword
        number, _, name = line.rstrip("\r").partition(" ")
        name = name.strip(" \t")
        if number.isdigit() and name and int(number) < MAX_KEYWORD_LETTERS:
            mapping[int(number)] = name
    return mapping


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


OUR_NAME = re.compile(r"\d+\.M\d+P(?P<pid>\d+)Q\d+R([0-9a-f]{16})\.(?P<host>[^:!;,]+)")


class MaildirWriter(MailboxWriter):
    """Delivers messages into a Maildir: tmp/ then link() into new/ or cur/, durable per batch."""

    format = "maildir"
    plans_by_digest = True

    def __init__(self, path: Path, fsync: bool = True, batch: int = 256, folder: bool = False,
                 lock: bool = True, lock_timeout: float = 30, **_: object):
        self.path = Path(path)
        self.fsync = fsync
        self.lock_wanted, self.lock_timeout = lock, lock_timeout
        self.run_lock: int | None = None
        self.owner: Owner = None
        self.batch = batch
        self.folder = folder
        self.counter = 0
        self.pending: list[str] = []                 # final relpaths (cur/NAME) not yet durable
        self.keywords: dict[str, str] = {}
        self.keyword_places = "dovecot"            # --keywords: dovecot letters, an X-Keywords header, both
        self.no_letter: Counter[str] = Counter()     # keyword -> messages that found no letter free
        self.warnings: list[dict] = []
        self.courier = False                         # a Courier-IMAP Maildir: its keywords live apart
        self.created = False
        self.quota: Path | None = None               # the Maildir++ maildirsize counting this Maildir
        self.sizes: dict[str, int] = {}              # with one: final relpath -> bytes, until durable
        self.dirfd: dict[str, int] = {}              # tmp/, new/, cur/ once opened

    def open(self) -> MaildirWriter:
        p = self.path
        if p.is_symlink():                           # its mail would land wherever the link leads
            raise InputError(f"{p}: is a symbolic link; refusing to write through it (name the real Maildir)")
        if p.exists() and not p.is_dir():
            raise InputError(f"{p}: exists and is not a directory (not a Maildir)")
        if p.is_dir() and any(p.iterdir()) and not is_maildir(p) and not being_made(p):
            raise InputError(f"{p}: exists, is not empty and is not a Maildir")
        self.owner = owner_for(p)                    # root writing into a user's Maildir: the user's files
        try:
            self.created = make_private_dir(p, self.owner)
            for sub in ("tmp", "new", "cur"):
                make_private_dir(p / sub, self.owner)
            if self.folder:
                create_empty_file(p / "maildirfolder", self.owner)
            if self.created and self.fsync:
                fsync_dir(p.parent)
                fsync_dir(p)
        except PermissionError as exc:
            raise InputError(f"{p}: cannot create: permission denied") from exc
        except OSError as exc:
            raise InputError(f"{p}: cannot create: {exc.strerror}") from exc
        if self.lock_wanted:
            self.run_lock = lock_directory(p, self.lock_timeout)    # before anything is read back
        self.dirfd = self._open_subdirs(p)
        self.keywords = {name: chr(ord("a") + i) for i, name in read_keyword_map(p).items()}
        keyword_dir = p / COURIER_KEYWORD_DIR
        if keyword_dir.is_dir() or keyword_dir.is_symlink():
            try:                                     # a link: keyword files would land where it leads
                self.dirfd["courier"] = open_dir(keyword_dir)
            except OSError as exc:
                self.close()
                raise InputError(f"{keyword_dir}: {exc.strerror}; refusing to write into it") from exc
        self.courier = "courier" in self.dirfd
        self.quota = quota_file(p)
        self.host = host_name()
        self.pid = os.getpid()
        self.stager = Stager(self.dirfd["tmp"])
        return self

    def _open_subdirs(self, p: Path) -> dict[str, int]:
        """fds of tmp/, new/ and cur/, every delivery goes through: none may be a symbolic link
        (mail written wherever it leads, given to the Maildir's user)."""
        dirfd: dict[str, int] = {}
        where = p
        try:
            root = open_dir(p)
            try:
                for sub in ("tmp", "new", "cur"):
                    where = p / sub
                    dirfd[sub] = open_dir(sub, dir_fd=root)
            finally:
                os.close(root)
        except OSError as exc:
            for fd in dirfd.values():
                os.close(fd)
            if self.run_lock is not None:
                os.close(self.run_lock)
                self.run_lock = None
            raise InputError(f"{where}: {exc.strerror}; refusing to write into it") from exc
        return dirfd

    def _keyword_letters(self, keywords: tuple[str, ...]) -> tuple[str, list[str]]:
        letters, overflow = [], []
        for word in keywords:
            letter = self.keywords.get(word)
            if letter is None and len(self.keywords) < MAX_KEYWORD_LETTERS:
                letter = chr(ord("a") + len(self.keywords))
                self.keywords[word] = letter
                self._save_keywords()
            if letter is None:
                overflow.append(word)
            else:
                letters.append(letter)
        return "".join(letters), overflow

    def _save_keywords(self) -> None:
        text = "".join(f"{ord(l) - ord('a')} {w}\n" for w, l in sorted(self.keywords.items(), key=lambda x: x[1]))
        replace_file(KEYWORDS_FILE, flags.keyword_bytes(text), self.path, self.owner, self.fsync)

    def unique_name(self, digest: int | None = None) -> str:
        """``<sec>.M<usec>P<pid>Q<n>R<hex>.<host>``: the R field carries the content digest.

        Putting the digest in our own names makes the destination its own index:
        a re-run lists new/ and cur/ and skips what is there, whatever point a
        previous run was killed at, with no separate index file to keep in step.
        """
        now = time.time()
        self.counter += 1
        tag = digest if digest is not None else random.getrandbits(64)
        return f"{int(now)}.M{int(now % 1 * 1e6)}P{self.pid}Q{self.counter}R{tag:016x}.{self.host}"

    def plan(self, msg: MailMessage, digest: int | None = None,
             parts: tuple[bytes | memoryview, ...] | None = None) -> tuple[str, str, tuple]:
        """(tmp name, final relpath, buffers to write) for ``msg``, without touching the disk.

        ``parts`` are the message's bytes when the caller has them already
        (``index.message_digest``); by default ``core_bytes(msg)``.
        """
        kw_letters, extra = self.keyword_letters(msg.keywords, msg.key, msg.flags)
        return self.place(msg.flags, msg.new, kw_letters, digest,
                          (core_bytes(msg),) if parts is None else parts, extra, msg.keywords)

    def keyword_letters(self, keywords: tuple[str, ...], key: str = "",
                        letters: str = "") -> tuple[str, bytes | None]:
        """The info letters of ``keywords`` (new ones get the next free letter), and an
        X-Keywords header line for the message, if it gets one: with ``--keywords header`` or
        ``both``, or for keywords beyond Dovecot's 26 letters. Passed (P in ``letters``) also
        gets the letter of ``$Forwarded``: Dovecot shows no IMAP keyword for P."""
        odd = "".join(c for c in map(flag_of_keyword, keywords) if c)
        if odd:               # characters read from a name's info part (§6) go back into the name
            rest = tuple(w for w in keywords if flag_of_keyword(w) is None)
            kw_letters, extra = self.keyword_letters(rest, key, letters)
            return kw_letters + odd, extra
        header = self.keyword_places != "dovecot"
        in_header = keywords if header else ()
        if self.courier or self.keyword_places == "header":     # Courier's keywords live apart (deliver)
            return "", flags.keywords_header(in_header) if in_header else None
        words = keywords + (flags.FORWARDED,) if "P" in letters and flags.FORWARDED not in keywords else keywords
        if not words:
            return "", None
        kw_letters, overflow = self._keyword_letters(words)
        self.no_letter.update(overflow)
        if overflow and not header:
            in_header = tuple(w for w in overflow if w != flags.FORWARDED)   # P says it already
        return kw_letters, flags.keywords_header(in_header) if in_header else None

    def keyword_warnings(self) -> list[dict]:
        """One warning per keyword that found no Dovecot letter, with how many messages."""
        where = "in the X-Keywords header only" if self.keyword_places == "dovecot" else \
            "in the X-Keywords header (--keywords both) but not in Dovecot"
        said = []
        for word, count in self.no_letter.items():
            kept = "kept as the letter P only, which Dovecot does not show" if word == flags.FORWARDED \
                else f"kept {where}"
            said.append({"code": "keywords-in-header", "keyword": word, "messages": count, "message":
                         f"{self.path}: keyword {word!r} of {count} message(s) {kept}: "
                         f"Dovecot's {MAX_KEYWORD_LETTERS} keyword letters are all taken"})
        return said

    def place(self, letters: str, new: bool, kw_letters: str, digest: int | None, parts: tuple,
              extra_header: bytes | None = None, keywords: tuple[str, ...] = ()) -> tuple[str, str, tuple]:
        """(tmp name, final relpath, buffers) once the keyword letters are known (``keywords``:
        those kept apart from the name, in a Courier Maildir; they keep a message out of new/)."""
        if extra_header:
            # more keywords than Dovecot's 26 letters: keep them in the message itself
            parts = (add_headers(b"".join(parts), [extra_header]),)
        letters = flags.normalize(letters) if letters else ""
        name = self.unique_name(digest)
        if new and not letters and not kw_letters and not keywords:
            return name, f"new/{name}", parts
        return name, f"cur/{name}{flags.maildir_info(letters, kw_letters)}", parts

    def add(self, msg: MailMessage, planned: tuple[str, str, tuple] | None = None) -> bool:
        """Write one message into tmp/ and link it into place; True when a batch should be committed."""
        tmpname, final, parts = planned or self.plan(msg)
        self.deliver(tmpname, final, parts, msg.date, msg.keywords)
        return len(self.pending) >= self.batch

    def deliver(self, tmpname: str, final: str, parts: tuple, mtime: int | None,
                keywords: tuple[str, ...] = ()) -> None:
        """Write into tmp/, set the mtime, then link() into new/ or cur/ (§2.4; staging.py);
        durable at the next commit(). ``keywords`` matter only to a Courier-IMAP Maildir,
        where they are written apart, before the message appears."""
        sub, name = final[:3], final[4:]
        if keywords and self.courier:
            self._courier_keywords(name.split(":", 1)[0], keywords)
        while True:
            fd, temp = self.stager.create(tmpname)
            try:
                give(self.owner, fd)
                write_buffers(fd, parts)                # one writev, which the kernel takes whole
                if mtime is not None:
                    # the delivery time (IMAP INTERNALDATE), set before the file is visible
                    os.utime(fd, (time.time(), mtime))
                linked = self.stager.publish(fd, temp, self.dirfd[sub], name)
            except BaseException:
                self.stager.discard(temp)
                raise
            finally:
                os.close(fd)
            if linked:
                break
        self.pending.append(final)
        if self.quota is not None:
            self.sizes[final] = sum(len(part) for part in parts)

    def _courier_keywords(self, unique: str, keywords: tuple[str, ...]) -> None:
        """The message's keywords as Courier-IMAP's update file ``courierimapkeywords/<unique>``
        (one name a line; written as ``.tmp.*``, which Courier's reader passes over), read and
        merged into ``:list`` by Courier as its own updates are."""
        replace_file(unique, b"".join(flags.keyword_bytes(word) + b"\n" for word in keywords),
                     self.dirfd["courier"], self.owner, self.fsync, tmp=f".tmp.{unique}")

    def commit(self) -> list[str]:
        """Make every message added since the last commit durable; returns them."""
        done = self.take()
        self.make_durable(done)
        return done

    def take(self) -> list[str]:
        """The messages added since the last take(), to be made durable by make_durable()."""
        done, self.pending = self.pending, []
        return done

    def make_durable(self, done: list[str]) -> None:
        """fsync what ``done`` names (safe from another thread while this one delivers)."""
        if done and self.fsync:
            # one filesystem flush covers the files and the directories (docs/performance.md)
            if not syncfs(self.dirfd["new"]):
                for final in done:                # no syncfs here: one fsync per file
                    sub, name = final.split("/", 1)
                    fd = os.open(name, os.O_RDONLY, dir_fd=self.dirfd[sub])
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
                for sub in ("new", "cur", "tmp"):
                    os.fsync(self.dirfd[sub])
        if done and self.quota is not None:           # counted once on disk for good
            size = sum(self.sizes.pop(final, 0) for final in done)
            try:
                record(self.quota, size, len(done))
            except OSError as exc:
                quota, self.quota = self.quota, None       # said once, not once a batch
                self.warnings.append({"code": "quota-not-updated", "message":
                                      f"{quota}: cannot add {len(done)} messages ({size} bytes): "
                                      f"{exc.strerror or exc}; the quota in use reads low until recalculated"})

    def known_digests(self, save: bool = True) -> DigestTable:
        """Digests of the messages already here: carried by mboxtool's own names, read (once,
        then cached) from the files of other programs (foreign.py). ``save``: False for a
        dry run, which writes nothing (and finds nothing where new/ and cur/ are not yet made)."""
        found = DigestTable()
        if not self.dirfd and not ((self.path / "new").is_dir() and (self.path / "cur").is_dir()):
            return found
        others: list[str] = []
        for sub in ("new", "cur"):
            with os.scandir(self.dirfd.get(sub, self.path / sub)) as it:   # unopened: a dry run
                for entry in it:
                    m = OUR_NAME.match(entry.name)
                    if m:
                        found.add(int(m.group(2), 16))
                    elif not entry.name.startswith("."):      # dot-files are no messages (§2.5)
                        others.append(f"{sub}/{entry.name}")
        if others or (self.path / CACHE_NAME).exists():
            found |= foreign_digests(self.path, others, self.owner, self.fsync, save)
        return found

    def clean_own_tmp(self) -> int:
        """Remove tmp/ files left by a killed mboxtool run on this host (never anyone else's)."""
        return remove_abandoned(self.dirfd["tmp"], OUR_NAME, self.host)

    def close(self) -> None:
        for fd in getattr(self, "dirfd", {}).values():
            os.close(fd)
        self.dirfd = {}
        if self.run_lock is not None:
            os.close(self.run_lock)
            self.run_lock = None
