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

import base64
import hashlib
import logging
import os
import re
import threading
from datetime import datetime, timezone
from typing import Any, Mapping

from importer.backends.base import Found
from importer.errors import BackendError, MismatchError
from importer.records import MessageContent, ThreadPlan, TicketRef
from importer.backends.rt.client import RTClient, auth_from_env

log = logging.getLogger(__name__)

# Statuses of RT's default lifecycle that stamp Resolved (etc/RT_Config.pm, "inactive").
INACTIVE = frozenset({"resolved", "rejected", "deleted"})
# RT's answers to updates are lists of sentences; these words mark a failure
# (RT::Ticket::_SetStatus, RT::Record::_Set, AddWatcher). Addresses are removed
# first, since RT echoes them ("Added x@y as Requestor").
_FAILURE = re.compile(r"(?i)\b(permission denied|no permission|could ?not|couldn't|can't|cannot|"
                      r"invalid|illegal|isn't a valid|not a valid|not allowed|failed|"
                      r"not found|unknown)\b")
# A bare addr-spec as the parser lowercases it. RT takes a name without "@"
# for a user name (a From: of "root" must never become RT's superuser), and
# answers 500 to an address with a space.
_ADDRESS = re.compile(r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_MIME_TYPE = re.compile(r"^[a-z0-9!#$&^_.+-]{1,64}/[a-z0-9!#$&^_.+-]{1,64}$")
_TXN = re.compile(r"/transaction/(\d+)$")
EPOCH_FLOOR = datetime(1970, 1, 2, tzinfo=timezone.utc)
SUBJECT_MAX = 200          # RT's Tickets.Subject is varchar(200)
KEY_FIELD = "Archive-Import-Key"        # rt.key_field: the ticket custom field with the key
DATE_FIELD = "Archive-Original-Date"    # rt.date_field: used where the admin created it
_NOT_OURS = "the store does not belong to this RT (use a new --store)"
LOOKUP_BATCH = 100         # keys per TicketSQL query (about 6 KB of URL)


def rest_date(value: str) -> str:
    """An RT date as REST 2 answers it ("2015-03-02T10:00:00Z") from the form RT takes
    ("2015-03-02 10:00:00"): so what was sent can be compared with what RT kept."""
    return value.replace(" ", "T") + "Z"


def rt_date(when: datetime | None) -> str | None:
    """RT's ISO form in UTC; naive datetimes are taken as UTC. None before 1970-01-02:
    RT::Date counts seconds from 1970 and takes 0 or less as "not set" (a 1969 Created
    came back as 1970-01-01 00:00:00 on RT 5.0.3), so RT keeps its own date then."""
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    when = when.astimezone(timezone.utc)
    if when < EPOCH_FLOOR:
        return None
    return when.strftime("%Y-%m-%d %H:%M:%S")


def one_line(text: str, limit: int) -> str:
    """Header-safe text: controls (CR, LF: header injection) become spaces, bounded."""
    return " ".join(_CONTROL.sub(" ", text or "").split())[:limit]


def valid_requestors(addresses: tuple[str, ...]) -> list[str]:
    seen: dict[str, None] = {}
    for addr in addresses:
        a = (addr or "").strip().lower()
        if _ADDRESS.match(a) and ".." not in a:
            seen.setdefault(a, None)
        elif a:
            log.warning("not a requestor RT can take, left out: %r", a[:100])
    return list(seen)


def failures(messages: Any) -> list[str]:
    """The sentences of an RT answer list that report a failure."""
    if not isinstance(messages, list):
        return []
    bad = []
    for m in messages:
        text = re.sub(r"\S+@\S+", "", str(m))
        if _FAILURE.search(text):
            bad.append(str(m)[:300])
    return bad


def tsql_quote(value: str) -> str:
    """A TicketSQL string literal (RT::SQL: backslash escapes inside single quotes)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class RTBackend:
    """Backend protocol over RT's REST 2 API; thread-safe (the client keeps a session per thread)."""

    name = "rt"
    needs_content = True

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
    def from_config(cls, cfg_rt, status: str, env: Mapping[str, str] = os.environ) -> "RTBackend":
        return cls(make_client(cfg_rt, env), queue=cfg_rt.queue, status=status,
                   attach_original=cfg_rt.attach_original, key_field=cfg_rt.key_field,
                   date_field=cfg_rt.date_field or None)

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
               *(g.message_id for g in plan.ghosts)]
        keys = list(dict.fromkeys(thread_key(i) for i in ids if i))
        qid = self._queue()
        for n in range(0, len(keys), LOOKUP_BATCH):
            ors = " OR ".join(f"{self._cf()} = {tsql_quote(k)}" for k in keys[n:n + LOOKUP_BATCH])
            body = self.client.get("/tickets", {"query": f"Queue = {qid} AND ({ors})",
                                                "orderby": "id", "per_page": 1,
                                                "fields": "id"}).body or {}
            items = body.get("items") or []
            if items:
                ticket = TicketRef(self.name, str(items[0]["id"]))
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
        ticket = TicketRef(self.name, tid)
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
            answer = self.client.get(f"/queue/{_path_part(self.queue)}")
        except BackendError as exc:
            if exc.status == 404:
                raise BackendError(f"RT queue {self.queue!r} not found (archive-import check "
                                   "--create-queue makes it)", status=404) from None
            raise
        body = answer.body or {}
        qid = str(body.get("id") or "")
        if not qid or body.get("Disabled") in (1, "1"):
            raise BackendError(f"RT queue {self.queue!r} not found or disabled")
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
        files = [_attachment(a.filename, a.content_type, a.data, n)
                 for n, a in enumerate(msg.attachments, 1)]
        if self.attach_original:
            # application/octet-stream, not message/rfc822: RT stores message/* as text and
            # re-encodes 8-bit bytes (an "é" came back as two U+FFFD on RT 5.0.3).
            files.append(_attachment("original.eml", "application/octet-stream", msg.raw, 0))
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


