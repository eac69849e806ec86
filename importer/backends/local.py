"""The local store: tickets and their messages in one SQLite file (the default backend).

Tables `tickets`, `entries` (one per message, with the raw original byte-exact)
and `attachments`, declared with the ledger's in importer/store/schema.py. Each
step commits whole or not at all, so after a crash the ledger may lag one step
behind the store; the driver then asks lookup / find_message, exactly as it
does for a remote backend whose answer was lost.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from typing import Iterator

from importer.backends.base import Found, Kind
from importer.mail.dates import iso
from importer.errors import BackendError, MismatchError
from importer.store.schema import ensure_local_tables
from importer.records import MessageContent, ThreadPlan, TicketRef



class LocalBackend:
    """Backend protocol over the store's SQLite connection."""

    kind = Kind.LOCAL
    needs_content = True
    transactional = True       # writes into the store file: a thread commits as one
    imported_tickets = None    # the ledger lives in the same file: a lookup costs nothing

    def __init__(self, conn: sqlite3.Connection, *, queue: str = "archive",
                 status: str = "resolved"):
        self.conn, self.queue, self.status = conn, queue, status
        ensure_local_tables(conn)

    def ticket_ref(self, ticket_id: str) -> TicketRef:
        return TicketRef(self.kind, ticket_id)

    def open(self) -> None:
        return None        # the store is the destination: it cannot belong to another

    def facts(self) -> dict:
        return {}

    @contextlib.contextmanager
    def _step(self) -> Iterator[None]:
        """One step, committed whole or not at all: an interruption (Ctrl-C, an error) in
        the middle of it leaves nothing of it behind, never an entry without its files.
        A store that stays locked by another program is a transient failure (retried by
        the driver with `local.retries`)."""
        self.conn.execute("SAVEPOINT step")     # inside the thread's transaction, if any
        try:
            yield
        except BaseException as exc:
            self.conn.execute("ROLLBACK TO step")
            self.conn.execute("RELEASE step")
            if isinstance(exc, sqlite3.OperationalError) and (
                    "locked" in str(exc) or "busy" in str(exc)):
                raise BackendError(f"the store is busy: {exc}", transient=True,
                                   sent=False) from exc
            raise
        self.conn.execute("RELEASE step")

    def create_ticket(self, plan: ThreadPlan, first: MessageContent) -> tuple[TicketRef, str]:
        # Created but still "open" with no requestors until finish_ticket: the same order the
        # RT backend must follow so that nobody is mailed, kept here so both behave alike.
        with self._step():
            cur = self.conn.execute(
                "INSERT INTO tickets (thread_id, queue, subject, status, requestors, created)"
                " VALUES (?,?,?,?,?,?)",
                (plan.id, self.queue, plan.subject, "open", "[]", iso(plan.first_date)))
            ticket = self.ticket_ref(str(cur.lastrowid))
            entry = self._insert_entry(ticket, first)
        return ticket, entry

    def add_message(self, ticket: TicketRef, msg: MessageContent, *, incremental: bool) -> str:
        with self._step():
            entry = self._insert_entry(ticket, msg)
        return entry

    def _insert_entry(self, ticket: TicketRef, msg: MessageContent) -> str:
        (position,) = self.conn.execute(
            "SELECT count(*) FROM entries WHERE ticket_id=?", (int(ticket.id),)).fetchone()
        cur = self.conn.execute(
            "INSERT INTO entries (ticket_id, position, message_id, author, recipients, date,"
            " subject, body, html, sha256, raw) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (int(ticket.id), position + 1, msg.message_id, msg.from_,
             json.dumps({"to": msg.to, "cc": msg.cc}, ensure_ascii=False), iso(msg.date),
             msg.subject, msg.text, msg.html, hashlib.sha256(msg.raw).hexdigest(), msg.raw))
        entry_id = cur.lastrowid
        self.conn.executemany(
            "INSERT INTO attachments (entry_id, position, filename, content_type, size, data)"
            " VALUES (?,?,?,?,?,?)",
            [(entry_id, i + 1, a.filename, a.content_type, len(a.data), a.data)
             for i, a in enumerate(msg.attachments)])
        return str(entry_id)

    def finish_ticket(self, ticket: TicketRef, plan: ThreadPlan, *, created: bool) -> None:
        with self._step():
            if created:
                self.conn.execute(
                    "UPDATE tickets SET status=?, requestors=?, created=?, resolved=? WHERE id=?",
                    (self.status, json.dumps(list(plan.requestors)), iso(plan.first_date),
                     iso(plan.last_date), int(ticket.id)))
            else:
                # Incremental import: the status stays as it was; only the span grows.
                self.conn.execute(
                    "UPDATE tickets SET resolved=max(coalesce(resolved, ''), coalesce(?, ''))"
                    " WHERE id=? AND resolved IS NOT NULL", (iso(plan.last_date), int(ticket.id)))

    def lookup(self, plan: ThreadPlan) -> Found | None:
        row = self.conn.execute("SELECT id, status FROM tickets WHERE thread_id=? AND queue=?",
                                (plan.id, self.queue)).fetchone()
        return Found(self.ticket_ref(str(row[0])), row[1] != "open") if row else None

    def verify(self, ticket: TicketRef, owner: str | None) -> bool:
        row = self.conn.execute("SELECT thread_id, queue, status FROM tickets WHERE id=?",
                                (int(ticket.id),)).fetchone()
        if row is None or row[1] != self.queue or (owner is not None and row[0] != owner):
            raise MismatchError(f"local ticket {ticket.id} is not the one the ledger names"
                                f" for thread <{owner}>", ticket=ticket.id)
        return row[2] != "open"

    def find_message(self, ticket: TicketRef, msg: MessageContent) -> str | None:
        row = self.conn.execute(
            "SELECT id FROM entries WHERE ticket_id=? AND message_id=? AND sha256=?",
            (int(ticket.id), msg.message_id, hashlib.sha256(msg.raw).hexdigest())).fetchone()
        return str(row[0]) if row else None

    def close(self) -> None:
        pass        # every step committed itself, or left nothing: the store closes the file
