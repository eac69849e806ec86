"""The whole command against a real RT: the help-desk fixture and a generated archive.

Tickets = threads in the report, every message present once, dates and requestors
right, zero mails, a rerun creates nothing, and an import killed with SIGKILL half
way through and run again ends in the same state.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time

import pytest

from importer.cli import main
from conftest import make_queue
from rthelpers import check_state, generate, importer_command as _importer, tickets_in

pytestmark = pytest.mark.rt

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HELPDESK = os.path.join(ROOT, "fixtures", "helpdesk")


def test_helpdesk_fixture_into_rt_then_a_rerun_creates_nothing(rt_run, reader, rt_queue):
    code, report = rt_run(HELPDESK)
    assert code == 0
    assert report["delivery"]["tickets_created"] == report["summary"]["threads"] == 17
    check_state(reader, rt_queue, report, message_lines=True)
    txns = sum(len(reader.transactions(t)) for t in tickets_in(reader, rt_queue))
    code, again = rt_run(HELPDESK)
    assert code == 0
    assert again["delivery"]["tickets_created"] == 0
    assert again["delivery"]["messages_added"] == 0
    assert sum(len(reader.transactions(t)) for t in tickets_in(reader, rt_queue)) == txns


def test_dry_run_then_check_against_rt(rt_run, reader, rt_queue, capsys):
    code, report = rt_run(HELPDESK, command="dry-run")
    assert code == 0 and all(t["ticket"] is None for t in report["threads"])
    assert tickets_in(reader, rt_queue) == {}
    assert main(["check", "--config", str(rt_run.config)]) == 0
    assert "queue" in capsys.readouterr().out.lower()


def test_generated_archive_killed_half_way_and_rerun_ends_complete(rt_run, reader, rt_queue,
                                                                   tmp_path):
    """80 threads, two workers: a second run at the same time is refused (same store, or
    another store on the same queue); killed with SIGKILL a third of the way; the store
    deleted; the rerun finds in RT what the first run did and ends with one ticket per
    thread. (benchmarks/rt_kill_points.py runs the same with 200 threads and any number of
    kills; the suite keeps CI short.)"""
    mbox = tmp_path / "generated.mbox"
    generate(mbox, 80)
    rt_run.config.write_text(f"backend: {{kind: rt}}\nstaff: {{domains: [example.org]}}\n"
                             f"rt: {{queue: {rt_queue}, workers: 2}}\n")
    child = subprocess.Popen(
        _importer(rt_run.config, rt_run.store, tmp_path / "killed.json", mbox),
        env=os.environ.copy(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    done = 0
    while done < 25 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.5)
        if rt_run.store.exists():
            try:
                with sqlite3.connect(f"file:{rt_run.store}?mode=ro", uri=True) as c:
                    done = c.execute("SELECT count(*) FROM ledger_threads WHERE state='done'"
                                     ).fetchone()[0]
            except sqlite3.OperationalError:
                pass
    assert child.poll() is None, child.stderr.read().decode()
    for store in (rt_run.store, tmp_path / "elsewhere" / "ledger.sqlite"):
        store.parent.mkdir(exist_ok=True)
        second = subprocess.run(_importer(rt_run.config, store, tmp_path / "second.json", mbox),
                                env=os.environ.copy(), cwd=ROOT, capture_output=True, text=True)
        assert second.returncode == 2, second.stderr
        assert "another import is using" in second.stderr
        assert f"(pid {child.pid})" in second.stderr
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert not (tmp_path / "killed.json").exists()      # the report is written whole or not at all
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(str(rt_run.store) + suffix):
            os.unlink(str(rt_run.store) + suffix)
    code, report = rt_run(str(mbox), workers=2)
    assert code == 0
    assert report["summary"]["threads"] == 80
    assert report["delivery"]["tickets_present"] >= 25
    check_state(reader, rt_queue, report, message_lines=True)


@pytest.mark.parametrize("how", ["store deleted", "store in another folder"])
def test_helpdesk_rerun_without_its_store_creates_nothing(rt_run, reader, rt_queue, tmp_path,
                                                          how, monkeypatch):
    """RT decides whether a thread is imported: the ledger is only a cache."""
    code, report = rt_run(HELPDESK)
    assert code == 0 and report["delivery"]["tickets_created"] == 17
    txns = sum(len(reader.transactions(t)) for t in tickets_in(reader, rt_queue))
    if how == "store deleted":
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(str(rt_run.store) + suffix):
                os.unlink(str(rt_run.store) + suffix)
    else:
        other = tmp_path / "other"
        other.mkdir()
        monkeypatch.chdir(other)
        rt_run.store = other / "ledger.sqlite"
    code, again = rt_run(HELPDESK)
    assert code == 0
    assert again["delivery"]["tickets_created"] == 0
    assert again["delivery"]["messages_added"] == 0
    assert again["delivery"]["tickets_present"] == 17
    assert sum(len(reader.transactions(t)) for t in tickets_in(reader, rt_queue)) == txns
    check_state(reader, rt_queue, again, message_lines=True)


def test_a_store_is_refused_against_another_rt_at_the_same_url(rt_run, rt, rt_queue, reader,
                                                               capsys):
    """The same URL, another RT: here the queue was replaced by a new one of the same name."""
    code, _ = rt_run(HELPDESK)
    assert code == 0
    s = rt.session()
    qid = s.get(rt.url + f"/REST/2.0/queue/{rt_queue}").json()["id"]
    assert s.put(rt.url + f"/REST/2.0/queue/{qid}", json={"Name": rt_queue + "-old"}).ok
    make_queue(rt, rt_queue)
    capsys.readouterr()
    with pytest.raises(FileNotFoundError):
        rt_run(HELPDESK)                  # refused: no report written
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "belongs to RT" in err and "use a new --store" in err
    assert tickets_in(reader, rt_queue) == {}
    assert main(["status", "--store", str(rt_run.store)]) == 0
    assert f"(id {qid}," in capsys.readouterr().out
