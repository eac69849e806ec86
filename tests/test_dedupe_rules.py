"""The content hash's rules and the Deduper's choices: duplicates, imposters, accounting."""

from dataclasses import replace

from hypothesis import given, settings, strategies as st

from importer.dedupe import Deduper
from importer.mail.contenthash import strip_list_footer
from importer.parse import parse_record
from importer.records import MessageRecord, RawMessage, SourceRef

MAIL = (b"From: Alice <alice@example.org>\n"
        b"To: support@example.org\n"
        b"Subject: Printer on fire\n"
        b"Date: Tue, 1 Mar 2011 10:00:00 +0100\n"
        b"Message-ID: <fire@example.org>\n"
        b"\n"
        b"It is burning.\n"
        b"-- \n"
        b"Alice\n")
FOOTER = (b"_______________________________________________\n"
          b"support mailing list\n"
          b"support@lists.example.org\n"
          b"https://lists.example.org/mailman/listinfo/support\n")


def rec(data: bytes, index: int = 0) -> MessageRecord:
    r = parse_record(RawMessage(SourceRef("a.mbox", index), data))
    assert isinstance(r, MessageRecord), r
    return r


def same_hash(a: bytes, b: bytes) -> bool:
    return rec(a).content_hash == rec(b).content_hash


def test_message_id_is_not_part_of_the_hash():
    assert same_hash(MAIL, MAIL.replace(b"<fire@example.org>", b"<other@gateway.example>"))
    assert same_hash(MAIL, MAIL.replace(b"Message-ID: <fire@example.org>\n", b""))


def test_transport_headers_are_not_part_of_the_hash():
    relayed = (b"Received: from mx by mail; Tue, 1 Mar 2011 10:00:05 +0100\n"
               b"Delivered-To: support@example.org\nReturn-Path: <alice@example.org>\n"
               b"X-Spam-Score: 0.1\n") + MAIL
    assert same_hash(MAIL, relayed)


def test_line_endings_and_trailing_blanks_are_not_part_of_the_hash():
    assert same_hash(MAIL, MAIL.replace(b"\n", b"\r\n"))
    assert same_hash(MAIL, MAIL.replace(b"burning.\n", b"burning.   \n") + b"\n\n")


def test_a_mailing_list_footer_is_not_part_of_the_hash():
    listed = MAIL + FOOTER
    assert same_hash(MAIL, listed)
    assert strip_list_footer(b"body\n" + FOOTER.rstrip()) == b"body"


def test_a_personal_signature_is_part_of_the_hash():
    assert not same_hash(MAIL, MAIL.replace(b"Alice\n", b"Alice, support team\n"))
    body = b"text\n-- \nAlice\nhttps://example.org/about"
    assert strip_list_footer(body) == body


def test_a_list_subject_tag_is_not_part_of_the_hash():
    assert same_hash(MAIL, MAIL.replace(b"Subject: ", b"Subject: [support] "))
    assert same_hash(MAIL.replace(b"Subject: ", b"Subject: Re: "),
                     MAIL.replace(b"Subject: ", b"Subject: [support] Re: "))


def test_sender_recipients_subject_date_references_and_body_are_in_the_hash():
    for old, new in [(b"alice@example.org>", b"mallory@example.org>"),
                     (b"To: support@", b"To: sales@"),
                     (b"on fire", b"on ice"),
                     (b"10:00:00", b"10:00:01"),
                     (b"burning", b"smoking")]:
        assert not same_hash(MAIL, MAIL.replace(old, new)), old
    assert not same_hash(MAIL, b"References: <parent@example.org>\n" + MAIL)


def test_references_and_in_reply_to_count_as_one_set():
    a = b"References: <p@example.org>\n" + MAIL
    b = b"In-Reply-To: <p@example.org>\n" + MAIL
    assert same_hash(a, b)


def test_same_date_in_another_format_is_the_same_date():
    assert same_hash(MAIL, MAIL.replace(b"Tue, 1 Mar 2011 10:00:00 +0100",
                                        b"Tue, 01 Mar 2011 09:00:00 +0000"))


