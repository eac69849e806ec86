"""Fixtures for the RT tests: one throwaway RT 5 server per session, a fresh queue per test.

Where RT cannot be started the tests marked `rt` are skipped with the reason,
except when CI is "true" or ARCHIVE_IMPORT_REQUIRE_RT=1: then they fail.
Every test that uses the server also proves that RT mailed nobody during it.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import sys
from datetime import datetime

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rtserver import RTServer, unavailable_reason  # noqa: E402

from importer.backends.rt import RTBackend  # noqa: E402
from importer.rtclient import RTClient, auth_from_env  # noqa: E402

_queues = itertools.count(1)


def _must_have_rt() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("ARCHIVE_IMPORT_REQUIRE_RT") == "1"


@pytest.fixture(scope="session")
def rt_server():
    reason = unavailable_reason()
    if reason:
        if _must_have_rt():
            pytest.fail(f"RT is required here (CI/ARCHIVE_IMPORT_REQUIRE_RT) but: {reason}")
        pytest.skip(reason)
    server = RTServer()
    try:
        server.start()
    except Exception as exc:       # noqa: BLE001 - any start failure is reported the same way
        server.stop()
        if _must_have_rt():
            pytest.fail(f"RT could not be started: {exc}")
        pytest.skip(f"RT could not be started: {exc}")
    yield server
    server.stop()


@pytest.fixture
def no_mail(rt_server):
    """Fails the test if RT would have sent any mail while it ran."""
    before = rt_server.mail_count()
    yield
    assert rt_server.mail_count() - before == 0, "RT would have mailed someone"


@pytest.fixture
def rt_env(rt_server):
    return {"RTSERVER": rt_server.url, "RTUSER": rt_server.auth[0], "RTPASSWD": rt_server.auth[1]}


@pytest.fixture
def rt_queue(rt_server):
    """A fresh queue, so each test sees only its own tickets."""
    name = f"Archive-{os.getpid()}-{next(_queues)}"
    r = rt_server.session().post(rt_server.url + "/REST/2.0/queue", json={"Name": name})
    assert r.status_code == 201, r.text
    return name


def make_rt_backend(env, queue, *, adapter=None, retries=2, status="resolved",
                    attach_original=True) -> RTBackend:
    auth, _ = auth_from_env(env)
    client = RTClient(env["RTSERVER"], auth, timeout=60, retries=retries, adapter=adapter,
                      sleep=lambda s: None)
    return RTBackend(client, queue=queue, status=status, attach_original=attach_original)


@pytest.fixture
def rt_backend(rt_env, rt_queue, no_mail):
    backend = make_rt_backend(rt_env, rt_queue)
    yield backend
    backend.close()


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


@pytest.fixture
def reader(rt_server):
    return RTReader(rt_server)


def rt_datetime(value):
    if not value or value.startswith("1970"):
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
