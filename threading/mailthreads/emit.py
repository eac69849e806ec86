"""Step 6 of RFC 5256 REFERENCES: sibling order by date, then Threads of Nodes in pre-order.

Sort keys (siblings, and in ``rfc5256`` mode the threads themselves):
- ``rfc5256``: (sent date, input position), as Dovecot (date, then UID). A message without a
  date takes the date of the nearest dated message before it in the input (the mailbox
  order RFC 5256 falls back to; Dovecot uses the arrival date). A ghost or dummy sorts by
  its oldest child.
- ``strict`` / ``archive``: (date, container order). A ghost sorts by its oldest dated
  child; a message without a date sorts with its parent's date (its nearest dated
  ancestor's), or the thread's first date at the top. Nothing is ever put at 1970 or now.
Threads come ordered by their first date (undated last), then id; in ``rfc5256`` mode in
the RFC's root order (root date; a dummy root by its oldest child).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .containers import NO, Table, tree_roots
from .records import Item, Node, Thread, content_digest

__all__ = ["rfc_keys", "archive_keys", "emit"]

_INF = float("inf")
_LINKS = ("references", "in-reply-to", "subject")


def rfc_keys(table: Table, eff: Sequence[float], outp: list[int],
             emitted: bytearray) -> list[tuple[float, int]]:
    """(date, input position) for messages; a ghost or dummy takes its oldest child's."""
    item = table.item
    key: list[tuple[float, int]] = [(_INF, NO)] * len(outp)
    for c in range(len(outp)):
        i = item[c]
        if i != NO and emitted[c]:
            key[c] = (eff[i], i)
    for c in range(len(outp)):
        p = outp[c]
        if emitted[c] and p != NO and item[p] == NO and key[c] < key[p]:
            key[p] = key[c]
    return key


def archive_keys(table: Table, ts: Sequence[float], outp: list[int],
                 emitted: bytearray) -> list[float]:
    """Effective dates: own, a ghost's oldest dated child, else the nearest dated ancestor."""
    item = table.item
    n = len(outp)
    eff = [_INF] * n
    known = bytearray(n)
    for c in range(n):
        i = item[c]
        if i != NO and emitted[c] and ts[i] != _INF:
            t = eff[c] = ts[i]
            known[c] = 1
            g = outp[c]
            while g != NO and item[g] == NO and t < eff[g]:
                eff[g] = t
                known[g] = 1
                g = outp[g]
    root = tree_roots(outp)
    first: dict[int, float] = {}
    for c in range(n):
        if known[c] and emitted[c] and eff[c] < first.get(root[c], _INF):
            first[root[c]] = eff[c]
    for c in range(n):
        if known[c] or not emitted[c]:
            continue
        path = []
        u = c
        while not known[u] and outp[u] != NO:
            path.append(u)
            u = outp[u]
        t = eff[u] if known[u] else first.get(u, _INF)
        eff[u] = t
        known[u] = 1
        for w in path:
            eff[w] = t
            known[w] = 1
    return eff


def emit(table: Table, items: Sequence[Item], outp: list[int], emitted: bytearray,
         key: Callable, ts: Sequence[float], rfc: bool) -> list[Thread]:
    """Build the Threads: siblings by `key`, nodes in pre-order (no recursion)."""
    n = len(outp)
    order = sorted((c for c in range(n) if emitted[c]), key=key)
    first_child = [NO] * n
    next_sib = [NO] * n
    roots = []
    for c in reversed(order):
        p = outp[c]
        if p == NO:
            roots.append(c)
        else:
            next_sib[c] = first_child[p]
            first_child[p] = c
    roots.reverse()
    out: list[tuple[float, str, tuple[Node, ...]]] = []
    for r in roots:
        nodes, start, earliest = _walk(table, items, ts, r, outp, first_child, next_sib)
        out.append((start, _thread_id(table, items, r, earliest), tuple(nodes)))
    if not rfc:
        out.sort(key=lambda t: (t[0], t[1]))
    return _unique(out)


def _walk(table: Table, items: Sequence[Item], ts: Sequence[float], r: int, outp: list[int],
          first_child: list[int], next_sib: list[int]) -> tuple[list[Node], float, int]:
    """One thread's nodes in pre-order, its first date, and its earliest message."""
    mids, item, irt, slink = table.mids, table.item, table.irt, table.subject_link
    nodes = []
    start = _INF
    earliest = NO
    v = r
    while True:
        i = item[v]
        p = outp[v]
        if p == NO:
            link = "root"
            pid = None
        else:
            link = _LINKS[2 if slink[v] else (1 if irt[v] == p else 0)]
            pid = mids[p]
        if i == NO:
            nodes.append(Node(mids[v], None, pid, link))
        else:
            it = items[i]
            nodes.append(Node(mids[v], it.key, pid, link))
            if ts[i] < start or earliest == NO:
                start = min(start, ts[i])
                earliest = v
        if first_child[v] != NO:
            v = first_child[v]
            continue
        while v != r and next_sib[v] == NO:
            v = outp[v]
        if v == r:
            return nodes, start, earliest
        v = next_sib[v]


def _thread_id(table: Table, items: Sequence[Item], r: int, earliest: int) -> str:
    """The root's id; for a dummy root, its earliest message's; imposters disambiguated."""
    c = earliest if table.item[r] == NO and not table.mids[r] else r
    mid = table.mids[c]
    if table.item[c] != NO and table.index.get(mid) != c:
        return f"{mid}#{content_digest(items[table.item[c]])}"
    return mid


def _unique(out: list[tuple[float, str, tuple[Node, ...]]]) -> list[Thread]:
    """Threads with distinct ids: a repeated id (identical imposters) gets "#2", "#3"..."""
    seen: set[str] = set()
    threads = []
    for _start, tid, nodes in out:
        base, k = tid, 1
        while tid in seen:
            k += 1
            tid = f"{base}#{k}"
        seen.add(tid)
        threads.append(Thread(tid, nodes))
    return threads
