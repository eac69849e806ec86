"""Delivery: one ticket per thread through a backend, with the ledger and retries.

Retries, ledger writes and progress live here, once, for every backend. For each
thread: find its ticket (ledger by thread id, then by any Message-ID it holds,
for incremental imports), create it if needed, add each message not yet in the
ledger in tree order, then finish it (status, dates, requestors — last, so that
RT mails nobody). Every step is written to the ledger before it is tried; when a
step's answer may have been lost, the backend is asked what it did
(find_ticket / find_message) before the step is tried again.
"""

from __future__ import annotations

import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from importer.errors import AuthError, BackendError
from importer.ledger import Ledger
from importer.records import MessageContent, MessageRecord, ThreadPlan, TicketRef

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    thread_id: str
    ticket: TicketRef | None
    created: bool = False
    added: int = 0
    error: str | None = None


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0

    def sleep(self, attempt: int) -> None:
        # Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff
        # and Jitter"): many workers retrying together must not hit the server in step.
        time.sleep(random.uniform(0, min(self.cap, self.base * 2 ** attempt)))


def message_key(rec: MessageRecord, dedupe: bool) -> str:
    """The ledger's key for a message: its content, so a copy from another mailbox is known."""
    return rec.content_hash if dedupe else f"{rec.sha256}:{rec.source.path}:{rec.source.index}"


class Deliverer:
    def __init__(self, backend, ledger: Ledger, load: Callable[[MessageRecord], MessageContent],
                 *, dedupe: bool = True, retry: RetryPolicy = RetryPolicy()):
        self.backend, self.ledger, self.load = backend, ledger, load
        self.dedupe, self.retry = dedupe, retry

    def run(self, plans: list[ThreadPlan], *, workers: int = 1,
            progress: Callable[[Outcome], None] = lambda o: None) -> list[Outcome]:
        """Deliver every plan; one thread's messages always in order, threads in parallel."""
        self.ledger.begin_delivery()
        if workers <= 1:
            outcomes = []
            for plan in plans:
                outcomes.append(self.thread(plan))
                progress(outcomes[-1])
            return outcomes
        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = []
            for outcome in pool.map(self.thread, plans):
                outcomes.append(outcome)
                progress(outcome)
            return outcomes

    def thread(self, plan: ThreadPlan) -> Outcome:
        try:
            return self._thread(plan)
        except AuthError:
            raise
        except BackendError as exc:
            if exc.transient:
                # Still failing after every retry: the destination is down or unreachable, and
                # every other thread would wait out the same retries. Stop; a rerun resumes.
                raise BackendError(f"giving up: {exc.reason}; nothing is lost, run the same"
                                   " command again when the destination answers",
                                   status=exc.status) from exc
            log.error("thread <%s>: %s", plan.id, exc)
            self.ledger.set_thread(plan.id, None, "failed", str(exc))
            return Outcome(plan.id, None, error=str(exc))

    def _thread(self, plan: ThreadPlan) -> Outcome:
        ticket_id, state = self.ledger.thread_state(plan.id)
        if ticket_id is None:
            # A later archive continuing an imported conversation: it holds some of the same
            # messages (found by content, so an imposter reusing a Message-ID is not one), or
            # replies to messages that only the earlier archive had (its ghosts here).
            keys = [message_key(p.record, self.dedupe) for p in plan.messages]
            ticket_id = (self.ledger.ticket_for_keys(keys)
                         or self.ledger.ticket_for_ids(g.message_id for g in plan.ghosts))
            if ticket_id is not None:
                state = "done"   # an earlier run finished this ticket: append as incremental
        ticket = TicketRef(self.backend.name, ticket_id) if ticket_id else None
        pending = [p.record for p in plan.messages
                   if self.ledger.message_state(message_key(p.record, self.dedupe))[1] != "done"]
        if ticket is not None and state == "done" and not pending:
            return Outcome(plan.id, ticket)
        created = False
        if ticket is None and not pending:
            return Outcome(plan.id, None, error="every message is already in another ticket")
        if ticket is None:
            ticket = self._create(plan, pending.pop(0), recover=state in ("creating", "failed"))
            created = True
        finished_before = state == "done" and not created
        for rec in pending:
            self._add(plan, ticket, rec, incremental=finished_before)
        self._attempt(lambda: self.backend.finish_ticket(ticket, plan, created=not finished_before),
                      what=f"finishing ticket {ticket.id}")
        self.ledger.set_thread(plan.id, ticket.id, "done")
        return Outcome(plan.id, ticket, created=created, added=len(pending) + created)

    def _create(self, plan: ThreadPlan, first: MessageRecord, *, recover: bool) -> TicketRef:
        content = self.load(first)
        found = self.backend.find_ticket(plan) if recover else None
        if found is not None:
            entry = self.backend.find_message(found, content)
            if entry is None:
                entry = self._attempt(lambda: self.backend.add_message(found, content,
                                                                       incremental=False),
                                      what="adding the first message",
                                      recover=lambda: self.backend.find_message(found, content))
            self._record(plan, found, first, entry)
            return found
        self.ledger.set_thread(plan.id, None, "creating")
        ticket, entry = self._attempt(
            lambda: self.backend.create_ticket(plan, content), what="creating the ticket",
            recover=lambda: self._found_ticket(plan, content))
        self._record(plan, ticket, first, entry)
        return ticket

    def _found_ticket(self, plan, content):
        ticket = self.backend.find_ticket(plan)
        if ticket is None:
            return None
        entry = self.backend.find_message(ticket, content)
        return (ticket, entry) if entry is not None else None

    def _record(self, plan, ticket: TicketRef, rec: MessageRecord, entry: str) -> None:
        key = message_key(rec, self.dedupe)
        self.ledger.set_message(key, rec.message_id, plan.id, ticket.id, entry, "done",
                                commit=False)
        self.ledger.set_thread(plan.id, ticket.id, "open")

    def _add(self, plan, ticket: TicketRef, rec: MessageRecord, *, incremental: bool) -> None:
        key = message_key(rec, self.dedupe)
        content = self.load(rec)
        entry = None
        if self.ledger.message_state(key)[1] == "adding":   # an earlier answer was lost
            entry = self.backend.find_message(ticket, content)
        if entry is None:
            self.ledger.set_message(key, rec.message_id, plan.id, ticket.id, None, "adding")
            entry = self._attempt(
                lambda: self.backend.add_message(ticket, content, incremental=incremental),
                what=f"adding <{rec.message_id}>",
                recover=lambda: self.backend.find_message(ticket, content))
        self.ledger.set_message(key, rec.message_id, plan.id, ticket.id, entry, "done")

    def _attempt(self, call, *, what: str, recover=None):
        """Run `call`; on a transient failure back off, ask `recover` what happened, try again."""
        for attempt in range(self.retry.attempts + 1):
            try:
                return call()
            except BackendError as exc:
                if not exc.transient or attempt == self.retry.attempts:
                    raise
                log.warning("%s: %s (attempt %d, retrying)", what, exc, attempt + 1)
                self.retry.sleep(attempt)
                if recover is not None:
                    found = recover()
                    if found is not None:
                        return found
        raise AssertionError("unreachable")
