"""What safe Maildir delivery costs the kernel, against writing plain files.

    python3 benchmarks/delivery_floor.py [--files 20000] [--dir /tmp/mboxtool-floor]

The raw split of bench.py creates one file per message and writes it. A
Maildir delivery (docs/formats.md §2.4) also sets the mtime, links the file
from tmp/ into cur/ and unlinks the tmp/ name (or, where Linux has O_TMPFILE,
creates the tmp/ file without a name and links it once). This script times those file
system steps alone, in one process, with the same 5 KB of bytes per file and
no parsing, so the cost of the protocol itself can be told apart from the
cost of mboxtool's Python. Each variant writes into a fresh directory (never
delete many files just before measuring: ext4 then slows down new inodes for
minutes) and the best of ``--repeat`` interleaved runs counts.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

DATA = b"x" * 5000


def raw(tmp: int, cur: int, i: int) -> None:
    fd = os.open(f"{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=cur)
    os.write(fd, DATA)
    os.close(fd)


def maildir(tmp: int, cur: int, i: int) -> None:
    name = f"1700000000.M{i}P4242Q{i}R0123456789abcdef.host"
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=tmp)
    os.writev(fd, [DATA])
    os.utime(fd, (time.time(), 1_600_000_000))
    os.close(fd)
    os.link(name, name + ":2,S", src_dir_fd=tmp, dst_dir_fd=cur)
    os.unlink(name, dir_fd=tmp)


def maildir_unnamed(tmp: int, cur: int, i: int) -> None:
    """What mboxtool does where it can: an O_TMPFILE file in tmp/, named only by the link."""
    name = f"1700000000.M{i}P4242Q{i}R0123456789abcdef.host"
    fd = os.open(".", os.O_WRONLY | os.O_TMPFILE, 0o600, dir_fd=tmp)
    os.writev(fd, [DATA])
    os.utime(fd, (time.time(), 1_600_000_000))
    os.link(f"/proc/self/fd/{fd}", name + ":2,S", dst_dir_fd=cur)
    os.close(fd)


def maildir_without_mtime(tmp: int, cur: int, i: int) -> None:
    name = f"1700000000.M{i}P4242Q{i}R0123456789abcdef.host"
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=tmp)
    os.writev(fd, [DATA])
    os.close(fd)
    os.link(name, name + ":2,S", src_dir_fd=tmp, dst_dir_fd=cur)
    os.unlink(name, dir_fd=tmp)


VARIANTS = {"create + write (raw split)": raw,
            "tmp/ + mtime + link + unlink (Maildir)": maildir,
            "the same without the mtime": maildir_without_mtime}
if hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd"):
    VARIANTS["unnamed tmp/ file + mtime + link"] = maildir_unnamed


def run(step, root: Path, files: int) -> tuple[float, float, float]:
    (root / "tmp").mkdir(parents=True)
    (root / "cur").mkdir()
    tmp = os.open(root / "tmp", os.O_RDONLY | os.O_DIRECTORY)
    cur = os.open(root / "cur", os.O_RDONLY | os.O_DIRECTORY)
    os.sync()
    time.sleep(1)
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.monotonic()
    for i in range(files):
        step(tmp, cur, i)
    seconds = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    os.close(tmp)
    os.close(cur)
    return seconds, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/mboxtool-floor"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    work = args.dir / f"run-{int(time.time())}"
    best: dict[str, tuple[float, float, float]] = {}
    for r in range(args.repeat):
        for n, (label, step) in enumerate(VARIANTS.items()):
            result = run(step, work / f"{n}-{r}", args.files)
            if label not in best or result[0] < best[label][0]:
                best[label] = result
    floor = best["create + write (raw split)"][0]
    print(f"{args.files} files of {len(DATA)} bytes, best of {args.repeat}, one process\n")
    print(f"{'steps':<40} {'seconds':>8} {'user':>6} {'sys':>6} {'vs raw':>7}")
    for label, (seconds, user, system) in best.items():
        print(f"{label:<40} {seconds:8.2f} {user:6.2f} {system:6.2f} {seconds / floor:6.2f}x")
    print(f"\noutputs left in {work} (remove it when done)")


if __name__ == "__main__":
    main()
