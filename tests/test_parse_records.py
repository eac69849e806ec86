"""parse_record: the fields of a MessageRecord, its defects, dates, ids and quarantine."""

from datetime import datetime, timedelta, timezone
from email.parser import BytesHeaderParser
from email.policy import compat32

import pytest
from hypothesis import given, settings, strategies as st

from importer.mail.headers import header_fields
from importer.parse import parse_record
from importer.records import DateSource, MessageRecord, RawMessage, SourceRef, Unreadable

BASE = (b"From: Alice Example <Alice@Example.ORG>\n"
        b"To: bob@example.org, \"Carol, C.\" <Carol@Example.org>\n"
        b"Cc: dave@example.org\n"
        b"Subject: Printer on fire\n"
        b"Date: Tue, 1 Mar 2011 10:00:00 +0100\n"
        b"Message-ID: <abc.123@example.org>\n"
        b"\n"
        b"It is burning.\n")


def parse(data: bytes, from_line: bytes | None = None):
    return parse_record(RawMessage(SourceRef("inbox.mbox", 0), data, from_line))


def record(data: bytes, from_line: bytes | None = None) -> MessageRecord:
    rec = parse(data, from_line)
    assert isinstance(rec, MessageRecord), rec
    return rec


def codes(rec) -> set[str]:
    return {d.code for d in rec.defects}


def with_header(name: bytes, value: bytes | None, data: bytes = BASE) -> bytes:
    """BASE with header `name` replaced by `value` (or removed when None)."""
    lines = [ln for ln in data.split(b"\n\n", 1)[0].split(b"\n")
             if not ln.lower().startswith(name.lower() + b":")]
    if value is not None:
        lines.append(name + b": " + value)
    return b"\n".join(lines) + b"\n\n" + data.split(b"\n\n", 1)[1]


def test_plain_message_gives_every_field():
    rec = record(BASE)
    assert rec.message_id == "abc.123@example.org" and not rec.synthetic_id
    assert rec.from_addr == "alice@example.org"
    assert rec.from_display == "Alice Example <Alice@Example.ORG>"
    assert rec.to == ("bob@example.org", "carol@example.org")
    assert rec.cc == ("dave@example.org",)
    assert rec.subject == "Printer on fire"
    assert rec.date == datetime(2011, 3, 1, 9, 0, tzinfo=timezone.utc)
    assert rec.date_source is DateSource.DATE
    assert rec.size == len(BASE) and len(rec.sha256) == 64
    assert rec.defects == ()


def test_encoded_display_name_with_comma_stays_one_address():
    rec = record(with_header(b"From", b"=?utf-8?q?M=C3=BCller=2C_J=C3=B6rg?= <J@X.org>"))
    assert rec.from_addr == "j@x.org"
    assert rec.from_display == "Müller, Jörg <J@X.org>"
    rec = record(with_header(b"To", b"=?iso-8859-1?q?Doe=2C_Jos=E9?= <jd@x.org>, k@y.org"))
    assert rec.to == ("jd@x.org", "k@y.org")


@pytest.mark.parametrize("raw_id", [b"<<abc.123@example.org>>", b"abc.123@example.org",
                                    b"<abc.123@\n example.org>",
                                    b"(a comment) <abc.123@example.org>"])
def test_message_id_forms_are_normalised(raw_id):
    assert record(with_header(b"Message-ID", raw_id)).message_id == "abc.123@example.org"


def test_missing_message_id_gives_a_deterministic_synthetic_id():
    data = with_header(b"Message-ID", None)
    first, again = record(data), record(data + b"")
    assert first.synthetic_id and "no-message-id" in codes(first)
    assert first.message_id == again.message_id
    assert first.message_id == f"synthetic.{first.content_hash[:32]}@archive-import.invalid"
    other = record(with_header(b"Message-ID", None, BASE + b"more\n"))
    assert other.message_id != first.message_id


def test_unusable_message_id_is_a_defect_and_synthetic():
    rec = record(with_header(b"Message-ID", b"<>"))
    assert rec.synthetic_id and "bad-message-id" in codes(rec)


