"""Dropped copies are held compactly and come back exactly: the tiny-message bomb case.

One mail copied millions of times into one mbox (a 600 kB gzip can hold six million) must
not cost an object per copy: a copy that differs from its cluster's first copy only by its
place in the same file is three integers in an array. These tests hold `Duplicates` to a
plain reference (every dropped copy as a Duplicate, in the order dropped) and check where
the copies are kept.
"""

import sys
from dataclasses import replace

from hypothesis import given, settings, strategies as st

from importer.dedupe import Deduper
from importer.records import Duplicate, SourceRef
from test_dedupe_rules import MAIL, rec


def reference(records):
    """The duplicates a list of every dropped copy gives (the old, object-per-copy way)."""
    kept, dropped = {}, {}
    order = []
    for r in records:
        k = kept.get(r.content_hash)
        if k is None:
            kept[r.content_hash] = r
            dropped[r.content_hash] = []
            order.append(r.content_hash)
        elif r.completeness > k.completeness:
            dropped[r.content_hash].append(k)
            kept[r.content_hash] = r
        else:
            dropped[r.content_hash].append(r)
    out = []
    for h in order:
        k = kept[h]
        for d in dropped[h]:
            same = d.message_id == k.message_id and not k.synthetic_id
            out.append(Duplicate(d.message_id, k.source, d.source,
                                 "message-id" if same else "content", d.sha256, k.sha256))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2),
                          st.sampled_from(["a.mbox", "b.mbox"]), st.booleans(),
                          st.sampled_from([None, 0, 7, 1 << 40])), max_size=25))
def test_duplicates_come_back_exactly_as_dropped(specs):
    base = rec(MAIL)
    records = [replace(base, source=SourceRef(path, i, offset, None if offset is None else 99,
                                              "mbox" if mbox else "eml"),
                       message_id=f"m{mid}@x", sha256=f"{sha:064x}", content_hash=f"h{content}",
                       completeness=(sha,))
               for i, (mid, content, sha, path, mbox, offset) in enumerate(specs)]
    d = Deduper()
    for r in records:
        d.add(r)
    unique, dups, _ = d.result()
    want = reference(records)
    assert list(dups) == want and len(dups) == len(want)
    assert dups == want
    if want:
        assert dups[0] == want[0] and dups[-1] == want[-1]


def test_a_million_copies_of_one_mail_cost_bytes_not_objects():
    base = rec(MAIL)
    d = Deduper()
    n = 200_000
    for i in range(n):
        d.add(replace(base, source=SourceRef("bomb.mbox", i, 60 * i, 40, "mbox", "mboxrd")))
    assert len(d._order) == 1 and len(d._by_hash) == 1
    cluster = d._by_hash[base.content_key]
    assert len(cluster) == n - 1
    assert cluster.other == []                       # none held as an object
    held = sys.getsizeof(cluster.same) + sys.getsizeof(cluster.order)
    assert held < 30 * n                             # 24 bytes of integers and 1 of order
    unique, dups, _ = d.result()
    assert len(dups) == n - 1
    last = dups[-1]
    assert last.dropped == SourceRef("bomb.mbox", n - 1, 60 * (n - 1), 40, "mbox", "mboxrd")
    assert last.kept == SourceRef("bomb.mbox", 0, 0, 40, "mbox", "mboxrd")
    assert last.reason == "message-id" and last.sha256 == base.sha256
