"""What a dry run makes of a folder of real mail: the figures a reviewer compares between
versions (messages read, quarantined, skipped files, threads, the largest thread,
requestors that are not addresses).

Usage: python benchmarks/archive_figures.py FOLDER... [--importer ROOT]

--importer runs another checkout of the project (e.g. an older release in a git worktree)
on the same folders, so before/after figures come from one command.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

ADDRESS = re.compile(r"[^\s@<>()\[\],;:\"]{1,64}@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
                     r"[a-z0-9-]{2,63}")


def figures(root: str, folder: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "r.json")
        env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{root}/threading"}
        done = subprocess.run([sys.executable, "-m", "importer", "dry-run", "--quiet", "--store",
                               os.path.join(tmp, "s.sqlite"), "--report", report, folder],
                              cwd=tmp, env=env, capture_output=True, text=True)
        if not os.path.exists(report):
            raise SystemExit(f"{root}: {done.stderr.strip()}")
        with open(report, encoding="utf-8") as fp:
            rep = json.load(fp)
    s, threads = rep["summary"], rep["threads"]
    sizes = sorted((len(t["messages"]) for t in threads), reverse=True)
    bad = [r for t in threads for r in t["requestors"] if not ADDRESS.fullmatch(r.lower())]
    files = rep.get("files", [])
    return {"messages read": s["messages_read"], "unique": s["messages_unique"],
            "duplicates": s["duplicates"], "quarantined": s["quarantined"],
            "files": len(files),
            "files skipped": s.get("files_skipped",
                                   sum(1 for f in files if not f["messages"] + f["unreadable"])),
            "threads": s["threads"], "largest thread": sizes[0] if sizes else 0,
            "threads over 20": sum(1 for n in sizes if n > 20),
            "requestors not addresses": len(bad), "exit": done.returncode}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folders", nargs="+")
    ap.add_argument("--importer", action="append", default=[],
                    help="another checkout to compare with (repeatable)")
    args = ap.parse_args()
    roots = [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))] + args.importer
    for folder in args.folders:
        rows = {root: figures(root, folder) for root in roots}
        print(f"{folder}:")
        keys = list(next(iter(rows.values())))
        print("  " + " | ".join(["figure"] + [os.path.basename(r.rstrip("/")) for r in roots]))
        for key in keys:
            print("  " + " | ".join([key] + [str(rows[r][key]) for r in roots]))


if __name__ == "__main__":
    main()
