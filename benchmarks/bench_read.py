"""Reading speed: Archive.scan() against a plain mailbox.mbox + email loop on a generated mbox.

Usage: python benchmarks/bench_read.py [--messages 100000] [--body-lines 40]

Each reader runs in its own child process so that peak RSS (ru_maxrss) is its own.
Prints messages/s, MB/s and peak RSS for each; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def generate(path: str, count: int, body_lines: int) -> int:
    """Write an mboxrd file of `count` plausible messages; some bodies quote From lines."""
    from importer.read.mbox import write_mboxrd
    rnd = random.Random(1)
    words = [w.encode() for w in "the of and mail archive ticket From reply thread to in".split()]

    def messages():
        for n in range(count):
            body = b"".join(b" ".join(rnd.choices(words, k=12)) + b"\n"
                            for _ in range(rnd.randint(body_lines // 2, body_lines * 2)))
            head = (b"From: user%d@example.org\nTo: list@example.org\n"
                    b"Subject: message %d\nMessage-ID: <%d@example.org>\n"
                    b"Date: Mon, 1 Jan 2001 00:00:00 +0000\n\n" % (n % 97, n, n))
            line = b"From user%d@example.org Mon Jan  1 00:00:00 2001" % (n % 97)
            yield line, head + body

    with open(path, "wb") as fp:
        write_mboxrd(messages(), fp)
    return os.path.getsize(path)


def run_scan(path: str) -> int:
    from importer.read.archive import Archive
    n = 0
    with Archive([path]) as archive:
        for _ in archive.scan():
            n += 1
    return n


def run_mailbox(path: str) -> int:
    import mailbox
    n = 0
    for _ in mailbox.mbox(path, create=False):
        n += 1
    return n


def child(which: str, path: str) -> None:
    start = time.perf_counter()
    n = {"scan": run_scan, "mailbox": run_mailbox}[which](path)
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{n} {seconds:.3f} {rss:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--body-lines", type=int, default=40)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.mbox")
        size = generate(path, args.messages, args.body_lines)
        print(f"mbox: {args.messages} messages, {size / 1e6:.0f} MB")
        for which in ("scan", "mailbox"):
            out = subprocess.run([sys.executable, __file__, "--child", which, path],
                                 check=True, capture_output=True, text=True).stdout.split()
            n, seconds, rss = int(out[0]), float(out[1]), float(out[2])
            print(f"{which:8} {n:7d} msgs {seconds:7.2f} s {n / seconds:9.0f} msg/s "
                  f"{size / 1e6 / seconds:7.1f} MB/s  peak RSS {rss:6.0f} MB")


if __name__ == "__main__":
    main()
