"""The Backend protocol every ticket destination implements.

Retries, ledger writes and progress live once, in the delivery driver
(importer/deliver.py); a backend only talks to its destination. The ledger is a
cache of what the destination holds, never the only truth: the destination
decides whether a thread is already imported (`lookup`), and whether a ticket
the ledger names is still the one it made (`verify`). For each thread not yet
complete in the ledger the driver calls:

    lookup(plan)                          -> Found | None        # ledger knows nothing
    verify(ticket, owner)                 -> finished?           # ledger names a ticket
    create_ticket(plan, first)            -> (ticket, entry id)  # new thread
    find_message(ticket, msg)             -> entry id | None     # is it there already?
    add_message(ticket, msg, ...)         -> entry id            # each further message
    finish_ticket(ticket, plan, ...)      # status, dates, requestors: last

A ticket once finished (status, dates and requestors set) is only ever given
comments and never has its status set again: on RT, a correspondence on a
ticket with requestors mails them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from importer.records import MessageContent, ThreadPlan, TicketRef


class Kind(enum.StrEnum):
    """What a backend is; its value is the config's `backend.kind` and the report's name."""

    LOCAL = "local"
    RT = "rt"
    DRY_RUN = "dry-run"


@dataclass(frozen=True)
class Found:
    """A ticket the destination holds for a thread, and whether it was finished."""

    ticket: TicketRef
    finished: bool


@runtime_checkable
class Backend(Protocol):
    kind: Kind           # the dry run is the backend whose kind is DRY_RUN, nothing else
    needs_content: bool  # False for the dry run: it is handed header-only content
    transactional: bool  # writes into the store file itself: each thread is one transaction
    imported_tickets: int | None   # tickets the destination holds that an import made
                                   # (known after open; None: unknown, so always look up)

    def ticket_ref(self, ticket_id: str) -> TicketRef:
        """A reference to a ticket the destination holds (the ledger names it by id)."""

    def open(self) -> str | None:
        """Check the destination before anything is read; return its identity (recorded in
        the store, which is then refused against any other), or None when the store is the
        destination itself. Raises BackendError when the import cannot work."""

    def lookup(self, plan: ThreadPlan) -> Found | None:
        """The ticket the destination already holds for this thread (made for it, or for a
        thread that one of its messages started), at most one request; None if none."""

    def verify(self, ticket: TicketRef, owner: str | None) -> bool:
        """Before appending to a ticket the ledger names: check it is in the configured queue
        and was made for thread `owner` (raise MismatchError if not); return finished."""

    def create_ticket(self, plan: ThreadPlan, first: MessageContent) -> tuple[TicketRef, str]:
        """Create the ticket for `plan` holding its first message; no one may be mailed."""

    def add_message(self, ticket: TicketRef, msg: MessageContent, *, incremental: bool) -> str:
        """Append one message. `incremental` (a finished ticket): only ever as a comment."""

    def finish_ticket(self, ticket: TicketRef, plan: ThreadPlan, *, created: bool) -> None:
        """Set status, historical dates and requestors. `created` is False for a ticket
        finished before, whose status must be left as it is."""

    def find_message(self, ticket: TicketRef, msg: MessageContent) -> str | None:
        """The entry an earlier add made for `msg`, if any (after a lost answer or ledger)."""

    def facts(self) -> dict:
        """What the report records about the destination (e.g. whether RT keeps dates)."""

    def close(self) -> None:
        """Release connections and files."""
