"""`archive-import check` against a real RT 5, and its URL/TLS rules without one."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from importer.backends.rt.fields import DATE_FIELD, KEY_FIELD, custom_fields
from importer.backends.rt.client import RTClient, auth_from_env
from importer.backends.rt.preflight import StoreView, run_check
from conftest import BOTH_RTS, make_queue


@dataclass(frozen=True)
class Cfg:
    url: str | None = None
    queue: str = "Archive"
    ca_bundle: str | None = None
    verify_tls: bool = True
    timeout: float = 30.0
    attach_original: bool = True
    workers: int = 1
    key_field: str = KEY_FIELD
    date_field: str | None = DATE_FIELD


def by_name(results):
    return {r.name: r for r in results}


def test_no_url_fails_first():
    results = run_check(Cfg(), create_queue=False, env={})
    assert [(r.name, r.ok) for r in results] == [("url", False)]


def test_plain_http_to_another_host_fails_and_tls_off_is_unverified():
    assert by_name(run_check(Cfg(url="http://rt.example.org"), create_queue=False,
                             env={}))["tls"].ok is False
    off = run_check(Cfg(url="https://127.0.0.1:1", verify_tls=False), create_queue=False,
                    env={"RTUSER": "u", "RTPASSWD": "p"})
    assert by_name(off)["tls"].ok is None


@pytest.mark.rt
def test_missing_credentials_fail(rt_server):
    results = run_check(Cfg(url=rt_server.url), create_queue=False, env={})
    assert by_name(results)["credentials"].ok is False


@pytest.mark.rt
def test_superuser_and_queue_found_pass(rt_server, rt_env, rt_queue, no_mail):
    results = run_check(Cfg(url=rt_env.get("RTSERVER"), queue=rt_queue), create_queue=False, env=rt_env)
    named = by_name(results)
    assert all(r.ok is not False for r in results), results
    assert named["reachable"].ok and named["authenticated"].ok and named["queue"].ok
    assert named["scrips"].ok is None


@pytest.mark.rt
def test_missing_queue_fails_unless_created(rt_server, rt_env, no_mail):
    name = f"Check-{os.getpid()}"
    assert by_name(run_check(Cfg(url=rt_env.get("RTSERVER"), queue=name), create_queue=False, env=rt_env))["queue"].ok is False
    made = by_name(run_check(Cfg(url=rt_env.get("RTSERVER"), queue=name), create_queue=True, env=rt_env))["queue"]
    assert made.ok and "created" in made.detail
    assert by_name(run_check(Cfg(url=rt_env.get("RTSERVER"), queue=name), create_queue=False, env=rt_env))["queue"].ok


@pytest.mark.rt
def test_wrong_password_fails_without_printing_it(rt_server, rt_env, rt_queue, no_mail):
    env = {**rt_env, "RTPASSWD": "n0t-the-pw"}
    results = run_check(Cfg(url=env.get("RTSERVER"), queue=rt_queue), create_queue=False, env=env)
    assert by_name(results)["authenticated"].ok is False
    assert "n0t-the-pw" not in repr(results)


@pytest.mark.rt
def test_queue_watchers_that_would_be_mailed_fail(rt_server, rt_env, rt_queue, no_mail):
    s = rt_server.session()
    r = s.put(f"{rt_server.url}/REST/2.0/queue/{rt_queue}", json={"AdminCc": ["boss@example.org"]})
    assert r.status_code == 200, r.text
    named = by_name(run_check(Cfg(url=rt_env.get("RTSERVER"), queue=rt_queue), create_queue=False, env=rt_env))
    assert named["queue AdminCc"].ok is False and "boss@example.org" in named["queue AdminCc"].detail
    assert named["queue Cc"].ok is True


@pytest.mark.rt
@pytest.mark.parametrize("flavour", BOTH_RTS)
def test_check_finds_out_whether_this_rt_keeps_created(request, flavour):
    server = request.getfixturevalue("rt_server_keeps_created" if flavour == "keeps-created"
                                     else "rt_server")
    queue = make_queue(server)
    env = {"RTSERVER": server.url, "RTUSER": server.auth[0], "RTPASSWD": server.auth[1]}
    before = server.mail_count()
    dates = by_name(run_check(Cfg(url=env.get("RTSERVER"), queue=queue), create_queue=False, env=env))["dates"]
    assert dates.ok
    assert ("keeps historical Created" in dates.detail) == (flavour == "keeps-created")
    assert ("contrib/rt-import-dates" in dates.detail) == (flavour == "drops-created")
    assert server.mail_count() == before


@pytest.mark.rt
def test_check_reads_the_store(rt_server, rt_env, rt_queue, no_mail, tmp_path):
    s = rt_server.session()
    # By id: every test queue has its own field of that name, and RT resolves a name to the first.
    qid = str(s.get(rt_server.url + f"/REST/2.0/queue/{rt_queue}").json()["id"])
    client = RTClient(rt_server.url, auth_from_env(rt_env)[0])
    key_id = custom_fields(client, qid)[KEY_FIELD.lower()][0]
    client.close()
    r = s.post(rt_server.url + "/REST/2.0/ticket",
               json={"Queue": rt_queue, "Subject": "imported before",
                     "CustomFields": {key_id: "ai1-" + "0" * 40}})
    assert r.status_code == 201, r.text
    path = str(tmp_path / "archive.sqlite")

    def store_check(tickets, identity):
        return by_name(run_check(Cfg(url=rt_env.get("RTSERVER"), queue=rt_queue), create_queue=False, env=rt_env,
                                 store=StoreView(path, tickets, identity)))["store"]

    empty = store_check(0, None)
    assert empty.ok is None and "knows no ticket, but the queue already holds 1" in empty.detail
    assert store_check(1, None).ok is True
    other = store_check(1, "RT http://rt.example.org queue 'Archive' (id 3, created x)")
    assert other.ok is False and "use a new --store" in other.detail


@pytest.mark.rt
def test_a_status_the_queue_does_not_have_fails_check_and_stops_run_before_reading(
        rt_server, rt_env, rt_queue, no_mail, tmp_path, monkeypatch, capsys):
    """`ticket.status: bogus` passed check, then every ticket's final update failed (exit 3,
    and rerunning could not help)."""
    named = by_name(run_check(Cfg(url=rt_env["RTSERVER"], queue=rt_queue), create_queue=False,
                              env=rt_env, status="bogus"))
    assert named["status"].ok is False and "bogus" in named["status"].detail
    assert by_name(run_check(Cfg(url=rt_env["RTSERVER"], queue=rt_queue), create_queue=False,
                             env=rt_env, status="resolved"))["status"].ok is True
    from importer.cli import main
    for key, value in rt_env.items():
        monkeypatch.setenv(key, value)
    config = tmp_path / "rt.yaml"
    config.write_text(f"backend: {{kind: rt}}\nticket: {{status: bogus}}\nrt: {{queue: {rt_queue}}}\n")
    box = tmp_path / "m.mbox"
    box.write_bytes(b"From a@example.net Sun Feb 16 10:00:00 2014\nFrom: a@example.net\n"
                    b"Subject: s\nMessage-ID: <s1@example.net>\n\nx\n")
    code = main(["run", "--quiet", "--config", str(config), "--store", str(tmp_path / "s.sqlite"),
                 "--report", str(tmp_path / "r.json"), str(box)])
    err = capsys.readouterr().err
    assert code == 2 and "bogus" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r.json").exists()
