"""Emacs Rmail reads the Babyl files mboxtool writes, and mboxtool reads Rmail's mbox.

Emacs' own ``unrmail`` turns a Babyl file into the mbox Rmail has kept since Emacs 23,
where the state is in X-RMAIL-ATTRIBUTES (one letter a set attribute, U for unseen)
and the labels in X-RMAIL-KEYWORDS. Babyl has no flagged or draft attribute: mboxtool
writes them as the labels "flagged" and "draft", and reads those back as F and D.

Debian: apt-get install emacs-nox (``.ci/run`` installs it when run as root); the
round trip through Emacs skips without it.
"""

import shutil
import subprocess

import pytest

from mboxtool import BabylReader, ConvertOptions, MboxReader, convert_mailbox
from mboxtool.model.flags import from_mbox_headers
from mboxtool.model.message import Headers, core_bytes, split_message

from .conftest import SAMPLES

EMACS = shutil.which("emacs")


def state(reader) -> dict:
    """Message-ID -> (bytes without metadata, flags, keywords) of every message."""
    with reader as r:
        return {split_message(m.data)[0].get(b"message-id"): (core_bytes(m), m.flags, set(m.keywords))
                for m in r}


def test_babyl_keeps_flagged_and_draft_as_labels(tmp_path):
    babyl = tmp_path / "box.babyl"
    assert convert_mailbox(SAMPLES / "inbox.mbox", babyl, ConvertOptions(to_format="babyl")).converted == 5
    assert b"1, unseen,, flagged, $Important, work,\n" in babyl.read_bytes()
    assert b"1, forwarded,, draft,\n" in babyl.read_bytes()
    assert state(BabylReader(babyl)) == state(MboxReader(SAMPLES / "inbox.mbox"))


@pytest.mark.parametrize("attributes, labels, flags, keywords", [
    ("A-------", None, "RS", set()),
    ("------U-", "flagged, work", "F", {"work"}),
    ("-D---S--", "draft", "DPST", set()),
    ("-------r", None, "PS", set()),
    ("---F-R-E", None, "S", set()),                  # filed, retried, edited: no flag of their own
])
def test_rmail_attributes_and_keywords_are_read(attributes, labels, flags, keywords):
    head = b"From: a@b\nX-RMAIL-ATTRIBUTES: " + attributes.encode() + b"\n"
    if labels:
        head += b"X-RMAIL-KEYWORDS: " + labels.encode() + b"\n"
    got = from_mbox_headers(Headers(head))
    assert (got.flags, set(got.keywords)) == (flags, keywords)


@pytest.mark.skipif(EMACS is None, reason="Emacs is not installed (Debian: apt-get install emacs-nox)")
def test_emacs_rmail_reads_the_babyl_mboxtool_wrote(tmp_path):
    babyl = tmp_path / "box.babyl"
    assert convert_mailbox(SAMPLES / "inbox.mbox", babyl, ConvertOptions(to_format="babyl")).converted == 5
    r = subprocess.run([EMACS, "--batch", "-Q", "-l", "unrmail", "-f", "batch-unrmail", str(babyl)],
                       capture_output=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    rmail = tmp_path / "box.babyl.mail"                 # Rmail's mbox, as Emacs wrote it
    assert b"X-RMAIL-ATTRIBUTES: " in rmail.read_bytes()
    assert state(MboxReader(rmail)) == state(MboxReader(SAMPLES / "inbox.mbox"))


RMAIL_BABYL = (b"BABYL OPTIONS: -*- rmail -*-\nVersion: 5\nLabels:\nNote:   This is the header of an rmail file.\n"
               b"\x1f\x0c\n0, unseen,,\n*** EOOH ***\nFrom: a@b\nSubject: never shown\nMessage-ID: <1@x>\n\n"
               b"body line\n"
               b"\x1f\x0c\n1, answered,, work,\nSummary-Line:  1-Jan  a@b  shown\n"
               b"From: a@b\nSubject: shown\nMessage-ID: <2@x>\nReceived: by x\n\n*** EOOH ***\n"
               b"From: a@b\nSubject: shown\n\nsecond\n\n\x1f")
RMAIL_MESSAGES = {"<1@x>": (b"From: a@b\nSubject: never shown\nMessage-ID: <1@x>\n\nbody line\n", "", set()),
                  "<2@x>": (b"From: a@b\nSubject: shown\nMessage-ID: <2@x>\nReceived: by x\n\nsecond\n\n",
                            "RS", {"work"})}


def test_rmail_entries_as_rmail_and_gnus_write_them(tmp_path):
    """A "0," entry was never reformatted: its header is the one after *** EOOH *** (new mail
    as Rmail, Gnus and VM store it; it lost its whole header once). A "1," entry keeps its
    original header before that line, after Rmail's Summary-Line cache. An entry ends at
    \\037 with its own last line end."""
    babyl = tmp_path / "RMAIL"
    babyl.write_bytes(RMAIL_BABYL)
    assert state(BabylReader(babyl)) == RMAIL_MESSAGES


@pytest.mark.skipif(EMACS is None, reason="Emacs is not installed (Debian: apt-get install emacs-nox)")
def test_emacs_reads_an_rmail_file_as_mboxtool_does(tmp_path):
    babyl = tmp_path / "RMAIL"
    babyl.write_bytes(RMAIL_BABYL)
    r = subprocess.run([EMACS, "--batch", "-Q", "-l", "unrmail", "-f", "batch-unrmail", str(babyl)],
                       capture_output=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert state(MboxReader(tmp_path / "RMAIL.mail")) == state(BabylReader(babyl)) == RMAIL_MESSAGES