def test_references_and_in_reply_to_are_read():
    data = with_header(b"References", b"<a@x> <b@x>\n\t<c@x>",
                       with_header(b"In-Reply-To", b"<c@x> (Carol's message)"))
    rec = record(data)
    assert rec.references == ("a@x", "b@x", "c@x") and rec.in_reply_to == ("c@x",)


@pytest.mark.parametrize("irt", [
    b"<bob@example.org>",                       # To (the fast path reads it)
    b"<carol@EXAMPLE.org>",                     # To, another case
    b"<Carol@Example.org> (Carol's message)",   # the general path
    b"\n <dave@example.org>",                   # Cc, folded
    b"<alice@example.org>",                     # From
    b"<desk@example.net>",                      # Reply-To
])
def test_in_reply_to_naming_an_address_of_the_message_is_no_id(irt):
    data = with_header(b"In-Reply-To", irt,
                       with_header(b"Reply-To", b"Help Desk <desk@example.net>"))
    assert record(data).in_reply_to == ()


def test_in_reply_to_keeps_its_ids_beside_a_dropped_address():
    data = with_header(b"In-Reply-To", b"<parent@example.net> <bob@example.org>")
    assert record(data).in_reply_to == ("parent@example.net",)


def test_in_reply_to_id_that_is_no_address_of_the_message_stays_an_id():
    data = with_header(b"In-Reply-To", b"<erin@example.org>")   # nobody in this mail
    assert record(data).in_reply_to == ("erin@example.org",)


def test_references_equal_to_an_address_are_kept():
    data = with_header(b"References", b"<bob@example.org>")
    assert record(data).references == ("bob@example.org",)


def test_zmail_in_reply_to_gives_no_parent_even_when_the_person_is_not_a_recipient():
    data = with_header(b"In-Reply-To",
                       b'"Erin Example" <erin@example.net>\n        "Printer" (Mar  1,  9:00)')
    assert record(data).in_reply_to == ()


def test_git_send_email_yes_gives_no_parent_and_no_id():
    data = with_header(b"References", b"<yes>\n <cover@example.org>",
                       with_header(b"In-Reply-To", b"<yes>"))
    rec = record(data)
    assert rec.in_reply_to == () and rec.references == ("cover@example.org",)
    rec = record(with_header(b"Message-ID", b"<yes>"))
    assert rec.synthetic_id and "bad-message-id" in codes(rec)


RECEIVED = (b"Received: from a by b; Wed, 2 Mar 2011 08:00:00 +0000\n"
            b"Received: from c by d; Wed, 2 Mar 2011 09:30:00 +0000\n"
            b"Received: from e by f (no date here)\n")


def test_missing_date_falls_back_to_the_newest_received():
    rec = record(RECEIVED + with_header(b"Date", None))
    assert rec.date == datetime(2011, 3, 2, 9, 30, tzinfo=timezone.utc)
    assert rec.date_source is DateSource.RECEIVED and "no-date" in codes(rec)


def test_unparseable_date_is_a_defect_and_falls_back():
    rec = record(RECEIVED + with_header(b"Date", b"sometime last week"))
    assert rec.date_source is DateSource.RECEIVED and "bad-date" in codes(rec)


@pytest.mark.parametrize("value", [b"Mon, 1 Jan 1951 10:00:00 +0000",
                                   b"Fri, 1 Jan 2038 10:00:00 +0000"])
def test_absurd_dates_are_rejected(value):
    rec = record(RECEIVED + with_header(b"Date", value))
    assert rec.date_source is DateSource.RECEIVED and "bad-date" in codes(rec)


def test_date_days_after_the_newest_received_is_absurd_but_a_day_is_not():
    late = record(RECEIVED + with_header(b"Date", b"Mon, 14 Mar 2011 10:00:00 +0000"))
    assert late.date_source is DateSource.RECEIVED
    skewed = record(RECEIVED + with_header(b"Date", b"Thu, 3 Mar 2011 10:00:00 +0000"))
    assert skewed.date_source is DateSource.DATE


