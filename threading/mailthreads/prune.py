"""Step 4 of RFC 5256 REFERENCES: which ghosts (empty containers) stay in the forest.

- ``rfc5256``: as the RFC and Dovecot: a message hangs under its nearest real ancestor, or
  under the thread's topmost ghost when it has none; a topmost ghost with a single child
  gives way to that child (the RFC's "unless there is only one child"). Other ghosts go.
- ``strict`` / ``archive``: a ghost stays when it is the parent of a real message (the
  report shows "this replied to a message we do not have") or the root of a tree with
  messages in it (the oldest id the headers name: the thread keeps that id as its id when
  the missing first message turns up in a later import). Other ghosts go, their children
  moving up to the nearest ancestor that stays.
"""

from __future__ import annotations

from .containers import NO, Table

__all__ = ["prune"]

_UNSET = -2


def prune(table: Table, rfc: bool) -> tuple[list[int], bytearray]:
    """Out-parent of every container (NO for roots) and which containers are emitted."""
    parent, item = table.parent, table.item
    n = len(parent)
    kept = bytearray(n)
    for c in range(n):
        if item[c] != NO or parent[c] == NO:
            kept[c] = 1
    if not rfc:
        for c in range(n):
            p = parent[c]
            if item[c] != NO and p != NO and item[p] == NO:
                kept[p] = 1
    outp = [NO] * n
    jump = [_UNSET] * n
    emitted = bytearray(n)
    for c in range(n):
        u = c if item[c] != NO else NO
        while u != NO and not emitted[u]:
            emitted[u] = 1
            p = _nearest_kept(parent[u], parent, kept, jump)
            outp[u] = p
            u = p
    if rfc:
        _promote_only_children(table, outp, emitted)
    return outp, emitted


def _nearest_kept(p: int, parent: list[int], kept: bytearray, jump: list[int]) -> int:
    """The first kept container from `p` upwards (memoised over dropped ghosts)."""
    path = []
    while p != NO and not kept[p]:
        j = jump[p]
        if j != _UNSET:
            p = j
            break
        path.append(p)
        p = parent[p]
    for w in path:
        jump[w] = p
    return p


def _promote_only_children(table: Table, outp: list[int], emitted: bytearray) -> None:
    """A topmost ghost with one child is replaced by that child (RFC 5256 step 4)."""
    item = table.item
    count: dict[int, int] = {}
    only: dict[int, int] = {}
    for c, p in enumerate(outp):
        if emitted[c] and p != NO and item[p] == NO:
            count[p] = count.get(p, 0) + 1
            only[p] = c
    for g, k in count.items():
        if k == 1 and outp[g] == NO:
            outp[only[g]] = NO
            emitted[g] = 0
