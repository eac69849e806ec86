"""Benchmark of the thread engine: synthetic header records, each mode timed, peak memory.

Usage: python benchmarks/bench_threading.py [--count 1000000] [--modes archive,strict,rfc5256]

Each mode runs in a fresh process (so one mode's memory does not count against the next);
it prints the seconds `thread()` took (wall clock, and CPU time, which other processes on
a shared machine do not inflate) and the process's peak resident memory, which
includes the generated records themselves (also printed alone, as the baseline).
The mix: reply chains (some 200 deep), wide trees (a question with 30-150 answers),
threads whose first messages are missing (ghosts), replies that only carry "Re: subject"
(subject-only), References in the wrong order, undated messages and reused Message-IDs.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.append(os.path.join(ROOT, "threading"))

from mailthreads import MODES, Item, thread  # noqa: E402

EPOCH = datetime(2015, 1, 1, tzinfo=timezone.utc)
MAX_REFS = 12


def generate(count: int, seed: int) -> list[Item]:
    """`count` items in a realistic mix of thread shapes, in a realistic input order.

    Input order is what the readers produce: folder after folder (INBOX, Sent, Archive,
    Support), each folder in arrival order.
    """
    rng = random.Random(seed)
    items: list[Item] = []
    t = 0
    while len(items) < count:
        t += 1
        shape = rng.random()
        size = (rng.randint(20, 200) if shape < 0.05 else
                rng.randint(30, 150) if shape < 0.10 else rng.randint(1, 8))
        _thread(items, rng, t, min(size, count - len(items)), wide=0.05 <= shape < 0.10)
    items.sort(key=lambda it: it.key)                  # the key is the arrival time
    folders: list[list[Item]] = [[], [], [], []]
    for it in items:
        folders[rng.randrange(4)].append(it)
    items[:] = [it for folder in folders for it in folder]
    return items


def _thread(items: list[Item], rng: random.Random, t: int, size: int, wide: bool) -> None:
    subject = f"Topic {t} about {rng.choice(('billing', 'login', 'refund', 'order'))}"
    start = EPOCH + timedelta(seconds=t * 300 + rng.randrange(300))
    ghost_start = rng.random() < 0.08          # the first message is not in the archive
    mids: list[str] = []
    refs_of: list[tuple[str, ...]] = []
    for k in range(size + (1 if ghost_start else 0)):
        mid = f"{t}.{k}@bench.example"
        if k == 0:
            refs: tuple[str, ...] = ()
        else:
            p = 0 if wide else (k - 1 if rng.random() < 0.8 else rng.randrange(k))
            refs = (refs_of[p] + (mids[p],))[-MAX_REFS:]
        mids.append(mid)
        refs_of.append(refs)
        if ghost_start and k == 0:
            continue
        _emit(items, rng, mid, refs, subject if k == 0 else "Re: " + subject,
              start + timedelta(seconds=k * 3000 + rng.randrange(3000)))


def _emit(items: list[Item], rng: random.Random, mid: str, refs: tuple[str, ...],
          subject: str, date: datetime) -> None:
    roll = rng.random()
    irt: tuple[str, ...] = refs[-1:]
    if roll < 0.04:                      # a client that sends no References/In-Reply-To
        refs, irt = (), ()
    elif roll < 0.05:                    # References newest first
        refs = tuple(reversed(refs))
    elif roll < 0.06:                    # reused Message-ID (imposter)
        mid = "constant@bench.example"
    arrival = date.timestamp() + rng.random()       # unique: the key and the folder order
    items.append(Item(arrival, mid, refs, irt, subject,
                      None if rng.random() < 0.01 else date))


def _run(mode: str, count: int, seed: int) -> None:
    items = generate(count, seed)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began, cpu = time.perf_counter(), time.process_time()
    threads = len(thread(items, mode))
    took, cpu = time.perf_counter() - began, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{mode:8s} {count:>9,d} items  {took:6.2f} s (cpu {cpu:5.2f} s)  {threads:>8,d} threads  "
          f"peak {peak / 1024:7.1f} MiB (records alone {base / 1024:7.1f} MiB)", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=5256)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _run(args.child, args.count, args.seed)
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus", flush=True)
    for mode in args.modes.split(","):
        subprocess.run([sys.executable, os.path.abspath(__file__), "--child", mode,
                        "--count", str(args.count), "--seed", str(args.seed)], check=True)


if __name__ == "__main__":
    main()
