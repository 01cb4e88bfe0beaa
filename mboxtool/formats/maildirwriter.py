"""Maildir: writing through tmp/ with batched durability (§2.4), flags and keywords into the
file names."""

from __future__ import annotations

import os
import random
import re
import time
from collections import Counter
from pathlib import Path

from ..errors import InputError
from ..fs.durable import create_empty_file, fsync_dir, make_private_dir, replace_file, syncfs
from ..fs.fdio import write_buffers
from ..fs.locking import lock_directory
from ..fs.ownership import Owner, give, owner_for
from ..fs.safefs import open_dir
from ..fs.staging import Stager, host_name, remove_abandoned
from ..model import flags
from ..model.digesttable import DigestTable
from ..model.message import MailMessage, add_headers, core_bytes
from .base import MailboxWriter
from .common import check_directory_destination
from .courier import KEYWORD_DIR as COURIER_KEYWORD_DIR
from .foreign import CACHE_NAME, foreign_digests
from .maildirfiles import being_made, is_maildir
from .maildirkeywords import KEYWORDS_FILE, MAX_KEYWORD_LETTERS, flag_of_keyword, read_keyword_map
from .quota import quota_file, record

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
        check_directory_destination(p, "a Maildir", lambda p: is_maildir(p) or being_made(p))
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
        (``digest.message_digest``); by default ``core_bytes(msg)``.
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
