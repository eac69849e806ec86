"""The ledger: which thread became which ticket and which message which entry.

It lives in the store file (SQLite), so that running the same command again
creates nothing new, and an interrupted run resumes where it stopped. Every
step is written *before* it is attempted ("creating", "adding") and again when
it is done, so after a crash the driver knows which answers may have been lost
and asks the backend what it actually did (see deliver.py).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from datetime import datetime, timezone

from importer.errors import StoreError

FORMAT = "archive-import-store/1"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, started TEXT NOT NULL, finished TEXT, command TEXT NOT NULL,
    destination TEXT NOT NULL, sources TEXT NOT NULL, outcome TEXT,
    messages_read INTEGER, threads INTEGER, tickets_created INTEGER,
    tickets_present INTEGER, messages_added INTEGER, threads_failed INTEGER);
CREATE TABLE IF NOT EXISTS ledger_threads (
    destination TEXT NOT NULL, thread_id TEXT NOT NULL, ticket_id TEXT,
    state TEXT NOT NULL CHECK (state IN ('creating', 'open', 'done', 'failed')),
    error TEXT, updated TEXT NOT NULL, PRIMARY KEY (destination, thread_id));
CREATE TABLE IF NOT EXISTS ledger_messages (
    destination TEXT NOT NULL, message_key TEXT NOT NULL, message_id TEXT NOT NULL,
    thread_id TEXT NOT NULL, ticket_id TEXT, entry_id TEXT,
    state TEXT NOT NULL CHECK (state IN ('adding', 'done')),
    PRIMARY KEY (destination, message_key));
CREATE TABLE IF NOT EXISTS quarantine (
    sha256 TEXT PRIMARY KEY, path TEXT NOT NULL, idx INTEGER NOT NULL, offset INTEGER,
    reason TEXT NOT NULL, raw BLOB NOT NULL, first_seen TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ledger_messages_by_id ON ledger_messages (destination, message_id);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def open_store(path: str, *, readonly: bool = False) -> sqlite3.Connection:
    """Open (or create) the store file and check that it is ours."""
    if readonly:
        if not os.path.exists(path):
            conn = sqlite3.connect(":memory:", check_same_thread=False)
            conn.executescript(SCHEMA)
            return conn
        uri = "file:" + os.path.abspath(path) + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
    else:
        try:
            conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the store: {exc}") from exc
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "meta" not in tables:
            raise StoreError(f"{path}: is an SQLite file but not an archive-import store")
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(SCHEMA)
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (FORMAT,))
            conn.commit()
        fmt = conn.execute("SELECT value FROM meta WHERE key='format'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a usable store ({exc})") from exc
    if fmt and fmt[0] != FORMAT:
        raise StoreError(f"{path}: store format {fmt[0]!r}, this version reads {FORMAT!r}")
    return conn


class Ledger:
    """Thread-safe view of the ledger tables for one destination (a backend + queue)."""

    def __init__(self, conn: sqlite3.Connection, destination: str, *, readonly: bool = False):
        self.conn, self.destination, self.readonly = conn, destination, readonly
        self.lock = threading.RLock()
        self.fresh = False

    def begin_delivery(self) -> None:
        """Note whether anything is recorded for this destination yet.

        If not (a first run, or any dry run without a store), every thread and message of
        this delivery is new, since a run holds each of them once: the per-message lookups
        are skipped until the next delivery. They cost 15% of a dry run.
        """
        with self.lock:
            self.fresh = not any(self.conn.execute(
                f"SELECT 1 FROM {table} WHERE destination=? LIMIT 1",
                (self.destination,)).fetchone()
                for table in ("ledger_threads", "ledger_messages"))

    # -- reading -----------------------------------------------------------
    def thread_state(self, thread_id: str) -> tuple[str | None, str | None]:
        """(ticket id, state) recorded for a thread, or (None, None)."""
        return self._pair("SELECT ticket_id, state FROM ledger_threads"
                          " WHERE destination=? AND thread_id=?", thread_id)

    def ticket_for_keys(self, keys) -> str | None:
        """The ticket already holding any of these messages (by content key)."""
        return self._first("message_key", keys)

    def ticket_for_ids(self, message_ids) -> str | None:
        """The ticket already holding a message with any of these Message-IDs."""
        return self._first("message_id", message_ids)

    def _first(self, column: str, values) -> str | None:
        if self.fresh:
            return None
        with self.lock:
            for value in sorted(values):
                row = self.conn.execute(
                    f"SELECT ticket_id FROM ledger_messages WHERE destination=? AND {column}=?"
                    " AND ticket_id IS NOT NULL AND state='done' ORDER BY rowid LIMIT 1",
                    (self.destination, value)).fetchone()
                if row:
                    return row[0]
        return None

    def message_state(self, key: str) -> tuple[str | None, str | None]:
        """(entry id, state) of a message, or (None, None)."""
        return self._pair("SELECT entry_id, state FROM ledger_messages"
                          " WHERE destination=? AND message_key=?", key)

    def _pair(self, sql: str, key: str) -> tuple[str | None, str | None]:
        if self.fresh:
            return None, None
        with self.lock:
            row = self.conn.execute(sql, (self.destination, key)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def pin(self, name: str, value: str) -> str:
        """The value a setting had when this destination was first filled (kept from then on).

        Messages are known to the ledger by keys whose form depends on such settings (the
        dedupe switch): changing one between runs would make every message look new.
        """
        key = f"{name}:{self.destination}"
        with self.lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
            if row:
                return row[0]
            if not self.readonly:
                self.conn.execute("INSERT INTO meta VALUES (?, ?)", (key, value))
                self.conn.commit()
        return value

    # -- writing (no-ops when read-only: the dry run records nothing) -------
    def _write(self, sql: str, args: tuple, *, commit: bool = True) -> None:
        if self.readonly:
            return
        with self.lock:
            self.conn.execute(sql, args)
            if commit:
                self.conn.commit()

    def set_thread(self, thread_id: str, ticket_id: str | None, state: str,
                   error: str | None = None, *, commit: bool = True) -> None:
        self._write(
            "INSERT INTO ledger_threads VALUES (?,?,?,?,?,?) ON CONFLICT (destination, thread_id)"
            " DO UPDATE SET ticket_id=coalesce(excluded.ticket_id, ticket_id), state=excluded.state,"
            " error=excluded.error, updated=excluded.updated",
            (self.destination, thread_id, ticket_id, state, error, _now()), commit=commit)

    def set_message(self, key: str, message_id: str, thread_id: str, ticket_id: str | None,
                    entry_id: str | None, state: str, *, commit: bool = True) -> None:
        self._write(
            "INSERT INTO ledger_messages VALUES (?,?,?,?,?,?,?) ON CONFLICT (destination, message_key)"
            " DO UPDATE SET ticket_id=excluded.ticket_id, entry_id=excluded.entry_id,"
            " state=excluded.state, thread_id=excluded.thread_id",
            (self.destination, key, message_id, thread_id, ticket_id, entry_id, state),
            commit=commit)

    def keep_quarantined(self, source, reason: str, sha256: str, raw: bytes) -> None:
        """Keep the raw bytes of what could not be imported, once per content."""
        self._write("INSERT OR IGNORE INTO quarantine VALUES (?,?,?,?,?,?,?)",
                    (sha256, source.path, source.index, source.offset, reason, raw, _now()),
                    commit=False)

    def commit(self) -> None:
        if not self.readonly:
            with self.lock:
                self.conn.commit()

    def start_run(self, command: str, sources: list[str]) -> int | None:
        if self.readonly:
            return None
        with self.lock:
            cur = self.conn.execute(
                "INSERT INTO runs (started, command, destination, sources) VALUES (?,?,?,?)",
                (_now(), command, self.destination, "\n".join(sources)))
            self.conn.commit()
            return cur.lastrowid

    def finish_run(self, run_id: int | None, outcome: str, counts: dict) -> None:
        if run_id is None or self.readonly:
            return
        cols = ("messages_read", "threads", "tickets_created", "tickets_present",
                "messages_added", "threads_failed")
        with self.lock:
            self.conn.execute(
                "UPDATE runs SET finished=?, outcome=?, " + ", ".join(f"{c}=?" for c in cols)
                + " WHERE id=?", (_now(), outcome, *(counts.get(c, 0) for c in cols), run_id))
            self.conn.commit()


def summarize(conn: sqlite3.Connection) -> dict:
    """What the ledger knows, for `archive-import status`."""
    runs = [dict(zip(("id", "started", "finished", "command", "destination", "outcome",
                      "messages_read", "threads", "tickets_created", "tickets_present",
                      "messages_added", "threads_failed"), row))
            for row in conn.execute(
                "SELECT id, started, finished, command, destination, outcome, messages_read,"
                " threads, tickets_created, tickets_present, messages_added, threads_failed"
                " FROM runs ORDER BY id")]
    threads: dict[str, dict] = {}
    for dest, state, count in conn.execute(
            "SELECT destination, state, count(*) FROM ledger_threads GROUP BY destination, state"):
        threads.setdefault(dest, {"done": 0, "pending": 0, "failed": 0})
        key = {"done": "done", "failed": "failed"}.get(state, "pending")
        threads[dest][key] += count
    failures = [dict(zip(("destination", "thread_id", "error"), row)) for row in conn.execute(
        "SELECT destination, thread_id, error FROM ledger_threads WHERE state='failed'"
        " ORDER BY destination, thread_id LIMIT 50")]
    messages = dict(conn.execute(
        "SELECT destination, count(*) FROM ledger_messages WHERE state='done'"
        " GROUP BY destination").fetchall())
    return {"runs": runs, "threads": threads, "messages": messages, "failures": failures}
