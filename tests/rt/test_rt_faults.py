"""Faults a real migration meets, injected between the importer and the real RT.

A `FaultProxy` on 127.0.0.1 sits in front of the test RT: answers dropped after
RT applied the request, 500/502/503 without forwarding, 429 with Retry-After,
answers delayed past the client's timeout, bodies cut half way, and answers held
while the importer is killed with SIGKILL. Whatever happens, running the same
command again must end exactly like a clean import: one ticket per thread, every
message once (by its Message-ID line), the right requestors and dates, and no
mail in RT's mbox (the `no_mail` fixture under `rt_run`).
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from faultproxy import FaultProxy
from rthelpers import check_state, generate, importer_command, tickets_in

pytestmark = pytest.mark.rt

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CREATE = ("POST", r"/REST/2\.0/ticket$")
APPEND = ("POST", r"/REST/2\.0/ticket/\d+/(correspond|comment)$")
UPDATE = ("PUT", r"/REST/2\.0/ticket/\d+$")
READ = ("GET", r"/REST/2\.0/")
FAULTS = ("drop", "500", "502", "503", "429", "delay", "cut")
TIMEOUT = 3          # the client's timeout here; a "delay" waits longer
THREADS = 6


@pytest.fixture
def proxy(rt):
    with FaultProxy(rt.url, seed=11) as p:
        yield p


@pytest.fixture
def rt_env(rt, proxy):
    """The importer talks to RT through the proxy; the test's reader talks to RT directly."""
    return {"RTSERVER": proxy.url, "RTUSER": rt.auth[0], "RTPASSWD": rt.auth[1]}


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "orders.mbox"
    generate(path, THREADS)
    return path


def finish(rt_run, *sources, runs=6, workers=1):
    """Run the same command until it exits 0, as a user would (after 3: some threads failed;
    after 2: RT stayed unreachable through every retry). Returns the last report."""
    codes = []
    for _ in range(runs):
        try:
            code, report = rt_run(*map(str, sources), workers=workers)
        except FileNotFoundError:     # exit 2, no report: RT "unreachable" after every retry
            code = 2
        codes.append(code)
        if code == 0:
            return report
    pytest.fail(f"no clean run after {runs} runs: exit codes {codes}")


def add(proxy, kind, target, **kw):
    method, path = target
    params = {"seconds": TIMEOUT + 2} if kind == "delay" else {}
    return proxy.add_rule(kind, method=method, path=path, **params, **kw)


# Every fault where a lost answer is most dangerous (a create), the ones that hide whether an
# append or the final update was applied, and a broken read.
CASES = ([(k, "create") for k in FAULTS] + [(k, "append") for k in ("drop", "500", "cut")]
         + [("drop", "update"), ("cut", "read")])


@pytest.mark.parametrize("kind,where", CASES, ids=[f"{k}-{w}" for k, w in CASES])
def test_one_fault_ends_like_a_clean_import(rt_run, proxy, reader, rt_queue, archive, kind,
                                            where):
    target = {"create": CREATE, "append": APPEND, "update": UPDATE, "read": READ}[where]
    rt_run.extra = f", timeout: {TIMEOUT}"
    # The second create or append, the third read: not the very first request of its kind.
    rule = add(proxy, kind, target, nth={"read": 3}.get(where, 2))
    report = finish(rt_run, archive)
    assert rule.fired == 1 and proxy.injected[kind] == 1
    assert report["summary"]["threads"] == THREADS
    check_state(reader, rt_queue, report, message_lines=True)


@pytest.mark.parametrize("seed", [1])
def test_every_fault_at_random_rates_ends_like_a_clean_import(rt_run, proxy, reader, rt_queue,
                                                               archive, seed):
    rt_run.extra = f", timeout: {TIMEOUT}"
    proxy.reseed(seed)
    for kind in FAULTS:
        proxy.add_rule(kind, times=None, rate=0.04,
                       **({"seconds": TIMEOUT + 2} if kind == "delay" else {}))
    report = finish(rt_run, archive, runs=12)
    assert sum(proxy.injected.values()) >= 5, proxy.injected
    proxy.clear()
    check_state(reader, rt_queue, report, message_lines=True)


