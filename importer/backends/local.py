"""The local store: tickets and their messages in one SQLite file (the default backend).

Schema (documented in ARCHITECTURE.md): `tickets`, `entries` (one per message,
with the raw original byte-exact), `attachments`. The ledger tables live in the
same file (importer/ledger.py). Each call commits, so after a crash the ledger
may lag one step behind the store; the driver then asks find_ticket /
find_message, exactly as it does for a remote backend whose answer was lost.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3

from importer.backends.base import Found
from importer.mail.dates import iso
from importer.errors import MismatchError
from importer.records import MessageContent, ThreadPlan, TicketRef

SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY, thread_id TEXT NOT NULL UNIQUE, queue TEXT NOT NULL,
    subject TEXT NOT NULL, status TEXT NOT NULL, requestors TEXT NOT NULL,
    created TEXT, resolved TEXT);
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY, ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    position INTEGER NOT NULL, message_id TEXT NOT NULL, author TEXT NOT NULL,
    recipients TEXT NOT NULL, date TEXT, subject TEXT NOT NULL, body TEXT NOT NULL,
    html TEXT, sha256 TEXT NOT NULL, raw BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS entries_by_ticket ON entries (ticket_id, position);
CREATE TABLE IF NOT EXISTS attachments (
    id INTEGER PRIMARY KEY, entry_id INTEGER NOT NULL REFERENCES entries (id),
    position INTEGER NOT NULL, filename TEXT NOT NULL, content_type TEXT NOT NULL,
    size INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS attachments_by_entry ON attachments (entry_id, position);
"""


class LocalBackend:
    """Backend protocol over the store's SQLite connection."""

    name = "local"
    needs_content = True

    def __init__(self, conn: sqlite3.Connection, *, queue: str = "archive",
                 status: str = "resolved"):
        self.conn, self.queue, self.status = conn, queue, status
        self.conn.executescript(SCHEMA)

    def open(self) -> None:
        return None        # the store is the destination: it cannot belong to another

    def facts(self) -> dict:
        return {}

    def create_ticket(self, plan: ThreadPlan, first: MessageContent) -> tuple[TicketRef, str]:
        # Created but still "open" with no requestors until finish_ticket: the same order the
        # RT backend must follow so that nobody is mailed, kept here so both behave alike.
        cur = self.conn.execute(
            "INSERT INTO tickets (thread_id, queue, subject, status, requestors, created)"
            " VALUES (?,?,?,?,?,?)",
            (plan.id, self.queue, plan.subject, "open", "[]", iso(plan.first_date)))
        ticket = TicketRef(self.name, str(cur.lastrowid))
        entry = self._insert_entry(ticket, first)
        self.conn.commit()
        return ticket, entry

    def add_message(self, ticket: TicketRef, msg: MessageContent, *, incremental: bool) -> str:
        entry = self._insert_entry(ticket, msg)
        self.conn.commit()
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
        self.conn.commit()

    def lookup(self, plan: ThreadPlan) -> Found | None:
        row = self.conn.execute("SELECT id, status FROM tickets WHERE thread_id=? AND queue=?",
                                (plan.id, self.queue)).fetchone()
        return Found(TicketRef(self.name, str(row[0])), row[1] != "open") if row else None

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
        self.conn.commit()
