"""Step 5 of RFC 5256 REFERENCES (``rfc5256`` mode): gather root threads by base subject.

Written against the RFC text and checked against Dovecot's index-thread-finish.c, whose
answers this mode must equal: roots are visited in sent-date order (step 6's order, which
Dovecot applies before step 5), a ghost root's subject is that of its oldest child, and a
merge that needs a new dummy root makes a container with no id (message_id ``""``).
"""

from __future__ import annotations

from collections.abc import Sequence

from .containers import NO, Table
from .records import Item
from .subject import analyse, subject_key

__all__ = ["merge_by_subject"]


class _Roots:
    """The root set as step 5 sees it, with the RFC's per-root flags."""

    __slots__ = ("c", "dummy", "reply", "up", "ignore")

    def __init__(self) -> None:
        self.c: list[int] = []
        self.dummy: list[bool] = []
        self.reply: list[bool] = []
        self.up: list[int] = []          # the root it will merge into (subject table chain)
        self.ignore: list[bool] = []

    def append(self, c: int, dummy: bool) -> int:
        self.c.append(c)
        self.dummy.append(dummy)
        self.reply.append(False)
        self.up.append(NO)
        self.ignore.append(False)
        return len(self.c) - 1


def merge_by_subject(table: Table, items: Sequence[Item], emitted: list[int],
                     kids: dict[int, list[int]], key: list) -> list[int]:
    """5A-5C over the roots of the pruned forest (out-parents in `table.parent`).

    `kids` maps each ghost root to its children and `key` gives the sort keys; both are
    kept up to date. Returns the emitted containers afterwards.
    """
    item, parent = table.item, table.parent
    roots = _Roots()
    for c in sorted((c for c in emitted if parent[c] == NO), key=key.__getitem__):
        roots.append(c, item[c] == NO)
    # 5A: the subject table.  5B: one root per base subject.
    subjects: dict[str, int] = {}
    for i, c in enumerate(roots.c):
        top = min(kids[c], key=key.__getitem__) if roots.dummy[i] else c
        base, reply = analyse(items[item[top]].subject, localized=False)
        k = subject_key(base)
        if not k:                        # 5B(ii): an empty thread subject is skipped
            continue
        roots.reply[i] = reply
        h = subjects.get(k)
        if h is None:
            subjects[k] = i
        elif not roots.dummy[h] and (roots.dummy[i] or (roots.reply[h] and not reply)):
            roots.up[h] = i
            subjects[k] = i
        else:
            roots.up[i] = h
    # 5C: merge each root into the one the subject table holds for its subject.
    dropped: set[int] = set()
    n_before = len(parent)
    i = 0
    while i < len(roots.c):
        if roots.up[i] != NO and not roots.ignore[i]:
            _merge(table, roots, i, kids, dropped)
        i += 1
    key.extend([None] * (len(parent) - len(key)))
    for g, children in kids.items():
        key[g] = min(key[ch] for ch in children)
    return [c for c in emitted if c not in dropped] + list(range(n_before, len(parent)))


def _merge(table: Table, roots: _Roots, i: int, kids: dict[int, list[int]],
           dropped: set[int]) -> None:
    top = i
    while roots.up[top] != NO:
        top = roots.up[top]
    cur, held = roots.c[i], roots.c[top]
    parent, link = table.parent, table.subject_link
    roots.ignore[i] = True
    if roots.dummy[i]:
        # both dummies: the current one's children join the held one's; it goes
        for ch in kids.pop(cur):
            parent[ch] = held
            link[ch] = 1
            kids[held].append(ch)
        dropped.add(cur)
    elif roots.dummy[top] or (roots.reply[i] and not roots.reply[top]):
        # the held one is a dummy, or the current one replies to it: a child of it
        parent[cur] = held
        link[cur] = 1
        if held in kids:
            kids[held].append(cur)
    else:
        # otherwise both become children of a new dummy, which the table then holds
        d = table.add("", register=False)
        parent[held] = parent[cur] = d
        link[held] = link[cur] = 1
        kids[d] = [held, cur]
        j = roots.append(d, True)
        roots.up[top] = j
        roots.ignore[top] = True
