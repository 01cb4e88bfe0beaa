"""Help text, README, the manual in docs/ and behaviour agree.

What is checked: every command has help and a README entry; README.md stays a front door
(≤ 8 KB) whose test command is the one .ci/run runs; every link in README.md, CHANGELOG.md,
samples/README.md and docs/ resolves (files and #anchors); every `§N` cited in code or docs
exists in the page it names (docs/formats.md when none is named); every option of every command
is on that command's docs page; every JSON field the commands print is on their page; every
problem code the code can emit is in docs/problems.md; every mboxtool command shown in the
README and docs parses against the command's options, and those that need only samples/ run
and print what the docs show; the Python examples of docs/library.md run; the man pages and
shell completion lines work.
"""

import json
import re
import shlex
import shutil
import sys

import click
import pytest

from mboxtool.cli import cli

from .conftest import ROOT

COMMANDS = sorted(cli.commands)
DOCS = ROOT / "docs"
PAGE_OF = {"migrate": "migration.md"}     # the page of a command whose page is not named after it
DEMO = "/tmp/mboxtool-demo"          # the throwaway directory the docs' examples write into
PAGES = sorted(DOCS.rglob("*.md"))
LINKED = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "samples" / "README.md", *PAGES]


def _rel(path):
    return str(path.relative_to(ROOT))


def _readme():
    return (ROOT / "README.md").read_text()


# -- commands, README and CI ---------------------------------------------------------------

@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_and_a_readme_entry(name, invoke):
    assert cli.commands[name].help and len(cli.commands[name].help) > 20
    r = invoke(name, "--help")
    assert r.exit_code == 0 and "Example:" in r.stdout
    assert f"mboxtool {name}" in _readme()
    page = PAGE_OF.get(name, f"{name}.md")
    assert f"](docs/{page})" in _readme(), f"README does not link docs/{page}"


def _fenced_commands(text, lang="sh"):
    return [line for block in re.findall(rf"```{lang}\n(.*?)```", text, re.S) for line in block.splitlines()]


def test_readme_test_command_is_what_ci_runs():
    """The README's one test command ends in the pytest call .ci/run makes, after installing
    the test extras into a virtualenv, as .ci/run does."""
    ci = (ROOT / ".ci" / "run").read_text()
    test_commands = [c for c in _fenced_commands(_readme()) if "pytest" in c]
    assert len(test_commands) == 1, test_commands
    steps = [s.strip() for s in test_commands[0].split("&&")]
    assert steps[0].startswith("python3 -m venv .venv") and ". .venv/bin/activate" in steps
    assert any(s.startswith("pip install") and ".[test]" in s for s in steps)
    assert "python -m pytest -q" in ci and steps[-1] == "python -m pytest -q"
    assert "the README's test command" in ci and '".[test]"' in ci


def test_readme_quick_start_sets_up_a_venv_and_converts_the_sample_into_a_throwaway_dir():
    setup = [c for c in _fenced_commands(_readme()) if "mboxtool convert" in c]
    assert len(setup) == 1, setup
    steps = [s.strip() for s in setup[0].split("&&")]
    assert steps[0].startswith("python3 -m venv") and ". .venv/bin/activate" in steps
    assert steps[-1].startswith("mboxtool convert samples/inbox.mbox /tmp/")


def test_readme_is_a_front_door():
    assert len(_readme().encode()) <= 8 * 1024


def test_every_client_command_names_its_destination_format():
    """The "Moving from a mail client" commands promise a Maildir; without --to, a source that
    is not mbox would make an mbox file named ~/Maildir (the contract's default)."""
    for page in (ROOT / "README.md", DOCS / "convert.md"):
        text = page.read_text()
        table = text[text.index("| client | what to give mboxtool |"):text.index("Going the other way")]
        commands = [c for c in table.split("`") if c.startswith("convert ")]
        assert len(commands) >= 10
        assert all("--to maildir" in c for c in commands), [c for c in commands if "--to maildir" not in c]


# -- links and § references ---------------------------------------------------------------

