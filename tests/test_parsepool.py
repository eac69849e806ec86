"""The first pass on several cores gives exactly what it gives on one (order, records,
quarantine), with the workers' memory bounded by the window."""

from __future__ import annotations

import json
import os

from importer import parsepool
from importer.cli import main

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
