"""Kill the importer with SIGKILL at random points inside RT requests, rerun, count duplicates.

Starts a throwaway RT 5 (tests/rt/rtserver.py) behind the tests' fault proxy. Each
run imports a generated archive into a fresh queue; the proxy holds RT's answer to
a randomly chosen create, append or final update (RT has applied it), the importer
is killed while it waits, and then — with the store kept, or deleted, at random —
the same command is run again without faults. Afterwards it counts, from RT
itself: tickets per thread, every message's Message-ID line (duplicates, missing),
and the mails RT would have sent. Prints one line per run and a summary.

    python benchmarks/rt_kill_points.py [--runs 50] [--threads 12] [--seed 1]
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests", "rt")]

from faultproxy import FaultProxy  # noqa: E402
from rthelpers import RTReader, generate, importer_command  # noqa: E402
from rtserver import RTServer, unavailable_reason  # noqa: E402

from importer.backends.rt.fields import DATE_FIELD, KEY_FIELD  # noqa: E402
from importer.backends.rt.preflight import ensure_fields  # noqa: E402
from importer.backends.rt.client import RTClient, auth_from_env  # noqa: E402

TARGETS = {"create": ("POST", r"/REST/2\.0/ticket$"),
           "append": ("POST", r"/REST/2\.0/ticket/\d+/(correspond|comment)$"),
           "update": ("PUT", r"/REST/2\.0/ticket/\d+$")}


def make_queue(server: RTServer, name: str) -> None:
    server.session().post(server.url + "/REST/2.0/queue", json={"Name": name}).raise_for_status()
    qid = str(server.session().get(server.url + f"/REST/2.0/queue/{name}").json()["id"])
    client = RTClient(server.url, auth_from_env({"RTUSER": server.auth[0],
                                                 "RTPASSWD": server.auth[1]})[0])
    ensure_fields(client, qid, KEY_FIELD, DATE_FIELD)
    client.close()


def count(reader: RTReader, queue: str) -> tuple[int, collections.Counter]:
    """Tickets in the queue, and how often each Message-ID line appears in them."""
    seen: collections.Counter[str] = collections.Counter()
    tickets = list(reader.items("/tickets", query=f"Queue = '{queue}' AND Status != 'deleted'"))
    for t in tickets:
        for a in reader.attachments(t["id"]):
            if a["ContentType"] == "text/plain" and not a["Filename"]:
                text = reader.content(a["id"]).decode("utf-8", "replace")
                seen.update(re.findall(r"^Message-ID: <(.*)>$", text, re.M))
    return len(tickets), seen


def one_run(n: int, rnd: random.Random, server: RTServer, proxy: FaultProxy, work: str,
            mbox: str, threads: int, expected: set[str], env: dict) -> dict:
    queue = f"Kill-{os.getpid()}-{n}"
    make_queue(server, queue)
    kind = rnd.choice(sorted(TARGETS))
    nth = rnd.randint(1, threads if kind != "append" else max(1, len(expected) - threads))
    workers = rnd.choice((1, 2))
    delete_store = rnd.random() < 0.5
    config = os.path.join(work, f"kill-{n}.yaml")
    with open(config, "w") as f:
        f.write(f"backend: {{kind: rt}}\nstaff: {{domains: [example.org]}}\n"
                f"rt: {{queue: {queue}, workers: {workers}, retries: 2}}\n")
    store = os.path.join(work, f"kill-{n}.sqlite")
    method, path = TARGETS[kind]
    rule = proxy.add_rule("hold", method=method, path=path, nth=nth)
    mails = server.mail_count()
    child = subprocess.Popen(importer_command(config, store, os.path.join(work, "k.json"), mbox),
                             env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    landed = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if proxy.held.wait(0.2):
            landed = True
            break
    child.send_signal(signal.SIGKILL)
    child.wait()
    proxy.release()
    proxy.clear()
    if delete_store:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(store + suffix):
                os.unlink(store + suffix)
    rerun = subprocess.run(importer_command(config, store, os.path.join(work, "r.json"), mbox),
                           env=env, cwd=ROOT, capture_output=True, text=True)
    tickets, seen = count(RTReader(server), queue)
    return {"kind": kind, "nth": nth, "workers": workers, "store": "deleted" if delete_store
            else "kept", "landed": landed and rule.fired == 1, "rerun": rerun.returncode,
            "tickets": tickets, "extra_tickets": tickets - threads,
            "duplicate_messages": sum(c - 1 for c in seen.values() if c > 1),
            "missing_messages": len(expected - set(seen)), "mails": server.mail_count() - mails}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--threads", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    reason = unavailable_reason()
    if reason:
        print(f"cannot run: {reason}")
        return 2
    rnd = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="kill-points-")
    mbox = os.path.join(work, "archive.mbox")
    generate(mbox, args.threads)
    with open(mbox, encoding="utf-8") as f:
        expected = set(re.findall(r"^Message-ID: <(.*)>$", f.read(), re.M))
    server = RTServer().start()
    try:
        with FaultProxy(server.url, seed=args.seed) as proxy:
            env = {**os.environ, "RTSERVER": proxy.url, "RTUSER": server.auth[0],
                   "RTPASSWD": server.auth[1]}
            results = []
            for n in range(1, args.runs + 1):
                r = one_run(n, rnd, server, proxy, work, mbox, args.threads, expected, env)
                results.append(r)
                print(" ".join(f"{k}={v}" for k, v in r.items()), flush=True)
    finally:
        server.stop()
    landed = [r for r in results if r["landed"]]
    kinds = collections.Counter(r["kind"] for r in landed)
    print(f"runs {len(results)}, kills inside a held request {len(landed)} "
          f"({', '.join(f'{k} {kinds[k]}' for k in sorted(TARGETS))}); "
          f"reruns not exiting 0: {sum(r['rerun'] != 0 for r in results)}; "
          f"extra tickets {sum(max(0, r['extra_tickets']) for r in results)}, "
          f"missing tickets {sum(max(0, -r['extra_tickets']) for r in results)}, "
          f"duplicate messages {sum(r['duplicate_messages'] for r in results)}, "
          f"missing messages {sum(r['missing_messages'] for r in results)}, "
          f"mails {sum(r['mails'] for r in results)}")
    bad = any(r["extra_tickets"] or r["duplicate_messages"] or r["missing_messages"] or r["mails"]
              or r["rerun"] for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
