"""MH: one numbered file per message, flags in ``.mh_sequences`` (unseen, replied, flagged)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError
from ..fs.durable import create_empty_file, fsync_dir, make_private_dir, replace_file, syncfs
from ..fs.fdio import write_buffers
from ..fs.locking import lock_directory
from ..fs.ownership import Owner, give, owner_for
from ..fs.safefs import open_dir, open_regular
from ..fs.staging import Stager, host_name, remove_abandoned
from ..model import flags
from ..model.message import MailMessage, add_headers, core_bytes, split_message
from .base import MailboxWriter
from .claws import forget_marks, mark_letters, read_claws_marks
from .common import STATE_NAME, Reader, check_directory_destination, header_date, read_regular_file

# a message being written, where it needs a name (staging.py): host, pid, number tried first
_TEMP = re.compile(r"\.mboxtool\.(?P<host>.+)\.(?P<pid>\d+)\.\d+\.tmp")


# MH sequence -> Maildir letter; "unseen" is the absence of S.
SEQUENCE_LETTERS = {"replied": "R", "flagged": "F", "forwarded": "P", "deleted": "T", "draft": "D"}


# a keyword that can name a sequence: .mh_sequences lines are "name: numbers"
_SEQUENCE_NAME = re.compile(r"[^\x00-\x20\x7f:]+")
_RESERVED = ("unseen", "cur", *SEQUENCE_LETTERS)     # sequences that mean flags, not keywords


def is_mh(path: Path) -> bool:
    """An MH folder: ``.mh_sequences``, or only numbered messages besides its subfolders
    (nmh's ``+inbox/lists``, Claws Mail's folder tree), or nothing but mboxtool's state file
    (an MH destination an earlier run found no mail for: a Maildir has cur/)."""
    if (path / ".mh_sequences").exists():
        return True
    names, files = [], []
    with os.scandir(path) as it:
        for entry in it:
            names.append(entry.name)
            if not entry.name.startswith(".") and not entry.is_dir():
                files.append(entry.name)
    if not files and STATE_NAME in names:
        return True
    return numbered_messages(path, files)


def mh_subfolders(path: Path) -> list[str]:
    """The subfolders of an MH folder: its directories, sorted by name (a link to one is no
    subfolder: --recursive never follows it)."""
    with os.scandir(path) as it:
        return sorted(e.name for e in it if not e.name.startswith(".") and e.is_dir(follow_symlinks=False))


def _removed(name: str) -> bool:
    """A message removed by ``rmm``: nmh renames it ``,N``, older MH ``#N``. Not mail any more."""
    return name[:1] in (",", "#") and name[1:].isdigit()


def numbered_messages(path: Path, names: list[str]) -> bool:
    """True when ``names`` are all numbers and the first files hold single messages, as in an
    MH folder, not mbox files named by number (Thunderbird's yearly archive folders,
    ``Archives.sbd/2019``, ``2020``, which start with a From_ line). Messages removed by
    ``rmm`` (renamed ``,N`` by nmh, ``#N`` by older MH) are part of such a folder too."""
    names = [n for n in names if not _removed(n)]
    if not names or not all(n.isdigit() for n in names):
        return False
    for name in sorted(names, key=int)[:3]:
        try:                                       # a FIFO named 1 must not hang the peek
            fd, _ = open_regular(path / name)
        except OSError:
            continue
        try:
            if os.read(fd, 5) == b"From ":
                return False
        except OSError:
            continue
        finally:
            os.close(fd)
    return True


def read_sequences(path: Path) -> dict[str, set[int]]:
    seqs: dict[str, set[int]] = {}
    try:
        # keywords keep their bytes, as everywhere (flags.keyword_bytes): UTF-8, the rest escaped
        text = read_regular_file(path / ".mh_sequences").decode("utf-8", "surrogateescape")
    except OSError:
        return seqs
    for line in text.replace("\n ", " ").splitlines():
        if ":" not in line:
            continue
        name, _, rest = line.partition(":")
        members: set[int] = set()
        for part in rest.split():
            if re.fullmatch(r"\d+-\d+", part):
                a, b = map(int, part.split("-"))
                members.update(range(a, b + 1))
            elif part.isdigit():
                members.add(int(part))
        seqs[name.strip()] = members
    return seqs


def forget_messages(path: Path, numbers: list[int]) -> None:
    """Take removed messages out of ``.mh_sequences``: a message nmh delivers later under a
    freed number would otherwise inherit the old one's flags (flagged, replied, a keyword)."""
    seqs = read_sequences(path)
    gone = set(numbers)
    if not any(members & gone for members in seqs.values()):
        return
    left = {name: members - gone for name, members in seqs.items()}
    replace_file(".mh_sequences", flags.keyword_bytes(format_sequences(left)), path,
                 owner_for(path / ".mh_sequences"), fsync=True)


