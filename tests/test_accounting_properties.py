"""Property: whatever the archive holds, every message read is accounted for exactly once."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importer.config import Config, DedupeCfg
from importer.pipeline import run

SUBJECTS = st.sampled_from(["Invoice", "Re: Invoice", "Question", "Fwd: Invoice", "", "AW: Rechnung"])
BODY = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r"), max_size=60)


@st.composite
def messages(draw, n):
    kind = draw(st.sampled_from(["mail", "mail", "mail", "no-id", "copy", "junk"]))
    if kind == "junk":
        return draw(st.binary(min_size=1, max_size=40)).replace(b"\nFrom ", b"\nFrxm ")
    parent = draw(st.none() | st.integers(0, 20))
    mid = "" if kind == "no-id" else f"Message-ID: <m{n if kind != 'copy' else 0}@example.net>\n"
    refs = f"References: <m{parent}@example.net>\n" if parent is not None else ""
    body = draw(BODY).replace("\nFrom ", "\n>From ")
    return (f"From: p{n % 3}@example.net\nSubject: {draw(SUBJECTS)}\n{mid}{refs}"
            f"Date: Mon, {1 + n % 28} Feb 2015 10:00:00 +0000\n\n{body}\n").encode()


@st.composite
def archives(draw):
    count = draw(st.integers(1, 12))
    return [draw(messages(i)) for i in range(count)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(archives(), st.booleans())
def test_accounting_always_balances(msgs, dedupe):
    with tempfile.TemporaryDirectory() as tmp:
        mbox = Path(tmp) / "a.mbox"
        mbox.write_bytes(b"".join(b"From x@example.net Mon Feb  2 10:00:00 2015\n" + m + b"\n"
                                  for m in msgs))
        report = Path(tmp) / "r.json"
        cfg = Config(dedupe=DedupeCfg(enabled=dedupe))
        run(cfg, [str(mbox)], command="dry-run", store=str(Path(tmp) / "s.sqlite"),
            reports=[str(report)], quiet=True)
        rep = json.loads(report.read_text())
    s = rep["summary"]
    assert s["messages_read"] == s["messages_unique"] + s["duplicates"] + s["quarantined"]
    placed = [m for t in rep["threads"] for m in t["messages"]]
    assert len(placed) == s["messages_unique"]
    assert len(rep["duplicates"]) == s["duplicates"] and len(rep["quarantine"]) == s["quarantined"]
    assert sum(f["messages"] + f["unreadable"] for f in rep["files"]) >= s["messages_read"] - 0
    positions = [(m["source"]["path"], m["source"]["index"]) for m in placed]
    positions += [(d["dropped"]["path"], d["dropped"]["index"]) for d in rep["duplicates"]]
    assert len(positions) == len(set(positions))
    if not dedupe:
        assert s["duplicates"] == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a.mbox", "b/cur/1:2,S", "c.mbox"]),
                          st.integers(-3, 300)), max_size=60),
       st.tuples(st.sampled_from(["a.mbox", "b/cur/1:2,S", "z"]), st.integers(0, 400)))
def test_the_place_tally_counts_like_a_counter(places, probe):
    """The accounting check's compact tally (a count or a bytearray per file) answers as a
    Counter of (path, message number) would, up to its cap of 255."""
    from collections import Counter
    from importer.accounts import _Places
    tally, want = _Places(), Counter(places)
    for place in places:
        tally.add(*place)
    assert tally.total == len(places) and tally.distinct() == len(want)
    assert all(tally.count(*place) == n for place, n in want.items())
    assert tally.count(*probe) == want[probe]
