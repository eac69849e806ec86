"""The Request Tracker backend: one RT ticket per thread over REST 2, mailing nobody.

The order of operations is what keeps RT quiet with its default scrips
(etc/initialdata of RT 5.0.3), each step checked against a real server:

1. POST /ticket with the first message and no Requestor: "On Create
   Autoreply To Requestors" and "On Create Notify ..." find nobody to mail.
2. POST /ticket/N/correspond for every further message; the last one also
   carries "Status" (REST 2 sets it after the Correspond transaction), so
   "On Resolve Notify Requestors" runs while there is still no requestor.
3. PUT /ticket/N with Resolved and Requestor. RT::Record::Update applies fields
   in sorted order (Resolved before Status) and _SetStatus stamps Resolved with
   "now", so the historical Resolved date only sticks once the status is already
   set. Role members are added after Update (RT::REST2::Util::update_role_members),
   and adding a watcher fires no default scrip.
Messages added to a finished ticket are comments: a correspondence would mail
the requestors and reopen the ticket. As a last guard, this backend refuses to
correspond on any ticket that has requestors, whatever the driver asks.

Finding tickets again: RT, not the ledger, decides whether a thread is imported.
Every ticket carries a key in a ticket custom field (`rt.key_field`, one value):
a hash of the Message-ID its thread started with. `lookup` asks with one
TicketSQL query for any ticket of the queue whose key is that of the thread or
of any message or ghost in it, so a lost ledger, a ledger from another folder
and a create whose answer was lost all find the same ticket. Historical
`Created` is no help: Debian's RT 5.0.3 (deb12u7) drops it from every create,
and TicketSQL compares dates by the day.

Dates: `Started` holds the thread's first date (RT shows and searches it), an
optional DateTime custom field (`rt.date_field`) too, and each message's own
date stays in its content. `Created` is sent for the RTs that keep it;
contrib/rt-import-dates sets it on the server for those that do not.

A thread of n messages costs n+1 requests (create, n-1 messages, one PUT), plus
one lookup when the queue already holds imported tickets that the ledger does
not know.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from importer.backends.base import Found, Kind
from importer.backends.rt.client import RTClient
from importer.backends.rt.fields import (DATE_FIELD, INACTIVE, KEY_FIELD, SUBJECT_MAX, attachment,
                                         cf_values, custom_fields, failures, imported_tickets,
                                         make_client, one_line, path_part, queue_identity,
                                         rest_date, rt_date, status_problem, thread_key,
                                         tsql_quote,
                                         valid_requestors)
from importer.errors import BackendError, MismatchError
from importer.records import MessageContent, ThreadPlan, TicketRef

log = logging.getLogger(__name__)

_TXN = re.compile(r"/transaction/(\d+)$")
_NOT_OURS = "the store does not belong to this RT (use a new --store)"
LOOKUP_BATCH = 100         # keys per TicketSQL query (about 6 KB of URL)


class RTBackend:
    """Backend protocol over RT's REST 2 API; thread-safe (the client keeps a session per thread)."""

    kind = Kind.RT
    needs_content = True
    transactional = False

    def __init__(self, client: RTClient, *, queue: str = "Archive", status: str = "resolved",
                 attach_original: bool = True, key_field: str = KEY_FIELD,
                 date_field: str | None = DATE_FIELD):
        self.client, self.queue, self.status = client, queue, status.strip().lower()
        self.attach_original = attach_original
        self.key_field, self.date_field = key_field, date_field
        self._lock = threading.Lock()
        self._queue_id: str | None = None
        self._queue_created: str | None = None
        self._key_cf: str | None = None          # custom field ids, found by open()
        self._date_cf: tuple[str, str] | None = None   # (id, Type)
        self.imported_tickets: int | None = None   # tickets with a key in the queue (open())
        self.keeps_created: bool | None = None   # found out on the first create
        self._last: dict[str, str] = {}         # ticket id -> Message-ID of its plan's last message
        self._status_set: set[str] = set()      # tickets whose status this process already set
        self._quiet: set[str] = set()           # tickets known to have no requestors
        self._entries: dict[str, dict[str, str]] = {}   # ticket -> Message-ID -> transaction

    @classmethod
    def from_config(cls, cfg_rt, status: str) -> "RTBackend":
        return cls(make_client(cfg_rt), queue=cfg_rt.queue, status=status,
                   attach_original=cfg_rt.attach_original, key_field=cfg_rt.key_field,
                   date_field=cfg_rt.date_field or None)

    def ticket_ref(self, ticket_id: str) -> TicketRef:
        return TicketRef(self.kind, ticket_id)

    def __repr__(self) -> str:
        return f"<RTBackend {self.client.base_url} queue={self.queue!r}>"

    # -- the protocol ---------------------------------------------------------------

    def open(self) -> str:
        """The queue, its custom fields, and whether it already holds imported tickets."""
        qid = self._queue()
        fields = custom_fields(self.client, qid)
        key = fields.get(self.key_field.lower())
        if key is None:
            raise BackendError(
                f"RT queue {self.queue!r} has no ticket custom field {self.key_field!r}, which"
                " the importer needs to find its tickets again: run `archive-import check"
                " --create-queue` (it creates the field), or see README, \"Request Tracker\"")
        self._key_cf = key[0]
        date = fields.get((self.date_field or "").lower())
        self._date_cf = date if date and date[1] in ("DateTime", "Date", "Freeform") else None
        self.imported_tickets = imported_tickets(self.client, qid, self._key_cf)
        return self.identity()

    def identity(self) -> str:
        qid = self._queue()
        return queue_identity(self.client.base_url, self.queue, qid, self._queue_created)

    def facts(self) -> dict:
        return {"identity": self.identity() if self._queue_id else None,
                "keeps_created": self.keeps_created, "key_field": self.key_field,
                "date_field": self.date_field if self._date_cf else None,
                "requests": self.client.requests_sent}

    def lookup(self, plan: ThreadPlan) -> Found | None:
        ids = [plan.id, *(p.record.message_id for p in plan.messages),
               *(g.message_id for g in plan.ghosts if not g.excluded)]
        keys = list(dict.fromkeys(thread_key(i) for i in ids if i))
        qid = self._queue()
        for n in range(0, len(keys), LOOKUP_BATCH):
            ors = " OR ".join(f"{self._cf()} = {tsql_quote(k)}" for k in keys[n:n + LOOKUP_BATCH])
            body = self.client.get("/tickets", {"query": f"Queue = {qid} AND ({ors})",
                                                "orderby": "id", "per_page": 1,
                                                "fields": "id"}).body or {}
            items = body.get("items") or []
            if items:
                ticket = self.ticket_ref(str(items[0]["id"]))
                finished = self._state(self._ticket(ticket.id), ticket, None)
                self._remember(ticket.id, plan, status_set=False)
                return Found(ticket, finished)
        return None

    def verify(self, ticket: TicketRef, owner: str | None) -> bool:
        return self._state(self._ticket(ticket.id), ticket, owner)

    def create_ticket(self, plan: ThreadPlan, first: MessageContent) -> tuple[TicketRef, str]:
        dates = self._dates(plan)
        cfs = {self._key_cf or self.key_field: thread_key(plan.id)}
        if self._date_cf and "Started" in dates:
            cfs[self._date_cf[0]] = (dates["Started"][:10] if self._date_cf[1] == "Date"
                                     else dates["Started"])
        payload: dict[str, Any] = {
            "Queue": self._queue(),
            "Subject": one_line(plan.subject or first.subject, SUBJECT_MAX) or "(no subject)",
            "CustomFields": cfs,
            **self._body(first),
        }
        if "Started" in dates:
            payload["Created"] = dates["Started"]     # kept by some RT builds, dropped by others
            payload["Started"] = dates["Started"]     # _SetStatus only fills an unset Started
        single = len(plan.messages) <= 1
        if single and self.status:
            payload["Status"] = self.status
            payload.update(dates)
        answer = self.client.post("/ticket", payload)
        tid = str((answer.body or {}).get("id") or "")
        if not tid.isdigit():
            raise BackendError("RT created no ticket (no id in its answer)", message_id=first.message_id)
        ticket = self.ticket_ref(tid)
        with self._lock:
            self._quiet.add(tid)
            self._entries[tid] = {first.message_id: f"{tid}:create"}
            if self.imported_tickets is not None:
                self.imported_tickets += 1     # kept current: a later run in this process asks
        self._remember(tid, plan, status_set=single)
        if self.keeps_created is None and "Created" in payload:
            self._probe_created(tid, payload["Created"])
        # RT's answer to a create names the ticket, not its Create transaction; asking for it
        # would cost a request per thread: the entry is "N:create" (rt-dates knows it).
        return ticket, f"{tid}:create"

    def add_message(self, ticket: TicketRef, msg: MessageContent, *, incremental: bool) -> str:
        payload = self._body(msg)
        kind = "comment" if incremental else "correspond"
        if not incremental:
            self._refuse_if_requestors(ticket)
        with self._lock:
            last = not incremental and self._last.get(ticket.id) == msg.message_id
            self._status_set.discard(ticket.id)
        if last and self.status:
            payload["Status"] = self.status
        try:
            answer = self.client.post(f"/ticket/{ticket.id}/{kind}", payload)
        except BackendError:
            with self._lock:           # it may have been added: ask RT again next time
                self._entries.pop(ticket.id, None)
            raise
        match = _TXN.search(answer.location or "")
        if not match:
            raise BackendError(f"RT added no {kind} (no transaction in its answer)",
                               ticket=ticket.id, message_id=msg.message_id)
        bad = failures((answer.body or [])[1:])
        if bad:
            log.warning("ticket %s: %s", ticket.id, "; ".join(bad))
        elif last and self.status:
            with self._lock:
                self._status_set.add(ticket.id)
        with self._lock:
            if ticket.id in self._entries:
                self._entries[ticket.id][msg.message_id] = match.group(1)
        return match.group(1)

    def finish_ticket(self, ticket: TicketRef, plan: ThreadPlan, *, created: bool) -> None:
        with self._lock:
            self._quiet.discard(ticket.id)      # from now on it may have requestors
        if not created:
            return self._finish_incremental(ticket, plan)
        with self._lock:
            status_set = ticket.id in self._status_set
        fields: dict[str, Any] = {"Requestor": valid_requestors(plan.requestors)}
        if self.status:
            dates = self._dates(plan)
            if not status_set and self.status in INACTIVE:
                self._put(ticket, {"Status": self.status})    # must come before Resolved
            fields["Status"] = self.status
            if "Resolved" in dates:
                fields["Resolved"] = dates["Resolved"]
            if "Started" in dates:
                fields["Started"] = dates["Started"]
        self._put(ticket, fields)
        with self._lock:
            self._last.pop(ticket.id, None)
            self._status_set.discard(ticket.id)

    def find_message(self, ticket: TicketRef, msg: MessageContent) -> str | None:
        with self._lock:
            known = self._entries.get(ticket.id)
        if known is None:
            known = self._scan(ticket.id)
            with self._lock:
                self._entries[ticket.id] = known
        return known.get(msg.message_id)

    def close(self) -> None:
        self.client.close()

    # -- helpers ---------------------------------------------------------------------

    def _cf(self) -> str:
        # TicketSQL names a custom field by its name in braces (RT::Tickets, CF.{Name});
        # its id works the same and survives a rename.
        return f"CF.{{{self._key_cf or self.key_field}}}"

    def _queue(self) -> str:
        """The queue's id, looked up once: a missing queue is a clear error, not RT's 403."""
        with self._lock:
            if self._queue_id is not None:
                return self._queue_id
        try:
            answer = self.client.get(f"/queue/{path_part(self.queue)}")
        except BackendError as exc:
            if exc.status == 404:
                raise BackendError(f"RT queue {self.queue!r} not found (archive-import check "
                                   "--create-queue makes it)", status=404) from None
            raise
        body = answer.body or {}
        qid = str(body.get("id") or "")
        if not qid or body.get("Disabled") in (1, "1"):
            raise BackendError(f"RT queue {self.queue!r} not found or disabled")
        problem = status_problem(body, self.status)
        if problem:
            raise BackendError(problem)
        with self._lock:
            self._queue_id, self._queue_created = qid, str(body.get("Created") or "?")
        return qid

    def _ticket(self, tid: str) -> dict:
        return self.client.get(f"/ticket/{tid}").body or {}

    def _state(self, body: dict, ticket: TicketRef, owner: str | None) -> bool:
        """Check that a ticket is ours (queue, key); return whether it was finished."""
        queue = body.get("Queue")
        qid = str(queue.get("id") if isinstance(queue, dict) else queue)
        if qid != self._queue():
            raise MismatchError(f"RT ticket {ticket.id} is not in queue {self.queue!r}: {_NOT_OURS}",
                                ticket=ticket.id)
        if owner is not None and self._key_cf is not None:
            have = cf_values(body, self._key_cf)
            if thread_key(owner) not in have:
                raise MismatchError(f"RT ticket {ticket.id} was not made for thread <{owner}>:"
                                    f" {_NOT_OURS}", ticket=ticket.id)
        requestors = [r for r in body.get("Requestor") or [] if isinstance(r, dict)]
        if not requestors:
            with self._lock:
                self._quiet.add(ticket.id)
        # Requestors are set by the final update only (with Resolved and Started), so they
        # are what says "finished". A resolved status is not: the last message sets it before
        # that update, and a kill in between left a ticket resolved at the import's time.
        # A finished thread without requestors is finished again, which mails nobody.
        return bool(requestors)

    def _refuse_if_requestors(self, ticket: TicketRef) -> None:
        """The last guard of "nobody is mailed": no correspondence where RT would mail."""
        with self._lock:
            if ticket.id in self._quiet:
                return
        body = self._ticket(ticket.id)
        if body.get("Requestor"):
            raise BackendError("refusing to add correspondence to a ticket with requestors"
                               " (RT would mail them)", ticket=ticket.id)
        with self._lock:
            self._quiet.add(ticket.id)

    def _probe_created(self, tid: str, sent: str) -> None:
        try:
            got = str(self._ticket(tid).get("Created") or "")
        except BackendError:
            return
        self.keeps_created = got == rest_date(sent)

    def _remember(self, tid: str, plan: ThreadPlan, *, status_set: bool) -> None:
        with self._lock:
            if plan.messages:
                self._last[tid] = plan.messages[-1].record.message_id
            if status_set:
                self._status_set.add(tid)

    def _body(self, msg: MessageContent) -> dict[str, Any]:
        """Content: the original headers, a blank line, the text; attachments; the original."""
        files = [attachment(a.filename, a.content_type, a.data, n)
                 for n, a in enumerate(msg.attachments, 1)]
        if self.attach_original:
            # application/octet-stream, not message/rfc822: RT stores message/* as text and
            # re-encodes 8-bit bytes (an "é" came back as two U+FFFD on RT 5.0.3).
            files.append(attachment("original.eml", "application/octet-stream", msg.raw, 0))
        body: dict[str, Any] = {
            "Subject": one_line(msg.subject, 900),
            "Content": msg.header_block() + "\n\n" + (msg.text or ""),
            "ContentType": "text/plain",
        }
        if files:
            body["Attachments"] = files
        return body

    def _dates(self, plan: ThreadPlan) -> dict[str, str]:
        """Started: the thread's first date; Resolved: its last (inactive statuses only)."""
        dates = [p.record.date for p in plan.messages if p.record.date is not None]
        out = {}
        first = plan.first_date or (min(dates) if dates else None)
        if rt_date(first):
            out["Started"] = rt_date(first)
        last = plan.last_date or (max(dates) if dates else None)
        if self.status in INACTIVE and rt_date(last):
            out["Resolved"] = rt_date(last)
        return out

    def _put(self, ticket: TicketRef, fields: dict[str, Any]) -> None:
        answer = self.client.put(f"/ticket/{ticket.id}", fields)
        bad = failures(answer.body)
        if bad:
            raise BackendError("RT refused part of an update: " + "; ".join(bad), ticket=ticket.id)

    def _finish_incremental(self, ticket: TicketRef, plan: ThreadPlan) -> None:
        """Add new requestors (union) and move Resolved to the newest message; status stays."""
        current = self._ticket(ticket.id)
        have = [str(r.get("id", "")).lower() for r in current.get("Requestor") or []
                if isinstance(r, dict)]
        fields: dict[str, Any] = {}
        wanted = list(dict.fromkeys(have + valid_requestors(plan.requestors)))
        if set(wanted) != set(have):
            fields["Requestor"] = wanted
        resolved = self._dates(plan).get("Resolved")
        old = str(current.get("Resolved") or "")
        if (resolved and str(current.get("Status", "")).lower() in INACTIVE
                and rest_date(resolved) > old):
            fields["Resolved"] = resolved
        if fields:
            self._put(ticket, fields)

    def _scan(self, tid: str) -> dict[str, str]:
        """Message-ID -> transaction for every message entry of the ticket: the text entry
        whose header block (our own, see MessageContent.header_block) ends with its line."""
        found: dict[str, str] = {}
        query = '[{"field":"ContentType","value":"text/plain"}]'
        for item in self._pages(f"/ticket/{tid}/attachments",
                                {"query": query, "fields": "TransactionId,Content"}):
            content = item.get("Content")
            if not isinstance(content, str) or not content.startswith("From: "):
                continue
            last = content.split("\n\n", 1)[0].rsplit("\n", 1)[-1]
            if last.startswith("Message-ID: <") and last.endswith(">"):
                found.setdefault(last[len("Message-ID: <"):-1], str(item.get("TransactionId")))
        return found

    def _pages(self, path: str, params: dict[str, Any], limit: int = 1000):
        """Every item of a REST 2 collection, a hundred a request, at most `limit` pages."""
        for page in range(1, limit + 1):
            body = self.client.get(path, {**params, "per_page": 100, "page": page}).body or {}
            yield from body.get("items") or []
            if page >= int(body.get("pages") or 1):
                return

