"""The scanner and the memory on hostile archives, measured (never asserted in tests).

Usage: python benchmarks/bench_pathological.py [--mb 2048] [--tiny 6000000] [--unique 1000000]
       [--huge-message 1100] [--bomb-gib 2]

- `--mb`: that many MB of "From x" lines (each line a separator candidate): MB/s.
- `--tiny`: a gzip of that many tiny messages (a "tiny-message bomb"): a dry run's peak RSS.
- `--unique`: a gzip of that many tiny messages that all differ (ids, senders, subjects,
  bodies; replies in threads of three): the memory a unique message costs.
- `--huge-message`: an mbox of a small message, one of that many MB, another small one, run
  into a local store: what is imported and quarantined, the time and the peak RSS.
- `--bomb-gib`: a .gz holding one message and then that many GiB of zeros (a decompression
  bomb), dry run: where it is cut and why, the time and the peak RSS.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "threading")]


def scan_rate(mb: int, tmp: str) -> None:
    from importer.read.archive import Archive
    path = os.path.join(tmp, "from-x.mbox")
    line, block = b"From x\n", b"From x\n" * (1 << 17)
    with open(path, "wb") as fp:
        for _ in range(mb * (1 << 20) // len(block)):
            fp.write(block)
    size = os.path.getsize(path)
    start = time.perf_counter()
    with Archive([path]) as archive:        # the default bounds, as a run has them
        items = sum(1 for _ in archive.scan())
    seconds = time.perf_counter() - start
    print(f"{size / 1e6:.0f} MB of {line!r} lines: {items} item(s), {seconds:.1f} s,"
          f" {size / 1e6 / seconds:.0f} MB/s")
    os.unlink(path)


def tiny_bomb(count: int, tmp: str) -> None:
    path = os.path.join(tmp, "tiny.mbox.gz")
    one = b"From a@example.net Sun Feb 16 10:00:00 2014\nFrom: a@example.net\n\nx\n\n"
    with gzip.open(path, "wb", compresslevel=9) as fp:
        for _ in range(count // 10000):
            fp.write(one * 10000)
    print(f"tiny-message bomb: {os.path.getsize(path) / 1e3:.0f} kB of gzip, {count} messages:"
          f" {_dry_run(path, tmp)}")


def unique_tiny(count: int, tmp: str) -> None:
    path = os.path.join(tmp, "unique.mbox.gz")
    with gzip.open(path, "wb", compresslevel=6) as fp:
        for start in range(0, count, 10000):
            fp.write(b"".join(
                b"From a@example.net Sun Feb 16 10:00:00 2014\n" + (
                    f"From: p{i % 5000}@example.net\nSubject: {'Re: ' if i % 3 else ''}case"
                    f" {i // 3}\nMessage-ID: <u{i}@example.net>\n"
                    + (f"In-Reply-To: <u{i - 1}@example.net>\n" if i % 3 else "")
                    + f"Date: Sun, 16 Feb 2014 10:00:00 +0000\n\nnote {i}\n\n").encode()
                for i in range(start, min(start + 10000, count))))
    print(f"unique tiny messages: {os.path.getsize(path) / 1e6:.1f} MB of gzip, {count} messages:"
          f" {_dry_run(path, tmp)}")


SMALL = (b"From a@example.net Sun Feb 16 10:00:00 2014\nFrom: a@example.net\n"
         b"Subject: %s\nMessage-ID: <%s@example.net>\n\nhello\n\n")


def huge_message(mb: int, tmp: str) -> None:
    path = os.path.join(tmp, "huge.mbox")
    line = b"x" * 1023 + b"\n"
    with open(path, "wb") as fp:
        fp.write(SMALL % (b"before", b"before"))
        fp.write(SMALL.replace(b"hello\n\n", b"")[:-1] % (b"huge", b"huge"))
        for _ in range(mb * 1024):
            fp.write(line)
        fp.write(b"\n" + SMALL % (b"after", b"after"))
    print(f"one message of {mb} MB between two small ones, run: {_summary(path, tmp, 'run')}")


def bomb(gib: int, tmp: str) -> None:
    path = os.path.join(tmp, "bomb.mbox.gz")
    zeros = bytes(64 << 20)
    with gzip.open(path, "wb", compresslevel=9) as fp:
        fp.write(SMALL % (b"first", b"first"))
        for _ in range(gib * 16):
            fp.write(zeros)
    print(f"{gib} GiB of zeros after one message, {os.path.getsize(path) / 1e6:.1f} MB of gzip,"
          f" dry run: {_summary(path, tmp, 'dry-run')}")


def _summary(path: str, tmp: str, command: str) -> str:
    out = _dry_run(path, tmp, command, keep=True)
    import json
    with open(os.path.join(tmp, "r.json"), encoding="utf-8") as fp:
        rep = json.load(fp)
    s = rep["summary"]
    reasons = [q["reason"] for q in rep.get("quarantine", [])]
    notes = [n for f in rep.get("files", []) for n in f.get("notes", [])]
    for name in ("s.sqlite", "s.sqlite-wal", "s.sqlite-shm", "r.json"):
        if os.path.exists(os.path.join(tmp, name)):
            os.remove(os.path.join(tmp, name))
    return (f"{out}; read {s['messages_read']}, quarantined {s['quarantined']}"
            f" {reasons}; notes {notes}")


def _dry_run(path: str, tmp: str, command: str = "dry-run", keep: bool = False) -> str:
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "importer", command, "--quiet", "--store",
                              os.path.join(tmp, "s.sqlite"), "--report",
                              os.path.join(tmp, "r.json"), path], cwd=ROOT)
    _, status, usage = os.wait4(child.pid, 0)
    for name in () if keep else ("s.sqlite", "s.sqlite-wal", "s.sqlite-shm", "r.json"):
        if os.path.exists(os.path.join(tmp, name)):
            os.remove(os.path.join(tmp, name))
    return (f"exit {os.waitstatus_to_exitcode(status)}, {time.perf_counter() - start:.0f} s,"
            f" peak RSS {usage.ru_maxrss / 1024:.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=256)
    ap.add_argument("--tiny", type=int, default=0)
    ap.add_argument("--unique", type=int, default=0)
    ap.add_argument("--huge-message", type=int, default=0, help="MB")
    ap.add_argument("--bomb-gib", type=int, default=0)
    args = ap.parse_args()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    with tempfile.TemporaryDirectory() as tmp:
        if args.mb:
            scan_rate(args.mb, tmp)
        if args.tiny:
            tiny_bomb(args.tiny, tmp)
        if args.unique:
            unique_tiny(args.unique, tmp)
        if args.huge_message:
            huge_message(args.huge_message, tmp)
        if args.bomb_gib:
            bomb(args.bomb_gib, tmp)


if __name__ == "__main__":
    main()
