"""The RT backend against a real RT 5: nobody mailed, faithful tickets, lost answers, errors."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
import requests

from backend_contract import make_message, make_plan
from rthelpers import make_rt_backend, rt_datetime
from importer.backends.base import Found
from importer.errors import AuthError, BackendError
from importer.records import Attachment

pytestmark = pytest.mark.rt


def _raw(body: bytes, charset: str, mid: str) -> bytes:
    return (b"From: Zo\xc3\xab <zoe@example.org>\nTo: help@example.org\nSubject: caf\xc3\xa9\n"
            b"Date: Sun, 16 Feb 2014 10:00:00 +0000\nMessage-ID: <" + mid.encode() + b">\n"
            b"Content-Type: text/plain; charset=" + charset.encode() +
            b"\nContent-Transfer-Encoding: 8bit\n\n" + body)


def _thread(n, requestors=("alice@example.org", "bob@example.org"), **kw):
    msgs = [make_message(i, **kw) for i in range(n)]
    plan = replace(make_plan(msgs), requestors=tuple(requestors))
    return plan, msgs


def _deliver(backend, plan, msgs):
    ticket, first = backend.create_ticket(plan, msgs[0])
    entries = [first] + [backend.add_message(ticket, m, incremental=False) for m in msgs[1:]]
    backend.finish_ticket(ticket, plan, created=True)
    return ticket, entries


def test_full_import_mails_nobody_and_keeps_history(rt_backend, reader, rt):
    plan, msgs = _thread(3)
    ticket, entries = _deliver(rt_backend, plan, msgs)
    t = reader.ticket(ticket.id)
    assert t["Status"] == "resolved"
    assert {r["id"] for r in t["Requestor"]} == {"alice@example.org", "bob@example.org"}
    assert rt_datetime(t["Started"]) == plan.first_date
    assert rt_datetime(t["Resolved"]) == plan.last_date
    # Debian's RT drops Created: the ticket shows the import time, and the backend knows it.
    assert (rt_datetime(t["Created"]) == plan.first_date) is rt.keeps_created
    assert rt_backend.keeps_created is rt.keeps_created
    txns = [x["id"] for x in reader.transactions(ticket.id)]
    assert entries == [f"{ticket.id}:create"] + txns[1:]
    assert len(txns) == len(msgs)
    texts = [reader.content(a["id"]).decode() for a in reader.attachments(ticket.id)
             if a["ContentType"] == "text/plain" and not a["Filename"]]
    assert texts == [m.header_block() + "\n\n" + m.text for m in msgs]


def test_incremental_comment_on_resolved_ticket_with_requestors_mails_nobody(rt_backend, reader):
    plan, msgs = _thread(2)
    ticket, _ = _deliver(rt_backend, plan, msgs)
    later = make_message(7)
    entry = rt_backend.add_message(ticket, later, incremental=True)
    more = replace(plan, requestors=plan.requestors + ("dave@example.org",),
                   last_date=later.date)
    rt_backend.finish_ticket(ticket, more, created=False)
    t = reader.ticket(ticket.id)
    assert t["Status"] == "resolved"
    assert rt_datetime(t["Resolved"]) == later.date
    assert {r["id"] for r in t["Requestor"]} == {"alice@example.org", "bob@example.org",
                                                 "dave@example.org"}
    assert reader.transactions(ticket.id)[-1] == {**reader.transactions(ticket.id)[-1],
                                                   "id": entry, "Type": "Comment"}


def test_the_mail_count_sees_a_naive_import(rt_server, rt_queue):
    # The control for every zero above: a create with a Requestor is auto-replied to.
    before = rt_server.mail_count()
    r = rt_server.session().post(rt_server.url + "/REST/2.0/ticket", json={
        "Queue": rt_queue, "Subject": "naive", "Requestor": "victim@example.org",
        "Content": "hello", "ContentType": "text/plain"})
    assert r.status_code == 201
    assert rt_server.mail_count() == before + 1


def test_status_and_resolved_in_one_put_loses_the_resolved_date(rt_server, rt_queue, no_mail):
    # Why the backend sets the status first: RT::Record::Update applies Resolved before
    # Status, and _SetStatus then stamps Resolved with "now".
    s, base = rt_server.session(), rt_server.url + "/REST/2.0"
    tid = s.post(base + "/ticket", json={"Queue": rt_queue, "Subject": "one put",
                                         "Created": "2014-02-16 10:00:00"}).json()["id"]
    s.put(base + f"/ticket/{tid}", json={"Status": "resolved", "Resolved": "2014-03-01 12:00:00",
                                         "Requestor": ["carol@example.net"]})
    t = s.get(base + f"/ticket/{tid}").json()
    assert t["Status"] == "resolved" and t["Resolved"] != "2014-03-01T12:00:00Z"


@pytest.mark.parametrize("body,charset", [
    ("caf\u00e9 \u2603 na\u00efve\n".encode("utf-8"), "utf-8"),
    ("caf\u00e9 na\u00efve \u00a3\n".encode("latin-1"), "iso-8859-1"),
])
def test_original_comes_back_byte_exact(rt_backend, reader, body, charset):
    msg = make_message(0)
    msg = replace(msg, raw=_raw(body, charset, msg.message_id))
    plan = make_plan([msg])
    ticket, _ = rt_backend.create_ticket(plan, msg)
    create_txn = reader.transactions(ticket.id)[0]["id"]
    digest, ctype = reader.original_sha256(ticket.id, create_txn)
    assert digest == hashlib.sha256(msg.raw).hexdigest()
    assert ctype == "application/octet-stream"


def test_attachments_keep_unicode_names_types_and_empty_files(rt_backend, reader):
    atts = (Attachment("Zo\u00eb \u2603.pdf", "application/pdf", b"%PDF\x00\xff"),
            Attachment("", "text/plain", b""),
            Attachment("../../etc/passwd", "bogus type", b"x"))
    msg = make_message(0, attachments=atts)
    ticket, entry = rt_backend.create_ticket(make_plan([msg]), msg)
    got = {(a["Filename"], a["ContentType"]) for a in reader.attachments(ticket.id) if a["Filename"]}
    assert ("Zo\u00eb \u2603.pdf", "application/pdf") in got
    assert ("attachment-2", "text/plain") in got
    assert (".._.._etc_passwd", "application/octet-stream") in got


def test_single_message_thread_is_created_resolved_with_its_dates(rt_backend, reader):
    plan, msgs = _thread(1)
    ticket, _ = _deliver(rt_backend, plan, msgs)
    t = reader.ticket(ticket.id)
    assert t["Status"] == "resolved"
    assert rt_datetime(t["Started"]) == rt_datetime(t["Resolved"]) == plan.first_date


@pytest.mark.parametrize("n", [1, 2, 5])
def test_a_thread_of_n_messages_costs_n_plus_1_requests(rt_backend, n):
    _deliver(rt_backend, *_thread(1))        # the run's one-off requests (queue, date probe)
    plan, msgs = _thread(n)
    before = rt_backend.client.requests_sent
    _deliver(rt_backend, plan, msgs)
    assert rt_backend.client.requests_sent - before == n + 1


def test_hostile_requestors_are_left_out(rt_backend, reader):
    plan, msgs = _thread(1, requestors=("root", "x y@example.org", "ok@example.org"))
    ticket, _ = _deliver(rt_backend, plan, msgs)
    assert [r["id"] for r in reader.ticket(ticket.id)["Requestor"]] == ["ok@example.org"]


def test_lookup_tells_apart_two_threads_of_the_same_day(rt_backend):
    a_plan, a_msgs = _thread(2)
    b_plan, b_msgs = _thread(2)
    a, _ = rt_backend.create_ticket(a_plan, a_msgs[0])
    b, _ = rt_backend.create_ticket(b_plan, b_msgs[0])
    assert a != b
    assert rt_backend.lookup(a_plan).ticket == a and rt_backend.lookup(b_plan).ticket == b
    assert rt_backend.find_message(a, b_msgs[0]) is None


def test_lookup_needs_no_date(rt_backend):
    msg = replace(make_message(0, subject="No date at all"), date=None)
    plan = replace(make_plan([msg]), first_date=None, last_date=None)
    ticket, _ = rt_backend.create_ticket(plan, msg)
    assert rt_backend.lookup(plan).ticket == ticket


class _LoseAnswer(requests.adapters.HTTPAdapter):
    """Forwards the request to RT, then drops RT's answer (once per matching request)."""

    def __init__(self, lose):
        super().__init__()
        self.lose = lose

    def send(self, request, **kw):
        resp = super().send(request, **kw)
        if self.lose and self.lose[0](request):
            self.lose.pop(0)
            raise requests.exceptions.ConnectionError("connection reset by peer (simulated)")
        return resp


