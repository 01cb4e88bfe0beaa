"""Privilege separation: root works on a user's mailbox as that user, as Dovecot does.

Whatever a symlink, a file name or a swapped directory in a user's mailbox points at, the
process that follows it can reach only what the user could reach anyway. Root keeps one
job: making the missing directory a destination needs (a home that does not exist yet)
for its owner. Whom to run as is ownership.acting_user(); docs/security.md has the model.

- ``Plan`` checks and prepares as root (stat and lstat only, never an open of what the
  user controls), then ``enter()`` drops to the user for good: supplementary groups, gid,
  uid (real, effective and saved), and checks the destination as the user.
- The CLI enters the plan in its own process; ``run_as`` runs a callable in a forked child
  that entered it, for library callers that must stay root (convert_mailbox's ``owner=``).
"""

from __future__ import annotations

import io
import os
import pickle
import signal
import stat
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MboxtoolError, UsageError
from .ownership import User, acting_user, user_of


@dataclass
class Plan:
    """Working as ``user``: with ``groups``, writing to ``destination`` (or None)."""

    user: User
    groups: list[int] = field(default_factory=list)
    destination: Path | None = None
    root_made: Path | None = None      # the directory root makes (or would, on a dry run) for the user

    def enter(self) -> None:
        """Become the user for good, then check the destination as the user."""
        drop(self.user, self.groups or None)
        if self.destination is not None:
            check_destination(self.destination, self.user, self.root_made)


def plan(source: str | os.PathLike[str], owner: str | None = None,
         destination: str | os.PathLike[str] | None = None, locked: tuple = (),
         dry_run: bool = False) -> Plan | None:
    """What working on ``source`` takes (None: run as the caller, as always). ``locked`` are
    mbox files the run dotlocks (a spool emptied by --move): their directory's group is
    kept when the user may not write there but the group may, for PATH.lock (Debian's
    /var/mail is root:mail 2775). A ``destination`` the user cannot be given is refused here,
    before anything is read; one whose home is missing gets it made (not on a dry run)."""
    user = acting_user(source, owner)
    if user is None:
        return None
    result = Plan(user, groups_for(user, locked))
    if destination is not None:
        result.destination = Path(os.path.abspath(destination))
        result.root_made = make_missing_home(result.destination, user, create=not dry_run)
    return result


def groups_for(user: User, locked: tuple) -> list[int]:
    groups = [user.gid]
    for path in locked:
        directory = os.path.dirname(os.path.abspath(path))
        try:
            st = os.stat(directory)
        except OSError:
            continue
        if not may(user, st, os.W_OK | os.X_OK) and st.st_mode & stat.S_IWGRP and st.st_gid not in groups:
            groups.append(st.st_gid)
    return groups


def may(user: User, st: os.stat_result, want: int, groups: tuple = ()) -> bool:
    """Whether ``user`` (with ``groups`` besides its own gid) has ``want`` (os.R_OK, W_OK,
    X_OK bits) on a file with status ``st``: the classic owner/group/other rule."""
    if user.uid == 0:
        return True
    if st.st_uid == user.uid:
        shift = 6
    elif st.st_gid == user.gid or st.st_gid in groups:
        shift = 3
    else:
        shift = 0
    return (st.st_mode >> shift) & want == want