def format_sequences(seqs: dict[str, set[int]]) -> str:
    lines = []
    for name, members in sorted(seqs.items()):
        if not members:
            continue
        runs, nums = [], sorted(members)
        start = prev = nums[0]
        for n in nums[1:] + [None]:
            if n is not None and n == prev + 1:
                prev = n
                continue
            runs.append(str(start) if start == prev else f"{start}-{prev}")
            if n is not None:
                start = prev = n
        lines.append(f"{name}: {' '.join(runs)}\n")
    return "".join(lines)


class MHReader(Reader):
    """Messages of an MH folder in numeric order; flags from the sequences."""

    format = "mh"
    _listed: list[tuple[int, str]] | None = None      # listed by message_count(), for the next read

    def open(self) -> MHReader:
        if not self.path.is_dir():
            what = "no such directory" if not self.path.exists() else "not a directory (an MH folder is one)"
            raise InputError(f"{self.path}: {what}")
        self.folder_fd()
        return self

    def remove(self, key: str) -> int:
        """Remove message file ``key`` through the folder's fd (--move); 0 (no quota here)."""
        os.unlink(key, dir_fd=self.folder_fd())
        return 0

    def after_removing(self, keys: list[str], size: int, count: int) -> list[dict]:
        """Take the removed messages out of .mh_sequences and Claws Mail's marks."""
        if keys:
            numbers = [int(k) for k in keys if k.isdigit()]
            forget_messages(self.path, numbers)
            forget_marks(self.path, numbers)
        return []

    def numbers(self) -> list[tuple[int, str]]:
        """(number, file name) of every message, in numeric order. The name is kept: a file
        "01" is message 1 too, but it must be opened (and removed by --move) as "01". A
        symbolic link is never followed: it is reported as a message that cannot be read."""
        found = []
        with os.scandir(self.folder_fd()) as it:
            for entry in it:
                name = entry.name
                if entry.is_symlink():
                    if not name.startswith("."):
                        self.unreadable(name, "a symbolic link: not followed")
                elif name.isdigit() and entry.is_file(follow_symlinks=False):
                    found.append((int(name), name))
                elif name.isdigit() and not entry.is_dir(follow_symlinks=False):   # a FIFO, a device
                    self.event("foreign-file", key=name, reason="not a regular file")
                elif not name.startswith(".") and not name.isdigit() and not _removed(name) \
                        and not entry.is_dir(follow_symlinks=False):     # a subfolder is no stranger
                    self.event("foreign-file", key=name)
        return sorted(found)

    def message_count(self) -> int:
        """How many messages a read will find: listed now, and the read takes this list
        (for a progress bar's total)."""
        if self._listed is None:
            self._listed = self.numbers()
        return len(self._listed)

    def __iter__(self) -> Iterator[MailMessage]:
        seqs = read_sequences(self.path)
        unseen = seqs.get("unseen", set())
        marks = read_claws_marks(self.path)              # Claws Mail keeps the other flags apart
        # Evolution keeps an MH folder's flags in each message's X-Evolution header, with no
        # .mh_sequences: read there, or every message would come out seen and unmarked
        evolution = not (self.path / ".mh_sequences").exists() and not marks
        listed, self._listed = self._listed, None
        for num, name in listed if listed is not None else self.numbers():
            read = self.read_file(name, name, self.folder_fd())
            if read is None:
                continue
            data, mtime = read
            new = num in unseen
            letters = "".join(l for s, l in SEQUENCE_LETTERS.items() if num in seqs.get(s, ()))
            if num in marks:
                marked, unread = mark_letters(marks[num])
                letters += marked
                new = new or unread                            # unread in either: not seen
            letters += "" if new else "S"
            headers, _ = split_message(data)
            date, source = header_date(headers, mtime)
            keywords = tuple(k for k, members in seqs.items() if num in members and k not in _RESERVED)
            in_file = flags.file_keywords(data)            # --keywords header, or mutt's
            if in_file:
                keywords = tuple(dict.fromkeys(keywords + tuple(in_file)))
            if evolution and b"x-evolution" in headers:
                state = flags.evolution_state(headers)
                if state is not None:
                    letters, new, keywords = state.flags, state.new, state.keywords
            yield MailMessage(data, flags.normalize(letters), new, keywords, date, source,
                              key=name)


