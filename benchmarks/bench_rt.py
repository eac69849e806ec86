"""Benchmark: RTBackend against a minimal one-request-per-message client, on one throwaway RT.

Starts an RT 5 on 127.0.0.1 (tests/rt/rtserver.py), generates a few hundred
threads, and imports them twice into two queues, in alternating batches so
that both clients meet the same database size: once through RTBackend
(create, messages, status, dates, requestors; mails nobody) and once through
a minimal client that only POSTs each message (create, then correspond).
Prints messages/s and requests per message for both, the largest request
count for a thread of n messages, and the mails RT would have sent.

    python benchmarks/bench_rt.py [--threads 200] [--workers 2] [--seed 1]
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests", "rt")]

from rtserver import RTServer, unavailable_reason  # noqa: E402

from importer.backends.rt.backend import RTBackend  # noqa: E402
from importer.backends.rt.preflight import ensure_fields  # noqa: E402
from importer.records import (Attachment, DateSource, Link, MessageContent,  # noqa: E402
                              MessageRecord, PlacedMessage, SourceRef, ThreadPlan)
from importer.backends.rt.client import RTClient, auth_from_env  # noqa: E402

WORDS = ("printer fire toner paper jam invoice meeting server backup password reset "
         "caf\u00e9 na\u00efve r\u00e9sum\u00e9 please thanks urgent monday").split()


def _message(rng: random.Random, t: int, i: int, date: datetime) -> MessageContent:
    mid = f"bench-{t}-{i}@example.org"
    text = "\n".join(" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(rng.randint(5, 40)))
    atts = ()
    if rng.random() < 0.15:
        atts = (Attachment(f"scan-{t}-{i}.pdf", "application/pdf", rng.randbytes(rng.randint(2000, 30000))),)
    raw = (f"From: User {t} <user{t}@example.org>\nTo: help@example.org\nSubject: Thread {t}\n"
           f"Date: {date:%a, %d %b %Y %H:%M:%S +0000}\nMessage-ID: <{mid}>\n\n{text}\n").encode()
    return MessageContent(mid, f"User {t} <user{t}@example.org>", "help@example.org", "", date,
                          f"Thread {t}" if i == 0 else f"Re: Thread {t}", text, None, atts, raw)


def _record(msg: MessageContent, n: int) -> MessageRecord:
    return MessageRecord(SourceRef("bench.mbox", n), "0" * 64, len(msg.raw), msg.message_id, False,
                         (), (), msg.subject, "x@example.org", msg.from_, (), (), msg.date,
                         DateSource.DATE, "c", (1,))


def make_threads(count: int, seed: int) -> list[tuple[ThreadPlan, list[MessageContent]]]:
    """Thread sizes as in a help-desk archive: many short threads, a few long ones."""
    rng = random.Random(seed)
    out = []
    # Help desks hear from the same people again: requestors drawn from a pool a quarter
    # the number of threads, the first ones more often (RT creates a user only once).
    pool = max(10, count // 4)
    weights = [1 / (k + 1) for k in range(pool)]
    start = datetime(2012, 1, 1, tzinfo=timezone.utc)
    for t in range(count):
        n = rng.choices([1, 2, 3, 4, 6, 10], weights=[30, 25, 20, 12, 9, 4])[0]
        first = start + timedelta(minutes=97 * t)
        msgs = [_message(rng, t, i, first + timedelta(hours=5 * i)) for i in range(n)]
        placed = tuple(PlacedMessage(_record(m, i), None, Link.ROOT) for i, m in enumerate(msgs))
        who = rng.choices(range(pool), weights)[0]
        plan = ThreadPlan(msgs[0].message_id, msgs[0].subject, (f"user{who}@example.org",),
                          msgs[0].date, msgs[-1].date, placed)
        out.append((plan, msgs))
    return out


class Minimal:
    """One POST per message and nothing else: the floor any importer is measured against.
    It talks through the same RTClient (same session cookie, same JSON), so the two differ
    only in what they ask of RT."""

    def __init__(self, client: RTClient, queue: str):
        self.client, self.queue = client, queue

    def thread(self, item):
        plan, msgs = item
        tid = self.client.post("/ticket", {"Queue": self.queue, "Subject": plan.subject,
                                           **_body(msgs[0])}).body["id"]
        for m in msgs[1:]:
            self.client.post(f"/ticket/{tid}/correspond", _body(m))


def _body(m: MessageContent) -> dict:
    """The same payload RTBackend sends, so only the number of requests differs."""
    files = [{"FileName": a.filename, "FileType": a.content_type,
              "FileContent": base64.b64encode(a.data).decode()} for a in m.attachments]
    files.append({"FileName": "original.eml", "FileType": "application/octet-stream",
                  "FileContent": base64.b64encode(m.raw).decode()})
    return {"Subject": m.subject, "Content": m.header_block() + "\n\n" + m.text,
            "ContentType": "text/plain", "Attachments": files}


def via_backend(backend: RTBackend, item) -> None:
    plan, msgs = item
    ticket, _ = backend.create_ticket(plan, msgs[0])
    for m in msgs[1:]:
        backend.add_message(ticket, m, incremental=False)
    backend.finish_ticket(ticket, plan, created=True)


def run(args) -> int:
    reason = unavailable_reason()
    if reason:
        print(f"cannot run: {reason}")
        return 2
    server = RTServer().start()
    try:
        return _measure(server, args)
    finally:
        server.stop()


def _measure(server: RTServer, args) -> int:
    s = server.session()
    for q in ("Bench-Backend", "Bench-Minimal"):
        s.post(server.url + "/REST/2.0/queue", json={"Name": q}).raise_for_status()
    env = {"RTUSER": server.auth[0], "RTPASSWD": server.auth[1]}
    auth = auth_from_env(env)[0]
    backend = RTBackend(RTClient(server.url, auth), queue="Bench-Backend")
    qid = str(s.get(server.url + "/REST/2.0/queue/Bench-Backend").json()["id"])
    ensure_fields(backend.client, qid, backend.key_field, backend.date_field)
    backend.open()
    minimal = Minimal(RTClient(server.url, auth), "Bench-Minimal")
    pool = ThreadPoolExecutor(max_workers=args.workers)
    warm = threading.Barrier(args.workers)
    # Log every worker thread in first (one web login per thread and client), outside the clock.
    list(pool.map(lambda _: (warm.wait(), backend.client.get("/rt"), minimal.client.get("/rt")),
                  range(args.workers)))
    backend._queue()
    backend.client.get("/rt")
    threads = make_threads(args.threads, args.seed)
    messages = sum(len(m) for _, m in threads)
    spent = {"backend": 0.0, "minimal": 0.0}
    mails_before = server.mail_count()
    req0, min0 = backend.client.requests_sent, minimal.client.requests_sent
    with pool:
        for b in range(0, len(threads), args.batch):
            batch = threads[b:b + args.batch]
            order = [("backend", lambda it: via_backend(backend, it)), ("minimal", minimal.thread)]
            for name, fn in (order if (b // args.batch) % 2 == 0 else order[::-1]):
                t0 = time.perf_counter()
                list(pool.map(fn, batch))
                spent[name] += time.perf_counter() - t0
    backend_requests = backend.client.requests_sent - req0
    minimal_requests = minimal.client.requests_sent - min0
    worst = _worst_overhead(backend, threads)
    mails = server.mail_count() - mails_before
    rate_b, rate_m = messages / spent["backend"], messages / spent["minimal"]
    print(f"threads {len(threads)}, messages {messages}, workers {args.workers}, "
          f"server rt-server (Starlet) on 127.0.0.1")
    print(f"RTBackend : {rate_b:6.2f} messages/s, {backend_requests / messages:.2f} requests/message "
          f"({backend_requests} requests, {spent['backend']:.1f} s)")
    print(f"minimal   : {rate_m:6.2f} messages/s, {minimal_requests / messages:.2f} requests/message "
          f"({minimal_requests} requests, {spent['minimal']:.1f} s)")
    print(f"RTBackend rate / minimal rate: {100 * rate_b / rate_m:.0f}% (target >= 90%)")
    print(f"largest requests - n for a thread of n messages: {worst} (target <= 3)")
    print(f"mails RT would have sent during the whole run: {mails} "
          "(the minimal client sets no requestor, so it mails nobody either)")
    return 0


def _worst_overhead(backend: RTBackend, threads) -> int:
    """Requests for one more thread of each size, counted exactly."""
    worst = 0
    for plan, msgs in {len(m): (p, m) for p, m in threads}.values():
        plan = plan.__class__(**{**{f: getattr(plan, f) for f in plan.__slots__},
                                 "id": plan.id + "-again"})
        before = backend.client.requests_sent
        via_backend(backend, (plan, msgs))
        worst = max(worst, backend.client.requests_sent - before - len(msgs))
    return worst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=25, help="threads per alternating batch")
    ap.add_argument("--seed", type=int, default=1)
    return run(ap.parse_args())


if __name__ == "__main__":
    sys.exit(main())