def test_lost_answers_raise_transient_and_find_reports_what_rt_did(rt_env, rt_queue, no_mail,
                                                                    reader):
    lose = [lambda r: r.method == "POST" and r.path_url.endswith("/ticket"),
            lambda r: r.method == "POST" and r.path_url.endswith("/correspond")]
    backend = make_rt_backend(rt_env, rt_queue, adapter=lambda: _LoseAnswer(lose))
    backend.open()
    plan, msgs = _thread(2)
    with pytest.raises(BackendError) as lost:
        backend.create_ticket(plan, msgs[0])
    assert lost.value.transient
    ticket = backend.lookup(plan).ticket
    assert backend.find_message(ticket, msgs[0]) is not None
    with pytest.raises(BackendError) as lost:
        backend.add_message(ticket, msgs[1], incremental=False)
    assert lost.value.transient
    entry = backend.find_message(ticket, msgs[1])
    assert entry is not None
    backend.finish_ticket(ticket, plan, created=True)
    assert [t["id"] for t in reader.transactions(ticket.id)][-1] == entry
    assert len(reader.transactions(ticket.id)) == 2
    t = reader.ticket(ticket.id)
    assert t["Status"] == "resolved" and rt_datetime(t["Resolved"]) == plan.last_date


def test_missing_queue_is_a_clear_permanent_error(rt_env, no_mail):
    backend = make_rt_backend(rt_env, "No Such Queue")
    plan, msgs = _thread(1)
    with pytest.raises(BackendError) as err:
        backend.create_ticket(plan, msgs[0])
    assert not err.value.transient and "No Such Queue" in str(err.value)


