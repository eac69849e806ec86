"""The contract every backend passes (CPython's test_mailbox habit: one suite, many formats).

A backend's test module subclasses `BackendContract` and provides three fixtures:
`backend` (a fresh backend on a fresh destination), `view` (a function
(backend, TicketRef) -> TicketView reading the ticket back from the destination)
and `ledger` (a Ledger for the driver tests). Run here on the local store and
the dry run; tests/rt runs it on a real RT.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

import pytest

from importer.backends.base import Found
from importer.deliver import Deliverer, RetryPolicy
from importer.errors import BackendError
from importer.records import (Attachment, DateSource, Link, MessageContent, MessageRecord,
                              PlacedMessage, SourceRef, ThreadPlan)


@dataclass(frozen=True)
class EntryView:
    message_id: str
    sha256: str | None          # of the stored original; None if the backend keeps none
    text: str | None            # what a reader sees; None for the dry run
    attachments: tuple[tuple[str, str], ...] = ()   # (name, type), original excluded


@dataclass(frozen=True)
class TicketView:
    subject: str
    status: str
    requestors: frozenset[str]
    created: datetime | None
    resolved: datetime | None
    entries: tuple[EntryView, ...]


_serial = itertools.count(1)
BASE = datetime(2014, 2, 16, 10, 0, tzinfo=timezone.utc)


def make_message(n: int, *, subject="Printer on fire", sender="carol@example.net",
                 body="Hello,\nthe printer is on fire.\n", attachments=()) -> MessageContent:
    tag = next(_serial)
    mid = f"m{n}.{tag}@example.net"
    date = BASE + timedelta(hours=n)
    raw = (f"From: Carol <{sender}>\nTo: hello@example.org\nSubject: {subject}\n"
           f"Date: {date:%a, %d %b %Y %H:%M:%S +0000}\nMessage-ID: <{mid}>\n"
           "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
           f"{body}Zoë ☃ {tag}\n").encode()
    return MessageContent(message_id=mid, from_=f"Carol <{sender}>", to="hello@example.org",
                          cc="", date=date, subject=subject, text=body, html=None,
                          attachments=tuple(attachments), raw=raw)


def record_for(msg: MessageContent, n: int) -> MessageRecord:
    digest = hashlib.sha256(msg.raw).hexdigest()
    return MessageRecord(
        source=SourceRef("contract.mbox", n, n * 1000, len(msg.raw), "mbox", "mboxrd"),
        sha256=digest, size=len(msg.raw), message_id=msg.message_id, synthetic_id=False,
        references=(), in_reply_to=(), subject=msg.subject, from_addr="carol@example.net",
        from_display=msg.from_, to=("hello@example.org",), cc=(), date=msg.date,
        date_source=DateSource.DATE, content_hash="c" + digest, completeness=(1,))


def make_plan(msgs: list[MessageContent], requestor="carol@example.net") -> ThreadPlan:
    placed = tuple(PlacedMessage(record_for(m, i), None if i == 0 else msgs[0].message_id,
                                 Link.ROOT if i == 0 else Link.REFERENCES)
                   for i, m in enumerate(msgs))
    return ThreadPlan(id=msgs[0].message_id, subject=msgs[0].subject, requestors=(requestor,),
                      first_date=msgs[0].date, last_date=msgs[-1].date, messages=placed)


def sha(msg: MessageContent) -> str:
    return hashlib.sha256(msg.raw).hexdigest()


class LoseAnswers:
    """Wraps a backend: the call happens, then its answer is 'lost' (a transient error)."""

    def __init__(self, inner, lose=("create_ticket", "add_message")):
        self.inner, self.lose, self.lost = inner, set(lose), []

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if name not in self.lose:
            return attr

        def call(*args, **kwargs):
            result = attr(*args, **kwargs)
            if name not in {n for n, _ in self.lost}:
                self.lost.append((name, result))
                raise BackendError("connection reset after sending", transient=True)
            return result
        return call


class BackendContract:
    """Behaviour every backend shares. Subclasses set `keeps_content`."""

    keeps_content = True

    def _deliver(self, backend, plan):
        ticket, _ = backend.create_ticket(plan, self.msgs[0])
        for m in self.msgs[1:]:
            backend.add_message(ticket, m, incremental=False)
        backend.finish_ticket(ticket, plan, created=True)
        return ticket

    @pytest.fixture
    def thread3(self):
        self.msgs = [make_message(i) for i in range(3)]
        return make_plan(self.msgs)

    def test_created_ticket_holds_every_message_in_order(self, backend, view, thread3):
        ticket = self._deliver(backend, thread3)
        seen = view(backend, ticket)
        assert [e.message_id for e in seen.entries] == [m.message_id for m in self.msgs]
        if self.keeps_content:
            assert [e.sha256 for e in seen.entries] == [sha(m) for m in self.msgs]

    def test_finished_ticket_has_status_dates_and_requestors(self, backend, view, thread3):
        ticket = self._deliver(backend, thread3)
        seen = view(backend, ticket)
        assert seen.status == "resolved"
        assert seen.requestors == {"carol@example.net"}
        assert seen.created == thread3.first_date
        assert seen.resolved == thread3.last_date
        assert seen.subject == "Printer on fire"

    def test_no_requestor_and_not_resolved_until_finished(self, backend, view, thread3):
        # The order that mails nobody in RT: requestors come last (RT-NOTES).
        ticket, _ = backend.create_ticket(thread3, self.msgs[0])
        seen = view(backend, ticket)
        assert seen.requestors == frozenset()
        assert seen.status != "resolved"

    def test_entry_shows_original_headers_and_text(self, backend, view, thread3):
        if not self.keeps_content:
            pytest.skip("this backend keeps no message text")
        ticket = self._deliver(backend, thread3)
        text = view(backend, ticket).entries[0].text
        assert "From: Carol <carol@example.net>" in text
        assert "Subject: Printer on fire" in text
        assert "the printer is on fire." in text

    def test_attachments_keep_name_and_type(self, backend, view):
        if not self.keeps_content:
            pytest.skip("this backend keeps no attachments")
        att = (Attachment("Zoë's invoice.pdf", "application/pdf", b"%PDF-1.4 fake\x00\xff"),
               Attachment("photo.png", "image/png", b"\x89PNG fake"))
        self.msgs = [make_message(0, attachments=att)]
        ticket = self._deliver(backend, make_plan(self.msgs))
        names = view(backend, ticket).entries[0].attachments
        assert ("Zoë's invoice.pdf", "application/pdf") in names
        assert ("photo.png", "image/png") in names

    def test_lookup_and_find_message_after_the_fact(self, backend, thread3):
        backend.open()
        assert backend.lookup(thread3) is None
        ticket, _ = backend.create_ticket(thread3, self.msgs[0])
        assert backend.lookup(thread3) == Found(ticket, False)
        assert backend.find_message(ticket, self.msgs[0]) is not None
        assert backend.find_message(ticket, self.msgs[1]) is None
        for m in self.msgs[1:]:
            backend.add_message(ticket, m, incremental=False)
        backend.finish_ticket(ticket, thread3, created=True)
        assert backend.lookup(thread3) == Found(ticket, True)
        assert backend.verify(ticket, thread3.id) is True

    def test_incremental_append_keeps_status(self, backend, view, thread3):
        ticket = self._deliver(backend, thread3)
        later = make_message(9)
        backend.add_message(ticket, later, incremental=True)
        backend.finish_ticket(ticket, thread3, created=False)
        seen = view(backend, ticket)
        assert seen.status == "resolved"
        assert seen.entries[-1].message_id == later.message_id
        assert len(seen.entries) == 4

    # -- through the driver: ledger, reruns, lost answers -----------------------
    def _driver(self, backend, ledger, msgs):
        by_id = {m.message_id: m for m in msgs}
        return Deliverer(backend, ledger, lambda rec: by_id[rec.message_id],
                         retry=RetryPolicy(attempts=3, base=0.0))

    def test_rerun_through_the_ledger_creates_nothing(self, backend, view, ledger, thread3):
        first = self._driver(backend, ledger, self.msgs).run([thread3])
        again = self._driver(backend, ledger, self.msgs).run([thread3])
        assert first[0].created and first[0].added == 3
        assert not again[0].created and again[0].added == 0
        assert again[0].ticket == first[0].ticket
        assert len(view(backend, first[0].ticket).entries) == 3

    def test_lost_answers_are_recovered_without_duplicates(self, backend, view, ledger, thread3):
        flaky = LoseAnswers(backend)
        out = self._driver(flaky, ledger, self.msgs).run([thread3])
        assert out[0].error is None
        assert {name for name, _ in flaky.lost} == {"create_ticket", "add_message"}
        assert backend.lookup(thread3).ticket == out[0].ticket
        entries = view(backend, out[0].ticket).entries
        assert [e.message_id for e in entries] == [m.message_id for m in self.msgs]

    def test_later_archive_continues_an_imported_thread(self, backend, view, ledger, thread3):
        self._driver(backend, ledger, self.msgs).run([thread3])
        reply = replace(make_message(5), subject="Re: Printer on fire")
        later = make_plan([reply])
        later = replace(later, id="later-root", ghosts=(), messages=tuple(
            replace(p, parent_id=self.msgs[-1].message_id, link=Link.IN_REPLY_TO)
            for p in later.messages))
        # The new archive only references the old thread's messages (ghosts there).
        from importer.records import Ghost
        later = replace(later, ghosts=(Ghost(self.msgs[-1].message_id, None),))
        out = self._driver(backend, ledger, self.msgs + [reply]).run([later])
        assert not out[0].created and out[0].added == 1
        seen = view(backend, out[0].ticket)
        assert len(seen.entries) == 4 and seen.status == "resolved"

    def test_a_lost_ledger_finds_the_ticket_again(self, backend, view, ledger, thread3,
                                                  tmp_path):
        """The destination, not the ledger, decides: a fresh ledger creates nothing twice."""
        from importer.store.ledger import Ledger
        from importer.store.schema import open_store
        first = self._driver(backend, ledger, self.msgs).run([thread3])
        conn = open_store(str(tmp_path / "fresh-ledger.sqlite"))
        fresh = Ledger(conn, ledger.destination)
        again = self._driver(backend, fresh, self.msgs).run([thread3])
        conn.close()
        assert again[0].error is None and not again[0].created and again[0].added == 0
        assert again[0].ticket == first[0].ticket
        assert len(view(backend, first[0].ticket).entries) == 3

    def test_a_finished_ticket_stays_finished_after_a_failed_addition(self, backend, view,
                                                                      ledger, thread3):
        """An addition to a finished ticket that fails must not make the retry treat the
        ticket as new: it stays finished, additions are comments, status is not set again."""
        self._driver(backend, ledger, self.msgs).run([thread3])
        reply = replace(make_message(6), subject="Re: Printer on fire")
        grown = make_plan(self.msgs + [reply])
        failing = FailOnce(backend, "add_message")
        out = self._driver(failing, ledger, self.msgs + [reply]).run([grown])
        assert out[0].error is not None
        assert ledger.thread_state(grown.id)[2] is True        # still finished
        calls = RecordCalls(backend)
        out = self._driver(calls, ledger, self.msgs + [reply]).run([grown])
        assert out[0].error is None and out[0].added == 1
        assert [c for c in calls.calls if c[0] == "add_message"] == [("add_message", True)]
        assert ("finish_ticket", False) in calls.calls
        seen = view(backend, out[0].ticket)
        assert len(seen.entries) == 4 and seen.status == "resolved"


class FailOnce:
    """Wraps a backend: the first call of `name` fails for good (not transient)."""

    def __init__(self, inner, name):
        self.inner, self.name, self.failed = inner, name, False

    def __getattr__(self, attr):
        value = getattr(self.inner, attr)
        if attr != self.name or self.failed:
            return value

        def call(*args, **kwargs):
            self.failed = True
            raise BackendError("injected failure", status=500)
        return call


class RecordCalls:
    """Wraps a backend and records add_message(incremental) and finish_ticket(created)."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def __getattr__(self, attr):
        value = getattr(self.inner, attr)
        if attr == "add_message":
            def add(ticket, msg, *, incremental):
                self.calls.append(("add_message", incremental))
                return value(ticket, msg, incremental=incremental)
            return add
        if attr == "finish_ticket":
            def finish(ticket, plan, *, created):
                self.calls.append(("finish_ticket", created))
                return value(ticket, plan, created=created)
            return finish
        return value
