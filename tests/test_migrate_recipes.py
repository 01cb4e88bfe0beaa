"""Sharding, and the recipes of docs/migration.md run as written: GNU parallel over 3 shards,
the /etc/cron.d line with cron's PATH, the systemd units through systemd-analyze."""

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mboxtool.migrate.sharding import parse_shard, shard_of

from .conftest import ROOT, maildir_count, manifest, migrate, spool_file

EXAMPLES = ROOT / "docs" / "examples"


def expected_shard(source: str, count: int) -> int:
    """The documented rule, computed another way: 16 hex digits of the SHA-256 = its first 8 bytes."""
    return int(hashlib.sha256(source.encode()).hexdigest()[:16], 16) % count + 1


def test_shard_of_follows_the_documented_hash():
    sources = [f"/var/mail/user{i}" for i in range(300)] + ["/home/zoë/mail/inbox", "relative/path"]
    for count in (1, 2, 3, 7, 64):
        assert [shard_of(s, count) for s in sources] == [expected_shard(s, count) for s in sources]
    # fixed values (from sha256sum): the shards of a manifest never move between versions, hosts or runs
    assert [shard_of(f"/var/mail/{u}", 3) for u in ("alice", "bob", "carol", "dave")] == [2, 3, 3, 1]
    assert shard_of("/var/mail/alice", 1 << 64) == 0x397B5A1D33120077 + 1


def test_shards_are_disjoint_and_cover_every_row():
    sources = [f"/var/mail/u{i:04d}" for i in range(1000)]
    for count in (2, 3, 5):
        parts = [{s for s in sources if shard_of(s, count) == k} for k in range(1, count + 1)]
        assert sum(len(p) for p in parts) == len(sources) and set().union(*parts) == set(sources)
        assert min(len(p) for p in parts) > len(sources) / count / 2          # no shard is starved


def test_parse_shard():
    assert parse_shard("1/3") == (1, 3) and parse_shard("3/3") == (3, 3)
    for bad in ("0/3", "4/3", "3", "a/b", "-1/3", "1/0"):
        with pytest.raises(Exception):
            parse_shard(bad)


def test_shard_option_selects_the_rows_of_its_shard(tmp_path):
    rows = [(spool_file(tmp_path / f"m{i}", 1), tmp_path / "out" / f"m{i}") for i in range(6)]
    path = manifest(tmp_path, rows)
    seen = []
    for k in (1, 2):
        proc, lines = migrate(path, "--json", "--shard", f"{k}/2", "--dry-run")
        assert proc.returncode == 0, proc.stderr
        got = {line["source"] for line in lines if not line.get("summary")}
        assert got == {str(src) for src, _ in rows if expected_shard(str(src), 2) == k}
        seen.append(got)
    assert not seen[0] & seen[1] and seen[0] | seen[1] == {str(src) for src, _ in rows}


# -- installed layout of the docs: /opt/mboxtool/bin/mboxtool ----------------------------

def installed_mboxtool(tmp_path) -> Path:
    """``tmp_path/opt/mboxtool/bin/mboxtool``: the venv's entry point, where the docs install it."""
    script = Path(sys.executable).parent / "mboxtool"
    if not script.exists():
        pytest.skip("mboxtool is not installed as a script beside this Python (pip install -e . in a venv)")
    bin_dir = tmp_path / "opt" / "mboxtool" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "mboxtool").symlink_to(script)
    return bin_dir / "mboxtool"


def relocate(text: str, tmp_path: Path) -> str:
    """The recipe's system paths moved under ``tmp_path`` (and {home} to a home under it)."""
    for system in ("/opt/mboxtool", "/var/mail", "/var/log/mboxtool", "/srv/migration"):
        text = text.replace(system, f"{tmp_path}{system}")
    return text.replace("{home}", f"{tmp_path}/home/{{user}}")


def make_spool(tmp_path, users=("alice", "bob", "carol")):
    spool = tmp_path / "var" / "mail"
    spool.mkdir(parents=True)
    (tmp_path / "var" / "log" / "mboxtool").mkdir(parents=True)
    return {user: spool_file(spool / user, 3 + i) for i, user in enumerate(users)}


# -- GNU parallel ----------------------------------------------------------------------