def test_bad_password_is_an_auth_error_without_the_secret(rt_env, rt_queue, no_mail):
    env = {**rt_env, "RTPASSWD": "s3cret-wrong-pw"}
    backend = make_rt_backend(env, rt_queue)
    plan, msgs = _thread(1)
    with pytest.raises(AuthError) as err:
        backend.create_ticket(plan, msgs[0])
    assert err.value.status == 401
    assert "s3cret" not in str(err.value) + repr(err.value) + repr(backend) + repr(backend.client)


def test_rerun_after_finish_changes_nothing(rt_backend, reader, rt_env, rt_queue):
    plan, msgs = _thread(2)
    ticket, entries = _deliver(rt_backend, plan, msgs)
    rt_backend.finish_ticket(ticket, plan, created=True)      # the driver may repeat it
    later = make_rt_backend(rt_env, rt_queue)                 # a rerun: nothing in memory
    later.open()
    assert later.lookup(plan) == Found(ticket, True)
    txns = [t["id"] for t in reader.transactions(ticket.id)]
    assert [later.find_message(ticket, m) for m in msgs] == txns
    assert len(txns) == 2


def test_other_status_leaves_resolved_unset(rt_env, rt_queue, no_mail, reader):
    backend = make_rt_backend(rt_env, rt_queue, status="open")
    backend.open()
    plan, msgs = _thread(2)
    ticket, _ = _deliver(backend, plan, msgs)
    t = reader.ticket(ticket.id)
    assert t["Status"] == "open" and rt_datetime(t["Resolved"]) is None


