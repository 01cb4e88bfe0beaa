import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mboxtool.cli import cli

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("MBOXTOOL_CORPUS", ROOT.parent / "shared" / "corpus"))
SAMPLES = ROOT / "samples"


@pytest.fixture
def runner():
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:                     # click >= 8.2 always separates the streams
        return CliRunner()


@pytest.fixture
def invoke(runner):
    def run(*args):
        return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return run


def mbox_entry(sender="a@example.org", date="Mon Jan  6 10:00:00 2020", headers=None, body="hi\n"):
    head = headers if headers is not None else (
        f"From: {sender}\nSubject: test\nDate: Mon, 6 Jan 2020 10:00:00 +0000\n")
    return f"From {sender} {date}\n{head}\n{body}\n".encode()


def make_maildir(path):
    """An empty Maildir (cur/, new/, tmp/) at ``path``."""
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True)
    return path


def python_cmd():
    return [sys.executable, "-m", "mboxtool"]
