"""Delivery's messages read in full ahead of time on the other core, in the order delivery
will ask for them (the plans' order), so the store's writes and the MIME walk overlap.

A local import of realistic mail spent half its time in `content.extract`, on one core,
while the second idled. The main process reads each message's bytes (the Archive owns the
spools and containers) and hands them to a worker, which checks their SHA-256, walks the
MIME tree and returns what a ticket entry shows (the bytes themselves stay here). At most
WINDOW_MESSAGES messages or WINDOW_BYTES bytes are in flight, so memory is bounded by the
window, never by the archive. Asked for a message it did not read ahead (a resumed run skips
the messages already imported), it drops what it read ahead before that message, or reads the
message itself; a worker that fails costs nothing but the read-ahead.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import logging
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from typing import Callable, Iterable

from importer.config import LimitsCfg
from importer.mail.content import extract
from importer.parse import display_headers
from importer.parsepool import cores, quiet_worker
from importer.records import MessageContent, MessageRecord

log = logging.getLogger(__name__)

MIN_BYTES = 32 << 20        # smaller inputs are read in the main process: workers cost more
WINDOW_MESSAGES = 64
WINDOW_BYTES = 48 << 20


def content_of(raw: bytes, rec: MessageRecord, limits: LimitsCfg) -> tuple[str, MessageContent]:
    """(SHA-256 of `raw`, the message as an entry shows it, its bytes left out): the work
    done ahead. Header text through the first pass's decoder, as the report shows it."""
    content = extract(raw, message_id=rec.message_id, max_depth=limits.max_mime_depth,
                      max_parts=limits.max_mime_parts, headers=display_headers(raw))
    content = replace(content, raw=b"", date=rec.date or content.date)
    return hashlib.sha256(raw).hexdigest(), content


class ContentPool:
    """`load(rec)` for delivery, computed ahead in a worker process."""

    def __init__(self, order: Iterable[MessageRecord], read: Callable[[MessageRecord], bytes],
                 limits: LimitsCfg, check: Callable[[MessageRecord, str], None]):
        self.order, self.read, self.limits, self.check = iter(order), read, limits, check
        self.ahead: collections.deque = collections.deque()    # (rec, raw, future)
        self.keys: dict[int, int] = {}                          # id(rec) -> times ahead
        self.bytes = 0
        self.executor: ProcessPoolExecutor | None = None
        self.live = False                   # reading ahead (False once a worker failed)

    def __enter__(self) -> "ContentPool":
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["importer.contentpool"])
        self.executor = ProcessPoolExecutor(max_workers=1, mp_context=context,
                                            initializer=quiet_worker)
        self.live = True
        return self

    def __exit__(self, *exc) -> None:
        self.live = False
        self.ahead.clear()
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)

    def __call__(self, rec: MessageRecord) -> MessageContent:
        self._fill()
        if self.keys.get(id(rec)):
            while True:
                ahead, raw, future = self._pop()
                if ahead is rec:
                    return self._result(rec, raw, future)
        return _in_place(rec, self.read, self.limits, self.check)   # not read ahead

    def _result(self, rec: MessageRecord, raw: bytes, future: Future) -> MessageContent:
        if isinstance(future, BaseException):
            raise future                    # reading the source failed: as if read now
        try:
            if future is None:
                raise RuntimeError("the worker was gone")
            digest, content = future.result()
        except Exception as exc:  # a broken worker: read here from now on
            if self.live:
                log.warning("reading ahead stopped (%s: %s); reading in this process",
                            type(exc).__name__, exc)
            self.live = False
            digest, content = content_of(raw, rec, self.limits)
        self.check(rec, digest)
        return replace(content, raw=raw)

    def _pop(self):
        rec, raw, future = self.ahead.popleft()
        self.bytes -= len(raw or b"")
        self.keys[id(rec)] -= 1
        if not self.keys[id(rec)]:
            del self.keys[id(rec)]
        return rec, raw, future

    def _submit(self, raw: bytes, rec: MessageRecord) -> Future | None:
        try:
            return self.executor.submit(content_of, raw, rec, self.limits)
        except Exception as exc:  # a broken pool: this message is read in place, when asked
            log.warning("reading ahead stopped (%s: %s)", type(exc).__name__, exc)
            self.live = False
            return None

    def _fill(self) -> None:
        while self.live and len(self.ahead) < WINDOW_MESSAGES and self.bytes < WINDOW_BYTES:
            rec = next(self.order, None)
            if rec is None:
                return
            try:
                raw = self.read(rec)
            except Exception as exc:  # kept for when (if ever) delivery asks for it
                self.ahead.append((rec, None, exc))
            else:
                self.ahead.append((rec, raw, self._submit(raw, rec)))
                self.bytes += len(raw)
            self.keys[id(rec)] = self.keys.get(id(rec), 0) + 1


def loader(plans, read: Callable[[MessageRecord], bytes], limits: LimitsCfg,
           check: Callable[[MessageRecord, str], None], threads: int):
    """A context giving delivery's `load`: read ahead on the other core when delivery runs in
    one thread (the local store) over enough mail to pay for a worker, else in place."""
    order = [p.record for plan in plans for p in plan.messages]
    if threads <= 1 and cores() > 1 and sum(r.size for r in order) >= MIN_BYTES:
        return ContentPool(order, read, limits, check)
    return contextlib.nullcontext(lambda rec: _in_place(rec, read, limits, check))


def _in_place(rec: MessageRecord, read, limits: LimitsCfg, check) -> MessageContent:
    raw = read(rec)
    digest, content = content_of(raw, rec, limits)
    check(rec, digest)
    return replace(content, raw=raw)
