"""Steps 1-3 of RFC 5256 REFERENCES: the container table, parent links, loops, root set.

Containers are ints; their fields live in parallel lists (`Table`), which keeps a million
messages within memory and time budgets. Every walk is a loop over parent pointers, never
recursion: reply chains can be 100,000 deep and References can loop.
"""

from __future__ import annotations

from collections.abc import Sequence

from .records import Item, noid_id

__all__ = ["Table", "build", "tree_roots", "join_header_groups"]

NO = -1


class Table:
    """The id table of RFC 5256 step 1 with one int per container."""

    __slots__ = ("index", "mids", "parent", "item", "irt", "nchild", "subject_link")

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.mids: list[str] = []
        self.parent: list[int] = []
        self.item: list[int] = []      # item position, or NO for a ghost (no message)
        self.irt: list[int] = []       # container In-Reply-To names as parent, or NO
        self.nchild: list[int] = []
        self.subject_link = bytearray()

    def add(self, mid: str, register: bool = True) -> int:
        """A new empty container (a ghost until a message is put in it)."""
        c = len(self.mids)
        self.mids.append(mid)
        self.parent.append(NO)
        self.item.append(NO)
        self.irt.append(NO)
        self.nchild.append(0)
        self.subject_link.append(0)
        if register:
            self.index[mid] = c
        return c

    def get(self, mid: str) -> int:
        c = self.index.get(mid)
        return self.add(mid) if c is None else c

    def would_loop(self, p: int, c: int) -> bool:
        """Whether making `p` the parent of `c` would close a loop (c is p or p's ancestor)."""
        if p == c:
            return True
        if not self.nchild[c]:          # a childless container is nobody's ancestor
            return False
        parent = self.parent
        while p != NO:
            if p == c:
                return True
            p = parent[p]
        return False

    def set_parent(self, p: int, c: int) -> None:
        old = self.parent[c]
        if old != NO:
            self.nchild[old] -= 1
        self.parent[c] = p
        if p != NO:
            self.nchild[p] += 1


class _UnionFind:
    """Which containers some header claims to be related, however RFC 5256 links them."""

    __slots__ = ("up",)

    def __init__(self) -> None:
        self.up: list[int] = []

    def find(self, x: int) -> int:
        up = self.up
        while len(up) <= x:
            up.append(len(up))
        while up[x] != x:
            up[x] = up[up[x]]
            x = up[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.up[max(ra, rb)] = min(ra, rb)


def build(items: Sequence[Item], order: Sequence[int], rfc: bool) -> tuple[Table, _UnionFind]:
    """Steps 1A-1C over `items` taken in `order`; returns the table and the claim groups."""
    table, groups = Table(), _UnionFind()
    get, would_loop, set_parent = table.get, table.would_loop, table.set_parent
    parent, index = table.parent, table.index
    union = groups.union
    for i in order:
        it = items[i]
        mid = it.message_id or noid_id(it)
        # 1A: find or create this message's container. An id already holding a message
        # (an imposter) gets a container of its own, as RFC 5256 asks for duplicates.
        c = index.get(mid)
        if c is None:
            c = table.add(mid)
        elif table.item[c] != NO:
            holder = c
            c = table.add(mid, register=False)
            if not rfc and _is_copy(items[table.item[holder]], it):
                table.item[c] = i       # an exact copy hangs under the first copy
                set_parent(holder, c)
                union(holder, c)
                continue
        table.item[c] = i
        if rfc:
            chain, irt = _rfc_chain(it)
        else:
            chain, irt = _chain(it, mid)
        if irt:
            table.irt[c] = get(irt)
        prev = NO
        # 1A: link the references in order, each the parent of the next, unless the
        # child already has a parent or the link would make a loop.
        for ref in chain:
            r = get(ref)
            if prev != NO:
                if not rfc:
                    union(prev, r)
                if parent[r] == NO and not would_loop(prev, r):
                    set_parent(prev, r)
            prev = r
        # 1B: the last reference (or none) is this message's parent. An earlier message
        # may have given it another parent (a truncated References): that link is broken.
        # No link is made that would close a loop.
        if prev == NO:
            if parent[c] != NO:
                set_parent(NO, c)
        else:
            if not rfc:
                union(prev, c)
            if parent[c] != prev and not would_loop(prev, c):
                set_parent(prev, c)
    # 1C: the id table stays (containers are ints); steps 2 and 3 are `tree_roots`.
    return table, groups


def _is_copy(a: Item, b: Item) -> bool:
    """Same id and same threading headers and subject: one message stored twice."""
    return (a.references == b.references and a.in_reply_to == b.in_reply_to
            and a.subject == b.subject)


def _rfc_chain(it: Item) -> tuple[Sequence[str], str | None]:
    """RFC 5256 "references": References, or else the first In-Reply-To id."""
    refs = [r for r in it.references if r]
    irt = next((r for r in it.in_reply_to if r), None)
    return (refs if refs else ([irt] if irt else [])), irt


def _chain(it: Item, mid: str) -> tuple[Sequence[str], str | None]:
    """The ancestry a message's own headers claim, repaired (strict and archive modes).

    Self-references and empty ids are dropped; a repeated id keeps its last place. The
    In-Reply-To id (the one also in References, else the last) is the parent: appended when
    References lacks it (clients that send the parent's References unchanged), the list
    reversed when it stands first (clients that write References newest first), and
    anything after it cut off.
    """
    refs, irts = it.references, it.in_reply_to
    if not irts and mid not in refs and "" not in refs and len(set(refs)) == len(refs):
        return refs, None
    chain = [r for r in refs if r and r != mid]
    if len(set(chain)) != len(chain):
        chain = list(reversed(dict.fromkeys(reversed(chain))))
    cands = [r for r in irts if r and r != mid]
    if not cands:
        return chain, None
    inside = [r for r in cands if r in chain]
    irt = inside[-1] if inside else cands[-1]
    if irt not in chain:
        chain.append(irt)
    else:
        pos = chain.index(irt)
        if pos == 0 and len(chain) > 1:
            chain.reverse()
        else:
            del chain[pos + 1:]
    return chain, irt


def tree_roots(parent: list[int]) -> list[int]:
    """Steps 2-3: for every container, the root of its tree (iterative, memoised)."""
    root = [NO] * len(parent)
    for v in range(len(parent)):
        if root[v] != NO:
            continue
        path = []
        u = v
        while root[u] == NO and parent[u] != NO:
            path.append(u)
            u = parent[u]
        r = root[u] if root[u] != NO else u
        root[u] = r
        for w in path:
            root[w] = r
    return root


def join_header_groups(table: Table, groups: _UnionFind, ts: Sequence[float]) -> None:
    """Join the trees of one header group into one tree (strict and archive modes).

    RFC 5256 drops a References claim when the child already has a parent or the link
    would loop, which can leave messages that headers tie together in separate threads,
    and which ones depends on input order. Here every tree of a connected group of
    claims hangs under the root of the group's earliest tree, so grouping is exactly the
    connected components of the headers' claims: independent of order, and adding a
    message can only merge threads, never split one.
    """
    parent, item = table.parent, table.item
    root = tree_roots(parent)
    first: dict[int, float] = {}
    for c, i in enumerate(item):
        if i != NO:
            r = root[c]
            t = ts[i]
            if t < first.get(r, float("inf")) or r not in first:
                first[r] = t
    best: dict[int, int] = {}
    for r in first:
        g = groups.find(r)
        b = best.get(g)
        if b is None or (first[r], r) < (first[b], b):
            best[g] = r
    for r in first:
        b = best[groups.find(r)]
        if b != r:
            table.set_parent(b, r)
