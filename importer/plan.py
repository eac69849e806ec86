"""The thread stage: unique records in, one ThreadPlan per conversation out.

Threading itself is the `mailthreads` engine (threading/); this module only
turns its forest into plans and decides each thread's subject, dates and
requestors.
"""

from __future__ import annotations

import re
from datetime import datetime
from operator import itemgetter

import mailthreads

from importer.config import Config, StaffCfg
from importer.records import Duplicate, Ghost, Link, MessageRecord, PlacedMessage, ThreadPlan


def build_plans(records: list[MessageRecord], cfg: Config,
                duplicates: list[Duplicate] = ()) -> list[ThreadPlan]:
    """Thread `records` with the configured mode; plans in the engine's order (by date)."""
    alias = aliases(records, duplicates)

    def see(r: MessageRecord):   # the record itself: an Item for each was a tenth of the peak
        if not any(i in alias for i in r.references + r.in_reply_to):
            return r
        return mailthreads.Item(None, r.message_id, _aliased(r.references, alias),
                                _aliased(r.in_reply_to, alias), r.subject, r.date)
    threads = mailthreads.thread(
        [see(r) for r in records] if alias else records, cfg.threading.mode,
        subject_window_days=cfg.threading.subject_window_days,
        generic_subjects=frozenset(cfg.threading.generic_subjects), key=None)
    return [_plan(t, records, cfg.staff) for t in threads]


def _aliased(ids: tuple[str, ...], alias: dict[str, str]) -> tuple[str, ...]:
    """The record's own tuple unless a dropped copy's id in it is replaced."""
    return tuple(alias.get(i, i) for i in ids) if any(i in alias for i in ids) else ids


def aliases(records: list[MessageRecord], duplicates) -> dict[str, str]:
    """Message-IDs of copies dropped as content duplicates -> the id of the copy kept.

    The same mail saved under two ids (a client that re-sent it, a gateway that
    renamed it) is imported once; replies that name the dropped copy's id must still
    find their parent, not a ghost.
    """
    if not duplicates:
        return {}
    # by place (one message read each): a dict of every record's place was a tenth of the peak
    wanted = {(d.kept.path, d.kept.index) for d in duplicates}
    kept = {r.place: r.message_id for r in records if r.place in wanted}
    own = {r.message_id for r in records}
    out = {}
    for d in duplicates:
        target = kept.get((d.kept.path, d.kept.index))
        if target and d.message_id != target and d.message_id not in own:
            out[d.message_id] = target
    return out


def _plan(thread, records: list[MessageRecord], staff: StaffCfg) -> ThreadPlan:
    placed, ghosts = [], []
    for node in thread.nodes:
        parent = node.parent_id or None   # "" is rfc5256's subject-merge dummy root
        if node.key is None:
            if node.message_id:           # the dummy root itself is no message, not a ghost
                ghosts.append(Ghost(node.message_id, parent))
        else:
            placed.append(PlacedMessage(records[node.key], parent, Link(node.link)))
    return _made(thread.id, placed, ghosts, staff)


def _made(thread_id: str, placed, ghosts, staff: StaffCfg) -> ThreadPlan:
    """The plan of messages in tree order: its subject (the first message's), dates and
    requestors."""
    msgs = [p.record for p in placed]
    dated = [(t, r) for r in msgs if (t := r.timestamp) is not None]   # the first of
    return ThreadPlan(                                                      # equal dates
        id=thread_id, subject=msgs[0].subject if msgs else "", requestors=requestors(msgs, staff),
        first_date=min(dated, key=_FIRST)[1].date if dated else None,
        last_date=max(dated, key=_FIRST)[1].date if dated else None,
        messages=tuple(placed), ghosts=tuple(ghosts))


_FIRST = itemgetter(0)


def _utc(d: datetime) -> float:
    return d.timestamp()


