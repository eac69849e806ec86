"""The dry run: a backend that writes nothing and only remembers what it would have done.

It stands in for the configured destination (`target`): tickets the ledger
already knows are reported as that destination's, tickets it would create are
`planned` (the report shows them as null). It keeps a few facts per would-be
ticket (no bodies), so the contract suite checks it like any other backend.
"""

from __future__ import annotations

import hashlib
import itertools
import threading

from importer.backends.base import Found, Kind
from importer.records import MessageContent, ThreadPlan, TicketRef


class DryRunBackend:
    kind = Kind.DRY_RUN
    transactional = False
    # The driver hands a dry run header-only content: reading every body would make the
    # review pass as slow as the import itself.
    needs_content = False
    imported_tickets = None

    def __init__(self, *, target: Kind = Kind.LOCAL, status: str = "resolved"):
        self.target, self.status = target, status
        self.tickets: dict[str, Planned] = {}
        self._by_thread: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def ticket_ref(self, ticket_id: str) -> TicketRef:
        return TicketRef(self.target, ticket_id)

    def create_ticket(self, plan: ThreadPlan, first: MessageContent) -> tuple[TicketRef, str]:
        with self._lock:
            ticket = TicketRef(self.target, f"new-{next(self._ids)}", planned=True)
            self.tickets[ticket.id] = Planned(plan.subject, "open")
            self._by_thread[plan.id] = ticket.id
        return ticket, self.add_message(ticket, first, incremental=False)

    def add_message(self, ticket: TicketRef, msg: MessageContent, *, incremental: bool) -> str:
        with self._lock:
            entries = self.tickets[ticket.id].entries
            entries.append((msg.message_id, _digest(msg.raw)) if msg.raw else msg.message_id)
            return f"{ticket.id}/{len(entries)}"

    def finish_ticket(self, ticket: TicketRef, plan: ThreadPlan, *, created: bool) -> None:
        with self._lock:
            t = self.tickets.setdefault(ticket.id, Planned(plan.subject, "(existing)"))
            if created:
                t.status, t.requestors = self.status, plan.requestors
                t.created, t.resolved = plan.first_date, plan.last_date

    def open(self) -> None:
        return None

    def facts(self) -> dict:
        return {}

    def lookup(self, plan: ThreadPlan) -> Found | None:
        with self._lock:
            tid = self._by_thread.get(plan.id)
            if tid is None:
                return None
            return Found(TicketRef(self.target, tid, planned=True),
                         self.tickets[tid].status != "open")

    def verify(self, ticket: TicketRef, owner: str | None) -> bool:
        """A ticket an earlier real run made: the dry run cannot look, the ledger knows."""
        with self._lock:
            t = self.tickets.get(ticket.id)
        return t is not None and t.status != "open"

    def find_message(self, ticket: TicketRef, msg: MessageContent) -> str | None:
        wanted = (msg.message_id, _digest(msg.raw))
        with self._lock:
            t = self.tickets.get(ticket.id)
            for i, entry in enumerate(t.messages() if t else ()):
                if entry == wanted:
                    return f"{ticket.id}/{i + 1}"
        return None

    def close(self) -> None:
        pass


class Planned:
    """What a dry run remembers of a ticket: its fields, and per message its Message-ID
    (with the digest of its bytes when it had any: a dry run's have none). A dict and a
    tuple per message were a sixth of a large dry run's peak."""

    __slots__ = ("subject", "status", "requestors", "created", "resolved", "entries")

    def __init__(self, subject: str, status: str):
        self.subject, self.status, self.requestors = subject, status, ()
        self.created = self.resolved = None
        self.entries: list[str | tuple[str, str]] = []

    def messages(self) -> list[tuple[str, str]]:
        """(Message-ID, SHA-256 of its bytes) of each message, in order."""
        return [(e, _EMPTY) if type(e) is str else e for e in self.entries]


_EMPTY = hashlib.sha256(b"").hexdigest()


def _digest(raw: bytes) -> str:
    """A dry run's messages carry no bytes (headers only): one digest string for them all,
    not one per message (113 bytes each, a twentieth of a large dry run's peak)."""
    return hashlib.sha256(raw).hexdigest() if raw else _EMPTY
