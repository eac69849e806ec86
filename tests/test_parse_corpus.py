"""parse_record and Deduper over the shared corpus of difficult real mail (skipped if absent)."""

from __future__ import annotations



from importer.dedupe import Deduper
from importer.parse import parse_record
from importer.records import MessageRecord, RawMessage, SourceRef, Unreadable
from corpus import FILES, MARKS

pytestmark = MARKS


def _texts(rec: MessageRecord) -> list[str]:
    return ([rec.message_id, rec.subject, rec.from_addr, rec.from_display,
             rec.forwarded_from or ""] + list(rec.to) + list(rec.cc)
            + list(rec.references) + list(rec.in_reply_to)
            + [d.detail for d in rec.defects])


def _records():
    for i, path in enumerate(FILES):
        with open(path, "rb") as fh:
            yield path, parse_record(RawMessage(SourceRef(path, i), fh.read()))


def test_every_corpus_file_is_a_record_or_unreadable_without_surrogates():
    problems = []
    for path, rec in _records():
        if isinstance(rec, Unreadable):
            if rec.reason.startswith("internal"):
                problems.append((path, rec.reason))
        elif any("\ud800" <= c <= "\udfff" for t in _texts(rec) for c in t):
            problems.append((path, "surrogate in a text field"))
        elif rec.date is not None and rec.date.tzinfo is None:
            problems.append((path, "naive date"))
    assert problems == []


def test_most_of_the_corpus_is_readable_mail():
    results = [rec for _, rec in _records()]
    unreadable = [r for r in results if isinstance(r, Unreadable)]
    assert len(unreadable) * 20 < len(results), [r.reason for r in unreadable]


def test_dedupe_accounts_for_every_corpus_record():
    records = [rec for _, rec in _records() if isinstance(rec, MessageRecord)]
    d = Deduper()
    for rec in records:
        d.add(rec)
    unique, dups, _ = d.result()
    assert len(unique) + len(dups) == len(records)
