"""SIGKILL `archive-import run` at random moments any number of times, rerun each, and count
the runs whose store differs from an uninterrupted run's (expected: 0).

Usage: python benchmarks/crash_harness.py [--kills 100] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "tests")]

import crashharness  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = crashharness.run(tmp, args.kills, seed=args.seed)
    print(f"uninterrupted run: {out.clean_seconds:.1f} s; kills landed: {out.kills}; runs that"
          f" finished before the kill: {out.finished_first}; violations: {len(out.violations)}")
    for v in out.violations[:20]:
        print("  " + v)
    sys.exit(1 if out.violations else 0)


if __name__ == "__main__":
    main()
