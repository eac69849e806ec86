"""The thread stage: unique records in, one ThreadPlan per conversation out.

Threading itself is the `mailthreads` engine (threading/); this module only
turns its forest into plans and decides each thread's subject, dates and
requestors.
"""

from __future__ import annotations

from datetime import datetime

import mailthreads

from importer.config import Config, StaffCfg
from importer.records import Duplicate, Ghost, Link, MessageRecord, PlacedMessage, ThreadPlan


def build_plans(records: list[MessageRecord], cfg: Config,
                duplicates: list[Duplicate] = ()) -> list[ThreadPlan]:
    """Thread `records` with the configured mode; plans in the engine's order (by date)."""
    alias = aliases(records, duplicates)
    see = lambda ids: tuple(alias.get(i, i) for i in ids)   # noqa: E731
    items = [mailthreads.Item(key=i, message_id=r.message_id, references=see(r.references),
                              in_reply_to=see(r.in_reply_to), subject=r.subject, date=r.date)
             for i, r in enumerate(records)]
    threads = mailthreads.thread(
        items, cfg.threading.mode, subject_window_days=cfg.threading.subject_window_days,
        generic_subjects=frozenset(cfg.threading.generic_subjects))
    return [_plan(t, records, cfg.staff) for t in threads]


def aliases(records: list[MessageRecord], duplicates) -> dict[str, str]:
    """Message-IDs of copies dropped as content duplicates -> the id of the copy kept.

    The same mail saved under two ids (a client that re-sent it, a gateway that
    renamed it) is imported once; replies that name the dropped copy's id must still
    find their parent, not a ghost.
    """
    kept = {r.source: r.message_id for r in records}
    own = set(kept.values())
    out = {}
    for d in duplicates:
        target = kept.get(d.kept)
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
    msgs = [p.record for p in placed]
    dates = [r.date for r in msgs if r.date is not None]
    return ThreadPlan(
        id=thread.id, subject=msgs[0].subject if msgs else "", requestors=requestors(msgs, staff),
        first_date=min(dates, key=_utc) if dates else None,
        last_date=max(dates, key=_utc) if dates else None,
        messages=tuple(placed), ghosts=tuple(ghosts))


def _utc(d: datetime) -> float:
    return d.timestamp()


def requestors(msgs: list[MessageRecord], staff: StaffCfg) -> tuple[str, ...]:
    """Who the ticket is for: the person outside the organisation who started it.

    - The thread starter, unless staff wrote it.
    - A mail staff forwarded into the archive names its original sender (what the
      organisation did by hand before: forward a customer's mail to hello@).
    - Otherwise the first non-staff person to write in the thread, then the first
      non-staff recipient of the starter (staff writing to a customer first).
    """
    if not msgs:
        return ()
    starter = msgs[0]
    if starter.from_addr and not staff.is_staff(starter.from_addr):
        return (starter.from_addr,)
    if starter.forwarded_from and not staff.is_staff(starter.forwarded_from):
        return (starter.forwarded_from,)
    for rec in sorted(msgs, key=lambda r: (r.date is None, r.date and _utc(r.date))):
        if rec.from_addr and not staff.is_staff(rec.from_addr):
            return (rec.from_addr,)
    for addr in starter.to + starter.cc:
        if addr and not staff.is_staff(addr):
            return (addr,)
    return ()