def queue_identity(base_url: str, name: str, qid, created) -> str:
    """Which RT queue a store belongs to: a reinstalled RT at the same URL has new queues,
    with other creation times, even where the ids repeat."""
    return f"RT {base_url} queue {name!r} (id {qid}, created {created})"


def imported_tickets(client: RTClient, qid: str, key_cf: str) -> int | None:
    """How many tickets of the queue carry a key; None when RT does not say (no total)."""
    found = client.get("/tickets", {"query": f"Queue = {qid} AND CF.{{{key_cf}}} IS NOT NULL",
                                    "per_page": 1, "fields": "id"}).body or {}
    total = found.get("total")
    return int(total) if isinstance(total, int) else (0 if not found.get("items") else None)


def thread_key(thread_id: str) -> str:
    """The value of the key custom field for a thread: bounded, and safe in TicketSQL."""
    return "ai1-" + hashlib.sha256(thread_id.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def custom_fields(client: RTClient, qid: str) -> dict[str, tuple[str, str]]:
    """Ticket custom fields that apply to the queue: lowercased name -> (id, Type)."""
    out: dict[str, tuple[str, str]] = {}
    body = client.get(f"/queue/{qid}/customfields",
                      {"per_page": 100, "fields": "Name,LookupType,Type,Disabled"}).body or {}
    for item in body.get("items") or []:
        if (item.get("LookupType") == "RT::Queue-RT::Ticket"
                and str(item.get("Disabled", "0")) != "1" and item.get("Name")):
            out.setdefault(str(item["Name"]).lower(), (str(item["id"]), str(item.get("Type"))))
    return out


def cf_values(body: dict, cf_id: str) -> list[str]:
    for cf in body.get("CustomFields") or []:
        if isinstance(cf, dict) and str(cf.get("id")) == str(cf_id):
            return [str(v) for v in cf.get("values") or []]
    return []


def _attachment(name: str, ctype: str, data: bytes, n: int) -> dict[str, str]:
    """One REST 2 attachment. RT refuses a false FileName/FileType/FileContent (Perl
    truth: "", "0"), so an empty file is sent as "=", which decodes to no bytes.

    RT::Util::mime_recommended_filename decodes the name as UTF-8 *bytes*: sent as
    characters, "Zoë" came back "Zo\ufffd" and "☃" made RT 5.0.3 answer 500. So the
    name travels as its UTF-8 bytes, one JSON character each.
    """
    fname = one_line(name, 255).replace("/", "_").replace("\\", "_")
    if fname in ("", "0", ".", ".."):
        fname = f"attachment-{n}"
    wire = fname.encode("utf-8")[:255].decode("utf-8", "ignore").encode("utf-8")
    ctype = (ctype or "").strip().lower()
    if not _MIME_TYPE.match(ctype):
        ctype = "application/octet-stream"
    content = base64.b64encode(data).decode("ascii") or "="
    return {"FileName": wire.decode("latin-1"), "FileType": ctype, "FileContent": content}


def _path_part(name: str) -> str:
    from urllib.parse import quote
    return quote(name, safe="")


def make_client(cfg_rt, env: Mapping[str, str]) -> RTClient:
    """The client from the configuration and the environment (RTSERVER, RTUSER, RTPASSWD, RTTOKEN)."""
    url = cfg_rt.url or env.get("RTSERVER")
    if not url:
        raise BackendError("no RT URL: set rt.url in the configuration or RTSERVER")
    auth, creds = auth_from_env(env)
    if auth is None:
        raise BackendError("no RT credentials: set RTTOKEN, or RTUSER and RTPASSWD")
    verify: bool | str = cfg_rt.ca_bundle or bool(cfg_rt.verify_tls)
    try:
        return RTClient(url, auth, verify=verify, timeout=cfg_rt.timeout, retries=cfg_rt.retries)
    except ValueError as exc:
        raise BackendError(f"bad RT URL: {exc}") from None
