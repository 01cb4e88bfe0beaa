"""Typed errors of the library; the CLI turns each into one stderr line and an exit code."""


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
