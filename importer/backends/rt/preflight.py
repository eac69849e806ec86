"""`archive-import check`: can an import into RT work, and will it mail nobody?

Each check is a CheckResult: ok True (passed), False (the import must not
start) or None (REST 2 cannot tell; the detail says what to look at by hand).
Checks stop early only when a later one cannot be asked (no URL, no answer,
credentials refused).
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from typing import Any, Mapping

from importer.backends.rt.fields import (KEY_FIELD, custom_fields, imported_tickets, make_client,
                                         status_problem,
                                  queue_identity, rest_date)
from importer.errors import AuthError, BackendError
from importer.backends.rt.client import RTClient, auth_from_env, clean_base_url

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class StoreView:
    """What `check` needs of the store: its path, what it knows, whose it is."""

    path: str
    tickets: int              # tickets the ledger knows for this destination
    identity: str | None      # the destination it was filled against


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool | None       # None: could not be verified
    detail: str


def run_check(cfg_rt, *, create_queue: bool, env: Mapping[str, str] = os.environ,
              store: StoreView | None = None, status: str | None = None) -> list[CheckResult]:
    results = _check_url(cfg_rt, env)
    if any(r.ok is False for r in results):
        return results
    try:
        client = make_client(cfg_rt, env)
    except BackendError as exc:
        return results + [CheckResult("credentials", False, str(exc))]
    try:
        server, superuser = _check_server(client, env)
        results += server
        if any(r.ok is False for r in results):
            return results
        queue = _check_queue(client, cfg_rt.queue, create_queue, results)
        if queue is not None and status is not None:
            problem = status_problem(queue, status)
            results.append(CheckResult("status", problem is None, problem or (
                f"ticket.status {status!r}: a status of the queue's lifecycle"
                if str(queue.get("Lifecycle") or "default") == "default" else
                f"ticket.status {status!r}: make sure the queue's lifecycle"
                f" {queue.get('Lifecycle')!r} has it (REST 2 cannot list it)")))
        if queue is not None:
            results += _check_fields(client, queue, cfg_rt, create_queue)
            results += _check_rights(client, queue, superuser=superuser)
            results += _check_watchers(queue)
            if not any(r.ok is False for r in results):
                results += _check_dates(client, queue)
            if store is not None:
                results += _check_store(client, queue, cfg_rt, store)
        results.append(CheckResult(
            "scrips", None,
            "REST 2 of RT 5.0 cannot list scrips. With RT's default scrips this importer mails "
            "nobody; review any scrip added under Admin > Global > Scrips or the queue's Scrips "
            "(On Create / On Correspond / On Resolve / On Transaction ones send mail)."))
    finally:
        client.close()
    return results


def _check_url(cfg_rt, env: Mapping[str, str]) -> list[CheckResult]:
    url = cfg_rt.url   # rt.url, or RTSERVER: read once, at config load
    if not url:
        return [CheckResult("url", False, "no RT URL: set rt.url in the configuration or RTSERVER")]
    try:
        base = clean_base_url(url)
    except ValueError as exc:
        return [CheckResult("url", False, str(exc))]
    out = [CheckResult("url", True, base)]
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        out.append(CheckResult("url", None, "credentials in the URL are ignored: use RTUSER/RTPASSWD or RTTOKEN"))
    host = parts.hostname or ""
    if parts.scheme == "http":
        local = host in LOOPBACK or host.startswith("127.")
        out.append(CheckResult("tls", True if local else False,
                               "plain HTTP to this machine" if local else
                               "plain HTTP to another host would send the credentials in clear: use https://"))
    elif cfg_rt.ca_bundle:
        out.append(CheckResult("tls", True, "verified against the configured CA bundle"))
    elif cfg_rt.verify_tls:
        out.append(CheckResult("tls", True, "verified against the system's CAs"))
    else:
        out.append(CheckResult("tls", None, "certificate NOT verified (verify_tls: false)"))
    return out


def _check_server(client: RTClient, env: Mapping[str, str]) -> tuple[list[CheckResult], bool]:
    try:
        answer = client.get("/rt")
    except AuthError as exc:
        return [CheckResult("reachable", True, client.base_url),
                CheckResult("authenticated", False, f"credentials refused (HTTP {exc.status})")], False
    except BackendError as exc:
        return [CheckResult("reachable", False, str(exc))], False
    body = answer.body if isinstance(answer.body, dict) else {}
    version = str(body.get("Version", "?"))
    out = [CheckResult("reachable", True, f"{client.base_url}, RT {version}")]
    if not version.startswith("5."):
        out.append(CheckResult("version", None, f"RT {version}: tested with RT 5.0"))
    superuser = "Plugins" in body    # REST 2 lists plugins to superusers only (Resource/RT.pm)
    kind = auth_from_env(env)[1]
    who = kind.user or "(token)"
    detail = f"as {who} ({kind.kind})" + (", superuser" if superuser else "")
    if kind.user:
        try:
            user = client.get(f"/user/{urllib.parse.quote(kind.user, safe='')}").body or {}
            if str(user.get("Disabled", "0")) == "1":
                return out + [CheckResult("authenticated", False, f"user {kind.user} is disabled")], False
            if not user.get("Privileged"):
                detail += ", unprivileged (cannot be given queue rights in most setups)"
        except BackendError:
            detail += ", user record not readable"
    return out + [CheckResult("authenticated", True, detail)], superuser


def _check_queue(client: RTClient, name: str, create: bool, results: list[CheckResult]) -> dict | None:
    path = f"/queue/{urllib.parse.quote(name, safe='')}"
    try:
        queue = client.get(path, {"fields": "_hyperlinks"}).body or {}
    except BackendError as exc:
        if exc.status != 404:
            results.append(CheckResult("queue", False, f"{name}: {exc}"))
            return None
        if not create:
            results.append(CheckResult("queue", False, f"queue {name!r} not found (--create-queue makes it)"))
            return None
        try:
            client.post("/queue", {"Name": name, "Description": "Imported mail archive"})
            queue = client.get(path).body or {}
        except BackendError as exc2:
            results.append(CheckResult("queue", False, f"could not create queue {name!r}: {exc2}"))
            return None
        results.append(CheckResult("queue", True, f"queue {name!r} created (id {queue.get('id')})"))
        return queue
    if str(queue.get("Disabled", "0")) == "1":
        results.append(CheckResult("queue", False, f"queue {name!r} is disabled"))
        return None
    results.append(CheckResult("queue", True, f"queue {name!r} found (id {queue.get('id')})"))
    return queue


def _links(record: dict) -> set[str]:
    return {str(link.get("ref")) for link in record.get("_hyperlinks") or [] if isinstance(link, dict)}


def _check_rights(client: RTClient, queue: dict, *, superuser: bool) -> list[CheckResult]:
    """CreateTicket shows as the queue's "create" link; the ticket rights as the links of a
    ticket already in the queue (Resource/Ticket.pm). Without such a ticket they cannot be seen."""
    if superuser:
        return [CheckResult("rights", True, "superuser: every right")]
    out = [CheckResult("right CreateTicket", "create" in _links(queue),
                       "SeeQueue: queue readable; CreateTicket " +
                       ("granted" if "create" in _links(queue) else "missing on this queue"))]
    try:
        found = client.get("/tickets", {"query": f"Queue = {queue.get('id')}", "per_page": 1}).body or {}
        items = found.get("items") or []
        ticket = (client.get(f"/ticket/{items[0]['id']}").body or {}) if items else None
    except BackendError:
        ticket = None
    if ticket is None:
        return out + [CheckResult("rights on tickets", None,
                                  "no readable ticket in the queue to read them from: the import user "
                                  "needs ShowTicket, ModifyTicket, ReplyToTicket, CommentOnTicket, "
                                  "Watch (to add requestors) on this queue")]
    links = _links(ticket)
    for right, ref in (("ShowTicket", "self"), ("ReplyToTicket", "correspond"),
                       ("CommentOnTicket", "comment")):
        out.append(CheckResult(f"right {right}", ref in links or right == "ShowTicket",
                               "granted" if ref in links or right == "ShowTicket" else "missing"))
    lifecycle = any(link.get("ref") == "lifecycle" for link in ticket.get("_hyperlinks") or [])
    out.append(CheckResult("right ModifyTicket", True if lifecycle else None,
                           "status changes offered" if lifecycle else
                           "cannot be seen on this ticket: make sure ModifyTicket is granted"))
    return out


def _check_watchers(queue: dict) -> list[CheckResult]:
    """Queue AdminCc and Cc are mailed by "On Create/On Correspond Notify ..." whatever the order."""
    out = []
    for role in ("AdminCc", "Cc"):
        members = [_member_name(m) for m in queue.get(role) or []]
        out.append(CheckResult(
            f"queue {role}", not members,
            f"would be mailed on every ticket: {', '.join(members)}; remove them for the import"
            if members else "none"))
    return out


def _member_name(member: Any) -> str:
    if isinstance(member, dict):
        return str(member.get("id", "?"))[:100]
    return str(member)[:100]


def ensure_fields(client: RTClient, queue_id: str, key_field: str = KEY_FIELD,
                  date_field: str | None = None) -> list[str]:
    """Create the ticket custom fields the import uses, applied to the queue; the names made.

    RT::CustomField::Create applies a new field to the queue given as `Queue` (its
    "compat code"), so one REST 2 request per field does it."""
    have = custom_fields(client, queue_id)
    made = []
    wanted = [(key_field, "Freeform", "Archive import: the key that finds this ticket again")]
    if date_field:
        wanted.append((date_field, "DateTime", "Archive import: the conversation's first date"))
    for name, kind, description in wanted:
        if name.lower() in have:
            continue
        client.post("/customfield", {"Name": name, "Type": kind, "MaxValues": 1,
                                     "LookupType": "RT::Queue-RT::Ticket",
                                     "Queue": int(queue_id), "Description": description})
        made.append(name)
    if made and key_field.lower() not in custom_fields(client, queue_id):
        raise BackendError(f"custom field {key_field!r} was created but does not apply to the"
                           " queue: apply it under Admin > Custom Fields > Applies to")
    return made


def _check_fields(client: RTClient, queue: dict, cfg_rt, create: bool) -> list[CheckResult]:
    qid = str(queue.get("id"))
    out = []
    if create:
        try:
            made = ensure_fields(client, qid, cfg_rt.key_field, cfg_rt.date_field or None)
        except BackendError as exc:
            return [CheckResult("key field", False, f"could not create it: {exc}")]
        if made:
            out.append(CheckResult("custom fields", True, "created: " + ", ".join(made)))
    try:
        have = custom_fields(client, qid)
    except BackendError as exc:
        return out + [CheckResult("key field", False, f"custom fields not readable: {exc}")]
    key = cfg_rt.key_field
    out.append(CheckResult(
        "key field", key.lower() in have,
        f"ticket custom field {key!r} applies to the queue (finds tickets again without the store)"
        if key.lower() in have else
        f"no ticket custom field {key!r} on this queue: --create-queue creates it, or an admin"
        f" creates it (Admin > Custom Fields > Create: Freeform, one value, applies to tickets,"
        f" then Applies to this queue; the import user needs SeeCustomField and"
        f" ModifyCustomField on it)"))
    if cfg_rt.date_field:
        present = cfg_rt.date_field.lower() in have
        out.append(CheckResult(
            "date field", True if present else None,
            f"{cfg_rt.date_field!r} will hold each thread's first date" if present else
            f"no {cfg_rt.date_field!r} custom field: each ticket's first date goes to Started only"
            " (--create-queue creates it: DateTime, one value)"))
    return out


PROBE_DATE = "2001-02-03 04:05:06"


def _check_dates(client: RTClient, queue: dict) -> list[CheckResult]:
    """One probe: does this RT keep a historical Created given over REST 2?

    Debian 12's request-tracker5 5.0.3+dfsg-3~deb12u7 drops it silently
    (RT::REST2::Resource::Record::Writable::immutable_fields); earlier and later
    builds keep it. The probe ticket has no requestor (nobody is mailed) and is
    deleted at once."""
    try:
        answer = client.post("/ticket", {
            "Queue": queue.get("id"), "Subject": "archive-import check: date probe (deleted)",
            "Created": PROBE_DATE, "Content": "A probe of archive-import check; safe to ignore.",
            "ContentType": "text/plain"})
        tid = str((answer.body or {}).get("id") or "")
        got = str((client.get(f"/ticket/{tid}").body or {}).get("Created") or "")
        client.put(f"/ticket/{tid}", {"Status": "deleted"})
    except BackendError as exc:
        return [CheckResult("dates", None, f"could not probe whether RT keeps Created: {exc}")]
    if got == rest_date(PROBE_DATE):
        return [CheckResult("dates", True, "this RT keeps historical Created dates: tickets show"
                            " their thread's first date as Created")]
    return [CheckResult("dates", True, "this RT ignores Created over REST 2 (it shows the import"
                        " time): each ticket's first date goes to Started (and the date field);"
                        " to fix RT's own history afterwards run contrib/rt-import-dates on the"
                        " RT host (README, \"Original dates in RT's history\")")]


def _check_store(client: RTClient, queue: dict, cfg_rt, store: StoreView) -> list[CheckResult]:
    """An empty store against a queue that already holds imported tickets is worth a word:
    a run finds them in RT (one lookup per thread), but it may be the wrong store."""
    mine = queue_identity(client.base_url, cfg_rt.queue, queue.get("id"), queue.get("Created"))
    if store.identity is not None and store.identity != mine:
        return [CheckResult("store", False, f"{store.path} belongs to {store.identity}, not to"
                            f" {mine}: use a new --store for this RT")]
    have = custom_fields(client, str(queue.get("id")))
    key = have.get(cfg_rt.key_field.lower())
    if key is None:
        return []
    imported = imported_tickets(client, str(queue.get("id")), key[0])
    shown = "some" if imported is None else str(imported)
    if store.tickets == 0 and imported != 0:
        return [CheckResult("store", None, f"{store.path} knows no ticket, but the queue already"
                            f" holds {shown} imported tickets: a run finds them again in RT (one"
                            " request per thread); if you have the store of that import, use it"
                            " (--store)")]
    return [CheckResult("store", True, f"{store.path}: {store.tickets} tickets known, "
                        f"{shown} imported tickets in the queue")]
