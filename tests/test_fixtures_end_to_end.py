"""The shipped fixtures imported end to end and compared with fixtures/expected.json.

expected.json is written by tools/make_fixtures.py from the same source as the
archives, so every count, thread and requestor below is derived, not typed in.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys

import pytest

from importer.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "fixtures")
with open(os.path.join(FIXTURES, "expected.json"), encoding="utf-8") as _fp:
    EXPECTED = json.load(_fp)
CONFIG = os.path.join(FIXTURES, "helpdesk.yaml")


def _import(tmp_path, unit: str, command="run"):
    store, report = tmp_path / f"{command}.sqlite", tmp_path / f"{command}.json"
    source = os.path.normpath(os.path.join(FIXTURES, unit))
    code = main([command, "--quiet", "--config", CONFIG, "--store", str(store),
                 "--report", str(report), source])
    with open(report, encoding="utf-8") as fp:
        return code, json.load(fp), store


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    return _import(tmp_path_factory.mktemp("fixtures"), ".")


def test_generated_fixtures_match_their_generator():
    done = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_fixtures.py"),
                           "--check"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("unit", sorted(EXPECTED["units"]))
def test_each_fixture_gives_the_expected_counts(tmp_path, unit):
    want = EXPECTED["units"][unit]
    code, rep, _ = _import(tmp_path, unit, "dry-run")
    assert code == 0
    s = rep["summary"]
    assert (s["messages_read"], s["messages_unique"], s["duplicates"], s["quarantined"],
            s["threads"]) == (want["messages_read"], want["unique"], want["duplicates"],
                              want["quarantined"], want["threads"])
    assert sum(len(t["ghosts"]) for t in rep["threads"]) == want["ghosts"]


def test_whole_folder_threads_and_requestors(whole):
    code, rep, _ = whole
    assert code == 0
    holding = {}
    for t in rep["threads"]:
        for m in t["messages"]:
            # A message without a Message-ID has a synthetic one; it is found by its subject.
            holding.setdefault(m["subject"] if m["synthetic_id"] else m["message_id"], []).append(t)
    for tag, want in EXPECTED["threads"].items():
        candidates = holding[want["root_message_id"] or want["subject"]]
        # Imposters share a Message-ID: their threads are told apart by subject.
        got = next(t for t in candidates if len(candidates) == 1 or t["subject"] == want["subject"])
        if want["requestors"] is not None:     # set for the help desk's threads
            assert got["requestors"] == want["requestors"], tag
        assert len(got["messages"]) == want["messages"], tag
        assert got["first_date"] == want["first_date"], tag


def test_whole_folder_messages_dates_and_sources(whole):
    _, rep, _ = whole
    placed = {(os.path.relpath(m["source"]["path"], FIXTURES), m["source"]["index"]): m
              for t in rep["threads"] for m in t["messages"]}
    dropped = {(os.path.relpath(d["dropped"]["path"], FIXTURES), d["dropped"]["index"])
               for d in rep["duplicates"]}
    for want in EXPECTED["messages"]:
        if want["kind"] != "message":
            continue
        key = (want["path"], want["index"])
        if key in dropped:
            continue
        got = placed[key]
        assert got["sha256"] == want["raw_sha256"], key
        assert got["date_source"] == want["date_source"], key
        assert got["date"] == want["date"], key
        assert got["subject"] == want["subject"], key


def test_whole_folder_store_holds_every_message_once_byte_exact(whole):
    _, rep, store = whole
    conn = sqlite3.connect(store)
    assert conn.execute("SELECT count(*) FROM tickets").fetchone()[0] == rep["summary"]["threads"]
    rows = conn.execute("SELECT sha256, raw FROM entries").fetchall()
    assert len(rows) == rep["summary"]["messages_unique"]
    assert all(hashlib.sha256(raw).hexdigest() == sha for sha, raw in rows)
    reported = sorted(m["sha256"] for t in rep["threads"] for m in t["messages"])
    assert sorted(sha for sha, _ in rows) == reported
    (quarantined,) = conn.execute("SELECT count(*) FROM quarantine").fetchone()
    assert quarantined == len({q["sha256"] for q in rep["quarantine"]})


def test_documentation_beside_the_archives_is_listed_not_quarantined(whole):
    _, rep, _ = whole
    names = {os.path.basename(f["path"]): f for f in rep["files"]}
    for name in ("README.md", "expected.json", "helpdesk.yaml"):
        assert names[name]["messages"] == names[name]["unreadable"] == 0
        assert names[name]["notes"]
