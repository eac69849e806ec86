"""Helpers for the thread engine's tests: building items, reading threads back (no tests here)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from mailthreads import Item, Thread

T0 = datetime(2008, 2, 22, 12, 0, 0, tzinfo=timezone.utc)


def at(minutes: float | None) -> datetime | None:
    """A date `minutes` after a fixed start (None stays None)."""
    return None if minutes is None else T0 + timedelta(minutes=minutes)


def msg(key, mid: str, refs=(), irt=(), subject: str = "", minutes: float | None = 0) -> Item:
    """An Item with a date given in minutes after T0."""
    return Item(key, mid, tuple(refs), tuple(irt), subject, at(minutes))


def groups(threads: list[Thread]) -> set[frozenset]:
    """The grouping: one set of message keys per thread (ghosts left out)."""
    return {frozenset(n.key for n in t.nodes if n.key is not None) for t in threads}


def parents(threads: list[Thread]) -> dict:
    """key -> (parent's key, or the ghost's id, or None; link) for every message."""
    out = {}
    for t in threads:
        by_id = {}
        for n in t.nodes:
            by_id.setdefault(n.message_id, n)
        for n in t.nodes:
            if n.key is None:
                continue
            p = by_id.get(n.parent_id) if n.parent_id is not None else None
            out[n.key] = (None if p is None else (p.key if p.key is not None else p.message_id),
                          n.link)
    return out


def imap(threads: list[Thread]) -> str:
    """The threads in IMAP THREAD response form (RFC 5256 section 4); keys are numbers."""
    return "".join(_imap_thread(t) for t in threads)


def _imap_thread(t: Thread) -> str:
    children: dict[int, list[int]] = {}
    by_id: dict[str, int] = {}
    root = None
    for k, n in enumerate(t.nodes):
        by_id.setdefault(n.message_id, k)
        if n.parent_id is None:
            root = k
        else:
            children.setdefault(by_id[n.parent_id], []).append(k)
    return "(" + _members(t, root, children) + ")"


def _members(t: Thread, k: int, children: dict[int, list[int]]) -> str:
    parts = [] if t.nodes[k].key is None else [str(t.nodes[k].key)]
    kids = children.get(k, [])
    while len(kids) == 1:
        k = kids[0]
        parts.append(str(t.nodes[k].key))
        kids = children.get(k, [])
    text = " ".join(parts)
    if kids:
        nested = "".join("(" + _members(t, c, children) + ")" for c in kids)
        text = f"{text} {nested}" if text else nested
    return text
