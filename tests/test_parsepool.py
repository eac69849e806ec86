"""The first pass on several cores gives exactly what it gives on one (order, records,
quarantine), with the workers' memory bounded by the window."""

from __future__ import annotations

import json
import os
import signal

import pytest

from importer import parsepool, sharing
from importer.cli import main
from importer.config import LimitsCfg, StaffCfg
from importer.read.archive import Archive

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")


def _report(tmp_path, name):
    path = tmp_path / f"{name}.json"
    assert main(["dry-run", "--quiet", "--config", os.path.join(FIXTURES, "helpdesk.yaml"),
                 "--store", str(tmp_path / f"{name}.sqlite"), "--report", str(path),
                 FIXTURES]) == 0
    rep = json.loads(path.read_text())
    rep["delivery"].pop("facts", None)
    rep.pop("meta")          # the time and the command line (its paths) differ by design
    return rep


def test_parsing_in_workers_gives_the_same_report(tmp_path, monkeypatch):
    one = _report(tmp_path, "one")
    monkeypatch.setattr(parsepool, "MIN_BYTES", 0)            # every input "large"
    monkeypatch.setattr(parsepool, "CHUNK_MESSAGES", 7)       # many chunks, a full window
    calls = []
    real = parsepool._done
    monkeypatch.setattr(parsepool, "_done", lambda entry: calls.append(1) or real(entry))
    many = _report(tmp_path, "many")
    assert len(calls) > 10                                    # it did run in workers
    assert many == one


def test_small_inputs_stay_in_one_process_and_large_ones_use_the_cores(monkeypatch):
    assert parsepool.workers_for(1 << 20) == 1
    monkeypatch.setattr(parsepool.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert parsepool.workers_for(parsepool.MIN_BYTES) == 2


def test_records_from_the_workers_share_equal_values_and_stay_equal():
    """A record arriving from a worker is unpickled with its ids, addresses and zone shared
    with the records before it (memory per message, not per copy of a string)."""
    import pickle
    from importer.parse import parse_record
    with Archive([os.path.join(FIXTURES, "helpdesk")]) as archive:
        recs = [r for r in (parse_record(item) for item in archive.scan())
                if hasattr(r, "message_id")]
    # Chunks are pickled apart, as parsepool sends them: nothing is shared by pickle's memo.
    with sharing.sharing():
        back = [pickle.loads(pickle.dumps(r)) for r in recs]
    assert back == recs
    apart = [pickle.loads(pickle.dumps(r)) for r in recs]       # outside the first pass
    assert apart == recs and not any(a.from_addr is b.from_addr for a, b in zip(apart, back))
    assert not sharing._STRINGS                                 # nothing kept: no leak
    by_id = {r.message_id: r for r in back}
    replies = [(r, by_id[r.in_reply_to[0]]) for r in back if r.in_reply_to and r.in_reply_to[0] in by_id]
    assert len(replies) > 10
    assert all(r.in_reply_to[0] is parent.message_id for r, parent in replies)
    pairs = [(a, b) for a in back for b in back if a is not b and a.from_addr == b.from_addr]
    assert pairs and all(a.from_addr is b.from_addr for a, b in pairs)
    zones = [(a.date, b.date) for a, b in pairs if a.date and b.date
             and a.date.utcoffset() == b.date.utcoffset()]
    assert zones and all(x.tzinfo is y.tzinfo for x, y in zones)


def _pool_workers() -> list[int]:
    """The pids of this process's forkserver's children: the parse pool's workers."""
    from multiprocessing import forkserver
    server = forkserver._forkserver._forkserver_pid
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == server:
                found.append(int(entry))
    return found


def test_a_killed_parse_worker_costs_nothing_each_message_parsed_once_in_order(
        monkeypatch, caplog):
    if not os.path.isdir("/proc"):
        pytest.skip("needs /proc to find the pool's workers")
    limits, staff = LimitsCfg(), StaffCfg()
    monkeypatch.setattr(parsepool, "CHUNK_MESSAGES", 5)
    with Archive([FIXTURES]) as archive:
        items = list(archive.scan())
    expected = [(item, parsepool._here(item, limits, staff)) for item in items]
    got, killed = [], []
    for pair in parsepool.parsed(iter(items), limits, staff, 2):
        got.append(pair)
        if len(got) == 3:
            killed = _pool_workers()
            for pid in killed:
                os.kill(pid, signal.SIGKILL)
    assert killed
    assert [item for item, _ in got] == items             # each once, in order
    assert [rec for _, rec in got] == [rec for _, rec in expected]
    assert "a parse worker died" in caplog.text
