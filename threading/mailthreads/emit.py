"""Output: Threads of Nodes from the final trees, thread ids, thread order.

A Node's link: "root" for a thread's root; "subject" when a subject rule put it there;
"in-reply-to" when its parent is the id its In-Reply-To names (the header that names the
immediate parent); otherwise "references" (the parent came from References, from another
message's References for a ghost, or from joining a header group).

Thread ids: the root's id (a ghost's too); for a dummy root made by RFC 5256 step 5, the
id of the thread's earliest message. A root that is an imposter (its Message-ID held by
another item) gets ``<id>#<digest of its headers>``; a thread id that would still repeat
gets ``#2``, ``#3``... Threads come by first date (undated last), then id; ``rfc5256``
keeps the RFC's root order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain, repeat
from operator import add, attrgetter, mul

from .containers import NO, Table
from .forest import INF
from .records import Item, Node, Thread, content_digest

__all__ = ["emit"]

_LINK_NAMES = ("references", "in-reply-to", "subject", "subject") + ("root",) * 4
_KEY = attrgetter("key")


def emit(table: Table, items: Sequence[Item], ts: Sequence[float], trees: list[list[int]],
         rfc: bool, key=_KEY) -> list[Thread]:
    """One Thread per tree, in the mode's order, with distinct ids; a Node's key is
    `key(item)`, or with `key` None the item's position in `items`. Takes the table
    apart: it is the last step.

    Built column by column (`map` over the container lists) because a million Nodes is
    the largest single cost of the engine; the table's id index and links go before the
    Nodes are made, so the two never take memory at once (a tenth of a large run's peak).
    """
    mids, item, irt, slink, parent = (table.mids, table.item, table.irt, table.subject_link,
                                      table.parent)
    dated = [*ts, INF].__getitem__                  # item NO (-1) reads the INF
    firsts = [min(map(dated, map(item.__getitem__, seq))) for seq in trees]
    del dated
    tids = [_thread_id(table, items, ts, seq) for seq in trees]
    sizes = list(map(len, trees))
    flat = list(chain.from_iterable(trees))
    trees.clear()
    pcol = list(map(parent.__getitem__, flat))
    icol = list(map(item.__getitem__, flat))
    # link code: 4 for a root, + 2 for a subject link, + 1 when In-Reply-To names the parent
    codes = list(map(add, map(add, map(mul, map(NO.__eq__, pcol), repeat(4)),
                              map(mul, map(slink.__getitem__, flat), repeat(2))),
                     map(int.__eq__, map(irt.__getitem__, flat), pcol)))
    names = [*mids, None]                           # parent NO (-1) reads None
    pcol = list(map(names.__getitem__, pcol))
    del names
    table.index = table.parent = table.irt = table.nchild = table.subject_link = None
    table.item = None
    del parent, irt, slink, item
    if key is None:                                 # the position itself; a ghost's None
        kcol = map({NO: None}.get, icol, icol)
    else:
        keys = list(map(key, items))
        keys.append(None)                           # item NO (-1): a ghost's key is None
        kcol = map(keys.__getitem__, icol)
    nodes = list(map(Node, map(mids.__getitem__, flat), kcol, pcol,
                     map(_LINK_NAMES.__getitem__, codes)))
    del flat, pcol, icol, codes, kcol
    groups = []
    start = 0
    for size in sizes:
        groups.append(tuple(nodes[start:start + size]))
        start += size
    del nodes, sizes
    order = range(len(groups)) if rfc else sorted(range(len(groups)),
                                                  key=lambda i: (firsts[i], tids[i]))
    return _unique((tids[i], groups[i]) for i in order)


def _thread_id(table: Table, items: Sequence[Item], ts: Sequence[float],
               seq: list[int]) -> str:
    """The root's id; for a dummy root, its earliest message's; imposters disambiguated."""
    c = seq[0]
    if table.item[c] == NO and not table.mids[c]:
        c = min((v for v in seq if table.item[v] != NO), key=lambda v: ts[table.item[v]])
    mid = table.mids[c]
    if table.item[c] != NO and table.index.get(mid) != c:
        return f"{mid}#{content_digest(items[table.item[c]])}"
    return mid


def _unique(out: Iterable[tuple[str, tuple[Node, ...]]]) -> list[Thread]:
    """Threads with distinct ids: a repeated id (identical imposters) gets "#2", "#3"..."""
    seen: set[str] = set()
    threads = []
    for tid, nodes in out:
        base, k = tid, 1
        while tid in seen:
            k += 1
            tid = f"{base}#{k}"
        seen.add(tid)
        threads.append(Thread(tid, nodes))
    return threads
