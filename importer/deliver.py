"""Delivery: one ticket per thread through a backend, with the ledger and retries.

Retries and ledger writes live here, once, for every backend. For each thread:
find its ticket (ledger by thread id, then by any message or ghost it holds, for
incremental imports; when the ledger knows nothing, the destination decides with
`lookup`), create it if needed, add each message the ticket does not hold yet in
tree order, then finish it (status, dates, requestors — last, so that RT mails
nobody). Every step is written to the ledger before it is tried; when a step's
answer may have been lost, the backend is asked what it did (lookup /
find_message) before the step is tried again.

A thread the ledger records as finished stays finished: its ticket only ever
gets comments (`incremental`) and its status is never set again, whatever failed
in between. A thread the ledger knows complete costs no request at all.
"""

from __future__ import annotations

import contextlib
import enum
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from importer.errors import AuthError, BackendError, MismatchError
from importer.records import MessageContent, MessageRecord, ThreadPlan, TicketRef
from importer.parsepool import batches
from importer.retry import RetryPolicy
from importer.store.ledger import Ledger, MessageState, ThreadState

log = logging.getLogger(__name__)


class Result(enum.Enum):
    """What delivery did with one thread."""

    CREATED = "created"     # a new ticket
    EXTENDED = "extended"   # messages added to a ticket the destination already held
    PRESENT = "present"     # the ticket held every message already: nothing written
    FAILED = "failed"       # see Outcome.error; the next run tries again


@dataclass(frozen=True)
class Outcome:
    thread_id: str
    ticket: TicketRef | None
    created: bool = False
    added: int = 0
    error: str | None = None

    @property
    def result(self) -> Result:
        if self.error is not None:
            return Result.FAILED
        if self.created:
            return Result.CREATED
        return Result.EXTENDED if self.added else Result.PRESENT


def message_key(rec: MessageRecord, dedupe: bool) -> str:
    """The ledger's key for a message: its content, so a copy from another mailbox is known."""
    return rec.content_hash if dedupe else f"{rec.sha256}:{rec.source.path}:{rec.source.index}"


BATCH_THREADS, BATCH_MESSAGES = 64, 256   # a batch is lost at most by a kill -9: seconds


