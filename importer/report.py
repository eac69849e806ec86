"""The run report (JSON, schema `archive-import-report/1`; see README "Report").

The schema is a contract read by checks outside the test suite: keys may be
added, never renamed. Threads are written one at a time so that a report of
100,000 messages never exists whole in memory as Python objects.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import IO, Iterable

from importer.mail.dates import iso
from importer.records import Duplicate, Quarantined, ThreadPlan, TicketRef

FORMAT = "archive-import-report/1"




def thread_entry(plan: ThreadPlan, ticket: TicketRef | None, imposters: set[str]) -> dict:
    return {
        "id": plan.id, "subject": plan.subject, "requestors": list(plan.requestors),
        "first_date": iso(plan.first_date), "last_date": iso(plan.last_date),
        "ticket": ticket.to_report() if ticket else None,
        "messages": [{
            "message_id": p.record.message_id, "parent_id": p.parent_id, "link": p.link.value,
            "from": p.record.from_display, "date": iso(p.record.date),
            "date_source": p.record.date_source.value, "subject": p.record.subject,
            "sha256": p.record.sha256, "synthetic_id": p.record.synthetic_id,
            "source": p.record.source.to_report(),
            "imposter": p.record.message_id in imposters,
            "defects": [d.code + (f": {d.detail}" if d.detail else "") for d in p.record.defects],
        } for p in plan.messages],
        "ghosts": [{"message_id": g.message_id, "parent_id": g.parent_id} for g in plan.ghosts],
    }


def write_report(path: str, *, summary: dict, threads: Iterable[dict],
                 duplicates: list[Duplicate], quarantine: list[Quarantined],
                 extra: dict | None = None) -> None:
    """Write atomically: a half-written report must never be mistaken for a whole one."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fp:
            _write(fp, summary, threads, duplicates, quarantine, extra or {})
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _write(fp: IO[str], summary, threads, duplicates, quarantine, extra) -> None:
    dump = lambda obj: json.dumps(obj, ensure_ascii=False)   # noqa: E731
    fp.write('{"format": %s,\n "summary": %s,\n "threads": [' % (dump(FORMAT), dump(summary)))
    for i, entry in enumerate(threads):
        fp.write(("," if i else "") + "\n  " + dump(entry))
    fp.write('],\n "duplicates": [')
    for i, d in enumerate(duplicates):
        fp.write(("," if i else "") + "\n  " + dump({
            "message_id": d.message_id, "kept": d.kept.to_report(),
            "dropped": d.dropped.to_report(), "reason": d.reason}))
    fp.write('],\n "quarantine": [')
    for i, q in enumerate(quarantine):
        fp.write(("," if i else "") + "\n  " + dump({
            "source": q.source.to_report(), "reason": q.reason, "sha256": q.sha256}))
    fp.write("]")
    for key, value in extra.items():
        fp.write(",\n %s: %s" % (dump(key), dump(value)))
    fp.write("\n}\n")
