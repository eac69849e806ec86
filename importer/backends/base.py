"""The Backend protocol every ticket destination implements.

Retries, ledger writes and progress live once, in the pipeline driver
(importer/deliver.py); a backend only talks to its destination. The driver
calls, for each thread not yet complete in the ledger:

    create_ticket(plan, first)            -> (ticket, entry id)   # new thread
    add_message(ticket, msg, ...)         -> entry id            # each further message
    finish_ticket(ticket, plan, ...)      # status, dates, requestors: last

When the ledger shows that a create or add was started but its answer was
lost (timeout, crash), the driver asks `find_ticket` / `find_message` what
the destination actually did before trying again, so nothing is created twice.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from importer.records import MessageContent, ThreadPlan, TicketRef


@runtime_checkable
class Backend(Protocol):
    name: str          # "local" | "rt" | "dry-run": goes into the report's ticket.backend
    writes: bool       # False for the dry run: the driver then writes no ledger either

    def create_ticket(self, plan: ThreadPlan, first: MessageContent) -> tuple[TicketRef, str]:
        """Create the ticket for `plan` holding its first message; no one may be mailed."""

    def add_message(self, ticket: TicketRef, msg: MessageContent, *, incremental: bool) -> str:
        """Append one message. `incremental` when the ticket was finished by an earlier run."""

    def finish_ticket(self, ticket: TicketRef, plan: ThreadPlan, *, created: bool) -> None:
        """Set status, historical dates and requestors. `created` is False on incremental runs,
        where status must be left as it was."""

    def find_ticket(self, plan: ThreadPlan) -> TicketRef | None:
        """After a lost answer: the ticket an earlier create made for `plan`, if any."""

    def find_message(self, ticket: TicketRef, msg: MessageContent) -> str | None:
        """After a lost answer: the entry an earlier add made for `msg`, if any."""

    def close(self) -> None:
        """Release connections and files."""
