"""mboxtool: convert, inspect, validate and repair mailboxes (mbox, Maildir, MH, MMDF, Babyl).

The public API (docs/library.md); the modules behind it are laid out by layer:
``model/`` the message, ``fs/`` the operating system, ``formats/`` readers and writers,
``convert/`` the converter, then validate, repair, inspect, ``migrate/`` and the command line.
"""

from .convert import ConvertOptions, ConvertReport, convert_mailbox, convert_tree
from .errors import ExitStatus, InputError, LockTimeout, MboxtoolError, SourceChanged, UsageError, WriteFailed
from .formats.babyl import BabylReader, BabylWriter
from .formats.eml import EmlReader
from .formats.maildir import MaildirReader
from .formats.maildirwriter import MaildirWriter
from .formats.mbox import MboxReader
from .formats.mboxwriter import MboxWriter
from .formats.mh import MHReader, MHWriter
from .formats.mmdf import MMDFReader, MMDFWriter
from .formats.registry import FORMATS, detect_format, make_reader, make_writer
from .inspection import mailbox_info
from .model.message import MailMessage
from .problems import Problem
from .repair import RepairReport, repair_mailbox
from .validate import ValidationReport, validate_mailbox
from .validate_many import ValidationSet, validate_paths
from .version import __version__

__all__ = [
    "FORMATS", "BabylReader", "BabylWriter", "ConvertOptions", "ConvertReport", "EmlReader", "ExitStatus",
    "InputError", "LockTimeout", "MHReader", "MHWriter", "MMDFReader", "MMDFWriter", "MailMessage",
    "MaildirReader", "MaildirWriter", "MboxReader", "MboxWriter", "MboxtoolError", "Problem", "RepairReport",
    "SourceChanged", "UsageError", "ValidationReport", "ValidationSet", "WriteFailed", "__version__",
    "convert_mailbox", "convert_tree", "detect_format", "mailbox_info", "make_reader", "make_writer",
    "repair_mailbox", "validate_mailbox", "validate_paths",
]