def test_same_id_same_content_keeps_one_copy():
    d = Deduper()
    d.add(rec(MAIL, 0))
    d.add(rec(MAIL, 1))
    unique, dups, imposters = d.result()
    assert [r.source.index for r in unique] == [0]
    assert [(x.message_id, x.kept.index, x.dropped.index, x.reason) for x in dups] == \
        [("fire@example.org", 0, 1, "message-id")]
    assert imposters == set()


def test_a_later_more_complete_copy_is_kept_and_duplicates_name_it():
    bare = rec(MAIL, 0)
    relayed = rec(b"Received: from mx by mail; Tue, 1 Mar 2011 10:00:05 +0100\n" + MAIL, 1)
    third = rec(MAIL, 2)
    d = Deduper()
    for r in (bare, relayed, third):
        d.add(r)
    unique, dups, _ = d.result()
    assert [r.source.index for r in unique] == [1]
    assert sorted((x.kept.index, x.dropped.index) for x in dups) == [(1, 0), (1, 2)]


def test_same_content_under_another_id_is_a_content_duplicate():
    d = Deduper()
    d.add(rec(MAIL, 0))
    d.add(rec(MAIL.replace(b"fire@example.org", b"f@gw.example"), 1))   # shorter: dropped
    unique, dups, _ = d.result()
    assert len(unique) == 1 and [x.reason for x in dups] == ["content"]
    assert (dups[0].message_id, dups[0].kept.index) == ("f@gw.example", 0)


def test_a_copy_with_a_real_id_beats_one_without():
    d = Deduper()
    d.add(rec(MAIL.replace(b"Message-ID: <fire@example.org>\n", b""), 0))
    d.add(rec(MAIL, 1))
    unique, dups, _ = d.result()
    assert unique[0].message_id == "fire@example.org" and not unique[0].synthetic_id
    assert dups[0].reason == "content" and dups[0].dropped.index == 0


def test_same_id_different_content_keeps_both_as_imposters():
    d = Deduper()
    d.add(rec(MAIL, 0))
    d.add(rec(MAIL.replace(b"burning", b"fine now"), 1))
    unique, dups, imposters = d.result()
    assert len(unique) == 2 and dups == [] and imposters == {"fire@example.org"}


def test_disabled_keeps_every_message():
    d = Deduper(enabled=False)
    for i in range(3):
        d.add(rec(MAIL, i))
    unique, dups, _ = d.result()
    assert [r.source.index for r in unique] == [0, 1, 2] and dups == []


def _fake(i: int, mid: int, content: int, score: int) -> MessageRecord:
    base = rec(MAIL)
    return replace(base, source=SourceRef("x", i), message_id=f"m{mid}@x",
                   content_hash=f"h{content}", completeness=(score,))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 3)),
                max_size=30), st.booleans())
def test_every_added_record_is_either_kept_or_a_duplicate_once(specs, enabled):
    records = [_fake(i, *spec) for i, spec in enumerate(specs)]
    d = Deduper(enabled)
    for r in records:
        d.add(r)
    unique, dups, imposters = d.result()
    assert len(unique) + len(dups) == len(records)
    seen = [r.source.index for r in unique] + [x.dropped.index for x in dups]
    assert sorted(seen) == list(range(len(records)))
    kept = {r.source.index for r in unique}
    assert all(x.kept.index in kept for x in dups)
    firsts = {}
    for r in records:
        firsts.setdefault(r.content_hash if enabled else r.source.index, r.source.index)
    order = [firsts[r.content_hash if enabled else r.source.index] for r in unique]
    assert order == sorted(firsts.values())     # groups in order of first appearance
    for r in unique:   # the kept copy is the most complete of its group, first on ties
        group = [o for o in records if enabled and o.content_hash == r.content_hash]
        best = max(group, key=lambda o: (o.completeness, -o.source.index)) if group else r
        assert r is best
    ids = [r.message_id for r in unique]
    assert imposters == {m for m in ids if ids.count(m) > 1}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 2)),
                max_size=20))
def test_the_same_input_order_gives_the_same_result(specs):
    def run():
        d = Deduper()
        for i, spec in enumerate(specs):
            d.add(_fake(i, *spec))
        return d.result()
    assert run() == run()
