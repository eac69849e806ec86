"""The run report (JSON, schema `archive-import-report/1`; see README "Report").

The schema is a contract read by checks outside the test suite: keys may be
added, never renamed. Threads are written one at a time so that a report of
100,000 messages never exists whole in memory as Python objects.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Callable, Iterator

from importer import accounts
from importer.mail.dates import iso
from importer.overrides import message_ref
from importer.records import Duplicate, Excluded, Quarantined, ThreadPlan, TicketRef

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
           seconds: float, excluded=()) -> "RunResult":
        from importer.deliver import Result
        results = [o.result for o in outcomes]
        skipped = tuple(f.skipped for f in archive.files if f.skipped)
        # messages_read is what the readers handed on, counted apart from the outcomes.
        summary = {"messages_read": archive.produced,
                   "messages_unique": len(unique), "duplicates": len(duplicates),
                   "quarantined": len(quarantine), "excluded": len(excluded),
                   "threads": len(plans),
                   "files_read": len(archive.files) - len(skipped),
                   "files_skipped": len(skipped)}
        found = accounts.problems(archive.produced, unique, duplicates, quarantine, plans,
                                  archive.files, excluded)
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


@dataclass(frozen=True)
class Report:
    """Everything a report of any format shows, gathered once; `threads()` is built on each
    call, one thread at a time (a report of 100,000 messages never exists whole)."""

    kind: object        # the backend's Kind: a dry run's tickets are only planned
    meta: dict
    summary: dict
    plans: list
    outcomes: list
    imposters: set
    duplicates: list
    quarantine: list
    excluded: list
    files: list
    delivery: dict

    def threads(self) -> Iterator[dict]:
        for plan, outcome in zip(self.plans, self.outcomes):
            yield thread_entry(plan, outcome.ticket, self.imposters)


def metadata(*, command: str, sources: list[str], config, overrides) -> dict:
    """What every report records of the run that wrote it: the tool, the time, the command,
    the sources and digests of the configuration and of the overrides file (the same
    digests: the same instructions)."""
    from importer import __version__
    cfg = {k: v for k, v in dataclasses.asdict(config).items() if k != "source"}
    digest = hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()
    ov = None
    if overrides:
        with open(overrides.path, "rb") as fp:
            ov = {"path": overrides.path, "sha256": hashlib.file_digest(fp, "sha256").hexdigest()}
    return {"tool": "archive-import", "version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command, "sources": list(sources),
            "config": {"path": config.source, "sha256": digest}, "overrides": ov}


def gather(result: RunResult, plans, outcomes, imposters, duplicates, quarantine, excluded,
           files, dest, command: str, meta: dict) -> Report:
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
    return Report(backend.kind, meta, result.summary, plans, outcomes, imposters, duplicates, quarantine,
                  excluded, [{**dataclasses.asdict(f), "quarantined": held[f.path]}
                             for f in files], delivery)


FORMATS = (".json", ".html", ".csv")


def write_reports(paths, report: Report) -> None:
    """Each path in the format its extension names (README "Report")."""
    for path in paths:
        ext = os.path.splitext(path)[1].lower()
        if ext == ".html":
            from importer.review.html import write_html
            atomic_write(path, lambda fp: write_html(fp, report))
        elif ext == ".csv":
            from importer.review.table import write_csv
            atomic_write(path, lambda fp: write_csv(fp, report), newline="")
        else:
            atomic_write(path, lambda fp: _write(fp, report))


def thread_entry(plan: ThreadPlan, ticket: TicketRef | None, imposters: set[str]) -> dict:
    return {
        "id": plan.id, "subject": plan.subject, "requestors": list(plan.requestors),
        "first_date": iso(plan.first_date), "last_date": iso(plan.last_date),
        "ticket": ticket.to_report() if ticket else None,     # null: not made (yet)
        "messages": [{
            "message_id": p.record.message_id, "ref": message_ref(p.record, imposters),
            "parent_id": p.parent_id, "link": p.link.value,
            "from": p.record.from_display, "date": iso(p.record.date),
            "date_source": p.record.date_source.value, "subject": p.record.subject,
            "sha256": p.record.sha256, "synthetic_id": p.record.synthetic_id,
            "source": p.record.source.to_report(),
            "imposter": p.record.message_id in imposters, "spam": p.record.spam,
            "defects": [d.code + (f": {d.detail}" if d.detail else "") for d in p.record.defects],
        } for p in plan.messages],
        "ghosts": [{"message_id": g.message_id, "parent_id": g.parent_id,
                    **({"excluded": True} if g.excluded else {})} for g in plan.ghosts],
    }


def atomic_write(path: str, write: Callable[[IO[str]], None], newline: str | None = None
                 ) -> None:
    """Write atomically (a half-written report must never be mistaken for a whole one),
    with the mode the user's umask gives a new file: a report is for colleagues to read,
    not 0600 as mkstemp makes it."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=os.path.splitext(path)[1],
                               dir=directory)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as fp:
            write(fp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _write(fp: IO[str], report: Report) -> None:
    dump = lambda obj: json.dumps(obj, ensure_ascii=False)   # noqa: E731
    fp.write('{"format": %s,\n "meta": %s,\n "summary": %s,\n "threads": ['
             % (dump(FORMAT), dump(report.meta), dump(report.summary)))
    for i, entry in enumerate(report.threads()):
        fp.write(("," if i else "") + "\n  " + dump(entry))
    fp.write('],\n "duplicates": [')
    for i, d in enumerate(report.duplicates):
        fp.write(("," if i else "") + "\n  " + dump(duplicate_entry(d)))
    fp.write('],\n "quarantine": [')
    for i, q in enumerate(report.quarantine):
        fp.write(("," if i else "") + "\n  " + dump(quarantine_entry(q)))
    fp.write('],\n "excluded": [')
    for i, e in enumerate(report.excluded):
        fp.write(("," if i else "") + "\n  " + dump(excluded_entry(e)))
    fp.write("]")
    for key in ("files", "delivery"):
        fp.write(",\n %s: %s" % (dump(key), dump(getattr(report, key))))
    fp.write("\n}\n")


def duplicate_entry(d: Duplicate) -> dict:
    return {"message_id": d.message_id, "kept": d.kept.to_report(),
            "dropped": d.dropped.to_report(), "reason": d.reason, "sha256": d.sha256,
            "kept_sha256": d.kept_sha256}


def quarantine_entry(q: Quarantined) -> dict:
    return {"source": q.source.to_report(), "reason": q.reason, "sha256": q.sha256,
            "kept": q.kept}


def excluded_entry(e: Excluded) -> dict:
    return {"message_id": e.message_id, "source": e.source.to_report(), "sha256": e.sha256,
            "reason": e.reason, "thread": e.thread_id}
