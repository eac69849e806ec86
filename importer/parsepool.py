"""The first pass on both cores: records are self-contained, so raw messages are parsed in
worker processes, in chunks, results in input order, with few chunks in flight (memory
stays bounded by the window, never by the archive).

Used for large inputs only: starting workers costs more than it saves on a small archive.
"""

from __future__ import annotations

import collections
import itertools
import logging
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Iterable, Iterator

from importer.config import LimitsCfg, StaffCfg
from importer.parse import parse_record
from importer.records import MessageRecord, RawMessage, Unreadable

log = logging.getLogger(__name__)

MIN_BYTES = 32 << 20        # inputs smaller than this are parsed in the main process
CHUNK_MESSAGES = 200
CHUNK_BYTES = 2 << 20
WINDOW = 2                  # chunks in flight per worker


def cores() -> int:
    """The cores this process may run on."""
    found = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return found or 1


def workers_for(input_bytes: int) -> int:
    return min(cores(), 4) if input_bytes >= MIN_BYTES else 1


def quiet_worker() -> None:
    """Ctrl-C reaches the whole process group: the main process decides what it means (roll
    back, record the run as interrupted, say how to resume); a worker must not die of it
    first and turn the interruption into a broken pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _parse_chunk(chunk, limits, staff):
    return [_here(item, limits, staff) for item in chunk]


def _here(item, limits, staff):
    return item if isinstance(item, Unreadable) else parse_record(item, limits, staff)


def parsed(items: Iterable[RawMessage | Unreadable], limits: LimitsCfg,
           staff: StaffCfg | None, workers: int
           ) -> Iterator[tuple[RawMessage | Unreadable, MessageRecord | Unreadable]]:
    """(item, its record or Unreadable) for every item, in order, each once. A worker that
    dies (killed, out of memory) breaks the pool: the chunks it had not answered, and the
    rest, are parsed here, never lost."""
    if workers <= 1:
        for item in items:
            yield item, _here(item, limits, staff)
        return
    # forkserver, not fork: a forked worker would hold copies of this process's open store
    # (SQLite forbids using a connection across fork) and its threads' locks.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["importer.parsepool"])
    chunks = _chunks(items)
    pending: collections.deque = collections.deque()      # (chunk, future), oldest first
    with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                             initializer=quiet_worker) as pool:
        try:
            for chunk in chunks:
                pending.append((chunk, None))   # in place first: a submit can fail too
                pending[-1] = (chunk, pool.submit(_parse_chunk, chunk, limits, staff))
                while len(pending) >= workers * WINDOW:
                    yield from _done(pending)
            while pending:
                yield from _done(pending)
        except BrokenProcessPool as exc:
            log.warning("a parse worker died (%s); parsing in this process from here", exc)
    for chunk in itertools.chain([c for c, _ in pending], chunks):
        for item in chunk:
            yield item, _here(item, limits, staff)


def _done(pending: collections.deque):
    """The oldest chunk's results; it leaves `pending` only once they are here."""
    chunk, future = pending[0]
    results = future.result()
    pending.popleft()
    return zip(chunk, results)


def _chunks(items) -> Iterator[list]:
    return batches(items, CHUNK_MESSAGES, lambda item: len(item.raw), CHUNK_BYTES)


def batches(items, most: int, weight, heaviest: int) -> Iterator[list]:
    """Runs of consecutive items, in order: at most `most` items and, once their summed
    `weight(item)` reaches `heaviest`, no more (parse chunks here; delivery's batches of
    threads in deliver.py)."""
    batch, size = [], 0
    for item in items:
        batch.append(item)
        size += weight(item)
        if len(batch) >= most or size >= heaviest:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch
