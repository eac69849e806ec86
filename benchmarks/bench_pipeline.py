"""The whole dry run against a plain `mailbox` + `email` loop, on a generated help-desk archive.

Usage: python benchmarks/bench_pipeline.py [--messages 100000] [--threads-every 4] [--repeat 3]
                                           [--stages]

Writes an mbox of `--messages` messages in conversations (replies with References,
some duplicated copies, some without Message-ID), then runs, each in its own child
process so that peak RSS is its own:
  - baseline: mailbox.mbox iteration + email.message_from_bytes(policy=compat32) of each
    message, reading Message-ID/References/Subject/Date/From (what any importer must);
  - dry-run: `archive-import dry-run` on the same file (read, parse, dedupe, thread, report).
Prints the best of `--repeat` runs: wall and CPU seconds, messages/s, and each command's
own peak RSS; with --stages, the CPU time of each stage of one more dry run (it wraps
the driver's stage functions, so it names them: keep it in step with importer/pipeline.py).
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The mailbox + email loop "a user writes": the one bench_realistic.py times too.
from bench_realistic import LOOP as BASELINE  # noqa: E402


def generate(path: str, count: int, every: int) -> None:
    rnd = random.Random(7)
    words = "the printer invoice order timber thanks please could you reply again".split()
    roots: list[int] = []
    with open(path, "wb") as fp:
        for n in range(count):
            refs = b""
            subject = f"Request {n}"
            if roots and n % every:
                parent = rnd.choice(roots[-50:])
                refs = b"In-Reply-To: <m%d@example.net>\nReferences: <m%d@example.net>\n" % (
                    parent, parent)
                subject = f"Re: Request {parent}"
            else:
                roots.append(n)
            mid = b"" if n % 97 == 0 else b"Message-ID: <m%d@example.net>\n" % n
            body = "\n".join(" ".join(rnd.choices(words, k=10)) for _ in range(rnd.randint(5, 60)))
            msg = (b"From: Person %d <p%d@example.net>\nTo: hello@example.org\nSubject: %s\n"
                   b"Date: Mon, %d Feb 2015 %02d:%02d:00 +0000\n%s%s\n%s\n" % (
                       n % 500, n % 500, subject.encode(), 1 + n % 28, n % 24, n % 60, mid, refs,
                       body.encode()))
            copies = 2 if n % 50 == 0 else 1      # the same mail in two people's inboxes
            for _ in range(copies):
                fp.write(b"From p@example.net Mon Feb  2 10:00:00 2015\n" + msg + b"\n")


def measure(argv: list[str], repeat: int) -> tuple[float, float, float]:
    """Best wall seconds, best CPU seconds (user + system) and largest peak RSS in MB.

    Each run is its own child; os.wait4 gives that child's own usage, so the numbers do
    not mix with the other command's.  CPU time moves less than wall time on a busy
    machine: compare both.
    """
    walls, cpus, peaks = [], [], []
    for _ in range(repeat):
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        walls.append(time.perf_counter() - start)
        if child.returncode:
            raise SystemExit(f"{argv[:4]} failed with exit code {child.returncode}")
        cpus.append(usage.ru_utime + usage.ru_stime)
        peaks.append(usage.ru_maxrss / 1024)
    return min(walls), min(cpus), max(peaks)


STAGES = """
import sys, time
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/threading"]
from importer import cli
from importer import pipeline
from importer.deliver import Deliverer
from importer import parsepool
parsepool.MIN_BYTES = 1 << 62      # in this process, so that parse_record can be timed
spent = {}

def timed(owner, name, label):
    inner = getattr(owner, name)
    def wrapper(*args, **kwargs):
        start = time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0) + time.process_time() - start
    setattr(owner, name, wrapper)

timed(parsepool, "parse_record", "parse")
timed(pipeline, "read_stage", "read: scan, ledger")
timed(pipeline, "build_plans", "thread")
timed(Deliverer, "run", "deliver (dry run)")
timed(pipeline, "write_run_report", "report")
start = time.process_time()
cli.main(sys.argv[2:])
total = time.process_time() - start
spent["read: scan, ledger"] -= spent.get("parse", 0)   # read_stage calls parse_record
for label, seconds in spent.items():
    print(f"  {label:22s} {seconds:6.2f} s cpu  {seconds / total:4.0%}")
print(f"  {'whole run':22s} {total:6.2f} s cpu (plus start-up: imports)")
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--threads-every", type=int, default=4, help="one new conversation per N")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each; the best is shown")
    ap.add_argument("--stages", action="store_true",
                    help="also run the dry run once in-process and print CPU time per stage")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        mbox = os.path.join(tmp, "inbox.mbox")
        generate(mbox, args.messages, args.threads_every)
        size = os.path.getsize(mbox) / 1e6
        print(f"archive: {args.messages} messages (+2% copies), {size:.0f} MB; "
              f"best of {args.repeat} runs")
        base = measure([sys.executable, "-c", BASELINE, mbox, "mbox"], args.repeat)
        dry = measure([sys.executable, "-m", "importer", "dry-run", "--quiet",
                       "--store", os.path.join(tmp, "none.sqlite"),
                       "--report", os.path.join(tmp, "r.json"), mbox], args.repeat)
        n = args.messages
        for name, (wall, cpu, peak) in (("mailbox+email loop", base), ("archive-import dry", dry)):
            print(f"{name} : {wall:6.1f} s {n / wall:8.0f} msg/s  cpu {cpu:6.1f} s "
                  f"{n / cpu:8.0f} msg/s  peak {peak:5.0f} MB")
        print(f"dry run / loop speed: {base[0] / dry[0]:.1f}x wall, {base[1] / dry[1]:.1f}x cpu")
        if args.stages:
            print("dry run by stage:")
            subprocess.run([sys.executable, "-c", STAGES, ROOT, "dry-run", "--quiet", "--store",
                            os.path.join(tmp, "none.sqlite"), "--report",
                            os.path.join(tmp, "r.json"), mbox], check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
