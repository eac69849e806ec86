"""Steps 1-3 of RFC 5256 REFERENCES: the container table, parent links, loops, root set.

Containers are ints; their fields live in parallel lists (`Table`), which keeps a million
messages within memory and time budgets. Every walk is a loop over parent pointers, never
recursion: reply chains can be 100,000 deep and References can loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter

from .records import Item, noid_id

__all__ = ["Table", "build", "NO"]

NO = -1
_MESSAGE_ID = attrgetter("message_id")


class Table:
    """The id table of RFC 5256 step 1 with one int per container.

    Containers 0..n-1 hold the n items in processing order (`item[c]` is the item's
    position in the input); ghosts and dummies come after.
    """

    __slots__ = ("n", "index", "mids", "parent", "item", "irt", "nchild", "subject_link",
                 "numbers")

    def __init__(self, items: Sequence[Item], order: Sequence[int],
                 numbers: list[int] | None = None) -> None:
        mids = list(map(_MESSAGE_ID, map(items.__getitem__, order)))
        if "" in mids:
            for c in [c for c, mid in enumerate(mids) if not mid]:
                mids[c] = noid_id(items[order[c]])
        n = self.n = len(mids)
        self.mids = mids
        # 0..n-1, one int object each, shared by the lists and dicts of container numbers
        # and item positions (`order` is made of them too): a million ints are 28 MB
        self.numbers = numbers = list(range(n)) if numbers is None else numbers
        # the first container with an id holds it; later ones are imposters (unregistered)
        self.index: dict[str, int] = dict(zip(reversed(mids), reversed(numbers)))
        self.item: list[int] = list(order)  # item position, or NO for a ghost (no message)
        self.parent: list[int] = [NO] * n
        self.irt: list[int] = [NO] * n     # container In-Reply-To names as parent, or NO
        self.nchild: list[int] = [0] * n
        self.subject_link = bytearray(n)

    def add(self, mid: str, register: bool = True) -> int:
        """A new empty container (a ghost, or a dummy when `mid` is "")."""
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


def build(items: Sequence[Item], order: Sequence[int], rfc: bool,
          numbers: list[int] | None = None) -> tuple[Table, list]:
    """Steps 1A-1C over `items` taken in `order` (a permutation of `numbers`, 0..n-1).

    One loop on purpose: it runs once per message, and a function call per message costs
    about a second per million messages.

    Returns the table and the header claims RFC 5256 did not follow (a child that already
    had another parent, a link that would loop, a link that step 1B broke) as (parent,
    child) container pairs, for `archive.tree_links` in strict and archive modes.
    """
    # 1A: a container per message (made for all at once; RFC 5256 makes it when the
    # message comes, which changes nothing but container numbers). An id already held by
    # an earlier message (an imposter) gets a container of its own, as RFC 5256 asks.
    table = Table(items, order, numbers)
    index, parent, irt_of, nchild, mids = (table.index, table.parent, table.irt,
                                           table.nchild, table.mids)
    new = table.add
    refused: list[tuple[int, int]] = []
    done: list = [None] * table.n      # the References each message was linked with
    skip = None if rfc else _place_copies(table, items)
    for c, it in enumerate(map(items.__getitem__, order)):
        if skip is not None and skip[c]:
            continue
        refs, irts = it.references, it.in_reply_to
        prev = NO
        if rfc:
            chain, irt = _rfc_chain(refs, irts)
        elif not refs:
            chain, irt = _chain(refs, irts, mids[c]) if irts else (refs, None)
            done[c] = chain
        elif ((not irts or (len(irts) == 1 and irts[0] == refs[-1]))
              and mids[c] not in refs and "" not in refs):
            chain, irt = refs, (irts[0] if irts else None)
            done[c] = refs
            # the parent, already threaded, had exactly these References before its own
            # id: every pair of them went through 1A then (RFC 5322's usual References)
            p = index.get(refs[-1], NO)
            if 0 <= p < c:
                seen = done[p]
                k = len(refs) - 1
                if seen is not None and (k == 0 or (len(seen) >= k and seen[-k:] == refs[:-1])):
                    prev = p
        else:
            chain, irt = _chain(refs, irts, mids[c])
        # 1A: link the references in order, each the parent of the next, unless the
        # child already has a parent or the link would make a loop (skipped when the
        # parent message already linked this very chain, see above).
        for ref in chain if prev == NO else ():
            r = index.get(ref)
            if r is None:
                r = new(ref)
                if prev != NO:
                    parent[r] = prev
                    nchild[prev] += 1
            elif prev != NO:
                pr = parent[r]
                if pr == NO and not _would_loop(parent, nchild, prev, r):
                    parent[r] = prev
                    nchild[prev] += 1
                elif pr != prev:
                    refused.append((prev, r))
            prev = r
        if irt is not None:
            irt_of[c] = index.get(irt, NO)
        # 1B: the last reference (or none) is this message's parent. An earlier message
        # may have given it another parent (a truncated References): that link is broken
        # before the new one is made, and no link is made that would close a loop (the
        # message is then a root, as in Dovecot's mail_thread_add).
        pc = parent[c]
        if pc == prev:
            continue
        if pc != NO:
            parent[c] = NO
            nchild[pc] -= 1
            refused.append((pc, c))
        if prev != NO:
            if _would_loop(parent, nchild, prev, c):
                refused.append((prev, c))
            else:
                parent[c] = prev
                nchild[prev] += 1
    # 1C: the id table stays (containers are ints). 2 and 3, the root set, follow from
    # `parent`: a root is a container whose parent is NO.
    return table, refused


def _would_loop(parent: list[int], nchild: list[int], p: int, c: int) -> bool:
    """Whether making `p` the parent of `c` would close a loop (c is p or p's ancestor)."""
    if p == c:
        return True
    if not nchild[c]:                   # a childless container is nobody's ancestor
        return False
    while p != NO:
        if p == c:
            return True
        p = parent[p]
    return False


def _place_copies(table: Table, items: Sequence[Item]) -> bytearray | None:
    """Hang each exact copy of a message under its first copy; flags the copies.

    An imposter is an item whose Message-ID an earlier item holds. An exact copy (same
    Message-ID, headers and subject: one message stored twice) hangs under the first copy,
    so a duplicate never starts a thread of its own (strict and archive modes). Any other
    imposter is threaded by its own headers, as RFC 5256 treats a duplicated Message-ID.
    """
    index, mids, item = table.index, table.mids, table.item
    if len(index) == table.n:
        return None
    imposters = [c for c, mid in enumerate(mids) if index[mid] != c]
    skip = bytearray(table.n)
    firsts: dict[tuple, int] = {}
    for c in imposters:
        mid = mids[c]
        holder = index[mid]
        firsts.setdefault(_copy_key(mid, items[item[holder]]), holder)
        earlier = firsts.setdefault(_copy_key(mid, items[item[c]]), c)
        if earlier != c:
            table.parent[c] = earlier
            table.nchild[earlier] += 1
            skip[c] = 1
    return skip


def _copy_key(mid: str, it: Item) -> tuple:
    """What two copies of one message share: the id they are threaded under (for an item
    without Message-ID, its synthetic id), headers and subject. The date is left out:
    readers may find it in different headers of two stored copies."""
    return (mid, tuple(it.references), tuple(it.in_reply_to), it.subject)


def _rfc_chain(refs: Sequence[str], irts: Sequence[str]) -> tuple[Sequence[str], str | None]:
    """RFC 5256 "references": References, or else the first In-Reply-To id."""
    irt = (irts[0] or next((r for r in irts if r), None)) if irts else None
    if "" in refs:
        refs = [r for r in refs if r]
    return (refs if refs else ((irt,) if irt else ())), irt


def _chain(refs: Sequence[str], irts: Sequence[str],
           mid: str) -> tuple[Sequence[str], str | None]:
    """The ancestry a message's own headers claim, repaired (strict and archive modes).

    Self-references and empty ids are dropped; a repeated id keeps its last place (ids from
    `ids.parse_references` are already so; the fast path in `build` takes them as they
    are, and the loop rules of 1A absorb a repeat that comes from elsewhere). The
    In-Reply-To id (the one also in References, else the last) is the parent: appended when
    References lacks it (clients that send the parent's References unchanged), the list
    reversed when it stands first (clients that write References newest first), and
    anything after it cut off.
    """
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
