"""Step 5 of RFC 5256 REFERENCES (``rfc5256`` mode): gather root threads by base subject.

Written against the RFC text and checked against Dovecot's index-thread-finish.c, whose
answers this mode must equal: roots are visited in sent-date order (step 6's order, which
Dovecot applies before step 5), a ghost root's subject is that of its oldest child, and a
merge that needs a new dummy root makes a container with no id (message_id ``""``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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


def merge_by_subject(table: Table, items: Sequence[Item], outp: list[int],
                     emitted: bytearray, key: Callable[[int], tuple]) -> None:
    """5A-5C over the roots of the pruned forest; edits `outp`/`emitted` in place."""
    item = table.item
    roots = _Roots()
    kids: dict[int, list[int]] = {}
    for c in sorted((c for c in range(len(outp)) if emitted[c] and outp[c] == NO), key=key):
        roots.append(c, item[c] == NO)
        if item[c] == NO:
            kids[c] = []
    for c, p in enumerate(outp):
        if emitted[c] and p in kids:
            kids[p].append(c)
    # 5A: the subject table.  5B: one root per base subject.
    subjects: dict[str, int] = {}
    for i, c in enumerate(roots.c):
        top = min(kids[c], key=key) if roots.dummy[i] else c
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
    i = 0
    while i < len(roots.c):
        if roots.up[i] != NO and not roots.ignore[i]:
            _merge(table, roots, i, kids, outp, emitted)
        i += 1


def _merge(table: Table, roots: _Roots, i: int, kids: dict[int, list[int]],
           outp: list[int], emitted: bytearray) -> None:
    top = i
    while roots.up[top] != NO:
        top = roots.up[top]
    cur, held = roots.c[i], roots.c[top]
    link = table.subject_link
    roots.ignore[i] = True
    if roots.dummy[i]:
        # both dummies: the current one's children join the held one's; it goes
        for ch in kids.pop(cur):
            outp[ch] = held
            link[ch] = 1
            kids[held].append(ch)
        emitted[cur] = 0
    elif roots.dummy[top] or (roots.reply[i] and not roots.reply[top]):
        # the held one is a dummy, or the current one replies to it: a child of it
        outp[cur] = held
        link[cur] = 1
        if held in kids:
            kids[held].append(cur)
    else:
        # otherwise both become children of a new dummy, which the table then holds
        d = table.add("", register=False)
        outp.append(NO)
        emitted.append(1)
        outp[held] = outp[cur] = d
        link[held] = link[cur] = 1
        kids[d] = [held, cur]
        j = roots.append(d, True)
        roots.up[top] = j
        roots.ignore[top] = True