def make_missing_home(dst: Path, user: User, create: bool = True) -> Path | None:
    """Root's one job: when the directory that would hold a missing ``dst`` is missing too,
    and its parent is root's, can be entered by the user but not written (a home under
    /home that does not exist yet), make that directory, the user's, mode 0700; the user
    makes ``dst``. Returns that directory (made, or to be made when not ``create``), or None
    when nothing is needed; UsageError when the user cannot be given ``dst``."""
    parent = dst
    while not os.path.lexists(parent):
        parent = parent.parent
    if parent == dst:
        return None
    st = os.lstat(parent)
    if not stat.S_ISDIR(st.st_mode):
        return None                                 # the user's run says what is wrong
    for step in [parent, *parent.parents]:          # the user must be able to get there at all
        if not may(user, os.stat(step), os.X_OK):
            raise UsageError(f"{dst}: {user.name} cannot enter {step}; choose a destination "
                             f"{user.name} can reach, or another --owner")
    if may(user, st, os.W_OK | os.X_OK):
        return None
    first = parent / dst.relative_to(parent).parts[0]
    if st.st_uid != 0 or first != dst.parent or any(os.lstat(p).st_uid != 0 for p in parent.parents):
        # only the directory that holds the mailbox (the home), in root's directory (not one
        # below a directory someone else could swap): never the mailbox itself, which would be
        # root-made, nor a chain of directories the user would then own
        raise UsageError(f"{dst}: {user.name} cannot create it in {parent} (owned by "
                         f"{user_of(st.st_uid, st.st_gid).name}); run 'mkdir {dst} && chown "
                         f"{user.name}: {dst}' first, or give another --owner")
    if create:
        fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            os.mkdir(first.name, 0o700, dir_fd=fd)
            made = os.open(first.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            try:
                os.fchown(made, user.uid, user.gid)
                os.fchmod(made, 0o700)
            finally:
                os.close(made)
        finally:
            os.close(fd)
    return first


def check_destination(dst: Path, user: User, root_made: Path | None = None) -> None:
    """As the user: an existing ``dst`` must be the user's; a missing one must be creatable
    by the user (in a directory the user may write, or below what root made for it)."""
    try:
        st = os.stat(dst)
    except FileNotFoundError:
        if root_made is not None:
            return
        parent = dst.parent
        while not os.path.lexists(parent):
            parent = parent.parent
        if not os.access(parent, os.W_OK | os.X_OK):
            raise UsageError(f"{dst}: {user.name} cannot create it in {parent}; choose a destination "
                             f"{user.name} can write, or another --owner") from None
        return
    except PermissionError:
        raise UsageError(f"{dst}: {user.name} cannot reach it; choose a destination "
                         f"{user.name} can reach, or another --owner") from None
    if st.st_uid != user.uid:
        other = user_of(st.st_uid, st.st_gid).name
        raise UsageError(f"{dst}: belongs to {other}, not to {user.name} whose mail this is; "
                         f"run 'chown -R {user.name}: {dst}' or give --owner")


def drop(user: User, groups: list[int] | None = None) -> None:
    """Become ``user`` irrevocably: supplementary groups, then gid, then uid, each real,
    effective and saved. Refuses to go on if root could be had back."""
    _preload()
    os.setgroups(groups if groups is not None else [user.gid])
    os.setresgid(user.gid, user.gid, user.gid)
    os.setresuid(user.uid, user.uid, user.uid)
    _not_dumpable()
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise MboxtoolError(f"could not give up root to work as {user.name}")


PR_SET_DUMPABLE = 4


def _not_dumpable() -> None:
    """No debugger of the user's may attach to a process that root started (the kernel does
    this on a change of user unless fs.suid_dumpable says otherwise; this does not ask)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):           # not Linux: nothing to ask for
        pass


def _preload() -> None:
    """Import every module the work may import late (mboxtool's, and the standard library's
    it imports on demand) while root can still read them: root's own virtualenv or Python
    under /root is out of the user's reach."""
    import importlib
    import pkgutil

    package = __name__.split(".")[0]              # found by its folder: no import runs upward
    for module in pkgutil.walk_packages([str(Path(__file__).resolve().parents[1])], package + "."):
        if module.name != package + ".__main__":
            importlib.import_module(module.name)
    names = ["ctypes", "tempfile", "shutil", "fcntl", "datetime", "csv", "json", "mailbox", "gzip", "bz2",
             "lzma", "urllib.parse", "email.parser", "email.header", "email.utils"]
    if sys.stderr is not None and sys.stderr.isatty():      # the progress bar's (no bar in cron)
        names.append("tqdm")
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


# -- running a callable as the user, in a child ----------------------------------------

PROGRESS_EVERY = 0.1        # seconds: progress reaches the parent in sums, not per message


def run_as(work: Plan, fn: Callable[..., Any], *args: Any,
           callbacks: dict[str, Callable | None] | None = None, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs, **callbacks)`` in a forked child that entered ``work``; its
    result, or its exception raised here. ``callbacks`` (progress, warn, ...) are called
    here, in the caller's process: the child sends what it would have called them with.
    Only known types come back (a result is unpickled by root from the user's process)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:                                    # pragma: no cover (the child's exit is os._exit)
        os.close(read_end)
        code = 0
        try:
            with open(write_end, "wb") as out:
                _child(work, fn, args, kwargs, callbacks or {}, out)
        except BaseException:
            code = 1
        os._exit(code)
    os.close(write_end)
    outcome: tuple | None = None
    try:
        with open(read_end, "rb") as pipe:
            while True:
                try:
                    message = _SafeUnpickler(pipe).load()
                except EOFError:
                    break
                kind, payload = message
                if kind == "call":
                    name, call_args = payload
                    target = (callbacks or {}).get(name)
                    if target is not None:
                        target(*call_args)
                else:
                    outcome = message
    except BaseException:
        _stop(pid)
        raise
    os.waitpid(pid, 0)
    if outcome is None:
        raise MboxtoolError(f"the process working as {work.user.name} ended without a result")
    kind, payload = outcome
    if kind == "raise":
        raise payload
    return payload


def _stop(pid: int) -> None:
    """The caller was interrupted: the child is told too (a SIGTERM reached only us) and
    awaited, so that its locks are released and nothing is left half-written."""
    try:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _child(work: Plan, fn: Callable, args: tuple, kwargs: dict, callbacks: dict, out: io.BufferedWriter) -> None:
    def send(message: tuple) -> None:
        pickle.dump(message, out)
        out.flush()

    pending = {"sum": 0, "at": time.monotonic()}

    def flush_progress() -> None:
        if pending["sum"]:
            send(("call", ("progress", (pending["sum"],))))
            pending["sum"] = 0
        pending["at"] = time.monotonic()

    def progress(n: int) -> None:
        pending["sum"] += n
        if time.monotonic() - pending["at"] >= PROGRESS_EVERY:
            flush_progress()

    def relay(name: str) -> Callable:
        def call(*call_args: Any) -> None:
            flush_progress()
            send(("call", (name, call_args)))
        return call

    proxies = {name: (None if target is None else progress if name == "progress" else relay(name))
               for name, target in callbacks.items()}
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        work.enter()
        result = fn(*args, **kwargs, **proxies)
        flush_progress()
        outcome: tuple = ("result", result)
    except BaseException as exc:                   # handed to the caller, who decides
        outcome = ("raise", exc)
    try:
        send(outcome)
    except (pickle.PicklingError, TypeError, AttributeError):
        kind, value = outcome
        send(("raise", MboxtoolError(f"{type(value).__name__}: {value}")))


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt()


class _SafeUnpickler(pickle.Unpickler):
    """Only reports, mboxtool's errors and the built-in exceptions come back."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _RESULT_TYPES:
            return super().find_class(module, name)
        if module in ("builtins", "mboxtool.errors"):          # already imported: no side effects
            found = super().find_class(module, name)
            if isinstance(found, type) and issubclass(found, BaseException):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not expected from a worker")


_RESULT_TYPES = {("mboxtool.convert.report", "ConvertReport"), ("mboxtool.problems", "Problem"),
                 ("pathlib", "PosixPath"), ("pathlib", "Path")}


def allow_result(cls: type) -> None:
    """Let ``run_as`` return instances of ``cls`` (a plain data class)."""
    _RESULT_TYPES.add((cls.__module__, cls.__qualname__))
