"""Step 4 of RFC 5256 REFERENCES: which ghosts (empty containers) stay in the forest.

- ``rfc5256``: as the RFC and Dovecot: a message hangs under its nearest real ancestor, or
  under the thread's topmost ghost when it has none; a topmost ghost with a single child
  gives way to that child (the RFC's "unless there is only one child"). Other ghosts go.
- ``strict`` / ``archive``: a ghost stays when it is the parent of a real message (the
  report shows "this replied to a message we do not have") or the root of a tree with
  messages in it (the oldest id the headers name: the thread keeps that id when the
  missing first message turns up in a later import). Other ghosts go, their children
  moving up to the nearest ancestor that stays.

Both return the out-parents in `table.parent` itself (only entries of messages and kept
ghosts change; a dropped ghost keeps its old parent, so walks through it still end at a
root) and the emitted containers: messages in container order, then kept ghosts (containers
numbered from `table.n` on are ghosts).
"""

from __future__ import annotations

from .containers import NO, Table

__all__ = ["prune_ghosts", "prune_rfc"]


def prune_ghosts(table: Table) -> tuple[list[int], list[tuple[int, int]]]:
    """Strict/archive pruning; returns (emitted, [(message, its ghost parent)])."""
    parent, item, n = table.parent, table.item, table.n
    ghost_kids = [(c, p) for c, p in enumerate(parent[:n]) if p >= n]   # ghosts come after n
    kept = {g for _, g in ghost_kids}
    work = list(kept)
    while work:
        g = work.pop()
        p = parent[g]
        while p != NO and item[p] == NO and p not in kept and parent[p] != NO:
            p = parent[p]               # a ghost with only ghosts below it: dropped
        parent[g] = p
        if p != NO and item[p] == NO and p not in kept:
            kept.add(p)                 # the topmost ghost of a tree with messages
            work.append(p)
    return table.numbers + sorted(kept), ghost_kids


def prune_rfc(table: Table) -> tuple[list[int], dict[int, list[int]]]:
    """RFC/Dovecot pruning; returns (emitted, {kept ghost root: its children})."""
    parent, item, n = table.parent, table.item, table.n
    jump: dict[int, int] = {}
    kids: dict[int, list[int]] = {}
    for c in [c for c, p in enumerate(parent[:n]) if p >= n]:   # under a ghost
        p = parent[c]
        path = []
        while item[p] == NO and parent[p] != NO and p not in jump:
            path.append(p)
            p = parent[p]
        p = jump.get(p, p)
        for g in path:
            jump[g] = p
        parent[c] = p
        if item[p] == NO:
            kids.setdefault(p, []).append(c)
    for g, children in list(kids.items()):
        if len(children) == 1:          # a topmost ghost with one child gives way to it
            parent[children[0]] = NO
            del kids[g]
    return table.numbers + sorted(kids), kids
