"""The pipeline driver: read → parse → dedupe → thread → deliver → report.

Each stage is a plain function over the records of importer/records.py, owned by
its module; the destination (and with it whether this is a dry run) is decided
once, by backends.open_destination. This page is the whole control flow of a run.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from typing import Callable

from importer import accounts, contentpool, overrides, parsepool, progress, sharing
from importer.backends import Destination, open_destination
from importer.config import Config, LimitsCfg, StaffCfg
from importer.dedupe import Deduper
from importer.deliver import Deliverer
from importer.errors import BackendError
from importer.plan import build_plans
from importer.read.archive import Archive, no_gc
from importer.records import MessageContent, MessageRecord, Quarantined, Unreadable
from importer.overrides import NONE as NO_OVERRIDES, Overrides
from importer.report import RunResult, gather, metadata, write_reports


def run(cfg: Config, sources: list[str], *, command: str, store: str, reports=(),
        quiet: bool = False, overrides: Overrides = NO_OVERRIDES, argv: str = "") -> RunResult:
    """One run, holding the store (and an RT destination) for itself."""
    started = time.monotonic()
    meta = metadata(command=argv or command, sources=sources, config=cfg, overrides=overrides)
    with open_destination(cfg, store=store, command=command) as dest, \
            Archive(sources, max_message=cfg.limits.max_message_bytes,
                    max_expansion=cfg.limits.max_expansion) as archive, \
            dest.ledger.run(command, sources) as run_id:
        deduper = Deduper(enabled=cfg.dedupe.enabled)
        quarantine = read_stage(archive, dest, sources, quiet, cfg.limits, deduper.add,
                                staff=cfg.staff)
        unique, duplicates, imposters = dedupe_stage(deduper)
        plans, excluded = thread_stage(unique, duplicates, cfg, overrides)
        dest.ledger.record_sources(unique, duplicates, excluded, quarantine, cfg.dedupe.enabled)
        outcomes = deliver_stage(plans, archive, dest, cfg, quiet)
        result = RunResult.of(dest.backend.kind, archive, unique, duplicates, quarantine,
                              plans, outcomes, time.monotonic() - started, excluded)
        dest.ledger.finish_run(run_id, result.outcome, result.counts())
        write_reports(reports, gather(result, plans, outcomes, imposters, duplicates,
                                      quarantine, excluded, archive.files, dest, command, meta))
    accounts.check(result.problems)
    return result


def thread_stage(unique, duplicates, cfg: Config, ov: Overrides):
    """Threads, with the reviewer's overrides applied to them (overrides.py): threads split,
    merged, left out or changed, messages left out."""
    return overrides.apply(build_plans(unique, cfg, duplicates), ov, cfg.staff)


def read_stage(archive: Archive, dest: Destination, sources: list[str], quiet: bool,
               limits: LimitsCfg, sink: Callable[[MessageRecord], None],
               staff: StaffCfg | None = None) -> list[Quarantined]:
    """Scan and parse every input into `sink` (the deduper, as records come: a copy is never
    held); what cannot be parsed is quarantined with its bytes."""
    quarantine: list[Quarantined] = []
    size = progress.input_bytes(sources)
    with progress.ReadingBar(size, quiet) as bar, no_gc(), dest.ledger.atomic(), \
            sharing.sharing():
        for item, rec in parsepool.parsed(archive.scan(), limits, staff,
                                          parsepool.workers_for(size)):
            if isinstance(rec, Unreadable):
                quarantine.append(quarantined(rec, archive, dest.ledger))
            else:
                sink(rec)
            bar.update(len(item.raw) or (item.source.length or 0))
    return quarantine


def quarantined(rec: Unreadable, archive: Archive, ledger) -> Quarantined:
    """Keep what could not be read: its bytes, or an oversize stretch (which the reader
    left in place, never loaded) by reference to its place in the source, verified by its
    SHA-256: copying gigabytes into the store would double the disk used, and SQLite takes
    no value over 10^9 bytes."""
    if rec.raw or not rec.source.length:
        digest = hashlib.sha256(rec.raw).hexdigest()
        ledger.keep_quarantined(rec.source, rec.reason, digest, rec.raw)
        return Quarantined(rec.source, rec.reason, digest)
    digest = archive.digest(rec.source)
    ledger.keep_quarantined(rec.source, rec.reason, digest, None, rec.source.length)
    return Quarantined(rec.source, rec.reason, digest, kept="source")


def dedupe_stage(deduper: Deduper):
    """Unique records, duplicates and imposter ids (see dedupe.py for the rules)."""
    return deduper.result()


def deliver_stage(plans, archive: Archive, dest: Destination, cfg: Config, quiet: bool):
    """One ticket per plan, through the destination's backend, ledger and retry budget."""
    with _loader(plans, archive, dest, cfg.limits) as load:
        deliverer = Deliverer(dest.backend, dest.ledger, load, dedupe=cfg.dedupe.enabled,
                              retry=dest.retry)
        with progress.bar(len(plans), "tickets", quiet) as bar:
            return deliverer.run(plans, workers=dest.workers, progress=lambda o: bar.update(1))


def _loader(plans, archive: Archive, dest: Destination, limits: LimitsCfg):
    """Read a message again by its source position, for delivery (ahead of time, on the
    other core, where that pays: contentpool.py); check it is unchanged."""
    if not dest.backend.needs_content:
        return contextlib.nullcontext(header_only)

    def check(rec: MessageRecord, digest: str) -> None:
        if digest != rec.sha256:
            raise BackendError(f"{rec.source.where()}: changed since it was read",
                               message_id=rec.message_id)
    return contentpool.loader(plans, lambda rec: archive.read(rec.source), limits, check,
                              dest.workers)


def header_only(rec: MessageRecord) -> MessageContent:
    """What a dry run needs of a message: its headers, from the first pass, no body."""
    return MessageContent(message_id=rec.message_id, from_=rec.from_display,
                          to=", ".join(rec.to), cc=", ".join(rec.cc), date=rec.date,
                          subject=rec.subject, text="", html=None, attachments=(), raw=b"")