class Deliverer:
    def __init__(self, backend, ledger: Ledger, load: Callable[[MessageRecord], MessageContent],
                 *, dedupe: bool = True, retry: RetryPolicy = RetryPolicy()):
        self.backend, self.ledger, self.load = backend, ledger, load
        self.dedupe, self.retry = dedupe, retry
        # Write-ahead records ("creating", "adding") say what a lost answer may have done.
        # A backend in the store file commits a thread whole with its ledger rows, so no
        # step of it can outlive its records: it writes only the outcome (a third of a
        # local import's ledger writes were records its own commit made pointless).
        self.write_ahead = not backend.transactional

    def run(self, plans: list[ThreadPlan], *, workers: int = 1,
            progress: Callable[[Outcome], None] = lambda o: None) -> list[Outcome]:
        """Deliver every plan; one thread's messages always in order, threads in parallel."""
        self.ledger.begin_delivery()
        # Ask the destination about threads the ledger does not know, unless it holds just
        # the tickets the ledger knows (none, on a first import): then no lookup is needed.
        imported = self.backend.imported_tickets
        self.lookups = imported is None or imported != self.ledger.ticket_count()
        if workers <= 1:
            outcomes = []
            for batch in self._batches(plans):
                # A backend in the store file commits a batch of threads at once (a commit
                # per thread was a quarter of a local import); each thread inside is a
                # savepoint, so a failed one is undone alone, and an interruption undoes
                # the batch whole: no thread is ever half-written.
                with (self.ledger.atomic() if self.backend.transactional
                      else contextlib.nullcontext()):
                    for plan in batch:
                        outcomes.append(self.thread(plan))
                for outcome in outcomes[-len(batch):]:
                    progress(outcome)
            return outcomes
        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = []
            for outcome in pool.map(self.thread, plans):
                outcomes.append(outcome)
                progress(outcome)
            return outcomes

    def _batches(self, plans: list[ThreadPlan]):
        """Runs of threads of at most BATCH_THREADS threads and BATCH_MESSAGES messages
        (one thread each when the backend is not transactional)."""
        if not self.backend.transactional:
            yield from ([p] for p in plans)
            return
        yield from batches(plans, BATCH_THREADS, lambda plan: len(plan.messages),
                           BATCH_MESSAGES)

    def thread(self, plan: ThreadPlan) -> Outcome:
        try:
            # A backend in the store file commits each thread whole, ledger rows included.
            with self.ledger.atomic() if self.backend.transactional else contextlib.nullcontext():
                return self._thread(plan)
        except (AuthError, MismatchError):
            raise
        except BackendError as exc:
            if exc.transient:
                # Still failing after every retry: the destination is down or unreachable, and
                # every other thread would wait out the same retries. Stop; a rerun resumes.
                raise BackendError(f"giving up: {exc.reason}; nothing is lost, run the same"
                                   " command again when the destination answers",
                                   status=exc.status) from exc
            log.error("thread <%s>: %s", plan.id, exc)
            # "failed" never overwrites "finished": the retry still only adds comments.
            self.ledger.set_thread(plan.id, None, ThreadState.FAILED, str(exc))
            return Outcome(plan.id, None, error=str(exc))

    def _thread(self, plan: ThreadPlan) -> Outcome:
        ticket_id, state, finished = self.ledger.thread_state(plan.id)
        if ticket_id is None and not self.ledger.fresh:
            # A later archive continuing an imported conversation: it holds some of the same
            # messages (found by content, so an imposter reusing a Message-ID is not one), or
            # replies to messages that only the earlier archive had (its ghosts here).
            keys = [message_key(p.record, self.dedupe) for p in plan.messages]
            ticket_id = (self.ledger.ticket_for_keys(keys)
                         or self.ledger.ticket_for_ids(g.message_id for g in plan.ghosts
                                                       if not g.excluded))
            if ticket_id is not None:
                finished = self.ledger.ticket_finished(ticket_id)
        pending = [p.record for p in plan.messages
                   if self.ledger.message_state(message_key(p.record, self.dedupe))[1] != MessageState.DONE]
        if ticket_id is not None and finished and not pending:
            return Outcome(plan.id, self.backend.ticket_ref(ticket_id))   # no request
        ticket, created, known = None, False, False
        if ticket_id is not None:
            ticket = self.backend.ticket_ref(ticket_id)
            owner = self.ledger.owner_of(ticket_id)
            finished = self._attempt(lambda: self.backend.verify(ticket, owner),
                                     what=f"reading ticket {ticket_id}") or finished
        elif self.lookups or state is not None:
            # The ledger knows nothing (lost, fresh, from another folder): the destination
            # decides whether this thread was imported, before anything is created.
            found = self._attempt(lambda: self.backend.lookup(plan), what="looking up the thread")
            if found is not None:
                ticket, finished = found.ticket, found.finished
        if ticket is None and not pending:
            return Outcome(plan.id, None, error="every message is already in another ticket")
        if ticket is None:
            ticket = self._create(plan, pending.pop(0))
            created = known = True
        added = int(created)
        for rec in pending:
            added += self._add(plan, ticket, rec, incremental=finished, known=known)
        self._attempt(lambda: self.backend.finish_ticket(ticket, plan, created=not finished),
                      what=f"finishing ticket {ticket.id}")
        self.ledger.set_thread(plan.id, ticket.id, ThreadState.DONE, finished=True,
                               first_date=plan.first_date)
        return Outcome(plan.id, ticket, created=created, added=added)

    def _create(self, plan: ThreadPlan, first: MessageRecord) -> TicketRef:
        content = self.load(first)
        if self.write_ahead:
            self.ledger.set_thread(plan.id, None, ThreadState.CREATING, first_date=plan.first_date)
        ticket, entry = self._attempt(
            lambda: self.backend.create_ticket(plan, content), what="creating the ticket",
            recover=lambda: self._found_ticket(plan, content))
        self._record(plan, ticket, first, entry)
        return ticket

    def _found_ticket(self, plan, content):
        """After a lost create answer: the ticket it made, found the way a rerun finds it."""
        found = self.backend.lookup(plan)
        if found is None:
            return None
        entry = self.backend.find_message(found.ticket, content)
        if entry is None:       # made, but not with this message: cannot happen on RT or here
            entry = self.backend.add_message(found.ticket, content, incremental=found.finished)
        return found.ticket, entry

    def _record(self, plan, ticket: TicketRef, rec: MessageRecord, entry: str) -> None:
        key = message_key(rec, self.dedupe)
        self.ledger.set_message(key, rec.message_id, plan.id, ticket.id, entry, MessageState.DONE,
                                date=rec.date)
        if self.write_ahead:
            self.ledger.set_thread(plan.id, ticket.id, ThreadState.OPEN)

    def _add(self, plan, ticket: TicketRef, rec: MessageRecord, *, incremental: bool,
             known: bool) -> int:
        """Add one message unless the ticket holds it already; 1 if it was added now.
        `known`: the ticket was created by this run, so only a lost answer can hide one."""
        key = message_key(rec, self.dedupe)
        content = self.load(rec)
        entry = None
        if not known or self.ledger.message_state(key)[1] == MessageState.ADDING:
            entry = self._attempt(lambda: self.backend.find_message(ticket, content),
                                  what=f"looking for <{rec.message_id}>")
        added = entry is None
        if entry is None:
            if self.write_ahead:
                self.ledger.set_message(key, rec.message_id, plan.id, ticket.id, None,
                                        MessageState.ADDING)
            entry = self._attempt(
                lambda: self.backend.add_message(ticket, content, incremental=incremental),
                what=f"adding <{rec.message_id}>",
                recover=lambda: self.backend.find_message(ticket, content))
        self.ledger.set_message(key, rec.message_id, plan.id, ticket.id, entry, MessageState.DONE,
                                date=rec.date)
        return int(added)

    def _attempt(self, call, *, what: str, recover=None):
        return self.retry.call(call, what=what, recover=recover)
