#!/usr/bin/env python3
"""Benchmark mboxtool against the obvious stdlib-only conversion and a raw split (the I/O floor).

Generates a realistic mbox (median message ~5 KB, a few multi-MB attachments, flags,
quoted From lines), then times, each in its own process (peak RSS from wait4):

  raw split        one file per message, no parsing, no fsync (the I/O floor: names opened
                   relative to a directory fd, slices written as memoryviews, as tight as
                   Python allows)
  mboxtool         mbox -> Maildir, durable (default) and --no-fsync
  stdlib           mailbox.mbox -> mailbox.Maildir with MaildirMessage(msg)
  back             Maildir -> mbox: mboxtool vs stdlib
  read-only        validate, info, list --json vs `wc -l` on the same file
  rss-small        mboxtool on a 10x smaller mbox, to show memory stays flat

With --memory SIZES (e.g. 20000,300000,2000000) it instead measures peak memory of
convert (mbox -> Maildir, --no-fsync) and validate on mboxes of that many tiny
messages (~130 bytes each: the per-message cost shows most), each generated, measured
and removed in turn, and prints the growth per message against the smallest.

Usage: python3 benchmarks/bench.py [--messages 20000] [--dir /tmp/mboxtool-bench]
       python3 benchmarks/bench.py --memory 20000,300000,2000000
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import subprocess
import sys
import time
from pathlib import Path

PY = sys.executable
HERE = Path(__file__).resolve().parent


def generate(path: Path, n: int, seed: int = 1) -> int:
    rnd = random.Random(seed)
    words = ("mail archive server message report meeting please thanks review patch "
             "question answer tomorrow project release budget from the with").split()
    big = base64.encodebytes(rnd.randbytes(3 << 20))
    with open(path, "wb") as fh:
        for i in range(n):
            size = int(rnd.lognormvariate(8.4, 0.7))            # median ~4.4 KB of body
            body_lines = []
            while sum(len(l) for l in body_lines) < size:
                body_lines.append(" ".join(rnd.choice(words) for _ in range(rnd.randint(5, 14))))
                if rnd.random() < 0.01:
                    body_lines.append("From the desk of the editor:")      # needs quoting
                if rnd.random() < 0.005:
                    body_lines.append(">From an earlier quote")
            status = rnd.choice(["RO", "RO", "O", "", "R"])
            t = 1_300_000_000 + i * 1500
            head = (f"From sender{i % 97}@example.org {time.asctime(time.gmtime(t))}\n"
                    f"Return-Path: <sender{i % 97}@example.org>\n"
                    f"Received: from mx.example.org by mail.example.net; "
                    f"{time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime(t))}\n"
                    f"From: Sender {i % 97} <sender{i % 97}@example.org>\nTo: you@example.net\n"
                    f"Subject: {' '.join(rnd.choice(words) for _ in range(5))}\n"
                    f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime(t - 3))}\n"
                    f"Message-ID: <{i}.{seed}@example.org>\n")
            if status:
                head += f"Status: {status}\n"
            if rnd.random() < 0.1:
                head += "X-Status: A\n"
            body = ("\n".join(body_lines) + "\n").replace("\nFrom the", "\n>From the")
            if i % 2000 == 1000:                                   # a few multi-MB attachments
                head += 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="bb"\n'
                body = ("--bb\nContent-Type: text/plain\n\n" + body + "--bb\nContent-Type: "
                        "application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
                        + big.decode() + "--bb--\n")
            fh.write(head.encode() + b"\n" + body.encode() + b"\n")
    return path.stat().st_size


RAW_SPLIT = r'''
import os, sys
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst)
where = os.open(dst, os.O_RDONLY | os.O_DIRECTORY)          # names relative to it: no path walk
flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
buf = b""; n = 0
with open(src, "rb", buffering=0) as fh:
    while True:
        chunk = fh.read(8 << 20)
        buf = buf + chunk if buf else chunk
        view = memoryview(buf)                               # slices written without a copy
        start = 0
        while True:
            i = buf.find(b"\nFrom ", start + 1)
            if i < 0:
                break
            fd = os.open(str(n), flags, 0o600, dir_fd=where)
            os.write(fd, view[start:i + 1]); os.close(fd); n += 1
            start = i + 1
        view.release()
        buf = buf[start:]
        if not chunk:
            if buf:
                fd = os.open(str(n), flags, 0o600, dir_fd=where)
                os.write(fd, buf); os.close(fd)
            break
'''

READ_FILE = r'''
import sys
n = 0
with open(sys.argv[1], "rb") as fh:
    while chunk := fh.read(4 << 20):
        n += chunk.count(b"\n")
'''

MBOXTOOL_READ = r'''
import sys
from pathlib import Path
from mboxtool.formats.mbox import MboxReader
with MboxReader(Path(sys.argv[1])) as reader:
    for message in reader:
        pass
'''

STDLIB_TO_MAILDIR = r'''
import mailbox, sys
src = mailbox.mbox(sys.argv[1], create=False)
dst = mailbox.Maildir(sys.argv[2], create=True)
for msg in src:
    dst.add(mailbox.MaildirMessage(msg))
'''

STDLIB_TO_MBOX = r'''
import mailbox, sys
src = mailbox.Maildir(sys.argv[1], create=False)
dst = mailbox.mbox(sys.argv[2], create=True)
dst.lock()
for msg in src:
    dst.add(mailbox.mboxMessage(msg))
dst.flush(); dst.unlock()
'''


SETTLE_SECONDS = 3.0                # set by --settle


def run(label: str, argv: list[str], settle: bool = True) -> dict:
    if settle:                      # start each run with no dirty pages left by the previous one
        os.sync()
        time.sleep(SETTLE_SECONDS)
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{label} failed ({code}): {err[-500:]}")
    return {"label": label, "seconds": seconds, "rss_mb": usage.ru_maxrss / 1024}


def fastest(results: list[dict], label: str) -> dict:
    """The best of repeated runs, with every run's time kept for the report."""
    return {**min(results, key=lambda r: r["seconds"]), "label": label, "runs": [r["seconds"] for r in results]}