def _slug(heading):
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[`*_]|\[|\]\([^)]*\)", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path):
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {_slug(h) for h in re.findall(r"^#+ (.*)$", text, re.M)}


@pytest.mark.parametrize("page", LINKED, ids=_rel)
def test_every_link_resolves(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(target)
        elif anchor and (resolved.is_dir() or anchor not in _anchors(resolved)):
            broken.append(target)
    assert not broken, broken


def _cited_sections():
    """(file, page, section) for every `§N` cited in code and docs: in the page named just
    before it (`docs/formats.md §7.3`), else in docs/formats.md, the only numbered page."""
    found = []
    files = [*ROOT.glob("mboxtool/**/*.py"), *ROOT.glob("tests/*.py"), *ROOT.glob("benchmarks/*.py"),
             *ROOT.glob("tools/*.py"), *LINKED]
    for path in files:
        text = path.read_text()
        for m in re.finditer(r"(?:(\w+)\.md\)?[ \]]*)?§\s?(\d+(?:\.\d+)?)", text):
            if re.search(r"RFC \d+[^§\n]{0,12}$", text[max(0, m.start() - 20):m.start()]):
                continue                     # an RFC's own section, not ours
            if path.name == "test_docs.py":
                continue
            found.append((path, DOCS / f"{m.group(1) or 'formats'}.md", m.group(2)))
    return found


def test_every_cited_section_exists_in_the_named_page():
    cited = _cited_sections()
    assert len({c[0] for c in cited}) > 10             # the code does cite sections
    missing = []
    for path, page, section in cited:
        headings = re.findall(r"^#+ (\d+(?:\.\d+)?)\.? ", page.read_text(), re.M) if page.exists() else []
        if section not in headings:
            missing.append(f"{_rel(path)}: {_rel(page) if page.exists() else page.name} §{section}")
    assert not missing, missing


def test_every_docs_path_cited_in_code_exists():
    files = [*ROOT.glob("mboxtool/**/*.py"), *ROOT.glob("tests/*.py"), *ROOT.glob("benchmarks/*.py"),
             *ROOT.glob("tools/*.py"), ROOT / ".ci" / "run", *LINKED]
    missing = [(_rel(f), p) for f in files for p in re.findall(r"\bdocs/[\w/.-]+\.md", f.read_text())
               if not (ROOT / p).exists()]
    assert not missing, missing


# -- options, JSON fields, problem codes ----------------------------------------------------

def _option_strings(command):
    ctx = click.Context(command, info_name=command.name)
    return [s for p in command.get_params(ctx) if isinstance(p, click.Option)
            for s in (*p.opts, *p.secondary_opts)]


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_is_on_its_command_page(name):
    page = PAGE_OF.get(name, f"{name}.md")
    text = (DOCS / page).read_text()
    missing = [o for o in _option_strings(cli.commands[name])
               if not re.search(rf"`{re.escape(o)}(?![\w-])", text)]
    assert not missing, f"docs/{page} does not document {missing}"


def _json_keys(value, keys):
    if isinstance(value, dict):
        for k, v in value.items():
            if not k.isdigit():                         # per_year's years are data, not fields
                keys.add(k)
            if k not in ("flags", "keywords", "per_year", "damage", "counts", "line_ends"):
                _json_keys(v, keys)
    elif isinstance(value, list):
        for item in value:
            _json_keys(item, keys)
    return keys


def test_every_json_field_is_on_its_command_page(invoke, tmp_path):
    samples = ROOT / "samples"
    runs = {
        "convert": [("convert", "--json", samples / "inbox.mbox", tmp_path / "Maildir"),
                    ("convert", "--json", "--recursive", samples / "Maildir", tmp_path / "tree")],
        "validate": [("validate", "--json", samples / "damaged.mbox")],
        "repair": [("repair", "--json", samples / "damaged.mbox", tmp_path / "fixed.mbox")],
        "info": [("info", "--json", samples / "inbox.mbox"),
                 ("info", "--json", "--recursive", samples / "Maildir")],
        "list": [("list", "--json", samples / "inbox.mbox")],
    }
    for name, calls in runs.items():
        keys = set()
        for args in calls:
            out = invoke(*args).stdout
            for line in out.splitlines() if name == "list" else [out]:
                _json_keys(json.loads(line), keys)
        page = (DOCS / f"{name}.md").read_text()
        missing = sorted(k for k in keys if f"`{k}`" not in page)
        assert not missing, f"docs/{name}.md does not document the JSON fields {missing}"


def _codes_in_source():
    """Every problem code the code can emit, found by a regex over the source: string literals
    given as a "code" value or a code= argument, or as the first argument of report.add(), report.fixed() or a
    reader's event(), the keys of validate.SEVERITY, and the codes convert passes on from
    reader events (its tuple of codes)."""
    from mboxtool.validate import SEVERITY
    codes = set(SEVERITY)
    for path in ROOT.glob("mboxtool/**/*.py"):
        text = path.read_text()
        codes |= set(re.findall(r"""(?:"code":\s*|\bcode=|\.(?:add|fixed|event)\(\s*)"""
                                r""""([a-z0-9]+(?:-[a-z0-9]+)+)\"""", text))
        codes |= set(re.findall(r"""r\.add\("([a-z0-9-]+)" if""", text))
        codes |= set(re.findall(r"""if [^\n]+ else "([a-z0-9]+(?:-[a-z0-9]+)+)",""", text))
        for group in re.findall(r"""code in \(([^)]*)\)""", text):
            codes |= set(re.findall(r'"([a-z0-9]+(?:-[a-z0-9]+)+)"', group))
    return codes


def _documented_codes():
    text = (DOCS / "problems.md").read_text()
    first_cells = re.findall(r"^\| ([^|]+) \|", text, re.M)
    return {c for cell in first_cells for c in re.findall(r"`([a-z0-9]+(?:-[a-z0-9]+)*)`", cell)}   # symlink: one word


def test_the_code_finder_sees_what_validate_and_repair_report(invoke, tmp_path):
    """The regex over the source finds the codes a real damaged mailbox produces."""
    damaged = ROOT / "samples" / "damaged.mbox"
    seen = {p["code"] for p in json.loads(invoke("validate", "--json", damaged).stdout)["problems"]}
    repair = json.loads(invoke("repair", "--json", damaged, tmp_path / "r.mbox").stdout)
    seen |= {r["code"] for r in repair["repaired"]}
    assert len(seen) >= 5 and seen <= _codes_in_source()


def test_every_problem_code_is_in_problems_md():
    missing = sorted(_codes_in_source() - _documented_codes())
    assert not missing, f"docs/problems.md does not document {missing}"


def test_problems_md_documents_only_codes_the_code_emits():
    stale = sorted(_documented_codes() - _codes_in_source())
    assert not stale, f"docs/problems.md documents codes nothing emits: {stale}"


# -- commands shown in README and docs -----------------------------------------------------

def _shown_invocations():
    """(page, argv) for every `mboxtool ...` shown in a code block or a table cell, and the
    commands of the README's client table (written without the leading `mboxtool`)."""
    found = []
    for page in [ROOT / "README.md", ROOT / "samples" / "README.md", *PAGES]:
        text = page.read_text()
        blocks = re.findall(r"```(?:sh|console|)\n(.*?)```", text, re.S)
        lines = [ln for block in blocks for ln in block.splitlines()]
        lines += [c for c in re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
                  if c.startswith(("mboxtool ", "convert ")) and len(c.split()) > 2]   # not a bare name
        for line in lines:
            line = line.removeprefix("$ ")
            for part in re.split(r"&&|\||;", line):
                part = part.split(" #")[0].split(">")[0].strip()
                if part.startswith("convert "):
                    part = "mboxtool " + part
                if part.startswith("mboxtool ") and "COMMAND" not in part:
                    found.append((page, part))
    return found


def test_every_shown_command_parses_against_its_options():
    shown = _shown_invocations()
    assert len(shown) >= 30
    bad = []
    for page, command in shown:
        argv = shlex.split(command)[1:]
        if not argv or argv[0] not in cli.commands:
            bad.append((_rel(page), command, "no such command"))
            continue
        if any(u in argv for u in ("[OPTIONS]", "SRC", "PATH")):
            continue                                    # a usage line: its options are on the page
        try:
            cli.commands[argv[0]].make_context(argv[0], argv[1:], resilient_parsing=False)
        except click.ClickException as exc:
            bad.append((_rel(page), command, exc.format_message()))
    assert not bad, bad


def _console_sessions(page):
    """Each console block of a page as [(command line, [shown output lines])]."""
    sessions = []
    for block in re.findall(r"```console\n(.*?)```", page.read_text(), re.S):
        steps = []
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            elif steps:
                steps[-1][1].append(line)
        sessions.append(steps)
    return sessions


def _runnable(argv):
    """Only commands whose paths are the samples or the throwaway directory run in a test."""
    paths = [a for a in argv[1:] if "/" in a or a.endswith((".mbox", ".eml"))]
    return all(a.startswith(("samples/", DEMO)) for a in paths)


SESSION_PAGES = [p for p in [ROOT / "README.md", *PAGES] if "```console" in p.read_text()]


@pytest.mark.parametrize("page", SESSION_PAGES, ids=_rel)
def test_shown_sessions_run_and_print_what_is_shown(page, runner, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    demo = str(tmp_path / "demo")
    ran = 0
    for session in _console_sessions(page):
        shutil.rmtree(demo, ignore_errors=True)
        (tmp_path / "demo").mkdir()
        for line, shown in session:
            command = line.split(" #")[0].strip()
            redirect = command.split(">")[1].strip() if ">" in command else None
            command = command.split(">")[0]
            head = re.search(r"\| head -(\d+)", command)
            argv = shlex.split(command.split("|")[0])
            if argv[0] == "cp" and _runnable(argv):
                shutil.copy(ROOT / argv[1], argv[2].replace(DEMO, demo))
                continue
            if argv[0] != "mboxtool" or not _runnable(argv):
                continue
            r = runner.invoke(cli, [a.replace(DEMO, demo) for a in argv[1:]], catch_exceptions=False)
            assert r.exit_code in (0, 1), (line, r.exit_code, r.stderr)
            ran += 1
            out = r.stdout.replace(demo, DEMO).splitlines()
            if head:
                out = out[:int(head.group(1))]
            if redirect:
                assert redirect.startswith(DEMO) and out, line
                continue
            for expected in shown:
                if expected.strip() == "...":
                    continue
                if expected.startswith("{"):
                    strip = lambda d: {k: v for k, v in d.items() if k != "seconds"}  # noqa: E731
                    printed = [strip(json.loads(o)) for o in out if o.startswith("{")]
                    assert strip(json.loads(expected)) in printed, line
                else:
                    assert expected in out, (line, expected, out)
    assert ran or page.name == "README.md"


def test_library_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / "library.md").read_text(), re.S)
    assert len(blocks) >= 3
    for block in blocks:
        exec(compile(block.replace(DEMO, str(tmp_path)), "docs/library.md", "exec"), {})
    assert "Minutes of the Monday meeting" not in capsys.readouterr().out   # bytes were counted, not printed
    assert (tmp_path / "lib" / "Maildir" / "cur").is_dir() and (tmp_path / "lib" / "fixed.mbox").is_file()


