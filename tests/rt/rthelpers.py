"""Helpers for the RT tests: a backend on the test server, and an independent reader of tickets."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from importer.backends.rt import RTBackend
from importer.rtclient import RTClient, auth_from_env


def make_rt_backend(env, queue, *, adapter=None, retries=2, status="resolved",
                    attach_original=True) -> RTBackend:
    auth, _ = auth_from_env(env)
    client = RTClient(env["RTSERVER"], auth, timeout=60, retries=retries, adapter=adapter,
                      sleep=lambda s: None)
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
