"""The backend contract on the local store: a real SQLite file."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from backend_contract import BackendContract, EntryView, TicketView
from importer.backends.local import LocalBackend
from importer.store.ledger import Ledger
from importer.store.schema import open_store


@pytest.fixture
def conn(tmp_path):
    c = open_store(str(tmp_path / "archive.sqlite"))
    yield c
    c.close()


def _dt(value):
    return datetime.fromisoformat(value) if value else None


def read_local(backend, ticket) -> TicketView:
    c = backend.conn
    subject, status, requestors, created, resolved = c.execute(
        "SELECT subject, status, requestors, created, resolved FROM tickets WHERE id=?",
        (int(ticket.id),)).fetchone()
    entries = []
    for eid, mid, sha, author, subj, body in c.execute(
            "SELECT id, message_id, sha256, author, subject, body FROM entries"
            " WHERE ticket_id=? ORDER BY position", (int(ticket.id),)).fetchall():
        atts = tuple(c.execute("SELECT filename, content_type FROM attachments WHERE entry_id=?"
                               " ORDER BY position", (eid,)).fetchall())
        entries.append(EntryView(mid, sha, f"From: {author}\nSubject: {subj}\n\n{body}", atts))
    return TicketView(subject, status, frozenset(json.loads(requestors)), _dt(created),
                      _dt(resolved), tuple(entries))


class TestLocalStore(BackendContract):
    keeps_content = True

    @pytest.fixture
    def backend(self, conn):
        return LocalBackend(conn)

    @pytest.fixture
    def view(self):
        return read_local

    @pytest.fixture
    def ledger(self, conn):
        return Ledger(conn, "local:archive")


def test_raw_original_is_stored_byte_exact(conn):
    from backend_contract import make_message, make_plan
    msg = make_message(0, body="caf\u00e9\r\n>From the past\n")
    backend = LocalBackend(conn)
    ticket, _ = backend.create_ticket(make_plan([msg]), msg)
    (raw,) = conn.execute("SELECT raw FROM entries WHERE ticket_id=?", (int(ticket.id),)).fetchone()
    assert raw == msg.raw