def report(rows: list[dict], messages: int, size: int) -> None:
    print(f"\n{'run':<34} {'seconds':>8} {'msg/s':>9} {'MB/s':>8} {'peak RSS':>9}   every run (best counts)")
    for r in rows:
        n = r.get("messages", messages)
        b = r.get("bytes", size)
        every = " ".join(f"{t:.2f}" for t in r.get("runs", ()))
        print(f"{r['label']:<34} {r['seconds']:8.2f} {n / r['seconds']:9.0f} "
              f"{b / 1e6 / r['seconds']:8.1f} {r['rss_mb']:7.1f} MB   {every if len(r.get('runs', ())) > 1 else ''}")


def generate_tiny(path: Path, n: int) -> int:
    """``n`` messages of about 130 bytes, each a clean mbox entry (an empty line before the next
    From_ line: a damaged file would measure its report's problems, one per message)."""
    with open(path, "wb") as fh:
        for i in range(n):
            t = 1_300_000_000 + i * 15
            fh.write(f"From s{i % 97}@example.org {time.asctime(time.gmtime(t))}\nFrom: s@example.org\n"
                     f"Subject: m {i}\nMessage-ID: <{i}@example.org>\n\nbody {i}\n\n".encode())
    return path.stat().st_size


def memory_check(work: Path, sizes: list[int]) -> None:
    """Peak RSS of convert and validate by message count; mailboxes removed after use."""
    mt = [PY, "-m", "mboxtool"]
    rows = []
    for n in sizes:
        src = work / f"tiny-{n}.mbox"
        size = generate_tiny(src, n)
        conv = run(f"convert {n} tiny messages", mt + ["convert", "-q", "--no-fsync", str(src), str(work / f"md-{n}")],
                   settle=False)
        # removed by rm, not here: listing a large Maildir grows this process, and a child's
        # peak RSS counts the copy of its parent made before exec
        subprocess.run(["rm", "-rf", str(work / f"md-{n}")], check=True)
        val = run(f"validate {n} tiny messages", mt + ["validate", "--json", str(src)], settle=False)
        src.unlink()
        for r in (conv, val):
            r["messages"], r["bytes"] = n, size
            rows.append(r)
    print(f"\n{'run':<34} {'seconds':>8} {'msg/s':>9} {'MB/s':>8} {'peak RSS':>9}")
    for r in rows:
        print(f"{r['label']:<34} {r['seconds']:8.2f} {r['messages'] / r['seconds']:9.0f} "
              f"{r['bytes'] / 1e6 / r['seconds']:8.1f} {r['rss_mb']:7.1f} MB")
    first = {r["label"].split()[0]: r for r in rows[:2]}
    print("\ngrowth per message beyond the smallest (target: flat; every peak under 60 MB)")
    for r in rows[2:]:
        base = first[r["label"].split()[0]]
        extra = (r["rss_mb"] - base["rss_mb"]) * 1024 * 1024 / (r["messages"] - base["messages"])
        print(f"  {r['label']:<32} {extra:6.1f} bytes a message")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/mboxtool-bench"))
    ap.add_argument("--skip-stdlib", action="store_true", help="leave out the slow stdlib runs")
    ap.add_argument("--repeat", type=int, default=5, help="runs of the fast conversions; the best counts")
    ap.add_argument("--stdlib-repeat", type=int, default=2,
                    help="runs of each stdlib conversion; the best counts (it gets the same benefit of the doubt)")
    ap.add_argument("--settle", type=float, default=3.0,
                    help="seconds to wait after sync before each run (0 for a quick check of the script)")
    ap.add_argument("--memory", metavar="SIZES", default=None,
                    help="only the memory check: comma-separated message counts, e.g. 20000,300000,2000000")
    args = ap.parse_args()
    if args.memory:
        work = args.dir / f"memory-{int(time.time())}"
        work.mkdir(parents=True)
        memory_check(work, [int(n) for n in args.memory.split(",")])
        work.rmdir()
        return
    global SETTLE_SECONDS
    SETTLE_SECONDS = args.settle
    work = args.dir / f"run-{int(time.time())}"        # fresh dirs: deleting many files slows the disk
    work.mkdir(parents=True)
    src = work / "bench.mbox"
    small = work / "small.mbox"
    size = generate(src, args.messages)
    small_size = generate(small, max(1, args.messages // 10), seed=2)
    print(f"generated {src}: {args.messages} messages, {size / 1e6:.1f} MB "
          f"(and {small.name}: {args.messages // 10} messages, {small_size / 1e6:.1f} MB)")
    mt = [PY, "-m", "mboxtool"]
    rows = []

    def best(label: str, make_argv, times: int = args.repeat) -> dict:
        """The fastest of ``times`` runs, each into a fresh destination (disk noise is large here)."""
        return fastest([run(label, make_argv(i)) for i in range(times)], label)

    # the three runs whose ratios matter are interleaved, so that a slow spell of the disk
    # hits all of them alike; the best of each counts
    trio = {"raw split (no parse, no fsync)": [], "mboxtool mbox->Maildir (fsync)": [],
            "mboxtool mbox->Maildir --no-fsync": []}
    for i in range(args.repeat):
        trio["raw split (no parse, no fsync)"].append(
            run("raw", [PY, "-c", RAW_SPLIT, str(src), str(work / f"raw{i}")]))
        trio["mboxtool mbox->Maildir (fsync)"].append(
            run("fsync", mt + ["convert", "-q", str(src), str(work / ("md" if i == 0 else f"md{i}"))]))
        trio["mboxtool mbox->Maildir --no-fsync"].append(
            run("nofsync", mt + ["convert", "-q", "--no-fsync", str(src), str(work / f"md-nofsync{i}")]))
    for label, results in trio.items():
        rows.append(fastest(results, label))
    rows.append(run("mboxtool re-run (nothing to add)", mt + ["convert", "-q", str(src), str(work / "md")]))
    if not args.skip_stdlib:
        rows.append(best("stdlib mbox->Maildir", lambda i: [PY, "-c", STDLIB_TO_MAILDIR, str(src),
                                                            str(work / f"std-md{i}")], args.stdlib_repeat))
    # Maildir -> mbox: mboxtool and the stdlib interleaved, as above
    back = {"mboxtool Maildir->mbox (fsync)": [], "stdlib Maildir->mbox": []}
    for i in range(args.repeat):
        back["mboxtool Maildir->mbox (fsync)"].append(
            run("back", mt + ["convert", "-q", str(work / "md"), str(work / f"back{i}.mbox")]))
        if not args.skip_stdlib and i < args.stdlib_repeat:
            back["stdlib Maildir->mbox"].append(
                run("std-back", [PY, "-c", STDLIB_TO_MBOX, str(work / "md"), str(work / f"std-back{i}.mbox")]))
    for label, results in back.items():
        if results:
            rows.append(fastest(results, label))
    rows.append(run("wc -l", ["wc", "-l", str(src)]))
    rows.append(run("python read (4 MiB chunks, count lines)", [PY, "-c", READ_FILE, str(src)]))
    rows.append(run("mboxtool reader only (parse, no output)", [PY, "-c", MBOXTOOL_READ, str(src)]))
    rows.append(run("mboxtool validate", mt + ["validate", "--json", str(src)]))
    rows.append(run("mboxtool info", mt + ["info", "--json", str(src)]))
    rows.append(run("mboxtool list --json", mt + ["list", "--json", str(src)]))
    r = run("mboxtool mbox->Maildir, 10x smaller", mt + ["convert", "-q", str(small), str(work / "small-md")])
    r["messages"], r["bytes"] = args.messages // 10, small_size
    rows.append(r)
    report(rows, args.messages, size)
    by = {r["label"]: r for r in rows}
    raw = by["raw split (no parse, no fsync)"]["seconds"]
    print("\nratios (same run)")
    print(f"  mboxtool (fsync) / raw split        {by['mboxtool mbox->Maildir (fsync)']['seconds'] / raw:6.2f}x"
          "   (target <= 2)")
    print(f"  mboxtool --no-fsync / raw split     {by['mboxtool mbox->Maildir --no-fsync']['seconds'] / raw:6.2f}x"
          "   (target <= 1.5)")
    print(f"  re-run / first run                  {by['mboxtool re-run (nothing to add)']['seconds'] / by['mboxtool mbox->Maildir (fsync)']['seconds']:6.2f}x")
    if not args.skip_stdlib:
        print(f"  stdlib / mboxtool, mbox->Maildir    {by['stdlib mbox->Maildir']['seconds'] / by['mboxtool mbox->Maildir (fsync)']['seconds']:6.2f}x"
              "   (target >= 5)")
        print(f"  stdlib / mboxtool, Maildir->mbox    {by['stdlib Maildir->mbox']['seconds'] / by['mboxtool Maildir->mbox (fsync)']['seconds']:6.2f}x"
              "   (target >= 5)")
    read = by["python read (4 MiB chunks, count lines)"]["seconds"]
    parse = by["mboxtool reader only (parse, no output)"]["seconds"]
    for name in ("mboxtool validate", "mboxtool info", "mboxtool list --json"):
        print(f"  {name:<22} speed vs mboxtool reader {parse / by[name]['seconds']:5.2f}, "
              f"vs python read {read / by[name]['seconds']:5.2f}, vs wc -l {by['wc -l']['seconds'] / by[name]['seconds']:.3f}")
    print(f"  peak RSS 10x mbox - 1x mbox         "
          f"{by['mboxtool mbox->Maildir (fsync)']['rss_mb'] - by['mboxtool mbox->Maildir, 10x smaller']['rss_mb']:6.1f} MB"
          "   (target <= 10)")
    print(f"\noutputs left in {work} (remove it when done)")


if __name__ == "__main__":
    main()