def test_date_without_zone_is_utc_with_a_defect():
    rec = record(with_header(b"Date", b"Tue, 1 Mar 2011 10:00:00"))
    assert rec.date == datetime(2011, 3, 1, 10, 0, tzinfo=timezone.utc)
    assert "naive-date" in codes(rec)
    assert "naive-date" not in codes(record(with_header(b"Date",
                                                        b"Tue, 1 Mar 2011 10:00:00 -0000")))


def test_from_line_date_is_the_last_resort():
    data = with_header(b"Date", None)
    rec = record(data, b"From alice@example.org Thu Mar  3 12:34:56 2011")
    assert rec.date == datetime(2011, 3, 3, 12, 34, 56, tzinfo=timezone.utc)
    assert rec.date_source is DateSource.FROM_LINE
    none = record(data)
    assert none.date is None and none.date_source is DateSource.NONE


def test_duplicate_single_fields_are_a_defect_and_the_first_wins():
    rec = record(b"Subject: first\n" + BASE)
    assert rec.subject == "first" and "duplicate-header" in codes(rec)


def test_raw_8bit_headers_are_decoded_with_a_defect():
    rec = record(with_header(b"Subject", "Grüße aus Köln".encode("latin-1")))
    assert rec.subject == "Grüße aus Köln" and "8bit-header" in codes(rec)
    rec = record(with_header(b"Subject", "Привет из Москвы".encode("utf-8")))
    assert rec.subject == "Привет из Москвы"


def test_raw_8bit_header_follows_the_body_charset():
    data = with_header(b"Content-Type", b"text/plain; charset=koi8-r",
                       with_header(b"Subject", "Привет".encode("koi8-r")))
    assert record(data).subject == "Привет"


def test_unknown_charset_is_a_defect():
    rec = record(with_header(b"Subject", b"=?x-klingon?q?qapla=E9?="))
    assert "bad-charset" in codes(rec) and rec.subject.startswith("qapla")


def test_missing_from_uses_sender_with_a_defect():
    rec = record(with_header(b"Sender", b"list-owner@example.org",
                             with_header(b"From", None)))
    assert rec.from_addr == "list-owner@example.org" and "no-from" in codes(rec)


def test_obsolete_blank_before_colon_is_still_a_field():
    rec = record(b"Subject : old syntax\nFrom  : a@b.org\n\nbody\n")
    assert rec.subject == "old syntax" and rec.from_addr == "a@b.org"


def test_byte_order_mark_and_leading_blank_lines_are_tolerated():
    rec = record(b"\xef\xbb\xbf" + BASE)
    assert rec.message_id == "abc.123@example.org" and "byte-order-mark" in codes(rec)
    rec = record(b"   \n\n" + BASE)
    assert rec.message_id == "abc.123@example.org" and "leading-blank-line" in codes(rec)


def test_crlf_message_reads_like_lf():
    crlf = record(BASE.replace(b"\n", b"\r\n"))
    lf = record(BASE)
    assert (crlf.subject, crlf.to, crlf.message_id) == (lf.subject, lf.to, lf.message_id)
    assert crlf.content_hash == lf.content_hash


@pytest.mark.parametrize("data,words", [
    (b"", "empty"),
    (b"\n \r\n\t\n", "blank"),
    (b"\x00\x01\x02garbage\x00: x\n\nbody", "binary"),
    (b"Hello Bob,\nthanks for the call.\n", "first line"),
    (b"X-Spam-Score: 12\nX-Foo: bar\n\nbody", "no message header"),
])
def test_what_cannot_be_made_sense_of_is_quarantined_with_a_reason(data, words):
    rec = parse(data)
    assert isinstance(rec, Unreadable) and words in rec.reason
    assert rec.raw == data and rec.source.path == "inbox.mbox"


def test_inline_forward_names_the_original_sender():
    data = with_header(b"Subject", b"Fwd: help", BASE.replace(
        b"It is burning.\n", b"FYI\n\n---------- Forwarded message ---------\n"
        b"From: Customer <Customer@Client.example>\nDate: Mon, 28 Feb 2011\n"
        b"Subject: help\n\nPlease help.\n"))
    assert record(data).forwarded_from == "customer@client.example"
    assert record(BASE).forwarded_from is None


_name = st.text(alphabet="abcdefghijkXYZ-_", min_size=1, max_size=12)
_value = st.text(alphabet="abc xyz<>@.,;:\"()=?\t", max_size=30)
_line = st.one_of(st.tuples(_name, _value).map(lambda nv: f"{nv[0]}: {nv[1]}"),
                  _value.map(lambda v: " " + v))


@settings(max_examples=300, deadline=None)
@given(st.lists(_line, max_size=12))
def test_header_splitting_agrees_with_the_compat32_parser(lines):
    head = ("\n".join(lines) + "\n").encode()
    msg = BytesHeaderParser(policy=compat32).parsebytes(head)
    expected = [(k.lower(), v.replace("\n", "").rstrip()) for k, v in msg.raw_items()]
    fields, count, _ = header_fields(head, [])
    ours = sorted((k, v.decode().replace("\n", "").rstrip())
                  for k, vs in fields.items() for v in vs)
    assert ours == sorted(expected) and count == len(expected)


TEXT_FIELDS = ("message_id", "subject", "from_addr", "from_display", "forwarded_from")


def _no_surrogates(rec) -> bool:
    texts = [getattr(rec, f) or "" for f in TEXT_FIELDS]
    texts += list(rec.to) + list(rec.cc) + list(rec.references) + list(rec.in_reply_to)
    return not any("\ud800" <= c <= "\udfff" for t in texts for c in t)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=400),
                 st.lists(st.sampled_from([b"From: ", b"Subject: =?utf-8?b?", b"Date: ",
                                           b"\xff\xfe", b"\n", b"\r\n", b" ", b"<a@b>",
                                           b"=?x?q?\xe9?=", b"\x00", b"Received: ;"]),
                          max_size=40).map(b"".join)))
def test_parse_record_never_raises_and_text_never_holds_surrogates(data):
    rec = parse(data)
    if isinstance(rec, MessageRecord):
        assert _no_surrogates(rec)
        assert rec.date is None or rec.date.tzinfo is not None
    else:
        assert rec.reason and not rec.reason.startswith("internal")


def test_date_far_future_relative_to_now_without_received_is_rejected():
    future = (datetime.now(timezone.utc) + timedelta(days=30)).strftime(
        "%a, %d %b %Y %H:%M:%S +0000").encode()
    rec = record(with_header(b"Date", future))
    assert rec.date_source is DateSource.NONE and "bad-date" in codes(rec)


def test_the_ticket_entry_and_the_report_decode_headers_the_same_way(tmp_path):
    """Raw 8-bit bytes inside an encoded word were right in the report but 'Heinz MÃ¼ller'
    in the stored entry's header lines: both now come from one decoder."""
    import json
    import sqlite3
    from importer.cli import main
    raw = ("From: =?utf-8?Q?Heinz_M\xc3\xbcller?= <heinz@example.net>\n"
           "To: =?utf-8?Q?Zo=C3=AB?= <zoe@example.org>, jjl at pobox.com (John J. Lee)\n"
           "Subject: =?utf-8?Q?Gr=C3=BC=C3=9Fe?= aus \xc3\x9clm\n"
           "Message-ID: <h1@example.net>\nDate: Sun, 16 Feb 2014 10:00:00 +0000\n\nHallo\n"
           ).encode("latin-1")
    box = tmp_path / "m.eml"
    box.write_bytes(raw)
    report = tmp_path / "r.json"
    assert main(["run", "--quiet", "--store", str(tmp_path / "s.sqlite"), "--report",
                 str(report), str(box)]) == 0
    msg = json.loads(report.read_text())["threads"][0]["messages"][0]
    author, subject, recipients = sqlite3.connect(tmp_path / "s.sqlite").execute(
        "SELECT author, subject, recipients FROM entries").fetchone()
    assert author == msg["from"] and subject == msg["subject"]
    assert "Ã" not in author + subject and "Müller" in author and subject == "Grüße aus Ülm"
    assert json.loads(recipients)["to"] == "Zoë <zoe@example.org>, John J. Lee <jjl@pobox.com>"
