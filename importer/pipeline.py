"""The pipeline driver: read → parse → dedupe → thread → deliver → report.

Each stage is a plain function over the records of importer/records.py; the
dry run is not a flag threaded through them but another backend. This page is
the whole control flow of a run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import os
import time
from dataclasses import dataclass, replace

from importer import progress
from importer.config import Config
from importer.dedupe import Deduper
from importer.deliver import Deliverer, RetryPolicy
from importer.store.ledger import Ledger, open_store
from importer.lock import destination_lock, store_lock
from importer.parse import parse_record
from importer.plan import build_plans
from importer.errors import BackendError, ConfigError
from importer.records import MessageContent, MessageRecord, Quarantined, TicketRef, Unreadable
from importer.report import thread_entry, write_report
from importer.read.archive import Archive
from importer.backends import make_backend, destination_for
from importer.mail.content import extract


@dataclass(frozen=True)
class RunResult:
    summary: dict
    created: int
    present: int
    added: int
    failed: int
    seconds: float


def run(cfg: Config, sources: list[str], *, command: str, store: str, report: str | None,
        quiet: bool = False) -> RunResult:
    """One run, holding the store (and an RT destination) for itself: a second run at the
    same time would create the same tickets again."""
    dry = command == "dry-run" or cfg.backend.kind == "dry-run"
    destination = destination_for(cfg)
    with contextlib.ExitStack() as held:
        if not dry or os.path.exists(store):
            held.enter_context(store_lock(store).acquire(required=not dry))
        if not dry and cfg.backend.kind == "rt":
            held.enter_context(destination_lock(destination).acquire(required=False))
        return _run(cfg, sources, command=command, store=store, report=report, quiet=quiet,
                    dry=dry, destination=destination)


def _run(cfg: Config, sources: list[str], *, command: str, store: str, report: str | None,
         quiet: bool, dry: bool, destination: str) -> RunResult:
    started = time.monotonic()
    conn = open_store(store, readonly=dry)
    ledger = Ledger(conn, destination, readonly=dry)
    dedupe = "true" if cfg.dedupe.enabled else "false"
    if ledger.pin("dedupe.enabled", dedupe) != dedupe:
        raise ConfigError(cfg.source, "dedupe.enabled", f"{store} was filled with dedupe.enabled"
                          f" {'false' if cfg.dedupe.enabled else 'true'}; changing it would"
                          " import every message again (use another --store)")
    backend = make_backend(cfg, conn, dry_run=dry)
    try:
        # Before hours of reading: is the destination there, and is this store its own?
        ledger.bind(backend.open(), store)
    except BaseException:
        backend.close()
        raise
    run_id = ledger.start_run(command, sources)
    try:
        with Archive(sources) as archive:
            # The read stage makes many small objects and frees none: the cyclic garbage
            # collector would only rescan them (15% of a dry run at 100k messages).
            gc.freeze()
            gc.disable()
            try:
                records, quarantine = read_stage(archive, ledger, sources, quiet)
            finally:
                gc.enable()
                gc.unfreeze()
            unique, duplicates, imposters = dedupe_stage(records, cfg.dedupe.enabled)
            del records
            plans = build_plans(unique, cfg, duplicates)
            load = _loader(archive, backend)
            deliverer = Deliverer(backend, ledger, load, dedupe=cfg.dedupe.enabled,
                                  retry=RetryPolicy(attempts=cfg.rt.retries))
            with progress.bar(len(plans), "tickets", quiet) as bar:
                outcomes = deliverer.run(plans, workers=_workers(cfg, dry),
                                         progress=lambda o: bar.update(1))
    finally:
        backend.close()
    summary = {"messages_read": len(unique) + len(duplicates) + len(quarantine),
               "messages_unique": len(unique), "duplicates": len(duplicates),
               "quarantined": len(quarantine), "threads": len(plans)}
    created = sum(o.created for o in outcomes)
    failed = sum(o.error is not None for o in outcomes)
    present = sum(o.ticket is not None and not o.created and o.error is None for o in outcomes)
    added = sum(o.added for o in outcomes)
    counts = {"tickets_created": created, "tickets_present": present,
              "messages_added": added, "threads_failed": failed}
    ledger.finish_run(run_id, "failed" if failed else "finished", {**summary, **counts})
    if report:
        write_report(report, summary=summary, duplicates=duplicates, quarantine=quarantine,
                     threads=(thread_entry(p, _reported_ticket(o, cfg, dry), imposters)
                              for p, o in zip(plans, outcomes)),
                     extra={"files": [dataclasses.asdict(f) for f in archive.files],
                            "delivery": {"command": command, "backend": backend.name, **counts,
                                         "destination": destination,
                                         **({backend.name: facts}
                                            if (facts := backend.facts()) else {}),
                                         "failures": [{"thread": o.thread_id, "error": o.error}
                                                      for o in outcomes if o.error]}})
    conn.close()
    return RunResult(summary, created, present, added, failed, time.monotonic() - started)


def read_stage(archive: Archive, ledger: Ledger, sources: list[str], quiet: bool):
    """Scan and parse every input; what cannot be parsed is quarantined with its bytes."""
    records: list[MessageRecord] = []
    quarantine: list[Quarantined] = []
    with progress.ReadingBar(sources, quiet) as bar:
        for item in archive.scan():
            rec = item if isinstance(item, Unreadable) else parse_record(item)
            if isinstance(rec, Unreadable):
                # An oversize stretch comes without its bytes; they are read back by offset.
                raw = rec.raw or (archive.read(rec.source) if rec.source.length else b"")
                digest = hashlib.sha256(raw).hexdigest()
                quarantine.append(Quarantined(rec.source, rec.reason, digest))
                ledger.keep_quarantined(rec.source, rec.reason, digest, raw)
            else:
                records.append(rec)
            bar.update(len(item.raw) or (item.source.length or 0))
    ledger.commit()
    return records, quarantine


def dedupe_stage(records: list[MessageRecord], enabled: bool):
    """Unique records, duplicates and imposter ids (see dedupe.py for the rules)."""
    deduper = Deduper(enabled=enabled)
    for rec in records:
        deduper.add(rec)
    return deduper.result()


def _loader(archive: Archive, backend):
    """Read a message again by its source position, for delivery; check it is unchanged."""
    def load(rec: MessageRecord):
        if not getattr(backend, "needs_content", True):
            return header_only(rec)
        raw = archive.read(rec.source)
        if hashlib.sha256(raw).hexdigest() != rec.sha256:
            raise BackendError(f"{rec.source.where()}: changed since it was read",
                               message_id=rec.message_id)
        content = extract(raw, message_id=rec.message_id)
        return replace(content, date=rec.date) if rec.date else content
    return load


def header_only(rec: MessageRecord) -> MessageContent:
    """What a dry run needs of a message: its headers, from the first pass, no body."""
    return MessageContent(message_id=rec.message_id, from_=rec.from_display,
                          to=", ".join(rec.to), cc=", ".join(rec.cc), date=rec.date,
                          subject=rec.subject, text="", html=None, attachments=(), raw=b"")


def _workers(cfg: Config, dry: bool) -> int:
    return cfg.rt.workers if cfg.backend.kind == "rt" and not dry else 1


def _reported_ticket(outcome, cfg: Config, dry: bool) -> TicketRef | None:
    """A dry run reports the tickets that already exist, and null for those it would create."""
    if outcome.ticket is None or (dry and outcome.created):
        return None
    return TicketRef(cfg.backend.kind, outcome.ticket.id) if dry else outcome.ticket
