"""The run report (JSON, schema `archive-import-report/1`; see README "Report").

The schema is a contract read by checks outside the test suite: keys may be
added, never renamed. Threads are written one at a time so that a report of
100,000 messages never exists whole in memory as Python objects.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
import os
import tempfile
from dataclasses import dataclass
from typing import IO, Iterable

from importer import accounts
from importer.mail.dates import iso
from importer.records import Duplicate, Quarantined, ThreadPlan, TicketRef

FORMAT = "archive-import-report/1"


@dataclass(frozen=True)
class RunResult:
    """What a run did, counted once: the summary line, the ledger's run row and the report
    all read it from here."""

    kind: str          # the backend's Kind: "dry-run" only created tickets on paper
    summary: dict
    created: int
    present: int
    added: int
    failed: int
    seconds: float
    problems: tuple[str, ...] = ()    # counts that do not add up (accounts.py)
    skipped: tuple[str, ...] = ()     # why each skipped file was skipped

    @classmethod
    def of(cls, kind, archive, unique, duplicates, quarantine, plans, outcomes,
           seconds: float) -> "RunResult":
        from importer.deliver import Result
        results = [o.result for o in outcomes]
        skipped = tuple(f.skipped for f in archive.files if f.skipped)
        # messages_read is what the readers handed on, counted apart from the outcomes.
        summary = {"messages_read": archive.produced,
                   "messages_unique": len(unique), "duplicates": len(duplicates),
                   "quarantined": len(quarantine), "threads": len(plans),
                   "files_read": len(archive.files) - len(skipped),
                   "files_skipped": len(skipped)}
        found = accounts.problems(archive.produced, unique, duplicates, quarantine, plans,
                                  archive.files)
        return cls(kind, summary, created=results.count(Result.CREATED),
                   present=results.count(Result.PRESENT) + results.count(Result.EXTENDED),
                   added=sum(o.added for o in outcomes), failed=results.count(Result.FAILED),
                   seconds=seconds, problems=tuple(found), skipped=skipped)

    @property
    def outcome(self) -> str:
        return "failed" if self.failed or self.problems else "finished"

    def counts(self) -> dict:
        """The `delivery` counts, and with the summary the ledger's run row."""
        return {**{k: v for k, v in self.summary.items() if not k.startswith("files_")},
                "tickets_created": self.created,
                "tickets_present": self.present, "messages_added": self.added,
                "threads_failed": self.failed}


def write_run_report(path: str, result: RunResult, plans, outcomes, imposters, duplicates,
                     quarantine, files, dest, command: str) -> None:
    """The whole report of a run: summary, threads, duplicates, quarantine, files, delivery."""
    backend = dest.backend
    facts = backend.facts()
    counts = result.counts()
    delivery = {"command": command, "backend": str(backend.kind),
                **{k: counts[k] for k in ("tickets_created", "tickets_present",
                                          "messages_added", "threads_failed")},
                "destination": dest.name,
                **({str(backend.kind): facts} if facts else {}),
                "failures": [{"thread": o.thread_id, "error": o.error}
                             for o in outcomes if o.error]}
    held = Counter(q.source.path for q in quarantine)
    write_report(path, summary=result.summary, duplicates=duplicates, quarantine=quarantine,
                 threads=(thread_entry(p, o.ticket, imposters) for p, o in zip(plans, outcomes)),
                 extra={"files": [{**dataclasses.asdict(f), "quarantined": held[f.path]}
                                  for f in files], "delivery": delivery})


def thread_entry(plan: ThreadPlan, ticket: TicketRef | None, imposters: set[str]) -> dict:
    return {
        "id": plan.id, "subject": plan.subject, "requestors": list(plan.requestors),
        "first_date": iso(plan.first_date), "last_date": iso(plan.last_date),
        "ticket": ticket.to_report() if ticket else None,     # null: not made (yet)
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
            "dropped": d.dropped.to_report(), "reason": d.reason, "sha256": d.sha256,
            "kept_sha256": d.kept_sha256}))
    fp.write('],\n "quarantine": [')
    for i, q in enumerate(quarantine):
        fp.write(("," if i else "") + "\n  " + dump({
            "source": q.source.to_report(), "reason": q.reason, "sha256": q.sha256,
            "kept": q.kept}))
    fp.write("]")
    for key, value in extra.items():
        fp.write(",\n %s: %s" % (dump(key), dump(value)))
    fp.write("\n}\n")
