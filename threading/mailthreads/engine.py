"""The `thread()` entry point: input order, the steps in sequence, and the three modes."""

from __future__ import annotations

import gc
from collections.abc import Callable, Hashable, Iterable, Sequence
from itertools import compress
from operator import attrgetter

from .archive import tree_links
from .containers import build
from .emit import emit
from .forest import INF, archive_dates, rfc_keys, walk_trees
from .prune import prune_ghosts, prune_rfc
from .records import Item, Thread
from .rfcsubject import merge_by_subject
from .subject import DEFAULT_GENERIC_SUBJECTS

__all__ = ["thread", "MODES"]

MODES = ("archive", "strict", "rfc5256")
_DAY = 86400.0
_TIEBREAK = attrgetter("message_id", "references", "in_reply_to", "subject")


def thread(items: Iterable[Item], mode: str = "archive", *, subject_window_days: int = 30,
           generic_subjects: frozenset[str] = DEFAULT_GENERIC_SUBJECTS,
           key: Callable[[Item], Hashable] | None = attrgetter("key")) -> list[Thread]:
    """Group `items` into threads; every item lands in exactly one thread, exactly once.

    An item is anything with Item's threading attributes (a caller's own record will do);
    a Node's `key` is `key(item)`, or with `key` None the item's position in `items`.

    ``rfc5256`` takes the items in the given order (RFC 5256's mailbox order); the other
    modes first sort them by (date, Message-ID, References, In-Reply-To, subject), so the
    answer does not depend on input order.
    """
    if mode not in MODES:
        raise ValueError(f"unknown threading mode {mode!r}; expected one of {MODES}")
    items = items if isinstance(items, (list, tuple)) else list(items)
    collecting = gc.isenabled()
    gc.disable()        # a million new objects and no cycles: collections only cost time
    try:
        return _thread(items, mode, subject_window_days, generic_subjects, key)
    finally:
        if collecting:
            gc.enable()


def _thread(items: Sequence[Item], mode: str, subject_window_days: float,
            generic_subjects: frozenset[str], key) -> list[Thread]:
    ts = [INF if (date := it.date) is None else date.timestamp() for it in items]
    if mode == "rfc5256":
        return _rfc5256(items, ts, key)
    numbers = list(range(len(items)))
    order = _canonical_order(items, ts, numbers)
    # 1A-1C; 2-3: the root set is every container without a parent
    table, refused = build(items, order, rfc=False, numbers=numbers)
    del order, numbers
    # 4: prune ghosts that carry no structure
    emitted, ghost_kids = prune_ghosts(table)
    # 6: siblings by date, pre-order
    eff = archive_dates(table, ts, emitted, ghost_kids)
    trees = walk_trees(emitted, table.parent, eff.__getitem__)
    # header groups joined; in archive mode, subject links instead of RFC 5256's step 5
    window = subject_window_days * _DAY if mode == "archive" else None
    generic = frozenset(s.casefold() for s in generic_subjects)
    trees = tree_links(table, items, ts, eff, trees, refused, window, generic)
    del emitted, ghost_kids, eff, refused       # gone before emit makes a Node per message
    return emit(table, items, ts, trees, rfc=False, key=key)


def _rfc5256(items: Sequence[Item], ts: list[float], node_key) -> list[Thread]:
    """RFC 5256 THREAD=REFERENCES, steps 1 to 6, as Dovecot answers it."""
    # 1A-1C; 2-3: the root set is every container without a parent
    numbers = list(range(len(items)))
    table, _ = build(items, numbers, rfc=True, numbers=numbers)
    # 4: prune dummies
    emitted, kids = prune_rfc(table)
    # 5A-5C, over the roots in date order (Dovecot sorts them before step 5)
    eff = _neighbour_dates(ts)
    key = rfc_keys(table, eff, emitted, kids)
    emitted = merge_by_subject(table, items, emitted, kids, key)
    # 6: siblings by date, pre-order; threads in the roots' order
    trees = walk_trees(emitted, table.parent, key.__getitem__)
    del emitted, kids, eff, key
    return emit(table, items, ts, trees, rfc=True, key=node_key)


def _canonical_order(items: Sequence[Item], ts: list[float], numbers: list[int]) -> list[int]:
    """Items (their `numbers`) by date; equal dates by (Message-ID, References,
    In-Reply-To, subject)."""
    order = sorted(numbers, key=ts.__getitem__)
    sts = list(map(ts.__getitem__, order))
    ties = compress(range(1, len(sts)), map(float.__eq__, sts, sts[1:]))
    start = end = -1
    for k in ties:
        if k != end + 1:
            _sort_run(items, order, start, end)
            start = k - 1
        end = k
    _sort_run(items, order, start, end)
    return order


def _sort_run(items: Sequence[Item], order: list[int], start: int, end: int) -> None:
    if start >= 0:
        order[start:end + 1] = sorted(order[start:end + 1],
                                      key=lambda i: (_TIEBREAK(items[i]), i))


def _neighbour_dates(ts: list[float]) -> list[float]:
    """An undated message sorts at the date of the dated one before it in the input (at
    the start: the first dated one after it)."""
    eff = list(ts)
    prev = next((t for t in ts if t != INF), 0.0)
    for i, t in enumerate(ts):
        if t == INF:
            eff[i] = prev
        else:
            prev = t
    return eff