def test_dates_before_1970_are_left_to_rt_and_the_ticket_is_still_found(rt_backend, reader):
    # RT::Date takes an epoch of 0 or less as "not set": the date stays in the header block.
    msg = replace(make_message(0), date=datetime(1969, 7, 20, 20, 17, tzinfo=timezone.utc))
    plan = replace(make_plan([msg]), first_date=msg.date, last_date=msg.date + timedelta(days=1))
    ticket, _ = _deliver(rt_backend, plan, [msg])
    t = reader.ticket(ticket.id)
    assert not t["Created"].startswith("1970-01-01")
    assert rt_backend.lookup(plan).ticket == ticket


def test_parallel_workers_share_one_backend_safely(rt_backend, reader, tmp_path):
    from importer.deliver import Deliverer, RetryPolicy
    from importer.store.ledger import Ledger
    from importer.store.schema import open_store
    threads = [_thread(n % 3 + 1) for n in range(6)]
    by_id = {m.message_id: m for _, msgs in threads for m in msgs}
    conn = open_store(str(tmp_path / "ledger.sqlite"))
    try:
        out = Deliverer(rt_backend, Ledger(conn, "rt:parallel"), lambda rec: by_id[rec.message_id],
                        retry=RetryPolicy(attempts=2, base=0.0)).run([p for p, _ in threads],
                                                                     workers=3)
    finally:
        conn.close()
    assert [o.error for o in out] == [None] * 6
    for o, (plan, msgs) in zip(out, threads):
        t = reader.ticket(o.ticket.id)
        assert t["Status"] == "resolved" and rt_datetime(t["Resolved"]) == plan.last_date
        assert len(reader.transactions(o.ticket.id)) == len(msgs)


def test_writes_ride_on_the_login_session_not_on_a_password_check_each(rt, no_mail):
    """After the web login a write is authenticated by the session cookie (RT checks a
    basic-auth password with bcrypt on every request: 0.43 s of a request at RT's default
    cost), which RT takes for a write only with its own Origin: with the password the
    client would send now wrong, the write still succeeds."""
    from importer.backends.rt.client import RTClient, auth_from_env
    client = RTClient(rt.url, auth_from_env({"RTUSER": rt.auth[0], "RTPASSWD": rt.auth[1]})[0])
    try:
        assert client.get("/rt").status == 200                 # logs in
        client._session().auth = auth_from_env({"RTUSER": rt.auth[0], "RTPASSWD": "wrong"})[0]
        made = client.post("/queue", {"Name": f"cookie-{id(client)}"})
        assert made.status == 201
    finally:
        client.close()
    wrong = RTClient(rt.url, auth_from_env({"RTUSER": rt.auth[0], "RTPASSWD": "wrong"})[0])
    try:
        with pytest.raises(AuthError):        # no session: the wrong password is refused
            wrong.post("/queue", {"Name": f"refused-{id(wrong)}"})
    finally:
        wrong.close()


def test_an_origin_rt_refuses_costs_only_speed_the_password_still_carries_the_write(rt, no_mail):
    """Reached by another name than its WebDomain (a proxy's public name; here 127.0.0.2,
    which loopback answers), RT refuses the session cookie on a write as cross-site; the
    basic auth that travels with every request still authenticates it."""
    from importer.backends.rt.client import RTClient, auth_from_env
    other_name = rt.url.replace("127.0.0.1", "127.0.0.2")
    creds = {"RTUSER": rt.auth[0], "RTPASSWD": rt.auth[1]}
    client = RTClient(other_name, auth_from_env(creds)[0])
    try:
        assert client.get("/rt").status == 200
        assert client._session().headers.get("Origin") == other_name
        assert client.post("/queue", {"Name": f"proxied-{id(client)}"}).status == 201
        client._session().auth = auth_from_env({**creds, "RTPASSWD": "wrong"})[0]
        with pytest.raises(AuthError):      # the cookie alone was refused: the password did it
            client.post("/queue", {"Name": f"proxied-wrong-{id(client)}"})
    finally:
        client.close()