def regroup(thread_id: str, placed, ghosts, staff: StaffCfg) -> ThreadPlan:
    """A plan for messages the reviewer moved (overrides.py): tree order again, pre-order
    with siblings by date (undated last, then as given), the subject, dates and requestors
    worked out as for any thread. Iterative: a reply chain may be thousands deep."""
    nodes = [(p.record.message_id, p.parent_id, p) for p in placed]
    nodes += [(g.message_id, g.parent_id, g) for g in ghosts]
    ids = {mid for mid, _, _ in nodes}
    order = {id(n[2]): i for i, n in enumerate(nodes)}
    children: dict[str, list] = {}
    roots = []
    first: dict[str, object] = {}
    for node in nodes:
        first.setdefault(node[0], node[2])
    for node in nodes:
        mid, parent, item = node
        # An exact copy under its own id (the engine hangs it under its first copy) stays
        # under that copy, unless it is the first itself.
        below = parent in ids and (parent != mid or first[mid] is not item)
        (children.setdefault(parent, []) if below else roots).append(node)

    def key(node) -> tuple:
        item = node[2]
        date = item.record.date if isinstance(item, PlacedMessage) else None
        return (date is None, _utc(date) if date else 0.0, order[id(item)])

    out, seen, stack = [], set(), sorted(roots, key=key, reverse=True)
    while stack or len(seen) < len(nodes):
        if not stack:   # a loop of parents (no root reaches it): start it where it was given
            stack = [next(n for n in nodes if id(n[2]) not in seen)]
        node = stack.pop()
        if id(node[2]) in seen:
            continue
        seen.add(id(node[2]))
        if isinstance(node[2], PlacedMessage):
            out.append(node[2])
        stack.extend(sorted(children.pop(node[0], ()), key=key, reverse=True))
    return _made(thread_id, out, ghosts, staff)


def requestors(msgs: list[MessageRecord], staff: StaffCfg) -> tuple[str, ...]:
    """Who the ticket is for: the person outside the organisation who started it.

    - The thread starter, unless staff wrote it.
    - A mail staff forwarded into the archive names its original sender (what the
      organisation did by hand before: forward a customer's mail to hello@).
    - Otherwise the first non-staff person to write in the thread, then the first
      non-staff recipient of the starter (staff writing to a customer first).

    Only real addresses qualify ("@sblab.att.com", "mary" and RT's own user names never
    do), and a bounce sender (mailer-daemon, postmaster) only when nobody else took part.
    """
    if not msgs:
        return ()
    starter = msgs[0]
    ordered = sorted(msgs, key=lambda r: (r.timestamp is None, r.timestamp or 0.0))
    candidates = [starter.from_addr, starter.forwarded_from,
                  *(rec.from_addr for rec in ordered), *starter.to, *starter.cc]
    people = [a for a in candidates if a and is_address(a) and not staff.is_staff(a)]
    for addr in people:
        if not is_bounce_sender(addr):
            return (addr,)
    return (people[0],) if people else ()


# RFC 5321 section 4.1.1.1 / 4.5.5: a bounce comes from the null path or from the
# mail system's own mailbox; RFC 2142 names MAILER-DAEMON and POSTMASTER.
_BOUNCE_LOCAL = re.compile(r"(?i)(mailer[-_]?daemon|postmaster|mail[-_]?delivery[-_]?"
                           r"(system|subsystem)?|bounces?|no[-_]?reply|double[-_]?bounce)")
# A bare addr-spec, as the parser lowercases it: local@domain with a dot in the domain.
_ADDRESS = re.compile(r"[^\s@<>()\[\],;:\"]{1,64}@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
                      r"[a-z0-9-]{2,63}")


def is_address(addr: str) -> bool:
    """A mailbox RT and people can write to: "mary", "@sblab.att.com" and "x@y" are not."""
    return _ADDRESS.fullmatch(addr.lower()) is not None


def is_bounce_sender(addr: str) -> bool:
    return _BOUNCE_LOCAL.fullmatch(addr.partition("@")[0]) is not None
