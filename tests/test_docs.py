"""Help text, README and behaviour agree."""

import pytest

from mboxtool.cli import cli

from .conftest import ROOT

COMMANDS = sorted(cli.commands)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_and_a_readme_entry(name, invoke):
    assert cli.commands[name].help and len(cli.commands[name].help) > 20
    r = invoke(name, "--help")
    assert r.exit_code == 0 and "Example:" in r.stdout
    assert f"mboxtool {name}" in (ROOT / "README.md").read_text()


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 -m pytest -q" in readme and "python -m pytest -q" in ci


def test_every_client_command_names_its_destination_format():
    """The "Moving from a mail client" commands promise a Maildir; without --to, a source that
    is not mbox would make an mbox file named ~/Maildir (the contract's default)."""
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| client | what to give mboxtool |"):readme.index("Going the other way")]
    commands = [c for c in table.split("`") if c.startswith("convert ")]
    assert len(commands) >= 10
    assert all("--to maildir" in c for c in commands), [c for c in commands if "--to maildir" not in c]
