"""Fixtures for the RT tests: one throwaway RT 5 server per session, a fresh queue per test.

Where RT cannot be started the tests marked `rt` are skipped with the reason,
except when CI is "true" or ARCHIVE_IMPORT_REQUIRE_RT=1: then they fail.
Every test that uses the server also proves that RT mailed nobody during it.
"""

from __future__ import annotations

import itertools
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rthelpers import RTReader, make_rt_backend  # noqa: E402
from importer.cli import main  # noqa: E402
from importer.backends.rt.fields import DATE_FIELD, KEY_FIELD  # noqa: E402
from importer.backends.rt.preflight import ensure_fields  # noqa: E402
from importer.backends.rt.client import RTClient, auth_from_env  # noqa: E402
from rtserver import RTServer, unavailable_reason  # noqa: E402

_queues = itertools.count(1)


def _must_have_rt() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("ARCHIVE_IMPORT_REQUIRE_RT") == "1"


def _server(keeps_created: bool):
    reason = unavailable_reason()
    if reason:
        if _must_have_rt():
            pytest.fail(f"RT is required here (CI/ARCHIVE_IMPORT_REQUIRE_RT) but: {reason}")
        pytest.skip(reason)
    # The lowest bcrypt cost RT takes: the tests exercise RT's behaviour, and RT's default
    # cost checked the password of each request for most of the suite's time (rtserver.py).
    server = RTServer(keeps_created=keeps_created, bcrypt_cost=4)
    try:
        server.start()
    except Exception as exc:       # noqa: BLE001 - any start failure is reported the same way
        server.stop()
        if _must_have_rt():
            pytest.fail(f"RT could not be started: {exc}")
        pytest.skip(f"RT could not be started: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def rt_server():
    """RT exactly as Debian ships it today (5.0.3, deb12u7: drops Created over REST 2)."""
    yield from _server(False)


@pytest.fixture(scope="session")
def rt_server_keeps_created():
    """The same package with REST 2 keeping Created, as RT's other builds do."""
    yield from _server(True)


@pytest.fixture
def rt(rt_server):
    """The RT a test runs against; modules that test both behaviours override it."""
    return rt_server


def both_rts(request):
    """For an overriding `rt` fixture parametrized with BOTH_RTS."""
    name = "rt_server_keeps_created" if request.param == "keeps-created" else "rt_server"
    return request.getfixturevalue(name)


BOTH_RTS = ("drops-created", "keeps-created")


@pytest.fixture
def no_mail(rt):
    """Fails the test if RT would have sent any mail while it ran."""
    before = rt.mail_count()
    yield
    assert rt.mail_count() - before == 0, "RT would have mailed someone"


@pytest.fixture
def rt_env(rt):
    return {"RTSERVER": rt.url, "RTUSER": rt.auth[0], "RTPASSWD": rt.auth[1]}


def make_queue(server, name=None, *, fields=True) -> str:
    """A fresh queue with the import's custom fields, made by the importer's own code."""
    name = name or f"Archive-{os.getpid()}-{next(_queues)}"
    r = server.session().post(server.url + "/REST/2.0/queue", json={"Name": name})
    assert r.status_code == 201, r.text
    if fields:
        client = RTClient(server.url, auth_from_env(
            {"RTUSER": server.auth[0], "RTPASSWD": server.auth[1]})[0])
        qid = str(server.session().get(server.url + f"/REST/2.0/queue/{name}").json()["id"])
        ensure_fields(client, qid, KEY_FIELD, DATE_FIELD)
        client.close()
    return name


@pytest.fixture
def rt_queue(rt):
    """A fresh queue, so each test sees only its own tickets."""
    return make_queue(rt)


@pytest.fixture
def rt_backend(rt_env, rt_queue, no_mail):
    backend = make_rt_backend(rt_env, rt_queue)
    backend.open()
    yield backend
    backend.close()


@pytest.fixture
def reader(rt):
    return RTReader(rt)


@pytest.fixture
def rt_run(rt_env, rt_queue, no_mail, tmp_path, monkeypatch):
    """Runs `archive-import` with an RT config; returns (exit code, report)."""
    for key, value in rt_env.items():
        monkeypatch.setenv(key, value)
    config = tmp_path / "rt.yaml"

    def run(*sources, workers=1, command="run"):
        config.write_text(f"backend: {{kind: rt}}\nstaff: {{domains: [example.org]}}\n"
                          f"rt: {{queue: {rt_queue}, workers: {workers}, retries: 2{run.extra}}}\n")
        report = tmp_path / f"{command}-{next(serial)}.json"
        code = main([command, "--quiet", "--config", str(config), "--store",
                     str(run.store), "--report", str(report), *sources])
        return code, json.loads(report.read_text())
    serial = itertools.count(1)
    run.config, run.store, run.extra = config, tmp_path / "ledger.sqlite", ""
    run.queue = rt_queue
    return run
