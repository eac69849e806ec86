"""RT's wire forms: dates, requestors, TicketSQL, the key and date custom fields, attachments,
and the client made from the configuration. Pure helpers of the RT backend (backend.py)."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
from datetime import datetime, timezone
from typing import Any, Mapping

from importer.backends.rt.client import RTClient, auth_from_env
from importer.errors import BackendError

log = logging.getLogger(__name__)

# Statuses of RT's default lifecycle that stamp Resolved (etc/RT_Config.pm, "inactive").
INACTIVE = frozenset({"resolved", "rejected", "deleted"})
# Every status of RT's "default" lifecycle (etc/RT_Config.pm, %Lifecycles).
DEFAULT_LIFECYCLE = ("new", "open", "stalled", "resolved", "rejected", "deleted")


def status_problem(queue: dict, status: str) -> str | None:
    """Why `ticket.status` cannot work on this queue, or None. Only RT's default lifecycle
    can be checked through REST 2 (it does not list a custom lifecycle's statuses)."""
    lifecycle = str(queue.get("Lifecycle") or "default")
    if not status or lifecycle != "default" or status in DEFAULT_LIFECYCLE:
        return None
    return (f"ticket.status {status!r} is not a status of queue {queue.get('Name')!r} (lifecycle"
            f" 'default': {', '.join(DEFAULT_LIFECYCLE)}); every ticket's last step would fail")
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
EPOCH_FLOOR = datetime(1970, 1, 2, tzinfo=timezone.utc)
SUBJECT_MAX = 200          # RT's Tickets.Subject is varchar(200)
KEY_FIELD = "Archive-Import-Key"        # rt.key_field: the ticket custom field with the key
DATE_FIELD = "Archive-Original-Date"    # rt.date_field: used where the admin created it



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


def attachment(name: str, ctype: str, data: bytes, n: int) -> dict[str, str]:
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


def path_part(name: str) -> str:
    from urllib.parse import quote
    return quote(name, safe="")


def make_client(cfg_rt, env: Mapping[str, str] = os.environ) -> RTClient:
    """The client from the configuration (rt.url, or RTSERVER read with it) and the
    credentials in the environment (RTUSER and RTPASSWD, or RTTOKEN)."""
    url = cfg_rt.url
    if not url:
        raise BackendError("no RT URL: set rt.url in the configuration or RTSERVER")
    auth, creds = auth_from_env(env)
    if auth is None:
        raise BackendError("no RT credentials: set RTTOKEN, or RTUSER and RTPASSWD")
    verify: bool | str = cfg_rt.ca_bundle or bool(cfg_rt.verify_tls)
    try:
        return RTClient(url, auth, verify=verify, timeout=cfg_rt.timeout)
    except ValueError as exc:
        raise BackendError(f"bad RT URL: {exc}") from None