def gnu_parallel() -> bool:
    try:
        out = subprocess.run(["parallel", "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.startswith("GNU parallel")


@pytest.mark.skipif(not gnu_parallel(),
                    reason="GNU parallel is not installed (.ci/run installs Debian's parallel)")
def test_gnu_parallel_recipe_with_3_shards_is_disjoint_and_covers_the_manifest(tmp_path):
    mboxtool = installed_mboxtool(tmp_path)
    sources = [spool_file(tmp_path / f"box{i:02d}", 1 + i % 4) for i in range(15)]
    path = manifest(tmp_path, [(src, tmp_path / "out" / src.name) for src in sources])
    hosts = tmp_path / "hosts.txt"
    hosts.write_text(":\n:\n:\n")                      # three sshlogins, all this machine
    env = {**os.environ, "MANIFEST": str(path), "HOSTS": str(hosts), "MBOXTOOL": str(mboxtool),
           "SHARDS": "3", "LOG": str(tmp_path / "migrate.log")}
    proc = subprocess.run(["sh", str(EXAMPLES / "parallel-shards.sh")], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    summaries = [line for line in lines if line.get("summary")]
    rows = [line for line in lines if not line.get("summary")]
    assert len(summaries) == 3 and sum(s["mailboxes"] for s in summaries) == len(sources)
    done = [row["source"] for row in rows]
    assert sorted(done) == sorted(str(s) for s in sources)            # each exactly once: disjoint, covering
    assert all(row["status"] == "done" for row in rows)
    for src in sources:                                  # --move: in the Maildir, out of the spool
        assert maildir_count(tmp_path / "out" / src.name) == 1 + int(src.name[3:]) % 4
        assert src.stat().st_size == 0


# -- cron ------------------------------------------------------------------------------

def cron_job(text: str) -> tuple[dict, list[str], str, str]:
    """(environment, schedule fields, user, command) of the one job of a cron.d file."""
    env, jobs = {}, []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, eq, value = line.partition("=")
        if eq and " " not in name.strip():
            env[name.strip()] = value.strip()
        else:
            jobs.append(line.split(None, 6))
    assert len(jobs) == 1
    return env, jobs[0][:5], jobs[0][5], jobs[0][6]


def test_cron_file_runs_as_written_with_crons_path(tmp_path):
    text = (EXAMPLES / "cron.d-mboxtool").read_text()
    assert text.endswith("\n") and "%" not in text                   # cron turns % into a newline
    env, schedule, user, command = cron_job(text)
    assert env["PATH"] == "/usr/bin:/bin" and env["SHELL"] == "/bin/sh" and user == "root"
    assert len(schedule) == 5 and command.startswith("/opt/mboxtool/bin/mboxtool migrate ")
    installed_mboxtool(tmp_path)
    spools = make_spool(tmp_path)
    run = relocate(command, tmp_path)
    cron_env = {"PATH": env["PATH"], "SHELL": env["SHELL"], "HOME": "/", "LOGNAME": user}
    proc = subprocess.run([env["SHELL"], "-c", run], env=cron_env, capture_output=True, text=True,
                          timeout=300)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")   # nothing for cron to mail
    for i, (login, spool) in enumerate(spools.items()):
        assert maildir_count(tmp_path / "home" / login / "Maildir") == 3 + i and spool.stat().st_size == 0
    log = (tmp_path / "var" / "log" / "mboxtool" / "migrate.log").read_text().splitlines()
    assert sum(" -> " in line for line in log) == 3
    # a spool locked by a delivery at run time: exit 75 is no failure for cron, and says nothing
    import fcntl
    spool_file(spools["bob"], 2)
    with open(spools["bob"], "r+b") as f:
        fcntl.lockf(f, fcntl.LOCK_EX)
        proc = subprocess.run([env["SHELL"], "-c", run.replace("--quiet", "--quiet --lock-timeout 0.2")],
                              env=cron_env, capture_output=True, text=True, timeout=300)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    assert "busy" in (tmp_path / "var" / "log" / "mboxtool" / "migrate.log").read_text()


# -- systemd ---------------------------------------------------------------------------

def test_systemd_units_verify_and_their_command_runs(tmp_path):
    service = (EXAMPLES / "mboxtool-migrate.service").read_text()
    timer = (EXAMPLES / "mboxtool-migrate.timer").read_text()
    assert "SuccessExitStatus=75" in service and "Unit=" not in timer   # the timer starts its namesake
    exec_start = next(line for line in service.splitlines() if line.startswith("ExecStart="))
    assert exec_start.startswith("ExecStart=/opt/mboxtool/bin/mboxtool migrate ")
    installed_mboxtool(tmp_path)
    units = tmp_path / "units"
    units.mkdir()
    (units / "mboxtool-migrate.service").write_text(relocate(service, tmp_path))
    (units / "mboxtool-migrate.timer").write_text(timer)
    analyze = shutil.which("systemd-analyze")
    if analyze:
        proc = subprocess.run([analyze, "verify", str(units / "mboxtool-migrate.service"),
                               str(units / "mboxtool-migrate.timer")],
                              capture_output=True, text=True, timeout=120)
        ours = [line for line in (proc.stdout + proc.stderr).splitlines() if "mboxtool-migrate" in line]
        assert proc.returncode == 0 and not ours, proc.stdout + proc.stderr
    # the command as systemd runs it: split on white space, no shell, no PATH lookup
    spools = make_spool(tmp_path)
    argv = shlex.split(relocate(exec_start.removeprefix("ExecStart="), tmp_path))
    proc = subprocess.run(argv, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert maildir_count(tmp_path / "home" / "carol" / "Maildir") == 5 and spools["carol"].stat().st_size == 0
    if not analyze:
        pytest.skip("systemd-analyze is not installed: the units were not verified (their command ran)")


# -- the guide shows the files the tests run ----------------------------------------------

def test_migration_guide_shows_every_example_file_as_it_is():
    guide = (ROOT / "docs" / "migration.md").read_text()
    examples = sorted(p.name for p in EXAMPLES.iterdir())
    assert {"cron.d-mboxtool", "mboxtool-migrate.service", "mboxtool-migrate.timer", "parallel-shards.sh",
            "slurm-migrate.sh", "k8s-migrate-job.yaml"} <= set(examples)
    for name in examples:
        assert (EXAMPLES / name).read_text() in guide, name
        assert f"docs/examples/{name}" in guide, name
    assert "SLURM_ARRAY_TASK_ID" in guide and "JOB_COMPLETION_INDEX" in guide and "--sshloginfile" in guide


def test_migrate_benchmark_runs_small(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "migrate_bench.py"), "--mailboxes", "3",
                           "--scale", "0.005", "--no-fsync", "--dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("3 mailboxes, ") and "--jobs 1: " in out and "--jobs 2: " in out
    assert "speed-up of --jobs 2 over --jobs 1" in out
    assert "messages/s" in out and "peak memory: worker" in out
