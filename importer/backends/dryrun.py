"""The dry run: a backend that writes nothing and only remembers what it would have done.

It keeps a few facts per would-be ticket (no bodies), so the contract suite can
check it like any other backend and the report can say what a run would create.
"""

from __future__ import annotations

import hashlib
import itertools
import threading

from importer.backends.base import Found
from importer.records import MessageContent, ThreadPlan, TicketRef


class DryRunBackend:
    name = "dry-run"
    # The driver hands a dry run header-only content: reading every body would make the
    # review pass as slow as the import itself.
    needs_content = False

    def __init__(self, *, status: str = "resolved"):
        self.status = status
        self.tickets: dict[str, dict] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def create_ticket(self, plan: ThreadPlan, first: MessageContent) -> tuple[TicketRef, str]:
        with self._lock:
            ticket = TicketRef(self.name, f"new-{next(self._ids)}")
            self.tickets[ticket.id] = {"thread_id": plan.id, "subject": plan.subject,
                                       "status": "open", "requestors": (), "created": None,
                                       "resolved": None, "entries": []}
        return ticket, self.add_message(ticket, first, incremental=False)

    def add_message(self, ticket: TicketRef, msg: MessageContent, *, incremental: bool) -> str:
        with self._lock:
            entries = self.tickets[ticket.id]["entries"]
            entries.append((msg.message_id, hashlib.sha256(msg.raw).hexdigest()))
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
            for tid, t in self.tickets.items():
                if t.get("thread_id") == plan.id:
                    return Found(TicketRef(self.name, tid), t["status"] != "open")
        return None

    def verify(self, ticket: TicketRef, owner: str | None) -> bool:
        """A ticket an earlier real run made: the dry run cannot look, the ledger knows."""
        with self._lock:
            t = self.tickets.get(ticket.id)
        return bool(t) and t["status"] != "open"

    def find_message(self, ticket: TicketRef, msg: MessageContent) -> str | None:
        digest = hashlib.sha256(msg.raw).hexdigest()
        with self._lock:
            entries = self.tickets.get(ticket.id, {}).get("entries", [])
            for i, entry in enumerate(entries):
                if entry == (msg.message_id, digest):
                    return f"{ticket.id}/{i + 1}"
        return None

    def close(self) -> None:
        pass
