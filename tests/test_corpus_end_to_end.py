"""The corpus of difficult real mail, end to end: zero crashes and full accounting.

The corpus lives beside the repository (`../shared/corpora`), gathered by other mail
projects with their licences; it is not copied here. Skipped when absent.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3

import pytest

from importer.cli import main
from corpus import CORPUS, MARKS

pytestmark = MARKS


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("corpus")
    store, report = tmp / "corpus.sqlite", tmp / "corpus.json"
    code = main(["run", "--quiet", "--store", str(store), "--report", str(report), CORPUS])
    with open(report, encoding="utf-8") as fp:
        return code, json.load(fp), sqlite3.connect(store)


def test_corpus_imports_with_exit_zero_and_balanced_accounting(imported):
    code, rep, _ = imported
    assert code == 0
    s = rep["summary"]
    assert s["messages_read"] == s["messages_unique"] + s["duplicates"] + s["quarantined"]
    assert s["messages_read"] == sum(f["messages"] + f["unreadable"] for f in rep["files"])
    assert s["messages_unique"] > 100


def test_every_corpus_file_is_accounted_for(imported):
    _, rep, _ = imported
    found = set()
    for folder, _dirs, files in os.walk(CORPUS):
        found.update(os.path.join(folder, f) for f in files)
    reported = {os.path.normpath(f["path"]) for f in rep["files"]}
    assert {os.path.normpath(p) for p in found} <= reported


def test_every_stored_original_matches_its_reported_sha256(imported):
    _, rep, conn = imported
    stored = {}
    for mid, raw in conn.execute("SELECT message_id, raw FROM entries"):
        stored.setdefault(mid, set()).add(hashlib.sha256(raw).hexdigest())
    for t in rep["threads"]:
        for m in t["messages"]:
            assert m["sha256"] in stored[m["message_id"]]
    (count,) = conn.execute("SELECT count(*) FROM entries").fetchone()
    assert count == rep["summary"]["messages_unique"]


def test_no_surrogate_escapes_reach_the_report_or_the_store(imported):
    _, rep, conn = imported
    assert "\\udc" not in json.dumps(rep, ensure_ascii=True).lower().replace("\\\\udc", "")
    for author, subject, body in conn.execute("SELECT author, subject, body FROM entries"):
        for text in (author, subject, body):
            assert not any(0xDC80 <= ord(c) <= 0xDCFF for c in text)
