"""Helpers for the RT tests: a backend on the test server, and an independent reader of tickets."""

from __future__ import annotations

import base64
import hashlib
import random
import re
import sys
from datetime import datetime

from importer.backends.rt.backend import RTBackend
from importer.backends.rt.client import RTClient, auth_from_env


def make_rt_backend(env, queue, *, adapter=None, status="resolved",
                    attach_original=True) -> RTBackend:
    auth, _ = auth_from_env(env)
    client = RTClient(env["RTSERVER"], auth, timeout=60, adapter=adapter)
    return RTBackend(client, queue=queue, status=status, attach_original=attach_original)


class RTReader:
    """Reads a ticket back through REST 2, as a test's independent eye."""

    def __init__(self, server):
        self.server, self.s = server, server.session()
        self.base = server.url + "/REST/2.0"

    def get(self, path, **params):
        r = self.s.get(self.base + path, params=params)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        return r.json()

    def items(self, path, **params):
        page = 1
        while True:
            body = self.get(path, per_page=100, page=page, **params)
            yield from body["items"]
            if page >= (body.get("pages") or 1):
                return
            page += 1

    def ticket(self, tid):
        return self.get(f"/ticket/{tid}")

    def transactions(self, tid, types=("Create", "Correspond", "Comment")):
        return [t for t in self.items(f"/ticket/{tid}/history", fields="Type", orderby="id")
                if t["Type"] in types]

    def attachments(self, tid):
        return list(self.items(f"/ticket/{tid}/attachments", orderby="id",
                               fields="TransactionId,ContentType,Filename"))

    def content(self, attachment_id) -> bytes:
        return base64.b64decode(self.get(f"/attachment/{attachment_id}")["Content"])

    def original_sha256(self, tid, txn_id):
        for a in self.attachments(tid):
            if a["TransactionId"] == str(txn_id) and a["Filename"] == "original.eml":
                return hashlib.sha256(self.content(a["id"])).hexdigest(), a["ContentType"]
        return None, None


def rt_datetime(value):
    if not value or value.startswith("1970"):
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def tickets_in(reader, queue):
    """The imported tickets of a queue (check's date probe, deleted at once, is not one)."""
    return {t["id"]: reader.ticket(t["id"])
            for t in reader.items("/tickets", query=f"Queue = '{queue}' AND Status != 'deleted'")}


def check_state(reader, queue, report, *, message_lines: bool):
    """What RT holds is exactly what the report says, message for message."""
    tickets = tickets_in(reader, queue)
    threads = {t["ticket"]["id"]: t for t in report["threads"]}
    assert set(tickets) == set(threads)
    assert len(tickets) == report["summary"]["threads"]
    for tid, thread in threads.items():
        t = tickets[tid]
        assert t["Status"] == "resolved"
        assert {r["id"] for r in t.get("Requestor", [])} == set(thread["requestors"])
        assert rt_datetime(t["Started"]) == datetime.fromisoformat(thread["first_date"])
        assert rt_datetime(t["Resolved"]) == datetime.fromisoformat(thread["last_date"])
        assert len(reader.transactions(tid)) == len(thread["messages"])
        if message_lines:
            texts = [reader.content(a["id"]).decode("utf-8", "replace")
                     for a in reader.attachments(tid)
                     if a["ContentType"] == "text/plain" and not a["Filename"]]
            ids = [m for text in texts for m in re.findall(r"^Message-ID: <(.*)>$", text, re.M)]
            assert sorted(ids) == sorted(m["message_id"] for m in thread["messages"])


def generate(path, threads: int) -> int:
    """An mbox of `threads` conversations of 1-3 messages from a pool of correspondents."""
    rnd, count = random.Random(5), 0
    with open(path, "wb") as fp:
        for t in range(threads):
            sender = f"person{rnd.randrange(threads // 3)}@example.net"
            previous = None
            for i in range(rnd.choice((1, 1, 2, 3))):
                who = sender if i % 2 == 0 else "alice@example.org"
                mid = f"t{t}.m{i}@example.net"
                refs = f"In-Reply-To: <{previous}>\nReferences: <{previous}>\n" if previous else ""
                day, hour = 1 + t % 28, 8 + i
                fp.write((f"From {who} Mon Mar  2 10:00:00 2015\nFrom: {who}\nTo: hello@example.org\n"
                          f"Subject: {'Re: ' if i else ''}Order {t}\nMessage-ID: <{mid}>\n{refs}"
                          f"Date: Mon, {day} Mar 2015 {hour:02d}:{t % 60:02d}:00 +0000\n\n"
                          f"Message {i} of conversation {t}: caf\u00e9.\n\n").encode())
                previous, count = mid, count + 1
    return count


def importer_command(config, store, report, *sources):
    return [sys.executable, "-m", "importer", "run", "--quiet", "--config", str(config),
            "--store", str(store), "--report", str(report), *map(str, sources)]
