"""mboxtool: convert, inspect, validate and repair mailboxes (mbox, Maildir, MH, MMDF, Babyl).

The public API (docs/library.md); the modules behind it are laid out by layer:
``model/`` the message, ``fs/`` the operating system, ``formats/`` readers and writers,
``convert/`` the converter, then validate, repair, inspect, ``migrate/`` and the command line.
"""

from .convert import ConvertOptions, ConvertReport, convert_mailbox, convert_tree
from .errors import ExitStatus, InputError, LockTimeout, MboxtoolError, SourceChanged, UsageError, WriteFailed
from .formats.detect import FORMATS, detect_format
from .formats.mailboxes import make_reader, make_writer
from .inspection import mailbox_info
from .model.message import MailMessage
from .problems import Problem
from .repair import RepairReport, repair_mailbox
from .validate import ValidationReport, validate_mailbox
from .validate_many import ValidationSet, validate_paths
from .version import __version__

__all__ = [
    "FORMATS", "ConvertOptions", "ConvertReport", "ExitStatus", "InputError", "LockTimeout", "MailMessage",
    "MboxtoolError", "Problem", "RepairReport", "SourceChanged", "UsageError", "ValidationReport",
    "ValidationSet", "WriteFailed", "__version__", "convert_mailbox", "convert_tree", "detect_format",
    "mailbox_info", "make_reader", "make_writer", "repair_mailbox", "validate_mailbox", "validate_paths",
]
