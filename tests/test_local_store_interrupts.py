"""Interrupted at every write point of a local import (fault injection, not luck), the rerun
ends identical to a clean run: a thread's ticket, entries, attachments and ledger rows
commit together or not at all, and nothing half-written is ever left behind."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3

import pytest

from importer.cli import main
from importer.store import schema

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class Interrupting(sqlite3.Connection):
    """Raises KeyboardInterrupt (Ctrl-C) at the `stop`-th write statement of the process."""

    seen = 0
    stop: int | None = None

    def _count(self, sql: str) -> None:
        if sql.lstrip().upper().startswith(WRITES):
            Interrupting.seen += 1
            if Interrupting.seen == Interrupting.stop:
                raise KeyboardInterrupt

    def execute(self, sql, *args):
        self._count(sql)
        return super().execute(sql, *args)

    def executemany(self, sql, *args):
        self._count(sql)
        return super().executemany(sql, *args)


@pytest.fixture
def interrupting(monkeypatch):
    real = sqlite3.connect

    def connect(*args, **kwargs):
        return real(*args, factory=Interrupting, **kwargs)
    monkeypatch.setattr(schema.sqlite3, "connect", connect)
    Interrupting.seen, Interrupting.stop = 0, None
    return Interrupting


def _archive(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(os.path.join(FIXTURES, "helpdesk"), src / "helpdesk")
    shutil.copy(os.path.join(FIXTURES, "encoded-words-many-charsets.eml"), src)
    shutil.copy(os.path.join(FIXTURES, "garbage-not-mail.mbox"), src)
    return src


def _run(src, store, *extra):
    return main(["run", "--quiet", "--config", os.path.join(FIXTURES, "helpdesk.yaml"),
                 "--store", str(store), "--report", str(store) + ".json", *extra, str(src)])


def dump(store) -> dict:
    """The store's contents with row ids left out (a rolled-back id may be used again)."""
    c = sqlite3.connect(store)
    if "tickets" not in {r[0] for r in c.execute("SELECT name FROM sqlite_master")}:
        from importer.store.schema import ensure_local_tables
        c.close()
        c = sqlite3.connect(":memory:")
        c.execute(f"ATTACH DATABASE '{store}' AS s")
        for table in ("ledger_threads", "ledger_messages", "quarantine"):
            c.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM s.{table}")
        ensure_local_tables(c)
    sha = lambda b: hashlib.sha256(b).hexdigest()   # noqa: E731
    tickets = sorted(c.execute("SELECT thread_id, queue, subject, status, requestors, created,"
                               " resolved FROM tickets"))
    entries = sorted(c.execute(
        "SELECT t.thread_id, e.position, e.message_id, e.author, e.recipients, e.date,"
        " e.subject, e.body, e.html, e.sha256, length(e.raw) FROM entries e"
        " JOIN tickets t ON t.id = e.ticket_id"))
    atts = sorted((e, p, n, t, s, sha(d)) for e, p, n, t, s, d in c.execute(
        "SELECT e.sha256, a.position, a.filename, a.content_type, a.size, a.data"
        " FROM attachments a JOIN entries e ON e.id = a.entry_id"))
    threads = sorted(c.execute("SELECT thread_id, state, finished, first_date FROM ledger_threads"))
    messages = sorted(c.execute("SELECT message_key, message_id, thread_id, state, date"
                                " FROM ledger_messages"))
    quarantine = sorted(c.execute("SELECT sha256, path, idx, reason FROM quarantine"))
    orphans = c.execute("SELECT count(*) FROM entries WHERE ticket_id NOT IN"
                        " (SELECT id FROM tickets)").fetchone()[0]
    c.close()
    return {"tickets": tickets, "entries": entries, "attachments": atts, "threads": threads,
            "messages": messages, "quarantine": quarantine, "orphans": orphans}


def test_every_write_point_interrupted_then_rerun_ends_as_a_clean_run(tmp_path, interrupting):
    src = _archive(tmp_path)
    clean = tmp_path / "clean.sqlite"
    assert _run(src, clean) == 0
    points = interrupting.seen
    expected = dump(clean)
    assert expected["tickets"] and expected["attachments"] and expected["quarantine"]
    # Every write point of the first threads, then every few: each kind of step (ticket,
    # entry, attachment, ledger row, finish) is interrupted many times over.
    stops = sorted(set(range(1, min(points, 60) + 1)) | set(range(60, points + 1, 9)))
    assert len(stops) >= 50
    for stop in stops:
        store = tmp_path / f"cut-{stop}.sqlite"
        interrupting.seen, interrupting.stop = 0, stop
        assert _run(src, store) == 130, stop
        interrupting.stop = None
        half = dump(store)
        assert half["orphans"] == 0
        done = {t for t, state, finished, _ in half["threads"] if state == "done"}
        assert {t[0] for t in half["tickets"]} <= done | {t for t, *_ in half["threads"]}
        assert all(t[3] != "open" for t in half["tickets"]), stop   # none left half made
        assert _run(src, store) == 0, stop
        assert dump(store) == expected, stop
        store.unlink()


def test_a_thread_failing_inside_a_batch_is_undone_alone_and_a_rerun_finishes_it(
        tmp_path, monkeypatch):
    """Threads commit in batches (deliver.BATCH_THREADS); each is a savepoint inside. A
    thread whose third message fails after its ticket and two entries were written leaves
    nothing of itself, is recorded as failed, and the threads around it in the same batch
    commit; the rerun then ends as a clean run."""
    from importer.backends.local import LocalBackend
    from importer.errors import BackendError
    src = _archive(tmp_path)
    clean = tmp_path / "clean.sqlite"
    assert _run(src, clean) == 0
    c = sqlite3.connect(clean)
    victim, = c.execute("SELECT thread_id FROM tickets t WHERE (SELECT count(*) FROM entries"
                        " WHERE ticket_id = t.id) >= 3 ORDER BY id LIMIT 1").fetchone()
    third, = c.execute("SELECT e.message_id FROM entries e JOIN tickets t ON t.id = e.ticket_id"
                       " WHERE t.thread_id = ? AND e.position = 2", (victim,)).fetchone()
    total = c.execute("SELECT count(*) FROM tickets").fetchone()[0]
    c.close()
    real = LocalBackend.add_message

    def add_message(self, ticket, msg, *, incremental):
        if msg.message_id == third:
            raise BackendError("the disk said no", message_id=msg.message_id)
        return real(self, ticket, msg, incremental=incremental)
    monkeypatch.setattr(LocalBackend, "add_message", add_message)
    store = tmp_path / "s.sqlite"
    assert _run(src, store) == 3                        # some threads failed
    c = sqlite3.connect(store)
    assert c.execute("SELECT count(*) FROM tickets WHERE thread_id = ?", (victim,)).fetchone() == (0,)
    assert c.execute("SELECT count(*) FROM tickets").fetchone() == (total - 1,)
    assert c.execute("SELECT state FROM ledger_threads WHERE thread_id = ?",
                     (victim,)).fetchone() == ("failed",)
    assert c.execute("SELECT count(*) FROM entries WHERE ticket_id NOT IN"
                     " (SELECT id FROM tickets)").fetchone() == (0,)
    c.close()
    monkeypatch.setattr(LocalBackend, "add_message", real)
    assert _run(src, store) == 0
    assert dump(store) == dump(clean)
