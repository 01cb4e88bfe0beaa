"""Benchmark of `mboxtool migrate`: the same generated spools with --jobs 1 and --jobs 2, in one run.

Generates MAILBOXES mbox files of 500-5,000 messages each (times --scale), then migrates them
into fresh Maildirs once per --jobs value (alternating over --rounds), each run after `sync`.
Prints, per run: messages/s, MB/s, the speed-up over --jobs 1, and the peak memory (VmHWM) of
the largest convert worker and of the migrate process itself.

    python3 benchmarks/migrate_bench.py                          # 200 mailboxes, the full run
    python3 benchmarks/migrate_bench.py --mailboxes 20 --scale 0.1   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generate(directory: Path, mailboxes: int, scale: float, seed: int) -> tuple[list[Path], int, int]:
    """The spools (reused when already there with the same parameters): paths, messages, bytes."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    marker = directory / f".generated-{mailboxes}-{scale}-{seed}"
    paths, total_messages = [], 0
    counts = [max(1, int(rng.randint(500, 5000) * scale)) for _ in range(mailboxes)]
    for i, count in enumerate(counts):
        path = directory / f"user{i:04d}"
        paths.append(path)
        total_messages += count
        if marker.exists():
            continue
        with open(path, "wb") as out:
            for n in range(count):
                body = b"".join(b"line %d of a message body, some words to fill it up\n" % k
                                for k in range(rng.randint(5, 80)))
                out.write(b"From sender%d@example.org Mon Jan  6 10:%02d:00 2020\n" % (n % 50, n % 60)
                          + b"From: Sender %d <sender%d@example.org>\n" % (n % 50, n % 50)
                          + b"To: user%d@example.org\nSubject: message %d of mailbox %d\n" % (i, n, i)
                          + b"Date: Mon, 6 Jan 2020 10:%02d:00 +0000\n" % (n % 60)
                          + b"Message-ID: <%d.%d@bench.example.org>\n" % (i, n)
                          + (b"Status: RO\n" if n % 3 else b"")
                          + b"\n" + body + b"\n")
    marker.touch()
    return paths, total_messages, sum(p.stat().st_size for p in paths)


class PeakWatcher(threading.Thread):
    """Samples VmHWM (peak resident memory) of a process and of its children until it exits."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.parent_kb = 0
        self.worker_kb = 0
        self.done = threading.Event()

    @staticmethod
    def _hwm(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _children(self) -> list[int]:
        # the workers are started from migrate's threads: each thread lists its own children
        pids = []
        try:
            for tid in os.listdir(f"/proc/{self.pid}/task"):
                with open(f"/proc/{self.pid}/task/{tid}/children") as f:
                    pids += [int(p) for p in f.read().split()]
        except OSError:
            pass
        return pids

    def run(self) -> None:
        while not self.done.is_set():
            self.parent_kb = max(self.parent_kb, self._hwm(self.pid))
            for child in self._children():
                self.worker_kb = max(self.worker_kb, self._hwm(child))
            time.sleep(0.02)


def migrate_once(spools: list[Path], out: Path, jobs: int, fsync: bool) -> dict:
    out.mkdir(parents=True)
    manifest = out / "manifest.csv"
    manifest.write_text("source,destination\n" + "".join(f"{p},{out / p.name}\n" for p in spools))
    cmd = [sys.executable, "-m", "mboxtool", "migrate", str(manifest), "--json", "--jobs", str(jobs)]
    if not fsync:
        cmd.append("--no-fsync")
    subprocess.run(["sync"], check=False)
    path = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
    env = {**os.environ, "PYTHONPATH": path}
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
    watcher = PeakWatcher(proc.pid)
    watcher.start()
    stdout, _ = proc.communicate()
    seconds = time.monotonic() - started
    watcher.done.set()
    watcher.join()
    summary = json.loads(stdout.splitlines()[-1])
    if proc.returncode != 0 or summary["done"] != len(spools):
        raise SystemExit(f"jobs {jobs}: migrate exited {proc.returncode}: {summary}")
    return {"jobs": jobs, "seconds": seconds, "messages": summary["converted"], "bytes": summary["bytes"],
            "worker_peak_mb": watcher.worker_kb / 1024, "migrate_peak_mb": watcher.parent_kb / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mailboxes", type=int, default=200, help="how many spools (default 200)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply the 500-5,000 messages of each spool (0.1: 50-500)")
    parser.add_argument("--jobs", default="1,2", help="the --jobs values to compare (default 1,2)")
    parser.add_argument("--rounds", type=int, default=1, help="alternate the --jobs values this many times")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/mboxtool-migrate-bench"),
                        help="where spools and outputs go (on the disk to measure)")
    parser.add_argument("--no-fsync", action="store_true", help="pass --no-fsync to every conversion")
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()
    jobs_values = [int(j) for j in args.jobs.split(",")]
    spools, messages, size = generate(args.dir / "spool", args.mailboxes, args.scale, args.seed)
    print(f"{len(spools)} mailboxes, {messages} messages, {size / 1e6:.1f} MB; {os.cpu_count()} CPUs; "
          f"fsync {'off' if args.no_fsync else 'on'}; load average {os.getloadavg()[0]:.1f}")
    results: dict[int, list[dict]] = {j: [] for j in jobs_values}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for rnd in range(args.rounds):
        for jobs in jobs_values:
            r = migrate_once(spools, args.dir / f"out-{stamp}-r{rnd}-j{jobs}", jobs, not args.no_fsync)
            results[jobs].append(r)
            print(f"--jobs {jobs}: {r['seconds']:.1f} s, {r['messages'] / r['seconds']:.0f} messages/s, "
                  f"{r['bytes'] / 1e6 / r['seconds']:.1f} MB/s; "
                  f"peak memory: worker {r['worker_peak_mb']:.1f} MB, "
                  f"migrate {r['migrate_peak_mb']:.1f} MB", flush=True)
    base = min(r["seconds"] for r in results[jobs_values[0]])
    for jobs in jobs_values[1:]:
        best = min(r["seconds"] for r in results[jobs])
        print(f"speed-up of --jobs {jobs} over --jobs {jobs_values[0]} (best runs): {base / best:.2f}x")
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"largest process of all runs (getrusage RUSAGE_CHILDREN): {peak_children:.1f} MB; "
          f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
