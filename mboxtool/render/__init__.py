"""All output: the ``--json`` documents, the reports' text, info's and list's tables,
migrate's text (``migration``), and the progress bar (never in pipes or cron). The library's
reports hold data; this turns it into what a person or a script reads."""

from .documents import SCHEMA, dump_document, dump_json, error_document, unicode_ok
from .listing import RowPrinter, info_text, tree_document, tree_text
from .progress import ProgressBar
from .reports import convert_notes, convert_summary, repair_text, validation_set_text, validation_text

__all__ = ["SCHEMA", "ProgressBar", "RowPrinter", "convert_notes", "convert_summary", "dump_document",
           "dump_json", "error_document", "info_text", "repair_text", "tree_document", "tree_text",
           "unicode_ok", "validation_set_text", "validation_text"]