# -- man pages, completion, changelog, samples ----------------------------------------------

def _exit_codes(page, heading):
    text = page.read_text()
    table = text[text.index(heading):]
    table = table[:table.index("\n\n", table.index("| exit |"))]
    return [c.strip() for c in re.findall(r"^\| ([\d, ]+) \|", table, re.M)]


def test_man_pages_hold_every_option_and_the_readme_exit_codes(tmp_path):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import manpages
    finally:
        sys.path.remove(str(ROOT / "tools"))
    pages = {p.name: p.read_text() for p in manpages.write_pages(tmp_path)}
    assert set(pages) == {"mboxtool.1", *(f"mboxtool-{n}.1" for n in COMMANDS)}
    for name in COMMANDS:
        text = pages[f"mboxtool-{name}.1"].replace("\\-", "-")
        missing = [o for o in _option_strings(cli.commands[name]) if o not in text]
        assert not missing, (name, missing)
    readme = _exit_codes(ROOT / "README.md", "## Exit codes")
    manual = _exit_codes(DOCS / "README.md", "## Scripting and cron")
    assert [c for c, _ in manpages.EXIT_STATUS] == readme == manual


def test_the_readme_exit_table_is_every_exit_status_of_the_cli():
    """The CLI names its exit statuses once (the ExitStatus enum of mboxtool/errors.py) and exits
    only through them; the README's and the manual's tables list exactly those, each with its number."""
    from mboxtool.errors import ExitStatus
    members = {int(s) for s in ExitStatus}
    readme = {int(c) for row in _exit_codes(ROOT / "README.md", "## Exit codes") for c in row.split(",")}
    manual = {int(c) for row in _exit_codes(DOCS / "README.md", "## Scripting and cron") for c in row.split(",")}
    assert members == readme == manual
    for path in sorted((ROOT / "mboxtool" / "cli").glob("*.py")):
        bare = re.findall(r"(?:\.exit\(|exit_code = )\s*\d", path.read_text())
        assert not bare, f"{path.name}: an exit status not named by ExitStatus"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_documented_completion_line_works(shell, runner):
    line = next(ln for ln in (DOCS / "README.md").read_text().splitlines() if ln.startswith(f"- {shell} "))
    var, value = re.search(r"(_MBOXTOOL_COMPLETE)=(\w+)", line).groups()
    r = runner.invoke(cli, [], env={var: value}, prog_name="mboxtool")
    assert r.exit_code == 0 and "mboxtool" in r.stdout and "_MBOXTOOL_COMPLETE" in r.stdout


def test_changelog_keeps_a_changelog():
    text = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## \[([^\]]+)\]", text, re.M)
    assert releases[:2] == ["Unreleased", "0.1.0"]
    from mboxtool import __version__
    assert __version__ in releases
    release = text[text.index("## [0.1.0]"):]
    assert all(f"### {kind}" in release for kind in ("Added", "Changed", "Fixed"))
    kinds = set(re.findall(r"^### (.+)$", text, re.M))
    assert kinds <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}, kinds
    assert not re.search(r"\d\.\d+ s\b|\d+ MB\b|test_\w+", release), "timings and test stories stay out"


def test_samples_readme_lists_every_sample():
    text = (ROOT / "samples" / "README.md").read_text()
    listed = set(re.findall(r"^\| `([^`]+)` \|", text, re.M))
    present = {p.name + ("/" if p.is_dir() else "")
               for p in (ROOT / "samples").iterdir() if p.name != "README.md"}
    assert listed == present
