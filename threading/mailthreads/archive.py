"""``archive`` mode's subject links: a reply whose headers were lost joins its conversation.

A tree of the header forest (after step 4) hangs under an earlier tree, with
``link="subject"`` on its root, only when all of these hold:
- its first message's subject carries a reply or forward prefix (Re:, AW:, Fwd:, 回复: ...);
  a new conversation that happens to reuse a subject ("Status report") does not;
- its base subject equals the earlier tree's (case-insensitively), and is not generic
  ("Hello", "Question", "" ...: strangers write those, see `DEFAULT_GENERIC_SUBJECTS`);
- it starts within `window` seconds after the earlier tree's last message.
The earlier tree is the latest one with that base subject (trees are visited in date order;
a tree that links extends its target's last date, so a long back-and-forth stays whole).
Trees without any dated message are never linked either way: there is no window to check.
"""

from __future__ import annotations

from collections.abc import Sequence

from .containers import NO, Table, tree_roots
from .records import Item
from .subject import analyse, is_generic, subject_key

__all__ = ["link_by_subject"]

_INF = float("inf")


def link_by_subject(table: Table, items: Sequence[Item], ts: Sequence[float],
                    outp: list[int], emitted: bytearray, window: float,
                    generic: frozenset[str]) -> None:
    """Attach reply-prefixed trees under their earlier conversation (edits `outp`)."""
    item = table.item
    root = tree_roots(outp)
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    top: dict[int, int] = {}
    for c in range(len(outp)):
        i = item[c]
        if i == NO or not emitted[c]:
            continue
        r = root[c]
        t = ts[i]
        if t != _INF:
            if t < first.get(r, _INF):
                first[r] = t
            if t > last.get(r, -_INF):
                last[r] = t
        if item[r] != NO:
            top[r] = r
        elif r not in top or (t, c) < (ts[item[top[r]]], top[r]):
            top[r] = c
    latest: dict[str, int] = {}
    for r in sorted(first, key=lambda r: (first[r], r)):
        base, reply = analyse(items[item[top[r]]].subject, localized=True)
        k = subject_key(base)
        if is_generic(k, generic):
            continue
        target = latest.get(k)
        if reply and target is not None and first[r] - last[target] <= window:
            outp[r] = target
            table.subject_link[r] = 1
            if last[r] > last[target]:
                last[target] = last[r]
            continue
        latest[k] = r
