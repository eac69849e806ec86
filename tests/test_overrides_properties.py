"""Any overrides on any threads: either one clear error or a result that loses nothing.

Random threads (imposters sharing Message-IDs, missing roots, undated mail) and random
instructions (split, merge, exclude threads and messages, by Message-ID or sha256: ref):
`overrides.apply` either refuses with a ConfigError (contradictions, a split of a thread's
first message, an unknown or ambiguous id) or returns threads in which every message is
once, in one thread or excluded; no thread id is given twice; no thread is empty; each
message comes after its parent (tree order).
"""

import hashlib
from collections import Counter
from datetime import datetime, timezone

from hypothesis import given, settings, strategies as st

from importer.config import StaffCfg
from importer.errors import ConfigError
from importer.overrides import Overrides, _contradictions, apply
from importer.records import (DateSource, Ghost, Link, MessageRecord, PlacedMessage,
                              SourceRef, ThreadPlan)


def record(mid: str, i: int) -> MessageRecord:
    return MessageRecord(
        SourceRef("a.mbox", i), hashlib.sha256(str(i).encode()).hexdigest(), 1, mid, False,
        (), (), f"s{i}", "x@example.com", "x", (), (),
        datetime(2001, 1, 1 + i % 27, tzinfo=timezone.utc) if i % 5 else None,
        DateSource.DATE, str(i), (1,))


@st.composite
def threads_and_overrides(draw):
    plans, i = [], 0
    for t in range(draw(st.integers(1, 3))):
        msgs, ghosts, ids = [], [], []
        if draw(st.booleans()):
            ghosts.append(Ghost(f"g{t}@x", None))
            ids.append(f"g{t}@x")
        for _ in range(draw(st.integers(1, 5))):
            mid = f"m{draw(st.integers(0, 6))}@x"          # ids repeat: imposters
            parent = draw(st.sampled_from(ids)) if ids else None
            msgs.append(PlacedMessage(record(mid, i), parent,
                                      Link.ROOT if parent is None else Link.REFERENCES))
            i += 1
            ids.append(mid)
        plans.append(ThreadPlan(f"T{t}", "", (), None, None, tuple(msgs), tuple(ghosts)))
    recs = [p.record for plan in plans for p in plan.messages]
    refs = [f"sha256:{r.sha256[:16]}" for r in recs] + [r.message_id for r in recs]
    tids = [p.id for p in plans]
    some = lambda pool, n: tuple(draw(st.lists(st.sampled_from(pool), max_size=n, unique=True)))  # noqa: E731
    merge = ()
    if len(tids) > 1 and draw(st.booleans()):
        a, b = draw(st.permutations(tids))[:2]
        merge = ((a, b),)
    ov = Overrides("review.yaml", exclude_threads=some(tids, 1), exclude_messages=some(refs, 2),
                   split=some(refs, 3), merge=merge)
    return plans, ov, recs


@settings(max_examples=1500, deadline=None)
@given(threads_and_overrides())
def test_apply_refuses_clearly_or_loses_nothing(case):
    plans, ov, recs = case
    try:
        _contradictions(ov)
        out, excluded = apply(plans, ov, StaffCfg())
    except ConfigError as exc:
        assert str(exc).startswith("review.yaml: ")
        return
    got = Counter([p.record.sha256 for plan in out for p in plan.messages]
                  + [e.sha256 for e in excluded])
    assert got == Counter(r.sha256 for r in recs)
    assert len({p.id for p in out}) == len(out)
    for plan in out:
        assert plan.messages
        seen = {g.message_id for g in plan.ghosts}
        members = seen | {p.record.message_id for p in plan.messages}
        for p in plan.messages:
            if p.parent_id in members - seen and p.parent_id != p.record.message_id:
                assert p.parent_id in {q.record.message_id for q in plan.messages[
                    :plan.messages.index(p)]} | seen, (plan.id, p)


def _threads(recs, mode="rfc5256"):
    import mailthreads
    from importer.plan import _plan
    items = [mailthreads.Item(i, r.message_id, r.references, r.in_reply_to, r.subject, r.date)
             for i, r in enumerate(recs)]
    return [_plan(t, recs, StaffCfg()) for t in mailthreads.thread(items, mode)]


def _mail(mid, i, subject, day, refs=()):
    return MessageRecord(SourceRef("a.mbox", i), hashlib.sha256(mid.encode()).hexdigest(), 1,
                         mid, False, refs, refs, subject, "p@example.com", "p", (), (),
                         datetime(2001, 1, day, tzinfo=timezone.utc), DateSource.DATE, mid,
                         (1,))


def test_a_split_thread_never_takes_the_id_of_another_thread():
    """rfc5256 names a subject-merged thread after its earliest message, which need not
    come first: splitting that message must not give two threads one id (the ledger and
    RT find tickets by it)."""
    recs = [_mail("a@x", 0, "Printer", 10), _mail("b@x", 1, "Re: Printer", 2, ("a@x",)),
            _mail("c@x", 2, "Printer", 20)]
    plans = _threads(recs)
    assert [p.id for p in plans] == ["b@x"] and plans[0].messages[0].record.message_id == "a@x"
    out, _ = apply(plans, Overrides("f", split=("b@x",)), StaffCfg())
    assert len({p.id for p in out}) == 2
    moved = next(p for p in out if p.messages[0].record.message_id == "b@x")
    assert moved.id == f"sha256:{recs[1].sha256[:16]}"


def test_an_exact_copy_stays_under_its_first_copy_when_the_thread_is_regrouped():
    from importer.plan import regroup
    y, copy, z = _mail("y@x", 0, "s", 9), _mail("y@x", 1, "copy", 1), _mail("z@x", 2, "r", 10)
    placed = [PlacedMessage(y, None, Link.ROOT), PlacedMessage(copy, "y@x", Link.REFERENCES),
              PlacedMessage(z, "y@x", Link.IN_REPLY_TO)]
    plan = regroup("y@x", placed, [], StaffCfg())
    assert plan.messages[0].record is y and plan.subject == "s"