class MHWriter(MailboxWriter):
    format = "mh"

    def __init__(self, path: Path, fsync: bool = True, batch: int = 256, lock: bool = True,
                 lock_timeout: float = 30, **_: object):
        self.path = Path(path)
        self.fsync, self.batch = fsync, batch
        self.lock_wanted, self.lock_timeout = lock, lock_timeout
        self.run_lock: int | None = None
        self.owner: Owner = None
        self.pending: list[str] = []
        self.seqs: dict[str, set[int]] = {}
        self.warnings: list[dict] = []                # read by convert once the run is done
        self.keyword_places = "dovecot"               # --keywords: sequences ("dovecot"), header, both

    def open(self) -> MHWriter:
        p = self.path
        check_directory_destination(p, "an MH folder", is_mh)
        self.owner = owner_for(p)                    # root writing into a user's folder: the user's files
        try:
            if make_private_dir(p, self.owner) and self.fsync:
                fsync_dir(p.parent)
        except PermissionError as exc:
            raise InputError(f"{p}: cannot create: permission denied") from exc
        except OSError as exc:
            raise InputError(f"{p}: cannot create: {exc.strerror}") from exc
        if self.lock_wanted:
            self.run_lock = lock_directory(p, self.lock_timeout)    # see locking.lock_directory
        try:
            self.dirfd = open_dir(p)
        except OSError as exc:
            if self.run_lock is not None:
                os.close(self.run_lock)
                self.run_lock = None
            raise InputError(f"{p}: {exc.strerror}; refusing to write into it") from exc
        self.stager = Stager(self.dirfd)
        self.host = host_name()
        self.tag = f"{self.host}.{os.getpid()}"
        remove_abandoned(self.dirfd, _TEMP, self.host)         # a killed run's temporaries
        nums = [int(n) for n in os.listdir(p) if n.isdigit()]
        self.next = max(nums, default=0) + 1
        self.seqs = read_sequences(p)
        # what marks a folder with no message yet as MH, for the next run and for other tools;
        # made in one step, never through a temporary name: an overlapping run looking in now
        # must see an empty directory or an MH folder, nothing it would refuse
        if create_empty_file(p / ".mh_sequences", self.owner) and self.fsync:
            fsync_dir(self.dirfd)
        return self

    def add(self, msg: MailMessage) -> bool:
        """Write the message, then link it to the next free number (staging.py): a crash or a
        full disk never leaves a partial message under a number a mail client reads."""
        data = core_bytes(msg)
        if msg.keywords and self.keyword_places != "dovecot":
            data = add_headers(data, [flags.keywords_header(msg.keywords)])
        while True:
            fd, temp = self.stager.create(f".mboxtool.{self.tag}.{self.next}.tmp")
            try:
                give(self.owner, fd)
                write_buffers(fd, (data,))
                if msg.date is not None:
                    os.utime(fd, (msg.date, msg.date))
                name = self._link_next(fd, temp)
            except BaseException:
                self.stager.discard(temp)
                raise
            finally:
                os.close(fd)
            if name is not None:
                break
        num = int(name)
        if "S" not in msg.flags:
            self.seqs.setdefault("unseen", set()).add(num)
        for seq, letter in SEQUENCE_LETTERS.items():
            if letter in msg.flags:
                self.seqs.setdefault(seq, set()).add(num)
        for word in msg.keywords if self.keyword_places != "header" else ():
            if _SEQUENCE_NAME.fullmatch(word) and word not in _RESERVED:
                self.seqs.setdefault(word, set()).add(num)
            else:
                self._not_kept(word, msg.key)
        self.pending.append(name)
        return len(self.pending) >= self.batch

    def _not_kept(self, word: str, key: str | None) -> None:
        """A keyword no sequence can be named after: reported once, never dropped in silence."""
        if any(w.get("keyword") == word for w in self.warnings):
            return
        self.warnings.append({"code": "keyword-not-kept", "key": key, "keyword": word, "message": (
            f"keyword {word!r} cannot name a sequence of the MH folder {self.path} "
            f"({'it names a flag' if word in _RESERVED else 'blank, colon or control character'}); "
            "not kept")})

    def _link_next(self, fd: int, temp: str | None) -> str | None:
        """Link the written file to the lowest free number (another program may be adding
        messages too: a taken number is skipped); None when it must be written again."""
        while True:
            name = str(self.next)
            self.next += 1
            try:
                return name if self.stager.publish(fd, temp, self.dirfd, name) else None
            except FileExistsError:
                continue

    def commit(self) -> list[str]:
        done, self.pending = self.pending, []
        if not done:
            return done
        replace_file(".mh_sequences", flags.keyword_bytes(format_sequences(self.seqs)), self.dirfd,
                     self.owner, fsync=False)               # made durable with the messages, below
        if self.fsync:
            if not syncfs(self.dirfd):
                for name in done:
                    f = os.open(name, os.O_RDONLY, dir_fd=self.dirfd)
                    os.fsync(f)
                    os.close(f)
            os.fsync(self.dirfd)
        return done

    def close(self) -> None:
        if getattr(self, "dirfd", None) is not None:
            os.close(self.dirfd)
            self.dirfd = None
        if self.run_lock is not None:
            os.close(self.run_lock)
            self.run_lock = None
