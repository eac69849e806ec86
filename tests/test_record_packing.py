"""A MessageRecord keeps most of its fields packed into bytes: every field still reads back
exactly as given, through pickling (the parse workers) and `dataclasses` alike."""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from importer import sharing
from importer.records import DateSource, Defect, MessageRecord, SourceRef

_HEX = st.binary(min_size=32, max_size=32).map(bytes.hex)
_HASH = st.one_of(_HEX, st.text(max_size=70), _HEX.map(str.upper))
_PLACE = st.one_of(st.none(), st.integers(0, (1 << 63) - 1), st.integers(-5, -1))
_WORD = st.text(max_size=20)
_IDS = st.lists(_WORD, max_size=3).map(tuple)


@st.composite
def fields(draw, usual: bool) -> dict:
    """A record's fields: as the parser makes them (`usual`), or anything a caller may give."""
    size = draw(st.integers(0, 1 << 40))
    parsed = st.tuples(st.integers(0, 1), st.integers(0, 1), st.integers(0, (1 << 32) - 1),
                       st.just(size))
    completeness = draw(parsed if usual else st.one_of(
        parsed, st.tuples(st.integers(0, 2), st.integers(0, 1), st.integers(-1, 1 << 33),
                          st.integers(0, 1 << 40)),
        st.lists(st.integers(), max_size=5).map(tuple),
        st.tuples(st.booleans(), st.sampled_from([1, 1.0]), st.integers(0, 9), st.just(size)),
        st.tuples(st.integers(0, 1), st.integers(0, 1), st.integers(0, 9),
                  st.just(float(size)))))
    zone = timezone(timedelta(minutes=draw(st.integers(-720, 840))))
    place = st.one_of(st.none(), st.integers(0, (1 << 63) - 1)) if usual else _PLACE
    digest = _HEX if usual else _HASH
    dates = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1),
                         timezones=st.just(zone)).map(lambda d: d.replace(fold=0)) \
        if usual else st.one_of(
        st.datetimes(timezones=st.just(zone)), st.datetimes(),        # any year, or naive
        st.datetimes(timezones=st.just(timezone(timedelta(hours=2), "CEST"))),   # a name
        st.datetimes(timezones=st.just(timezone(timedelta(seconds=3600.5)))))   # part seconds
    return dict(
        source=SourceRef(draw(_WORD), draw(st.integers(0, 1 << 62) if usual else st.one_of(
                             st.integers(0, 1 << 62), st.just(3.0))), draw(place), draw(place),
                         draw(st.sampled_from(["mbox", "maildir", "eml", "unknown"]
                                              + ([] if usual else ["odd"]))),
                         draw(st.sampled_from(["none", "mboxo", "mboxrd"]
                                              + ([] if usual else ["?"])))),
        sha256=draw(digest), size=size, message_id=draw(_WORD),
        synthetic_id=draw(st.booleans()), references=draw(_IDS), in_reply_to=draw(_IDS),
        subject=draw(_WORD), from_addr=draw(_WORD), from_display=draw(_WORD),
        to=draw(_IDS), cc=draw(_IDS),
        date=draw(st.one_of(st.none(), dates)),
        date_source=draw(st.sampled_from(list(DateSource) + ([] if usual else ["date"]))),
        content_hash=draw(digest),
        completeness=completeness, forwarded_from=draw(st.one_of(st.none(), _WORD)),
        defects=tuple(Defect(c) for c in draw(st.lists(_WORD, max_size=2))),
        spam=draw(st.booleans()))


@settings(max_examples=400, deadline=None)
@given(st.booleans().flatmap(lambda usual: st.tuples(st.just(usual), fields(usual))))
def test_every_field_reads_back_as_given_and_survives_pickling(case):
    usual, given_fields = case
    rec = MessageRecord(**given_fields)
    assert type(rec._facts) is bytes or not usual       # what the parser makes is packed
    assert {f.name: getattr(rec, f.name) for f in dataclasses.fields(rec)} == given_fields
    given_source = given_fields["source"]                    # types too: True stays True
    assert (type(rec.date_source), type(rec.source.index), type(rec.source.offset),
            [type(v) for v in rec.completeness]) == \
        (type(given_fields["date_source"]), type(given_source.index), type(given_source.offset),
         [type(v) for v in given_fields["completeness"]])
    assert rec.place == (given_fields["source"].path, given_fields["source"].index)
    date = given_fields["date"]              # as the report and the store write it
    assert date is None or (rec.date.isoformat(), rec.date.tzname(), rec.date.fold) == \
        (date.isoformat(), date.tzname(), date.fold)
    assert rec.timestamp == (None if date is None else date.timestamp())
    back = pickle.loads(pickle.dumps(rec))
    assert back == rec and hash(back) == hash(rec)
    assert {f.name: getattr(back, f.name) for f in dataclasses.fields(back)} == given_fields
    assert dataclasses.asdict(rec)["source"] == dataclasses.asdict(given_fields["source"])


def _real(**changes) -> MessageRecord:
    raw = b"Subject: hi\n\nbody\n"
    values = dict(
        source=SourceRef("a.mbox", 3, 120, len(raw) + 1, "mbox", "mboxrd"),
        sha256=hashlib.sha256(raw).hexdigest(), size=len(raw), message_id="m@x",
        synthetic_id=False, references=("p@x",), in_reply_to=("p@x",), subject="hi",
        from_addr="a@x.org", from_display="A", to=("hello@x.org",), cc=(),
        date=datetime(2009, 2, 3, 4, 5, tzinfo=timezone.utc), date_source=DateSource.DATE,
        content_hash=hashlib.sha256(b"content").hexdigest(),
        completeness=(1, 1, 7, len(raw)))
    values.update(changes)
    return MessageRecord(**values)


def test_a_record_from_the_parser_is_packed_and_an_unusual_one_is_not():
    assert type(_real()._facts) is bytes
    assert type(_real(content_hash="not a digest")._facts) is tuple
    assert type(_real(completeness=(1,))._facts) is tuple


def test_packed_and_unpacked_records_with_one_content_hash_group_together():
    """The deduper's key is the same whether or not the rest of a record could be packed."""
    assert _real().content_key == _real(sha256="x").content_key


def test_a_record_is_frozen_and_replace_makes_a_new_one():
    rec = _real()
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.subject = "changed"
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.sha256 = "0" * 64
    with pytest.raises(dataclasses.FrozenInstanceError):
        del rec.message_id
    moved = dataclasses.replace(rec, source=SourceRef("b.mbox", 0))
    assert moved.source == SourceRef("b.mbox", 0) and rec.source.path == "a.mbox"
    assert moved != rec and dataclasses.replace(moved, source=rec.source) == rec


def test_records_arriving_from_a_worker_share_their_recipient_lists():
    with sharing.sharing():
        one, two = (pickle.loads(pickle.dumps(_real(message_id=m, to=("hello@x.org", "b@x"))))
                    for m in ("1@x", "2@x"))
    assert one.to is two.to
