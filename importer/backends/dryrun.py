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
        self.tickets: dict[str, dict] = {}
        self._by_thread: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def ticket_ref(self, ticket_id: str) -> TicketRef:
        return TicketRef(self.target, ticket_id)

    def create_ticket(self, plan: ThreadPlan, first: MessageContent) -> tuple[TicketRef, str]:
        with self._lock:
            ticket = TicketRef(self.target, f"new-{next(self._ids)}", planned=True)
            self.tickets[ticket.id] = {"thread_id": plan.id, "subject": plan.subject,
                                       "status": "open", "requestors": (), "created": None,
                                       "resolved": None, "entries": []}
            self._by_thread[plan.id] = ticket.id
        return ticket, self.add_message(ticket, first, incremental=False)

    def add_message(self, ticket: TicketRef, msg: MessageContent, *, incremental: bool) -> str:
        with self._lock:
            entries = self.tickets[ticket.id]["entries"]
            entries.append((msg.message_id, _digest(msg.raw)))
            return f"{ticket.id}/{len(entries)}"

    def finish_ticket(self, ticket: TicketRef, plan: ThreadPlan, *, created: bool) -> None:
        with self._lock:
            t = self.tickets.setdefault(ticket.id, {"entries": [], "status": "(existing)"})
            if created:
                t.update(status=self.status, requestors=plan.requestors,
                         created=plan.first_date, resolved=plan.last_date)

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
                         self.tickets[tid]["status"] != "open")

    def verify(self, ticket: TicketRef, owner: str | None) -> bool:
        """A ticket an earlier real run made: the dry run cannot look, the ledger knows."""
        with self._lock:
            t = self.tickets.get(ticket.id)
        return bool(t) and t["status"] != "open"

    def find_message(self, ticket: TicketRef, msg: MessageContent) -> str | None:
        digest = _digest(msg.raw)
        with self._lock:
            entries = self.tickets.get(ticket.id, {}).get("entries", [])
            for i, entry in enumerate(entries):
                if entry == (msg.message_id, digest):
                    return f"{ticket.id}/{i + 1}"
        return None

    def close(self) -> None:
        pass


_EMPTY = hashlib.sha256(b"").hexdigest()


def _digest(raw: bytes) -> str:
    """A dry run's messages carry no bytes (headers only): one digest string for them all,
    not one per message (113 bytes each, a twentieth of a large dry run's peak)."""
    return hashlib.sha256(raw).hexdigest() if raw else _EMPTY
