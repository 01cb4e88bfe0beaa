"""mboxtool migrate: manifests, the spool shorthand, parallel children, exit codes, JSON lines,
--dry-run and --log-file. The recipes and sharding are in test_migrate_recipes.py."""

import fcntl
import json
import os
import pwd
import re
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest

from mboxtool.migrate.manifest import Row
from mboxtool.migrate.run import MigrateOptions, convert_command, exit_code, outcome

from .conftest import maildir_count, manifest, migrate, python_cmd, spool_file

MAILBOX_FIELDS = {"source", "destination", "status", "converted", "skipped", "failed", "quarantined",
                  "owner", "seconds", "errors"}
SUMMARY_FIELDS = {"summary", "mailboxes", "done", "failed", "busy", "converted", "seconds"}
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")


def by_source(lines):
    return {line["source"]: line for line in lines if not line.get("summary")}


@contextmanager
def locked(path):
    """An exclusive fcntl lock on ``path`` held by this process, as a delivering MDA holds it."""
    with open(path, "r+b") as f:
        fcntl.lockf(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.lockf(f, fcntl.LOCK_UN)


# -- manifests -------------------------------------------------------------------------

def test_manifest_rows_comments_blank_lines_and_optional_columns(tmp_path):
    for name in ("a", "b", "c"):
        spool_file(tmp_path / name)
    path = tmp_path / "manifest.csv"
    path.write_text("# the migration of 2026\n\nSource,destination,format,recursive\n"
                    f"{tmp_path}/a,{tmp_path}/out/a,,\n"
                    "   \n# b goes to an mbox\n"
                    f"{tmp_path}/b,{tmp_path}/out/b.mbox,mbox,false\n"
                    f'"{tmp_path}/c",{tmp_path}/out/c,maildir,\n')
    proc, lines = migrate(path, "--json", "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    rows = by_source(lines)
    assert set(rows) == {f"{tmp_path}/{n}" for n in "abc"}
    assert all(r["status"] == "done" and r["converted"] == 5 for r in rows.values())
    assert (tmp_path / "out" / "b.mbox").is_file() and maildir_count(tmp_path / "out" / "c") == 5


@pytest.mark.parametrize("text, line, words", [
    ("source,destination,size\na,b,1\n", 1, "unknown column 'size'"),
    ("# note\nsource,owner\na,b\n", 2, "no 'destination' column"),
    ("source,destination\n\na,b\n# c\nc,d,e\n", 5, "3 fields"),
    ("source,destination,recursive\na,b,maybe\n", 2, "recursive must be true or false"),
    ("source,destination,format\na,b,pst\n", 2, "unknown format 'pst'"),
    ("source,destination\na,b\n\na,c\n", 4, "already on line 2"),
    ("source,destination\n,b\n", 2, "empty source"),
    ("source,source,destination\n", 1, "named twice"),
])
def test_manifest_errors_name_their_line_and_exit_2(tmp_path, text, line, words):
    path = tmp_path / "m.csv"
    path.write_text(text)
    proc, _ = migrate(path)
    assert proc.returncode == 2
    assert f"m.csv: line {line}: " in proc.stderr and words in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


def test_manifest_without_header_or_unreadable_exits_2(tmp_path):
    (tmp_path / "empty.csv").write_text("# nothing\n\n")
    proc, _ = migrate(tmp_path / "empty.csv")
    assert proc.returncode == 2 and "no header row" in proc.stderr
    proc, _ = migrate(tmp_path / "missing.csv")
    assert proc.returncode == 2 and "missing.csv: cannot read the manifest" in proc.stderr


def test_manifest_from_stdin(tmp_path):
    spool_file(tmp_path / "a")
    proc, lines = migrate("-", "--json", stdin=f"source,destination\n{tmp_path}/a,{tmp_path}/A\n")
    assert proc.returncode == 0, proc.stderr
    assert by_source(lines)[f"{tmp_path}/a"]["converted"] == 5 and maildir_count(tmp_path / "A") == 5


def test_options_that_cannot_be_used_exit_2(tmp_path):
    path = manifest(tmp_path, [("a", "b")])
    for args in ([], [path, "--spool", tmp_path], ["--spool", tmp_path], [path, "--to-template", "x"],
                 [path, "--shard", "0/3"], [path, "--shard", "4/3"], [path, "--shard", "two"],
                 [path, "--alert-after", "3"], ["--spool", tmp_path, "--to-template", "{home}/{mail}"],
                 [path, "--lock-timeout", "nan"], [path, "--from-tz", "mars"], [path, "--jobs", "0"]):
        proc, _ = migrate(*args)
        assert proc.returncode == 2, args
        assert "Traceback" not in proc.stderr and proc.stderr.strip(), args


def test_rows_and_options_become_convert_options():
    opts = MigrateOptions(convert_args=["--move"], owner="mail:mail", to_format="maildir")
    cmd = convert_command(Row("/var/mail/a", "/home/a/Maildir"), opts)
    assert cmd[:2] == [sys.executable, "-m"]
    assert cmd[3:7] == ["convert", "/var/mail/a", "/home/a/Maildir", "--json"]
    assert cmd[7:] == ["--move", "--to", "maildir", "--owner", "mail:mail"]
    row = Row("/var/mail/b", "/home/b/mail", owner="bob", format="mbox", recursive=True)
    cmd = convert_command(row, MigrateOptions())
    assert cmd[7:] == ["--to", "mbox", "--recursive", "--owner", "bob"]
    assert "--owner" not in convert_command(Row("s", "d"), MigrateOptions())
    trees = MigrateOptions(tree_args=["--layout", "fs"])
    assert convert_command(Row("s", "d", recursive=True), trees)[7:] == ["--recursive", "--layout", "fs"]
    assert convert_command(Row("s", "d"), trees)[7:] == []                # a single mailbox has no layout


def test_convert_options_reach_every_conversion(tmp_path):
    spool_file(tmp_path / "a")
    path = manifest(tmp_path, [(tmp_path / "a", tmp_path / "A.mbox")])
    proc, lines = migrate(path, "--json", "--to", "mbox", "--variant", "mboxcl2", "--keywords", "header",
                          "--layout", "fs", "--no-fsync")
    assert proc.returncode == 0, proc.stderr
    assert by_source(lines)[str(tmp_path / "a")]["converted"] == 5
    assert b"Content-Length: " in (tmp_path / "A.mbox").read_bytes()       # mboxcl2 was written


def test_owner_column_is_passed_to_convert(tmp_path):
    spool_file(tmp_path / "a")
    path = tmp_path / "m.csv"
    path.write_text(f"source,destination,owner\n{tmp_path}/a,{tmp_path}/A,nosuchuser-mbt\n")
    proc, lines = migrate(path, "--json")
    row = by_source(lines)[f"{tmp_path}/a"]
    reason = row["reason"].lower()
    assert row["status"] == "failed" and ("owner" in reason or "nosuchuser-mbt" in reason)   # refused
    assert proc.returncode == 1 and not (tmp_path / "A" / "cur").exists()


# -- the spool shorthand ---------------------------------------------------------------

def test_spool_template_expands_user_and_home_and_skips_unknown_logins(tmp_path):
    me = pwd.getpwuid(os.geteuid())
    spool = tmp_path / "spool"
    spool.mkdir()
    spool_file(spool / me.pw_name)
    spool_file(spool / "nosuchuser-mbt", 3)
    (spool / f"{me.pw_name}.lock").write_bytes(b"")      # a delivery's dotlock is no mailbox
    (spool / ".hidden").write_bytes(b"")
    template = f"{tmp_path}/dest{{home}}/{{user}}/Maildir"
    proc, lines = migrate("--spool", spool, "--to-template", template, "--json")
    rows = by_source(lines)
    assert set(rows) == {str(spool / me.pw_name), str(spool / "nosuchuser-mbt")}
    mine = rows[str(spool / me.pw_name)]
    assert mine["status"] == "done"
    assert mine["destination"] == f"{tmp_path}/dest{me.pw_dir}/{me.pw_name}/Maildir"
    assert maildir_count(tmp_path / f"dest{me.pw_dir}" / me.pw_name / "Maildir") == 5
    stranger = rows[str(spool / "nosuchuser-mbt")]
    assert stranger["status"] == "skipped" and "not a user" in stranger["reason"]
    assert lines[-1]["skipped"] == 1 and lines[-1]["done"] == 1
    assert proc.returncode == 0
    # without {home}, a login that is not a user is converted all the same
    proc, lines = migrate("--spool", spool, "--to-template", f"{tmp_path}/plain/{{user}}", "--json")
    assert proc.returncode == 0 and {r["status"] for r in by_source(lines).values()} == {"done"}
    assert maildir_count(tmp_path / "plain" / "nosuchuser-mbt") == 3


def test_spool_users_file_restricts_the_rows(tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    for login in ("ann", "bob", "cy"):
        spool_file(spool / login, 2)
    users = tmp_path / "users"
    users.write_text("# batch 1\nbob\n\ncy\nnobody-yet\n")
    proc, lines = migrate("--spool", spool, "--to-template", f"{tmp_path}/out/{{user}}", "--users", users,
                          "--missing-ok", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = by_source(lines)
    assert set(rows) == {str(spool / n) for n in ("bob", "cy", "nobody-yet")}
    assert rows[str(spool / "nobody-yet")]["converted"] == 0 and not (tmp_path / "out" / "ann").exists()


# -- parallel children, failures, exit codes, JSON lines -------------------------------

def test_jobs_run_mailboxes_at_the_same_time(tmp_path):
    first, second = spool_file(tmp_path / "first"), spool_file(tmp_path / "second")
    path = manifest(tmp_path, [(first, tmp_path / "F"), (second, tmp_path / "S")])
    with locked(first):
        proc = subprocess.Popen(python_cmd() + ["migrate", str(path), "--json", "--jobs", "2",
                                                "--lock-timeout", "60"], stdout=subprocess.PIPE, text=True)
        # the first row waits for its lock; the second one is converted meanwhile
        early = json.loads(proc.stdout.readline())
    with proc:
        rest = [json.loads(line) for line in proc.stdout]
    assert proc.returncode == 0
    assert early["source"] == str(second) and early["status"] == "done"
    assert rest[0]["source"] == str(first) and rest[0]["status"] == "done" and rest[0]["converted"] == 5
    assert rest[1]["summary"] is True and rest[1]["done"] == 2


def test_failed_damaged_and_locked_mailboxes_do_not_stop_the_others(tmp_path):
    good1, good2 = spool_file(tmp_path / "good1"), spool_file(tmp_path / "good2", 7)
    busy = spool_file(tmp_path / "busy")
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x00\x01 not a mailbox at all\n" * 10)
    path = manifest(tmp_path, [(good1, tmp_path / "G1"), (tmp_path / "missing", tmp_path / "M"),
                               (busy, tmp_path / "B"), (garbage, tmp_path / "X"), (good2, tmp_path / "G2")])
    with locked(busy):
        proc, lines = migrate(path, "--json", "--jobs", "2", "--lock-timeout", "0.5")
    rows = by_source(lines)
    assert [rows[str(p)]["status"] for p in (good1, tmp_path / "missing", busy, garbage, good2)] == \
        ["done", "failed", "busy", "failed", "done"]
    assert maildir_count(tmp_path / "G1") == 5 and maildir_count(tmp_path / "G2") == 7
    assert "lock" in rows[str(busy)]["reason"] and rows[str(busy)]["errors"]
    assert "no such file" in rows[str(tmp_path / "missing")]["reason"]
    assert busy.read_bytes() == spool_file(tmp_path / "again").read_bytes()
    summary = lines[-1]
    assert summary == {**summary, "summary": True, "mailboxes": 5, "done": 2, "failed": 2, "busy": 1,
                       "converted": 12}
    assert proc.returncode == 1


def test_exit_75_when_the_only_problem_is_a_busy_lock(tmp_path):
    good, busy = spool_file(tmp_path / "good"), spool_file(tmp_path / "busy")
    path = manifest(tmp_path, [(good, tmp_path / "G"), (busy, tmp_path / "B")])
    with locked(busy):
        proc, lines = migrate(path, "--lock-timeout", "0.3")
    assert proc.returncode == 75
    assert "busy" in proc.stderr and str(busy) in proc.stderr          # off a terminal: a line per problem
    assert proc.stdout.startswith("migrated 1 of 2 mailboxes: 0 failed, 1 busy")
    with locked(busy):
        proc, _ = migrate(path, "--lock-timeout", "0.3", "--quiet")
    assert proc.returncode == 75 and proc.stdout == "" and proc.stderr == ""   # cron mails nothing
    proc, _ = migrate(path)
    assert proc.returncode == 0 and maildir_count(tmp_path / "B") == 5


def test_json_lines_shape(tmp_path):
    spool_file(tmp_path / "a")
    path = manifest(tmp_path, [(tmp_path / "a", tmp_path / "A"), (tmp_path / "nope", tmp_path / "N")])
    proc, lines = migrate(path, "--json")
    assert proc.returncode == 1
    assert len(lines) == 3 and all(isinstance(line, dict) for line in lines)
    assert all(line["schema"] == 1 for line in lines)                 # every line, as --help says
    for line in lines[:2]:
        assert MAILBOX_FIELDS <= set(line) and "summary" not in line
        assert line["status"] in ("done", "failed", "busy", "skipped")
        assert isinstance(line["errors"], list) and isinstance(line["seconds"], float)
    done, failed = sorted(lines[:2], key=lambda r: r["status"])
    assert done["errors"] == [] and done["converted"] == 5 and done["quarantined"] == 0
    assert failed["errors"] and all("message" in e for e in failed["errors"])
    assert SUMMARY_FIELDS <= set(lines[2]) and lines[2]["summary"] is True
    assert "migrated" not in proc.stdout and "Traceback" not in proc.stderr


def test_quarantined_bytes_make_a_mailbox_a_problem():
    report = {"converted": 3, "skipped": 0, "failed": 0, "quarantined": 2, "bytes": 10, "errors": []}
    result = outcome(Row("s", "d"), 1, json.dumps(report).encode(), b"mboxtool: error: 2 quarantined\n")
    assert result.quarantined == 2 and result.converted == 3 and exit_code([result]) == 1
    plain = outcome(Row("s", "d"), 0, json.dumps({**report, "quarantined": 0}).encode(), b"")
    assert plain.status == "done" and exit_code([plain]) == 0
    older = outcome(Row("s", "d"), 0, json.dumps({"converted": 1}).encode(), b"")
    assert older.quarantined == 0


# -- --dry-run -------------------------------------------------------------------------

def snapshot(root):
    return {(p, st.st_size, st.st_mtime_ns) for p in root.rglob("*") for st in [p.lstat()]}


def test_dry_run_reports_per_mailbox_and_writes_nothing(tmp_path):
    a, b = spool_file(tmp_path / "a"), spool_file(tmp_path / "b", 8)
    path = manifest(tmp_path, [(a, tmp_path / "A"), (b, tmp_path / "B")])
    before = snapshot(tmp_path)
    proc, lines = migrate(path, "--dry-run", "--move", "--log-file", tmp_path / "log", "--json")
    assert proc.returncode == 0, proc.stderr
    assert snapshot(tmp_path) == before                        # no destination, no log, sources as they were
    rows = by_source(lines)
    assert rows[str(a)]["converted"] == 5 and rows[str(b)]["converted"] == 8
    assert rows[str(a)]["bytes"] > 0 and rows[str(a)]["skipped"] == 0
    assert rows[str(a)]["owner"] == pwd.getpwuid(os.geteuid()).pw_name and lines[-1]["dry_run"] is True
    migrate(path)                                             # a real run, then a dry run again
    proc, _ = migrate(path, "--dry-run")
    table = proc.stdout.splitlines()
    assert table[0].split()[:6] == ["SOURCE", "DESTINATION", "MESSAGES", "BYTES", "ALREADY", "DONE"]
    row_a = next(line for line in table if line.startswith(str(a)))
    assert row_a.split()[2:5] == ["0", "0", "5"]              # nothing to convert, 5 already done
    assert table[-1].startswith("would migrate 2 of 2 mailboxes")


# -- --log-file ------------------------------------------------------------------------

def test_log_file_appends_stamped_lines_and_counts_stuck_runs(tmp_path):
    good, busy = spool_file(tmp_path / "good"), spool_file(tmp_path / "busy")
    path = manifest(tmp_path, [(good, tmp_path / "G"), (busy, tmp_path / "B")])
    log = tmp_path / "logs" / "migrate.log"
    log.parent.mkdir()
    log.write_text("2026-01-01T00:00:00Z an earlier line\n")
    runs = []
    with locked(busy):
        for _ in range(3):
            proc, lines = migrate(path, "--json", "--log-file", log, "--alert-after", "2",
                                  "--lock-timeout", "0.2")
            runs.append((proc.returncode, by_source(lines)[str(busy)], lines[-1]))
    assert [code for code, _, _ in runs] == [75, 75, 1]              # more than 2 busy runs: a problem
    assert [(r["stuck_runs"], r["alert"]) for _, r, _ in runs] == [(1, False), (2, False), (3, True)]
    assert runs[2][2]["alerts"] == [str(busy)]
    text = log.read_text().splitlines()
    assert text[0] == "2026-01-01T00:00:00Z an earlier line"          # appended, never truncated
    assert all(STAMP.match(line) for line in text)
    assert sum(f" {good} -> " in line for line in text) == 3
    assert sum(f" {busy} -> " in line for line in text) == 3
    assert sum("problem:" in line and str(busy) in line for line in text) == 3
    assert [line for line in text if " alert: " in line] == [
        line for line in text if f"alert: {busy}: busy for 3 consecutive runs" in line] != []
    assert sum(" run: " in line for line in text) == 3
    proc, lines = migrate(path, "--json", "--log-file", log, "--alert-after", "2")
    assert proc.returncode == 0 and by_source(lines)[str(busy)]["stuck_runs"] == 0   # done: forgotten
    assert json.loads((tmp_path / "logs" / "migrate.log.state").read_text()) == {}
    assert len(log.read_text().splitlines()) == len(text) + 3


def test_alert_is_said_in_the_text_summary(tmp_path):
    busy = spool_file(tmp_path / "busy")
    path = manifest(tmp_path, [(busy, tmp_path / "B")])
    log = tmp_path / "migrate.log"
    with locked(busy):
        migrate(path, "--log-file", log, "--lock-timeout", "0.2", "--quiet")
        proc, _ = migrate(path, "--log-file", log, "--alert-after", "1", "--lock-timeout", "0.2", "--quiet")
    assert proc.returncode == 1
    assert f"alert: 1 mailbox(es) busy or failing for more than 1 runs: {busy} (2)" in proc.stderr
    assert "1 busy" in proc.stdout


# -- on a terminal ---------------------------------------------------------------------

def on_a_terminal(args, stdout_too=False):
    """migrate with stderr (and, if asked, stdout) on a 120-column terminal: the exit code,
    what a stdout pipe got, and every byte the terminal was sent."""
    import pty
    import struct
    import termios
    import threading
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    proc = subprocess.Popen(python_cmd() + ["migrate", *map(str, args)], stdin=subprocess.DEVNULL,
                            stdout=slave if stdout_too else subprocess.PIPE, stderr=slave)
    os.close(slave)
    out = []
    reader = threading.Thread(target=lambda: out.append(b"" if stdout_too else proc.stdout.read()))
    reader.start()
    screen = b""
    while True:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:                       # EIO: nobody has the terminal open any more
            break
        if not chunk:
            break
        screen += chunk
    reader.join()
    if proc.stdout:
        proc.stdout.close()
    os.close(master)
    return proc.wait(), out[0], screen


def test_terminal_gets_a_bar_over_bytes_and_mailboxes_and_a_table_of_what_is_not_done(tmp_path):
    a, b = spool_file(tmp_path / "a", 40), spool_file(tmp_path / "b", 40)
    path = manifest(tmp_path, [(a, tmp_path / "A"), (tmp_path / "gone", tmp_path / "G"), (b, tmp_path / "B")])
    code, out, screen = on_a_terminal([path, "--jobs", "1"])
    assert code == 1
    assert b"migrating:" in screen and b"%|" in screen and b"/3 mailboxes" in screen
    assert out.startswith(b"migrated 2 of 3 mailboxes")
    assert b"%|" not in out
    code, _, screen = on_a_terminal([path, "--jobs", "1"], stdout_too=True)
    table = [line.strip() for line in re.split(r"[\r\n]+", screen.decode()) if line.strip()]
    header = next(i for i, line in enumerate(table) if line.startswith("STATUS"))
    assert table[header].split() == ["STATUS", "SOURCE", "REASON"]
    assert table[header + 1].split(None, 2) == ["failed", str(tmp_path / "gone"), "no such file or directory"]
    assert table[header + 2].startswith("migrated 2 of 3 mailboxes")


@pytest.mark.parametrize("flag", ["--json", "--quiet"])
def test_no_bar_with_json_or_quiet_even_on_a_terminal(tmp_path, flag):
    a = spool_file(tmp_path / "a", 40)
    code, out, screen = on_a_terminal([manifest(tmp_path, [(a, tmp_path / "A")]), flag])
    assert code == 0 and screen == b""
    if flag == "--json":
        assert [json.loads(line)["status"] for line in out.splitlines()[:1]] == ["done"]


def test_sigterm_passes_to_the_running_conversions_and_exits_143(tmp_path):
    waiting, later = spool_file(tmp_path / "waiting"), spool_file(tmp_path / "later")
    path = manifest(tmp_path, [(waiting, tmp_path / "W"), (later, tmp_path / "L")])
    with locked(waiting):
        with subprocess.Popen(python_cmd() + ["migrate", str(path), "--jobs", "1", "--json",
                                              "--lock-timeout", "60"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
            deadline = time.monotonic() + 60
            while not (children := _children(proc.pid)) and time.monotonic() < deadline:
                time.sleep(0.1)                                 # the first conversion waits for its lock
            assert children
            time.sleep(0.5)
            proc.terminate()
            out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "interrupted (SIGTERM)" in err and "Traceback" not in err
    assert not any(os.path.exists(f"/proc/{pid}") for pid in children)   # no conversion left running
    assert not (tmp_path / "L").exists()                        # nothing started after the signal


def _children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]
