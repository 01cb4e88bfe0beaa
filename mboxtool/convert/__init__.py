"""The converter: one mailbox (mailbox.py, its run loop run.py) or a folder tree (tree.py)
into another format, through sinks (sinks.py, forkwriter.py), with what DST holds and
--verify (known.py), resume state (checkpoint.py), --move (move.py, quarantine.py) and the
folders around a mailbox (folders.py). It names no format: what differs by format is a
field of the format's row in formats/registry.py."""

from .mailbox import ConvertOptions, ConvertReport, convert_mailbox
from .tree import convert_tree

__all__ = ["ConvertOptions", "ConvertReport", "convert_mailbox", "convert_tree"]
