"""mboxtool: convert, inspect, validate and repair mailboxes (mbox, Maildir, MH, MMDF, Babyl)."""

from .convert import ConvertOptions, ConvertReport, convert_mailbox
from .detect import FORMATS, detect_format
from .errors import InputError, LockTimeout, MboxtoolError, UsageError
from .message import MailMessage

__version__ = "0.1.0"

__all__ = [
    "FORMATS", "ConvertOptions", "ConvertReport", "InputError", "LockTimeout", "MailMessage",
    "MboxtoolError", "UsageError", "convert_mailbox", "detect_format", "__version__",
]
