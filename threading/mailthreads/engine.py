"""The `thread()` entry point: input order, the steps in sequence, and the three modes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .archive import link_by_subject
from .containers import build, join_header_groups
from .emit import archive_keys, emit, rfc_keys
from .prune import prune
from .records import Item, Thread
from .rfcsubject import merge_by_subject
from .subject import DEFAULT_GENERIC_SUBJECTS

__all__ = ["thread", "MODES"]

MODES = ("archive", "strict", "rfc5256")
_INF = float("inf")
_DAY = 86400.0


def thread(items: Iterable[Item], mode: str = "archive", *, subject_window_days: int = 30,
           generic_subjects: frozenset[str] = DEFAULT_GENERIC_SUBJECTS) -> list[Thread]:
    """Group `items` into threads; every item lands in exactly one thread, exactly once.

    ``rfc5256`` takes the items in the given order (the mailbox order of RFC 5256); the
    other modes first sort them by (date, Message-ID, headers, subject), so that the
    answer does not depend on input order.
    """
    if mode not in MODES:
        raise ValueError(f"unknown threading mode {mode!r}; expected one of {MODES}")
    items = items if isinstance(items, (list, tuple)) else list(items)
    ts = [_INF if it.date is None else it.date.timestamp() for it in items]
    rfc = mode == "rfc5256"
    order = range(len(items)) if rfc else _canonical_order(items, ts)
    # 1A-1C (containers.build), 2-3 (root set: containers without a parent)
    table, groups = build(items, order, rfc)
    if not rfc:
        join_header_groups(table, groups, ts)
    # 4: prune ghosts
    outp, emitted = prune(table, rfc)
    if rfc:
        eff = _neighbour_dates(ts)
        keys = rfc_keys(table, eff, outp, emitted)
        # 5: gather root threads by subject; then 6 (emit) sorts the new roots again
        merge_by_subject(table, items, outp, emitted, keys.__getitem__)
        keys = rfc_keys(table, eff, outp, emitted)
        return emit(table, items, outp, emitted, keys.__getitem__, ts, rfc)
    if mode == "archive":
        generic = frozenset(s.casefold() for s in generic_subjects)
        link_by_subject(table, items, ts, outp, emitted, subject_window_days * _DAY, generic)
    # 6: sibling order by date, pre-order output
    eff = archive_keys(table, ts, outp, emitted)
    return emit(table, items, outp, emitted, eff.__getitem__, ts, rfc)


def _canonical_order(items: Sequence[Item], ts: list[float]) -> list[int]:
    """Items by (date, Message-ID); exact ties by their headers and subject."""
    order = sorted(range(len(items)), key=lambda i: (ts[i], items[i].message_id))
    i, n = 0, len(order)
    while i < n:
        j = i + 1
        a = items[order[i]]
        while j < n and ts[order[j]] == ts[order[i]] and items[order[j]].message_id == a.message_id:
            j += 1
        if j - i > 1:
            order[i:j] = sorted(order[i:j], key=lambda k: (items[k].references,
                                                         items[k].in_reply_to, items[k].subject))
        i = j
    return order


def _neighbour_dates(ts: list[float]) -> list[float]:
    """RFC mode: an undated message sorts at the date of the dated one before it in the
    input (or, at the start, the first dated one after it)."""
    eff = list(ts)
    prev = next((t for t in ts if t != _INF), 0.0)
    for i, t in enumerate(ts):
        if t == _INF:
            eff[i] = prev
        else:
            prev = t
    return eff
