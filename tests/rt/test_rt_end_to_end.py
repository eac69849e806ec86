"""The whole command against a real RT: the help-desk fixture and a generated archive.

Tickets = threads in the report, every message present once, dates and requestors
right, zero mails, a rerun creates nothing, and an import killed with SIGKILL half
way through and run again ends in the same state.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime

import pytest

from importer.cli import main
from rthelpers import rt_datetime

pytestmark = pytest.mark.rt

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HELPDESK = os.path.join(ROOT, "fixtures", "helpdesk")


@pytest.fixture
def rt_run(rt_env, rt_queue, no_mail, tmp_path, monkeypatch):
    """Runs `archive-import` with an RT config; returns (exit code, report)."""
    for key, value in rt_env.items():
        monkeypatch.setenv(key, value)
    config = tmp_path / "rt.yaml"

    def run(*sources, workers=1, command="run"):
        config.write_text(f"backend: {{kind: rt}}\nstaff: {{domains: [example.org]}}\n"
                          f"rt: {{queue: {rt_queue}, workers: {workers}, retries: 2}}\n")
        report = tmp_path / f"{command}.json"
        code = main([command, "--quiet", "--config", str(config), "--store",
                     str(tmp_path / "ledger.sqlite"), "--report", str(report), *sources])
        return code, json.loads(report.read_text())
    run.config, run.store = config, tmp_path / "ledger.sqlite"
    return run


def tickets_in(reader, queue):
    return {t["id"]: reader.ticket(t["id"])
            for t in reader.items("/tickets", query=f"Queue = '{queue}'")}


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
        assert rt_datetime(t["Created"]) == datetime.fromisoformat(thread["first_date"])
        assert rt_datetime(t["Resolved"]) == datetime.fromisoformat(thread["last_date"])
        assert len(reader.transactions(tid)) == len(thread["messages"])
        if message_lines:
            texts = [reader.content(a["id"]).decode("utf-8", "replace")
                     for a in reader.attachments(tid)
                     if a["ContentType"] == "text/plain" and not a["Filename"]]
            ids = [m for text in texts for m in re.findall(r"^Message-ID: <(.*)>$", text, re.M)]
            assert sorted(ids) == sorted(m["message_id"] for m in thread["messages"])


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


def test_generated_archive_killed_half_way_and_rerun_ends_complete(rt_run, reader, rt_queue,
                                                                   tmp_path):
    mbox = tmp_path / "generated.mbox"
    generate(mbox, 200)
    rt_run.config.write_text(f"backend: {{kind: rt}}\nstaff: {{domains: [example.org]}}\n"
                             f"rt: {{queue: {rt_queue}, workers: 2}}\n")
    child = subprocess.Popen(
        [sys.executable, "-m", "importer", "run", "--quiet", "--config", str(rt_run.config),
         "--store", str(rt_run.store), "--report", str(tmp_path / "killed.json"), str(mbox)],
        env=os.environ.copy(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    done = 0
    while done < 60 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.5)
        if rt_run.store.exists():
            try:
                with sqlite3.connect(f"file:{rt_run.store}?mode=ro", uri=True) as c:
                    done = c.execute("SELECT count(*) FROM ledger_threads WHERE state='done'"
                                     ).fetchone()[0]
            except sqlite3.OperationalError:
                pass
    assert child.poll() is None, child.stderr.read().decode()
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert not (tmp_path / "killed.json").exists()      # the report is written whole or not at all
    code, report = rt_run(str(mbox), workers=2)
    assert code == 0
    assert report["summary"]["threads"] == 200
    assert report["delivery"]["tickets_present"] >= 60
    check_state(reader, rt_queue, report, message_lines=False)
