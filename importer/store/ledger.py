"""The ledger: which thread became which ticket and which message which entry.

It lives in the store file (SQLite), so that running the same command again
creates nothing new, and an interrupted run resumes where it stopped. Every
step is written *before* it is attempted ("creating", "adding") and again when
it is done, so after a crash the driver knows which answers may have been lost
and asks the backend what it actually did (see deliver.py).
"""

from __future__ import annotations

import contextlib
import itertools
import enum
import sqlite3
import threading
from typing import Iterator
from datetime import datetime, timezone

from importer.mail.dates import iso
from importer.errors import StoreError

class ThreadState(enum.StrEnum):
    """A thread's step in the ledger (the `ledger_threads.state` column)."""

    CREATING = "creating"   # a create was sent: its answer may be lost, look before creating
    OPEN = "open"           # the ticket exists and holds some messages
    DONE = "done"           # every message in, status, dates and requestors set
    FAILED = "failed"       # the last try failed; `finished` still says if it was ever done


class MessageState(enum.StrEnum):
    """A message's step in the ledger (the `ledger_messages.state` column)."""

    ADDING = "adding"       # sent: its answer may be lost, look before adding again
    DONE = "done"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Ledger:
    """Thread-safe view of the ledger tables for one destination (a backend + queue)."""

    def __init__(self, conn: sqlite3.Connection, destination: str, *, readonly: bool = False):
        self.conn, self.destination, self.readonly = conn, destination, readonly
        self.lock = threading.RLock()
        self.fresh = False
        self._atomic = 0          # depth of atomic() blocks open

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """Everything written inside commits together or not at all (the local backend's
        thread: its ticket, entries, attachments and these rows share the store file).
        An interruption at any point, Ctrl-C or kill -9, leaves no half-written ticket."""
        if self.readonly:
            yield
            return
        with self.lock:
            outer = self._atomic == 0
            self._atomic += 1
            # The outermost block is the transaction; one inside it (a thread inside a batch
            # of threads) is a savepoint, undone alone when it fails.
            name = f"atomic{self._atomic}"
            self.conn.execute("BEGIN IMMEDIATE" if outer else f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            with self.lock:
                self._atomic -= 1
                if outer:
                    self.conn.execute("ROLLBACK")
                else:
                    self.conn.execute(f"ROLLBACK TO {name}")
                    self.conn.execute(f"RELEASE {name}")
            raise
        with self.lock:
            self._atomic -= 1
            self.conn.execute("COMMIT" if outer else f"RELEASE {name}")

    def begin_delivery(self) -> None:
        """Note whether anything is recorded for this destination yet.

        If not (a first run, or any dry run without a store), every thread and message of
        this delivery is new, since a run holds each of them once: the per-message lookups
        are skipped until the next delivery. They cost 15% of a dry run.
        """
        self.fresh = self.is_empty()

    # -- reading -----------------------------------------------------------
    def thread_state(self, thread_id: str) -> tuple[str | None, str | None, bool]:
        """(ticket id, state, finished) recorded for a thread, or (None, None, False).

        `finished` says that the ticket's status, dates and requestors were set once: from
        then on it only ever gets comments, whatever fails later (a correspondence would
        mail the requestors)."""
        if self.fresh:
            return None, None, False
        with self.lock:
            row = self.conn.execute(
                "SELECT ticket_id, state, finished FROM ledger_threads"
                " WHERE destination=? AND thread_id=?", (self.destination, thread_id)).fetchone()
        return (row[0], row[1], bool(row[2])) if row else (None, None, False)

    def ticket_finished(self, ticket_id: str) -> bool:
        """Whether any thread recorded for this ticket was finished."""
        with self.lock:
            row = self.conn.execute(
                "SELECT max(finished) FROM ledger_threads WHERE destination=? AND ticket_id=?",
                (self.destination, ticket_id)).fetchone()
        return bool(row and row[0])

    def owner_of(self, ticket_id: str) -> str | None:
        """The thread the ticket was made for (the first one recorded with it)."""
        with self.lock:
            row = self.conn.execute(
                "SELECT thread_id FROM ledger_threads WHERE destination=? AND ticket_id=?"
                " ORDER BY rowid LIMIT 1", (self.destination, ticket_id)).fetchone()
            if row is None:
                row = self.conn.execute(
                    "SELECT thread_id FROM ledger_messages WHERE destination=? AND ticket_id=?"
                    " ORDER BY rowid LIMIT 1", (self.destination, ticket_id)).fetchone()
        return row[0] if row else None

    def ticket_count(self) -> int:
        """How many tickets the ledger knows for this destination."""
        with self.lock:
            return self.conn.execute(
                "SELECT count(DISTINCT ticket_id) FROM ledger_threads WHERE destination=?",
                (self.destination,)).fetchone()[0]

    def is_empty(self) -> bool:
        """Nothing recorded for this destination."""
        with self.lock:
            return not any(self.conn.execute(
                f"SELECT 1 FROM {table} WHERE destination=? LIMIT 1",
                (self.destination,)).fetchone() for table in ("ledger_threads", "ledger_messages"))

    def bind(self, identity: str | None, store: str) -> None:
        """Record which destination this store belongs to; refuse another one.

        A store is a cache of what one RT queue holds. Trusted against another RT at the
        same URL (reinstalled, restored, a test server) it would call threads "already
        present" that are not, and append replies to strangers' tickets."""
        if identity is None:
            return
        key = f"identity:{self.destination}"
        with self.lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
            if row is None:
                if not self.readonly:
                    self.conn.execute("INSERT INTO meta VALUES (?, ?)", (key, identity))
                return
        if row[0] != identity:
            raise StoreError(f"{store} belongs to {row[0]}, but the destination now is "
                             f"{identity}: use a new --store for it (the tickets already "
                             "there are found again), or delete the old store if that RT is gone")

    def identity(self) -> str | None:
        with self.lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key=?",
                                    (f"identity:{self.destination}",)).fetchone()
        return row[0] if row else None

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
        return value

    # -- writing (no-ops when read-only: the dry run records nothing) -------
    def _write(self, sql: str, args: tuple) -> None:
        if self.readonly:
            return
        with self.lock:
            self.conn.execute(sql, args)

    def set_thread(self, thread_id: str, ticket_id: str | None, state: str,
                   error: str | None = None, *, finished: bool = False, first_date=None) -> None:
        """Record a thread's step. A finished ticket stays finished ("failed" after it only
        says that a later addition failed), and its ticket id is never forgotten."""
        self._write(
            "INSERT INTO ledger_threads (destination, thread_id, ticket_id, state, error,"
            " updated, finished, first_date) VALUES (?,?,?,?,?,?,?,?)"
            " ON CONFLICT (destination, thread_id) DO UPDATE SET"
            " ticket_id=coalesce(excluded.ticket_id, ticket_id),"
            " state=CASE WHEN finished AND excluded.state IN ('creating') THEN state"
            " ELSE excluded.state END,"
            " error=excluded.error, updated=excluded.updated,"
            " finished=max(finished, excluded.finished),"
            " first_date=coalesce(excluded.first_date, first_date)",
            (self.destination, thread_id, ticket_id, state, error, _now(), int(finished),
             iso(first_date)))

    def set_message(self, key: str, message_id: str, thread_id: str, ticket_id: str | None,
                    entry_id: str | None, state: str, *, date=None) -> None:
        self._write(
            "INSERT INTO ledger_messages (destination, message_key, message_id, thread_id,"
            " ticket_id, entry_id, state, date) VALUES (?,?,?,?,?,?,?,?)"
            " ON CONFLICT (destination, message_key)"
            " DO UPDATE SET ticket_id=excluded.ticket_id, entry_id=excluded.entry_id,"
            " state=excluded.state, thread_id=excluded.thread_id,"
            " date=coalesce(excluded.date, date)",
            (self.destination, key, message_id, thread_id, ticket_id, entry_id, state,
             iso(date)))

    def record_sources(self, unique, duplicates, excluded, quarantine, dedupe: bool) -> None:
        """Where every message read came from and which ledger message it is, for
        `archive-import map` (store/sourcemap.py): a duplicate is the message of the copy
        kept, an excluded message none. One transaction; the dry run writes nothing."""
        if self.readonly:
            return
        from importer.deliver import message_key
        left_out = {(e.source.path, e.source.index) for e in excluded}
        # The key of each copy kept that has duplicates, by place (one message read each): a
        # dict of every record's place and key was 300 MB over a million messages.
        wanted = {(d.kept.path, d.kept.index) for d in duplicates}
        kept = {r.place: message_key(r, dedupe) for r in unique if r.place in wanted}
        dest = self.destination

        def row(r) -> tuple:
            src = r.source
            return (dest, src.path, src.index, src.offset, r.sha256, r.message_id,
                    message_key(r, dedupe),
                    "excluded" if (src.path, src.index) in left_out else "unique")
        rows = itertools.chain(   # streamed: millions of duplicates are never a list here
            map(row, unique),
            ((dest, d.dropped.path, d.dropped.index, d.dropped.offset, d.sha256, d.message_id,
              kept.get((d.kept.path, d.kept.index)), "duplicate") for d in duplicates),
            ((dest, q.source.path, q.source.index, q.source.offset, q.sha256, "", None,
              "quarantined") for q in quarantine))
        with self.atomic(), self.lock:
            self.conn.executemany("INSERT OR REPLACE INTO ledger_sources VALUES"
                                  " (?,?,?,?,?,?,?,?)", rows)

    def keep_quarantined(self, source, reason: str, sha256: str, raw: bytes | None,
                         length: int | None = None) -> None:
        """Keep what could not be imported, once per content: its raw bytes, or (raw None:
        too large to copy) a reference to its verified place in the source."""
        self._write("INSERT OR IGNORE INTO quarantine (sha256, path, idx, offset, reason, raw,"
                    " first_seen, length, kept) VALUES (?,?,?,?,?,?,?,?,?)",
                    (sha256, source.path, source.index, source.offset, reason, raw or b"",
                     _now(), length if raw is None else len(raw),
                     "source" if raw is None else "bytes"))

    @contextlib.contextmanager
    def run(self, command: str, sources: list[str]) -> Iterator[int | None]:
        """A run's row: started now; finished by finish_run, or marked "interrupted" when
        Ctrl-C, SIGTERM or SIGHUP ends it first (kill -9 leaves it unfinished)."""
        run_id = self.start_run(command, sources)
        try:
            yield run_id
        except KeyboardInterrupt:
            self.finish_run(run_id, "interrupted", {})
            raise
        except Exception:      # stopped by an error (a bad overrides id, an unreachable RT)
            with contextlib.suppress(sqlite3.Error):
                self.finish_run(run_id, "failed", {})
            raise

    def start_run(self, command: str, sources: list[str]) -> int | None:
        if self.readonly:
            return None
        with self.lock:
            cur = self.conn.execute(
                "INSERT INTO runs (started, command, destination, sources) VALUES (?,?,?,?)",
                (_now(), command, self.destination, "\n".join(sources)))
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


def dates_for(conn: sqlite3.Connection, destination: str):
    """(ticket id, first date, [(entry id, date)...]) for every ticket of a destination, from
    the ledger: the original dates a server-side step can give RT's own history."""
    tickets: dict[str, list] = {}
    for tid, first in conn.execute(
            "SELECT ticket_id, min(first_date) FROM ledger_threads WHERE destination=?"
            " AND ticket_id IS NOT NULL GROUP BY ticket_id", (destination,)):
        tickets[tid] = [first, []]
    for tid, entry, date in conn.execute(
            "SELECT ticket_id, entry_id, date FROM ledger_messages WHERE destination=?"
            " AND state='done' AND ticket_id IS NOT NULL AND entry_id IS NOT NULL"
            " ORDER BY rowid", (destination,)):
        tickets.setdefault(tid, [None, []])[1].append((entry, date))
    for tid in sorted(tickets, key=lambda t: (len(t), t)):
        first, entries = tickets[tid]
        yield tid, first, entries


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
    identities = {row[0][len("identity:"):]: row[1] for row in conn.execute(
        "SELECT key, value FROM meta WHERE key LIKE 'identity:%'")}
    return {"runs": runs, "threads": threads, "messages": messages, "failures": failures,
            "identities": identities}
