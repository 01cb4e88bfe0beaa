"""What the tests share: paths, fixtures, helpers that build mailboxes, and the parametrization
that runs one test body over every matching format of the registry."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mboxtool.cli import cli
from mboxtool.formats.registry import FORMATS

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("MBOXTOOL_CORPUS", ROOT.parent / "shared" / "corpus"))
SAMPLES = ROOT / "samples"


def format_names(*, writable=None, is_file=None, detected=None, but=()):
    """The names of the registry's formats whose rows match: ``writable`` (has a writer),
    ``is_file`` (one file, not a directory), ``detected``; None matches either. ``but``: names
    left out (say why where it is used)."""
    return [name for name, row in FORMATS.items()
            if (writable is None or (row.writer is not None) == writable)
            and (is_file is None or row.is_file == is_file)
            and (detected is None or row.detected == detected)
            and name not in but]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "formats(writable=, is_file=, detected=, but=): run the test once per format of "
        "the registry that matches, its name passed as ``fmt`` (see format_names in conftest.py)")


@pytest.hookimpl(trylast=True)               # after @parametrize marks: ids [command0-maildir]
def pytest_generate_tests(metafunc):
    """One body for every format: a test marked ``@pytest.mark.formats(...)`` runs once per
    matching row of mboxtool.formats.registry.FORMATS (ids ``[mbox]``, ``[maildir]``...), so a
    new format's row is tested without touching the test."""
    marker = metafunc.definition.get_closest_marker("formats")
    if marker is not None:
        metafunc.parametrize("fmt", format_names(**marker.kwargs))


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


def thunderbird_tree(path, names=("Inbox", "Archive", "Archive.sbd/2020", "Entwürfe")):
    """A Thunderbird-style folder tree at ``path``: the sample mbox under each of ``names``."""
    for name in names:
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SAMPLES / "inbox.mbox", path / name)
    return path


def make_maildir(path):
    """An empty Maildir (cur/, new/, tmp/) at ``path``."""
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True)
    return path


def maildir_files(md: Path) -> dict[str, bytes]:
    """A Maildir's messages, ``new/name`` or ``cur/name:2,…`` mapped to their bytes."""
    return {f"{p.parent.name}/{p.name}": p.read_bytes() for sub in ("new", "cur")
            for p in sorted((md / sub).iterdir())}


def python_cmd():
    return [sys.executable, "-m", "mboxtool"]


class SmallDisk:
    """A 1 MiB tmpfs: a really full disk, not a simulated one."""

    def __init__(self, path):
        self.path = path

    def grow(self, size: str = "64m") -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(self.path)], check=True)


@pytest.fixture
def small_disk(tmp_path):
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    path = tmp_path / "small"
    path.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield SmallDisk(path)
    finally:
        subprocess.run(["umount", str(path)], check=False)


# -- Courier's maildirkw (tests/test_courier.py, tests/test_dovecot.py) ----------------------

MAILDIRKW = shutil.which("maildirkw")
needs_maildirkw = pytest.mark.skipif(MAILDIRKW is None, reason="Courier's maildirkw is not installed "
                                                               "(Debian: apt-get install courier-base)")


def courier_maildir(path, names):
    """A Maildir holding one small message per name (``cur/NAME`` or ``new/NAME``)."""
    make_maildir(path)
    for i, relpath in enumerate(names):
        (path / relpath).write_bytes(b"From: a@example.org\nSubject: m%d\nMessage-ID: <%d@x>\n\nbody %d\n"
                                     % (i, i, i))
    (path / "courierimapkeywords").mkdir()
    return path / "courierimapkeywords"


def run_maildirkw(*args):
    r = subprocess.run([MAILDIRKW, *map(str, args)], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode(errors="replace")


# -- mboxtool migrate (tests/test_migrate.py, tests/test_migrate_recipes.py) ----------------

def spool_file(path, messages=5):
    """An mbox of ``messages`` messages (the sample's five, repeated as needed)."""
    sample = (SAMPLES / "inbox.mbox").read_bytes()
    chunks = sample.split(b"\nFrom ")
    parts = [chunks[0]] + [b"From " + c for c in chunks[1:]]
    path.write_bytes(b"\n".join(parts[i % len(parts)].rstrip(b"\n") + b"\n" for i in range(messages)))
    return path


def manifest(tmp_path, rows, header="source,destination"):
    path = tmp_path / "manifest.csv"
    path.write_text(header + "\n" + "".join(f"{src},{dst}\n" for src, dst in rows))
    return path


def migrate(*args, stdin=None, check_json=True):
    proc = subprocess.run(python_cmd() + ["migrate", *map(str, args)], input=stdin,
                          capture_output=True, text=True, timeout=300)
    lines = [json.loads(line) for line in proc.stdout.splitlines()] if "--json" in args and check_json else []
    return proc, lines


def maildir_count(path):
    return sum(len(os.listdir(path / sub)) for sub in ("cur", "new"))
