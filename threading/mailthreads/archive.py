"""Links between whole trees: header groups joined (strict, archive) and subject links (archive).

Joining header groups. RFC 5256 drops a References claim when the child already has a
parent or when the link would loop, and step 1B breaks a link an earlier message made.
That can leave messages that headers tie together in separate threads, and which ones
depends on input order. Here every tree of a connected group of claims hangs under the
root of the group's earliest tree (``link="references"``), so grouping is exactly the
connected components of the headers' claims: independent of input order, and adding a
message can only merge threads, never split one.

Subject links (``archive`` mode). A tree hangs under an earlier tree's root, with
``link="subject"``, only when all of these hold:
- its first message's subject carries a reply or forward prefix (Re:, AW:, Fwd:, 回复: ...);
  a new conversation that reuses a subject ("Status report") does not;
- its base subject equals the earlier tree's (case-insensitively) and is not generic
  ("Hello", "Question", "" ...: strangers write those; see `DEFAULT_GENERIC_SUBJECTS`);
- it starts within the window after the earlier tree's last message.
The earlier tree is the latest one with that base subject (trees are visited by first date;
a tree that links extends its target's last date, so a long back-and-forth stays whole).
Trees without any dated message are never linked either way: there is no window to check.
"""

from __future__ import annotations

from collections.abc import Sequence

from .containers import NO, Table
from .forest import INF, graft, tree_root
from .records import Item
from .subject import analyse, is_generic, subject_key

__all__ = ["tree_links"]


def tree_links(table: Table, items: Sequence[Item], ts: Sequence[float],
               eff: Sequence[float], trees: list[list[int]], refused: list[tuple[int, int]],
               window: float | None, generic: frozenset[str]) -> list[list[int]]:
    """The final trees after joins (and, when `window` is not None, subject links)."""
    if not refused and window is None:
        return trees
    stats = _stats(table, ts, trees)
    alive = [True] * len(trees)
    if refused:
        _join(table, trees, stats, alive, refused, eff)
    if window is not None:
        _subject_links(table, items, trees, stats, alive, eff, window, generic)
    return [seq for k, seq in enumerate(trees) if alive[k]]


def _stats(table: Table, ts: Sequence[float], trees: list[list[int]]) -> list[list]:
    """[first date, last date, top message] per tree (top: the root, or the earliest)."""
    item = table.item
    icol = list(map(item.__getitem__, [c for seq in trees for c in seq]))
    firsts = list(map([*ts, INF].__getitem__, icol))          # a ghost (-1) reads INF
    lasts = list(map([*(-INF if t == INF else t for t in ts), -INF].__getitem__, icol))
    stats = []
    start = 0
    for seq in trees:
        end = start + len(seq)
        first = min(firsts[start:end])
        top = seq[0]
        if item[top] == NO:
            top = min((c for c in seq if item[c] != NO), key=lambda c: ts[item[c]])
        stats.append([first, max(lasts[start:end]), top])
        start = end
    return stats


def _join(table: Table, trees: list[list[int]], stats: list[list], alive: list[bool],
          refused: list[tuple[int, int]], eff: Sequence[float]) -> None:
    parent = table.parent
    at_root = {seq[0]: k for k, seq in enumerate(trees)}
    memo: dict[int, int] = {}
    up: dict[int, int] = {}

    def find(k: int) -> int:
        while up.setdefault(k, k) != k:
            up[k] = up[up[k]]
            k = up[k]
        return k

    for a, b in refused:
        ka = at_root.get(tree_root(parent, a, memo))
        kb = at_root.get(tree_root(parent, b, memo))
        if ka is not None and kb is not None and ka != kb:
            ra, rb = find(ka), find(kb)
            if ra != rb:
                up[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for k in up:
        groups.setdefault(find(k), []).append(k)
    for members in groups.values():
        main = min(members, key=lambda k: (stats[k][0], trees[k][0]))
        others = [k for k in members if k != main]
        trees[main] = graft(trees[main], [trees[k] for k in others], parent, eff,
                            table.subject_link, by_subject=False)
        for k in others:
            alive[k] = False
            stats[main][0] = min(stats[main][0], stats[k][0])
            stats[main][1] = max(stats[main][1], stats[k][1])


def _subject_links(table: Table, items: Sequence[Item], trees: list[list[int]],
                   stats: list[list], alive: list[bool], eff: Sequence[float],
                   window: float, generic: frozenset[str]) -> None:
    item = table.item
    dated = [k for k in range(len(trees)) if alive[k] and stats[k][0] != INF]
    dated.sort(key=lambda k: (stats[k][0], trees[k][0]))
    latest: dict[str, int] = {}
    attach: dict[int, list[int]] = {}
    for k in dated:
        first, last, top = stats[k]
        base, reply = analyse(items[item[top]].subject, localized=True)
        key = subject_key(base)
        if is_generic(key, generic):
            continue
        target = latest.get(key)
        if reply and target is not None and first - stats[target][1] <= window:
            attach.setdefault(target, []).append(k)
            stats[target][1] = max(stats[target][1], last)
            continue
        latest[key] = k
    for target, ks in attach.items():
        trees[target] = graft(trees[target], [trees[k] for k in ks], table.parent, eff,
                              table.subject_link, by_subject=True)
        for k in ks:
            alive[k] = False
