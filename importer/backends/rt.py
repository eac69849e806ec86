"""The Request Tracker backend: one RT ticket per thread over REST 2, mailing nobody.

The order of operations is what keeps RT quiet with its default scrips
(etc/initialdata of RT 5.0.3), each step checked against a real server:

1. POST /ticket with the first message and no Requestor: "On Create
   Autoreply To Requestors" and "On Create Notify ..." find nobody to mail.
2. POST /ticket/N/correspond for every further message; the last one also
   carries "Status" (REST 2 sets it after the Correspond transaction), so
   "On Resolve Notify Requestors" runs while there is still no requestor.
3. PUT /ticket/N with Resolved and Requestor (Started went with the create:
   _SetStatus only fills an unset Started). RT::Record::Update
   applies fields in sorted order (Resolved before Status) and _SetStatus
   stamps Resolved with "now", so the historical Resolved date only sticks
   once the status is already set; the PUT's Status is then a no-op. Role
   members are added after Update (RT::REST2::Util::update_role_members),
   and adding a watcher fires no default scrip.
Messages added to a finished ticket (incremental runs) are comments: a
correspondence would mail the requestors and reopen the ticket.

A thread of n messages costs n+1 requests: create, n-1 messages, one PUT
(requestors and the historical Resolved date). A single-message thread is
created with its status and dates, then gets its requestors: 2 requests.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from importer.errors import BackendError
from importer.records import MessageContent, ThreadPlan, TicketRef
from importer.rtclient import RTClient, auth_from_env

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
    writes = True

    def __init__(self, client: RTClient, *, queue: str = "Archive", status: str = "resolved",
                 attach_original: bool = True):
        self.client, self.queue, self.status = client, queue, status.strip().lower()
        self.attach_original = attach_original
        self._lock = threading.Lock()
        self._queue_id: str | None = None
        self._last: dict[str, str] = {}         # ticket id -> Message-ID of its plan's last message
        self._status_set: set[str] = set()      # tickets whose status this process already set

    @classmethod
    def from_config(cls, cfg_rt, status: str, env: Mapping[str, str] = os.environ) -> "RTBackend":
        return cls(make_client(cfg_rt, env), queue=cfg_rt.queue, status=status,
                   attach_original=cfg_rt.attach_original)

    def __repr__(self) -> str:
        return f"<RTBackend {self.client.base_url} queue={self.queue!r}>"

    # -- the protocol ---------------------------------------------------------------

    def create_ticket(self, plan: ThreadPlan, first: MessageContent) -> tuple[TicketRef, str]:
        payload: dict[str, Any] = {
            "Queue": self._queue(),
            "Subject": one_line(plan.subject or first.subject, SUBJECT_MAX) or "(no subject)",
            **self._body(first),
        }
        created = rt_date(plan.first_date or first.date)
        if created:
            payload["Created"] = created
        dates = self._dates(plan)
        if "Started" in dates:      # kept by _SetStatus, which only fills an unset Started
            payload["Started"] = dates["Started"]
        single = len(plan.messages) <= 1
        if single and self.status:
            payload["Status"] = self.status
            payload.update(dates)
        answer = self.client.post("/ticket", payload)
        tid = str((answer.body or {}).get("id") or "")
        if not tid.isdigit():
            raise BackendError("RT created no ticket (no id in its answer)", message_id=first.message_id)
        ticket = TicketRef(self.name, tid)
        self._remember(tid, plan, status_set=single)
        # RT's answer to a create names the ticket, not its Create transaction; asking for it
        # would cost a request per thread, and nothing needs it: find_message finds the first
        # message by its Message-ID line like any other.
        return ticket, f"{tid}:create"

    def add_message(self, ticket: TicketRef, msg: MessageContent, *, incremental: bool) -> str:
        payload = self._body(msg)
        kind = "comment" if incremental else "correspond"
        with self._lock:
            last = not incremental and self._last.get(ticket.id) == msg.message_id
            self._status_set.discard(ticket.id)
        if last and self.status:
            payload["Status"] = self.status
        answer = self.client.post(f"/ticket/{ticket.id}/{kind}", payload)
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
        return match.group(1)

    def finish_ticket(self, ticket: TicketRef, plan: ThreadPlan, *, created: bool) -> None:
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
            if not status_set and "Started" in dates:       # a ticket made by an earlier run
                fields["Started"] = dates["Started"]
        self._put(ticket, fields)
        with self._lock:
            self._last.pop(ticket.id, None)
            self._status_set.discard(ticket.id)

    def find_ticket(self, plan: ThreadPlan) -> TicketRef | None:
        """Candidates by queue and historical Created date (or subject), proven by the
        first message's Message-ID line in an entry's header block."""
        if not plan.messages:
            return None
        first_id = plan.messages[0].record.message_id
        for tid in self._candidates(plan):
            if self._find_entry(tid, first_id) is not None:
                self._remember(tid, plan, status_set=False)
                return TicketRef(self.name, tid)
        return None

    def find_message(self, ticket: TicketRef, msg: MessageContent) -> str | None:
        return self._find_entry(ticket.id, msg.message_id)

    def close(self) -> None:
        self.client.close()

    # -- helpers ---------------------------------------------------------------------

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
        qid = str((answer.body or {}).get("id") or "")
        if not qid or (answer.body or {}).get("Disabled") in (1, "1"):
            raise BackendError(f"RT queue {self.queue!r} not found or disabled")
        with self._lock:
            self._queue_id = qid
        return qid

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
        dates = [p.record.date for p in plan.messages if p.record.date is not None]
        out = {}
        first = plan.first_date or (min(dates) if dates else None)
        later = [d for p, d in ((p, p.record.date) for p in plan.messages[1:]) if d is not None]
        started = min(later) if later else first
        if rt_date(started):
            out["Started"] = rt_date(started)
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
        current = self.client.get(f"/ticket/{ticket.id}").body or {}
        have = [str(r.get("id", "")).lower() for r in current.get("Requestor") or []
                if isinstance(r, dict)]
        fields: dict[str, Any] = {}
        wanted = list(dict.fromkeys(have + valid_requestors(plan.requestors)))
        if set(wanted) != set(have):
            fields["Requestor"] = wanted
        resolved = self._dates(plan).get("Resolved")
        if resolved and str(current.get("Status", "")).lower() in INACTIVE:
            fields["Resolved"] = resolved
        if fields:
            self._put(ticket, fields)

    def _candidates(self, plan: ThreadPlan) -> list[str]:
        q = f"Queue = {tsql_quote(self.queue)}"
        created = plan.first_date or plan.messages[0].record.date
        if rt_date(created) is None:
            created = None
        if created is not None:
            # TicketSQL's "Created = 'day'" means the whole day in the user's time zone
            # (RT::Tickets::_DateLimit), so ask for a window and compare exactly here.
            lo, hi = (rt_date(created + timedelta(days=d)) for d in (-2, 2))
            q += f" AND Created > {tsql_quote(lo)} AND Created < {tsql_quote(hi)}"
        else:
            subject = one_line(plan.subject, 60)
            if subject:
                q += f" AND Subject LIKE {tsql_quote(subject)}"
        exact = rt_date(created).replace(" ", "T") + "Z" if created else None
        found: list[str] = []
        for item in self._pages("/tickets", {"query": q, "fields": "Created", "orderby": "id"}):
            if exact is None or item.get("Created") == exact:
                found.append(str(item["id"]))
        return found

    def _find_entry(self, tid: str, message_id: str) -> str | None:
        """The transaction whose text entry's header block ends with this Message-ID line."""
        want = f"Message-ID: <{message_id}>"
        query = '[{"field":"ContentType","value":"text/plain"}]'
        for item in self._pages(f"/ticket/{tid}/attachments",
                                {"query": query, "fields": "TransactionId,Content"}):
            content = item.get("Content")
            if not isinstance(content, str) or not content.startswith("From: "):
                continue
            header = content.split("\n\n", 1)[0]
            if header.rsplit("\n", 1)[-1] == want:
                return str(item.get("TransactionId"))
        return None

    def _pages(self, path: str, params: dict[str, Any], limit: int = 50):
        """Every item of a REST 2 collection, a hundred a request, at most `limit` pages."""
        for page in range(1, limit + 1):
            body = self.client.get(path, {**params, "per_page": 100, "page": page}).body or {}
            yield from body.get("items") or []
            if page >= int(body.get("pages") or 1):
                return


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
