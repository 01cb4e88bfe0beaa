"""Typed errors of the library, and the exit statuses of the command line, which turns each
error into one stderr line and an exit status."""

import enum
import signal


class ExitStatus(enum.IntEnum):
    """The exit status of every command (README, docs/README.md)."""

    OK = 0                              # done; no problem found
    PROBLEMS = 1                        # done, and problems were found or some messages failed
    UNUSABLE = 2                        # an input that cannot be used, or a usage error
    TEMPFAIL = 75                       # a lock not had in time (EX_TEMPFAIL): try again later
    SIGINT = 128 + signal.SIGINT        # interrupted (the shell's convention)
    SIGTERM = 128 + signal.SIGTERM


class MboxtoolError(Exception):
    """Base class of every error mboxtool raises on purpose."""


class InputError(MboxtoolError):
    """An input that cannot be used at all: missing, unreadable, unknown format (exit 2)."""


class UsageError(MboxtoolError):
    """A request that makes no sense, e.g. repair onto SRC itself (exit 2)."""


class LockTimeout(MboxtoolError):
    """A mailbox lock could not be obtained in time (exit 75, EX_TEMPFAIL)."""


class SourceChanged(MboxtoolError):
    """The source changed under us although we held its lock (exit 1)."""


class WriteFailed(MboxtoolError):
    """Nothing usable could be written (a full disk under repair's new copy): exit 2."""
