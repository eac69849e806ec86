"""Fixtures for the RT tests: one throwaway RT 5 server per session, a fresh queue per test.

Where RT cannot be started the tests marked `rt` are skipped with the reason,
except when CI is "true" or ARCHIVE_IMPORT_REQUIRE_RT=1: then they fail.
Every test that uses the server also proves that RT mailed nobody during it.
"""

from __future__ import annotations

import itertools
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rthelpers import RTReader, make_rt_backend  # noqa: E402
from rtserver import RTServer, unavailable_reason  # noqa: E402

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


@pytest.fixture
def rt_backend(rt_env, rt_queue, no_mail):
    backend = make_rt_backend(rt_env, rt_queue)
    yield backend
    backend.close()


@pytest.fixture
def reader(rt_server):
    return RTReader(rt_server)
