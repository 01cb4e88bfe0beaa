"""The benchmark scripts run on a fresh machine, and the mailbox they generate is what they claim."""

import importlib.util
import os
import subprocess
import sys

from mboxtool import MboxReader

from .conftest import ROOT


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_benchmark_mbox_reads_back_message_by_message(tmp_path):
    bench = load("bench")
    path = tmp_path / "bench.mbox"
    size = bench.generate(path, 1200)
    assert size == path.stat().st_size
    with MboxReader(path) as reader:
        messages = list(reader)
    assert len(messages) == 1200
    assert [m.headers.get(b"message-id") for m in messages] == [f"<{i}.1@example.org>" for i in range(1200)]
    assert sum(len(m.data) > 1 << 20 for m in messages) == 1           # the attachment of message 1000
    assert any(b"\nFrom the desk" in m.data for m in messages)          # body From lines, unquoted
    assert {m.flags for m in messages} >= {"", "S"}


def test_delivery_floor_script_prints_its_timings(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "delivery_floor.py"), "--files", "50",
                        "--repeat", "1", "--dir", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if line.rstrip().endswith("x")]
    variants = 4 if hasattr(os, "O_TMPFILE") else 3                     # + the unnamed tmp/ file (Linux)
    assert len(rows) == variants and rows[0].split()[-1] == "1.00x"
    assert len(list(tmp_path.rglob("cur/*"))) == 50 * variants          # 50 files from each
    assert not list(tmp_path.rglob("tmp/*"))


def test_bench_script_runs_end_to_end_and_prints_every_ratio(tmp_path):
    """A small run of the whole benchmark (no waiting between runs): the script a reader is
    told to run works, and prints the table, every run's time and each ratio with its aim."""
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--messages", "60",
                        "--repeat", "2", "--stdlib-repeat", "1", "--settle", "0", "--dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for label in ("raw split", "mboxtool mbox->Maildir (fsync)", "mboxtool mbox->Maildir --no-fsync",
                  "stdlib mbox->Maildir", "mboxtool Maildir->mbox (fsync)", "stdlib Maildir->mbox"):
        assert label in out
    raw = next(line for line in out.splitlines() if line.startswith("raw split"))
    assert len(raw.split("MB")[-1].split()) == 2                        # both runs' times
    for aim in ("(target <= 2)", "(target <= 1.5)", "(target >= 5)", "(target <= 10)"):
        assert aim in out
    work = next(tmp_path.iterdir())
    assert len(list((work / "md" / "cur").iterdir())) + len(list((work / "md" / "new").iterdir())) == 60


def test_raw_split_floor_writes_each_message_exactly(tmp_path):
    """The floor the ratios are taken against must do the whole job it stands for: every
    message in its own file, byte for byte (a floor that skipped work would flatter nobody)."""
    bench = load("bench")
    src = tmp_path / "in.mbox"
    bench.generate(src, 300)
    subprocess.run([sys.executable, "-c", bench.RAW_SPLIT, str(src), str(tmp_path / "raw")], check=True, timeout=120)
    files = sorted((tmp_path / "raw").iterdir(), key=lambda p: int(p.name))
    assert len(files) == 300
    assert b"".join(p.read_bytes() for p in files) == src.read_bytes()
    assert all(p.read_bytes().startswith(b"From sender") for p in files)


def test_memory_check_reports_peak_and_growth_per_message(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--memory", "300,1200",
                        "--dir", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "convert 1200 tiny messages" in r.stdout and "validate 1200 tiny messages" in r.stdout
    assert r.stdout.count("bytes a message") == 2
    assert list(tmp_path.iterdir()) == []                  # generated, measured, removed
