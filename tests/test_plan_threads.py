"""The thread stage: plans, requestors, and replies to a copy dropped as a duplicate."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from importer.config import Config, StaffCfg
from importer.dedupe import Deduper
from importer.parse import parse_record
from importer.plan import build_plans, requestors
from importer.records import RawMessage, SourceRef

T0 = datetime(2020, 3, 1, 9, 0, tzinfo=timezone.utc)


def rec(n, *, sender="carol@example.net", to="hello@example.org", mid=None, refs=None,
        subject="Broken lock", body=None, fwd=None):
    date = T0 + timedelta(hours=n)
    head = [f"From: {sender}", f"To: {to}", f"Subject: {subject}",
            f"Date: {date:%a, %d %b %Y %H:%M:%S +0000}"]
    if mid is not None:
        head.append(f"Message-ID: <{mid}>")
    if refs:
        head += [f"In-Reply-To: <{refs}>", f"References: <{refs}>"]
    text = body or f"message {n}\n"
    if fwd:
        text = ("FYI\n\n---------- Forwarded message ---------\n"
                f"From: Original Person <{fwd}>\nDate: Sun, 1 Mar 2020\nSubject: {subject}\n\nhelp!\n")
    raw = ("\n".join(head) + "\n\n" + text).encode()
    out = parse_record(RawMessage(SourceRef("t.mbox", n, n * 100, len(raw), "mbox", "mboxrd"), raw))
    assert not hasattr(out, "reason"), out
    return out


STAFF = StaffCfg(domains=("example.org",))


def test_starter_outside_the_organisation_is_the_requestor():
    assert requestors([rec(0), rec(1, sender="alice@example.org")], STAFF) == ("carol@example.net",)


def test_thread_started_by_staff_names_the_first_outside_writer():
    msgs = [rec(0, sender="alice@example.org", to="dan@example.com"),
            rec(1, sender="erin@example.net"), rec(2, sender="dan@example.com")]
    assert requestors(msgs, STAFF) == ("erin@example.net",)


def test_staff_writing_to_a_customer_who_never_answered_names_the_recipient():
    msgs = [rec(0, sender="alice@example.org", to="Dan <dan@example.com>")]
    assert requestors(msgs, STAFF) == ("dan@example.com",)


def test_mail_forwarded_by_staff_names_the_original_sender():
    msg = rec(0, sender="bob@example.org", subject="Fwd: Broken lock", fwd="frank@example.com")
    assert msg.forwarded_from == "frank@example.com"
    assert requestors([msg], STAFF) == ("frank@example.com",)


def test_all_staff_thread_has_no_requestor():
    assert requestors([rec(0, sender="alice@example.org", to="bob@example.org")], STAFF) == ()


def test_reply_to_a_copy_dropped_as_duplicate_finds_the_kept_copy():
    # The same mail saved under two Message-IDs; the reply names the dropped one.
    first = rec(0, mid="a@example.net", body="same words\n")
    copy = rec(0, mid="b@example.net", body="same words\n")
    copy = replace(copy, source=SourceRef("other.mbox", 0, 0, copy.size, "mbox", "mboxrd"))
    reply = rec(1, mid="c@example.net", refs="b@example.net", subject="Re: Broken lock")
    d = Deduper()
    for r in (first, copy, reply):
        d.add(r)
    unique, dups, _ = d.result()
    assert len(dups) == 1 and dups[0].reason == "content"
    plans = build_plans(unique, Config(), dups)
    assert len(plans) == 1
    assert not plans[0].ghosts
    assert [p.record.message_id for p in plans[0].messages][1] == "c@example.net"


def test_imposter_roots_get_distinct_thread_ids():
    a = rec(0, mid="same@example.net", body="one mail\n", subject="Parking")
    b = rec(5, mid="same@example.net", body="another mail entirely\n", subject="Vouchers")
    plans = build_plans([a, b], Config())
    assert len(plans) == 2
    assert len({p.id for p in plans}) == 2


def test_a_requestor_is_always_an_address():
    """12 threads of a real archive got '@sblab.att.com' or 'mary' as their requestor."""
    msgs = [rec(0, sender="mary"), rec(1, sender="@sblab.att.com"),
            rec(2, sender="Dana <dana@example.net>")]
    assert requestors(msgs, STAFF) == ("dana@example.net",)
    assert requestors([rec(0, sender="mary", to="root")], STAFF) == ()


def test_a_bounce_sender_is_never_the_requestor_when_anyone_else_took_part():
    bounce = rec(0, sender="MAILER-DAEMON@mx.example.net", to="carol@example.net",
                 subject="Undelivered Mail Returned to Sender")
    assert requestors([bounce, rec(1, sender="alice@example.org")], STAFF) == \
        ("carol@example.net",)
    for sender in ("postmaster@example.com", "mail-daemon@x.example.com",
                   "Mail Delivery System <mailer-daemon@googlemail.com>"):
        alone = rec(0, sender=sender, to="hello@example.org")
        assert requestors([alone], STAFF) == (alone.from_addr,)     # nobody else: still named


def test_pipermail_addresses_are_turned_back_into_addresses():
    """Mailman 2 archives write 'jjl at pobox.com (John J. Lee)': a bare 'jjl' otherwise."""
    r = rec(0, sender="jjl at pobox.com (John J. Lee)", to="python-list at python.org")
    assert r.from_addr == "jjl@pobox.com" and r.to == ("python-list@python.org",)
    assert r.from_display == "John J. Lee <jjl@pobox.com>"
    assert requestors([r], STAFF) == ("jjl@pobox.com",)
    text = rec(1, sender="carol@example.net", body="meet me at noon.example.com (lobby)\n")
    assert text.from_addr == "carol@example.net"      # text is never rewritten


def test_a_pipermail_month_archived_twice_reads_once_with_real_addresses(tmp_path):
    """Mailman 2 monthly archives (.txt and .txt.gz): quarantined whole before, every
    requestor a bare user name after the separator was fixed."""
    import gzip
    import json
    import os
    import shutil
    from importer.cli import main
    src = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures",
                       "pipermail-2001-November.txt")
    shutil.copy(src, tmp_path / "2001-November.txt")
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "2001-November.txt.gz").write_bytes(
        gzip.compress(open(src, "rb").read(), mtime=0))
    report = tmp_path / "r.json"
    assert main(["dry-run", "--quiet", "--store", str(tmp_path / "s.sqlite"), "--report",
                 str(report), str(tmp_path)]) == 0
    rep = json.loads(report.read_text())
    s = rep["summary"]
    assert (s["messages_read"], s["messages_unique"], s["duplicates"], s["threads"]) == \
        (10, 5, 5, 2)
    assert {r for t in rep["threads"] for r in t["requestors"]} == \
        {"nadia.k@example.com", "felix.ortega@example.com"}
    froms = {m["from"] for t in rep["threads"] for m in t["messages"]}
    assert "Nadia Kowalski <nadia.k@example.com>" in froms
    assert all("naive-date" in " ".join(m["defects"]) for t in rep["threads"]
               for m in t["messages"])


def test_the_forward_scan_is_left_out_where_it_cannot_name_the_requestor():
    """Only a staff member's forward names someone else as the requestor: a customer's body
    is not searched (an eighth of a dry run on realistic mail)."""
    def forward(sender):
        raw = (f"From: {sender}\nTo: hello@example.org\nSubject: FYI\nDate: Sun, 1 Mar 2020"
               " 10:00:00 +0000\n\nFYI\n\n---------- Forwarded message ---------\nFrom: Original"
               " Person <orig@example.com>\nSubject: help\n\nhelp!\n").encode()
        return RawMessage(SourceRef("t.mbox", 0, 0, len(raw), "mbox", "mboxrd"), raw)
    assert parse_record(forward("alice@example.org"), staff=STAFF).forwarded_from == \
        "orig@example.com"
    assert parse_record(forward("carol@example.net"), staff=STAFF).forwarded_from is None
    assert parse_record(forward("carol@example.net")).forwarded_from == "orig@example.com"
    assert parse_record(forward("mary"), staff=STAFF).forwarded_from == "orig@example.com"