def write_mbox(path, *messages):
    with open(path, "w") as f:
        for mid, who, reply_to, day in messages:
            refs = f"In-Reply-To: <{reply_to}>\nReferences: <{reply_to}>\n" if reply_to else ""
            f.write(f"From {who} Mon Mar  2 10:00:00 2015\nFrom: {who}\nTo: hello@example.org\n"
                    f"Subject: {'Re: ' if reply_to else ''}Broken invoice\nMessage-ID: <{mid}>\n"
                    f"{refs}Date: Mon, {day} Mar 2015 10:00:00 +0000\n\nMessage <{mid}>.\n\n")


@pytest.mark.parametrize("kind", ["500", "drop"])
def test_a_later_reply_to_a_finished_ticket_failing_once_mails_nobody(rt_run, proxy, reader,
                                                                       rt_queue, tmp_path, kind):
    """The measured case: an incremental reply whose comment fails once, then a rerun.
    Correspondence on the finished ticket would mail its requestor; it must be a comment,
    and the status must not be set again ("Resolved" notices)."""
    first, later = tmp_path / "2015.mbox", tmp_path / "2016.mbox"
    write_mbox(first, ("q1@example.net", "carol@example.net", None, 2),
               ("a1@example.org", "alice@example.org", "q1@example.net", 3))
    write_mbox(later, ("q2@example.net", "carol@example.net", "a1@example.org", 9))
    code, report = rt_run(str(first))
    assert code == 0
    tid = report["threads"][0]["ticket"]["id"]
    assert [r["id"] for r in reader.ticket(tid)["Requestor"]] == ["carol@example.net"]
    statuses = len(reader.transactions(tid, types=("Status",)))
    rule = add(proxy, kind, APPEND)
    report = finish(rt_run, first, later)
    assert rule.fired == 1
    assert [t["Type"] for t in reader.transactions(tid)] == ["Create", "Correspond", "Comment"]
    assert len(reader.transactions(tid, types=("Status",))) == statuses    # status not set again
    assert reader.ticket(tid)["Status"] == "resolved"
    assert [t["ticket"]["id"] for t in report["threads"]] == [tid]
    check_state(reader, rt_queue, report, message_lines=True)


def kill_inside(rt_run, proxy, archive, target, nth, tmp_path, workers=1):
    """Start the importer, hold RT's answer to the nth matching request (RT has applied it),
    SIGKILL the importer while it waits, let the answer go. Returns the killed child's pid."""
    rule = add(proxy, "hold", target, nth=nth)
    config = tmp_path / "kill.yaml"
    config.write_text(f"backend: {{kind: rt}}\nstaff: {{domains: [example.org]}}\n"
                      f"rt: {{queue: {rt_run.queue}, workers: {workers}, retries: 2}}\n")
    child = subprocess.Popen(importer_command(config, rt_run.store, tmp_path / "killed.json",
                                              archive),
                             env=os.environ.copy(), cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    try:
        assert proxy.held.wait(120), child.stderr.read().decode() if child.poll() else "no hold"
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
        proxy.release()
    assert rule.fired == 1
    proxy.clear()
    assert not (tmp_path / "killed.json").exists()


@pytest.mark.parametrize("nth", [1, 2, 3, 4, 5])
def test_killed_inside_a_create_then_rerun(rt_run, proxy, reader, rt_queue, archive, tmp_path,
                                           nth):
    kill_inside(rt_run, proxy, archive, CREATE, nth, tmp_path)
    report = finish(rt_run, archive, runs=1)
    # The held create was applied by RT: the rerun finds that ticket instead of making one.
    assert report["delivery"]["tickets_created"] == THREADS - nth
    assert len(tickets_in(reader, rt_queue)) == THREADS
    check_state(reader, rt_queue, report, message_lines=True)


@pytest.mark.parametrize("nth", [1, 4])
def test_killed_inside_an_append_then_rerun(rt_run, proxy, reader, rt_queue, archive, tmp_path,
                                            nth):
    kill_inside(rt_run, proxy, archive, APPEND, nth, tmp_path)
    report = finish(rt_run, archive, runs=1)
    check_state(reader, rt_queue, report, message_lines=True)


@pytest.mark.parametrize("target", ["create"])
def test_killed_with_two_workers_then_rerun_with_the_store_deleted(rt_run, proxy, reader,
                                                                   rt_queue, archive, tmp_path,
                                                                   target):
    kill_inside(rt_run, proxy, archive, CREATE if target == "create" else APPEND, 3, tmp_path,
                workers=2)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(str(rt_run.store) + suffix):
            os.unlink(str(rt_run.store) + suffix)
    report = finish(rt_run, archive, runs=1, workers=2)
    check_state(reader, rt_queue, report, message_lines=True)
