"""Step 6 of RFC 5256 REFERENCES (sibling order by date) and whole-tree joins.

Sort keys:
- ``rfc5256``: (sent date, input position), as Dovecot (date, then UID). A message without a
  date takes the date of the nearest dated message before it in the input (the mailbox
  order RFC 5256 falls back to; Dovecot uses the arrival date). A ghost or dummy root sorts
  by its oldest child.
- ``strict`` / ``archive``: the date. A ghost sorts by its oldest dated child; a message
  without a date by its nearest dated ancestor's date (so a reply stays after what it
  answers), and when no ancestor has a date, after its dated siblings. Ties keep container
  order. Nothing is ever put at 1970 or at "now".

Trees are walked with first-child/next-sibling arrays and no stack at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .containers import NO, Table

__all__ = ["archive_dates", "rfc_keys", "walk_trees", "tree_root", "graft", "INF"]

INF = float("inf")


def archive_dates(table: Table, ts: Sequence[float], emitted: list[int],
                  ghost_kids: list[tuple[int, int]]) -> list[float]:
    """Effective dates (strict/archive) for every container."""
    parent, item = table.parent, table.item
    eff = list(map([*ts, INF].__getitem__, item))        # item NO (-1) reads the INF
    for c, g in ghost_kids:
        t = eff[c]
        while g != NO and item[g] == NO and t < eff[g]:
            eff[g] = t
            g = parent[g]
    done = bytearray(len(eff))
    for c in [c for c in emitted if eff[c] == INF]:
        if done[c]:
            continue
        path = []
        u = c
        while eff[u] == INF and not done[u] and parent[u] != NO:
            path.append(u)
            u = parent[u]
        t = eff[u]
        done[u] = 1
        for w in path:
            eff[w] = t
            done[w] = 1
    return eff


def rfc_keys(table: Table, eff: Sequence[float], emitted: list[int],
             kids: dict[int, list[int]]) -> list:
    """(date, input position) per message; a ghost or dummy root takes its oldest child's."""
    item = table.item
    key: list = [None] * len(item)
    for c in emitted:
        i = item[c]
        if i != NO:
            key[c] = (eff[i], i)
    for g, children in kids.items():
        key[g] = min(key[ch] for ch in children)
    return key


def walk_trees(emitted: list[int], parent: list[int], key: Callable) -> list[list[int]]:
    """Each tree's containers in pre-order, siblings sorted by `key`; trees by root key."""
    n = len(parent)
    first_child = [NO] * n
    next_sib = [NO] * n
    roots = []
    for c in reversed(sorted(emitted, key=key)):
        p = parent[c]
        if p == NO:
            roots.append(c)
        else:
            next_sib[c] = first_child[p]
            first_child[p] = c
    roots.reverse()
    trees = []
    for r in roots:
        seq = [r]
        append = seq.append
        v = first_child[r]
        while v != NO:
            append(v)
            w = first_child[v]
            if w == NO:
                while next_sib[v] == NO and v != r:
                    v = parent[v]
                w = next_sib[v] if v != r else NO
            v = w
        trees.append(seq)
    return trees


def tree_root(parent: list[int], c: int, memo: dict[int, int]) -> int:
    """The root above container `c` (memoised walk up)."""
    path = []
    while parent[c] != NO and c not in memo:
        path.append(c)
        c = parent[c]
    r = memo.get(c, c)
    for w in path:
        memo[w] = r
    return r


def graft(seq: list[int], extra: list[list[int]], parent: list[int], eff: Sequence[float],
          subject_link: bytearray, by_subject: bool) -> list[int]:
    """Hang whole trees (`extra`, each in pre-order) under the root of `seq`, in date order."""
    root = seq[0]
    segments: list[list[int]] = []
    for c in seq[1:]:
        if parent[c] == root:
            segments.append([c])
        else:
            segments[-1].append(c)
    for other in extra:
        parent[other[0]] = root
        if by_subject:
            subject_link[other[0]] = 1
        segments.append(other)
    segments.sort(key=lambda s: (eff[s[0]], s[0]))
    out = [root]
    for s in segments:
        out.extend(s)
    return out
