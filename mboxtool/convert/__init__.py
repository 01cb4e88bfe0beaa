"""The converter: one mailbox (mailbox.py) or a folder tree (tree.py) into another format,
through sinks (sinks.py, forkwriter.py), with resume state (checkpoint.py) and quarantine."""

from .mailbox import ConvertOptions, ConvertReport, convert_mailbox
from .tree import convert_tree

__all__ = ["ConvertOptions", "ConvertReport", "convert_mailbox", "convert_tree"]
