"""Backends: where tickets go. One small protocol (base.Backend), one contract suite.

`open_destination` is the one place that decides what a run is: which backend
(the dry run is the backend of kind DRY_RUN, chosen here and nowhere else), the
store and ledger it uses, the locks it holds, the retry budget of that backend
and the destination's identity, checked before anything is read.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from typing import Iterator

from importer.backends.base import Backend, Kind
from importer.config import Config
from importer.errors import BackendError, ConfigError
from importer.lock import destination_lock, store_lock
from importer.retry import RetryPolicy
from importer.store.ledger import Ledger
from importer.store.schema import open_store


@dataclass(frozen=True)
class Destination:
    """An opened destination: what every stage after reading needs to know of it."""

    backend: Backend
    ledger: Ledger
    identity: str | None    # who the destination is (recorded in the store; None: the store)
    name: str               # the ledger's key for it, e.g. "rt:https://rt.example.org:Archive"
    retry: RetryPolicy      # the budget of this backend's own `retries` key
    workers: int


def run_kind(cfg: Config, command: str) -> Kind:
    """The dry-run command, or a configuration that asks for it, writes nothing."""
    return Kind.DRY_RUN if command == "dry-run" else Kind(cfg.backend.kind)


def destination_for(cfg: Config) -> str:
    """The ledger's name for where tickets go: the same import into another RT is new work.
    Never with a user:password from the URL in it."""
    if cfg.backend.kind == Kind.RT:
        from importer.backends.rt.client import clean_base_url
        return f"rt:{clean_base_url(cfg.rt.url) if cfg.rt.url else None}:{cfg.rt.queue}"
    return f"local:{cfg.ticket.queue}"


@contextlib.contextmanager
def open_destination(cfg: Config, *, store: str, command: str) -> Iterator[Destination]:
    """Lock the store (and an RT destination), open the ledger and the backend, check the
    destination and that this store is its own; close all of it on the way out."""
    kind = run_kind(cfg, command)
    writes = kind is not Kind.DRY_RUN
    name = destination_for(cfg)
    with contextlib.ExitStack() as held:
        # One run per store: a second one at the same time would create the same tickets.
        if writes or os.path.exists(store):
            held.enter_context(store_lock(store).acquire(required=writes))
        if kind is Kind.RT:
            held.enter_context(destination_lock(name).acquire(required=False))
        conn = open_store(store, readonly=not writes)
        held.callback(conn.close)
        ledger = Ledger(conn, name, readonly=not writes)
        _pin_dedupe(ledger, cfg, store)
        backend = _backend(kind, cfg, conn)
        held.callback(backend.close)
        rt = cfg.backend.kind == Kind.RT
        retry = RetryPolicy(attempts=cfg.rt.retries if rt else cfg.local.retries)
        # Before hours of reading: is the destination there, and is this store its own?
        try:
            identity = retry.call(backend.open, what="opening the destination")
        except BackendError as exc:
            if not exc.transient:
                raise
            raise BackendError(f"{_where(cfg)} does not answer ({exc.reason}) after"
                               f" {retry.attempts + 1} tries: check the URL (rt.url or RTSERVER)"
                               " and the network; nothing was read or written") from exc
        ledger.bind(identity, store)
        yield Destination(backend, ledger, identity, name, retry,
                          workers=cfg.rt.workers if kind is Kind.RT else 1)


def _where(cfg: Config) -> str:
    from importer.backends.rt.client import clean_base_url
    return f"RT at {clean_base_url(cfg.rt.url)}" if cfg.rt.url else "the destination"


def _pin_dedupe(ledger: Ledger, cfg: Config, store: str) -> None:
    """The ledger knows messages by keys that depend on dedupe.enabled: it may not change."""
    dedupe = "true" if cfg.dedupe.enabled else "false"
    if ledger.pin("dedupe.enabled", dedupe) != dedupe:
        raise ConfigError(cfg.source, "dedupe.enabled", f"{store} was filled with dedupe.enabled"
                          f" {'false' if cfg.dedupe.enabled else 'true'}; changing it would"
                          " import every message again (use another --store)")


def _backend(kind: Kind, cfg: Config, conn: sqlite3.Connection) -> Backend:
    if kind is Kind.DRY_RUN:
        from importer.backends.dryrun import DryRunBackend
        return DryRunBackend(target=Kind(cfg.backend.kind), status=cfg.ticket.status)
    if kind is Kind.RT:
        from importer.backends.rt.backend import RTBackend
        return RTBackend.from_config(cfg.rt, cfg.ticket.status)
    from importer.backends.local import LocalBackend
    return LocalBackend(conn, queue=cfg.ticket.queue, status=cfg.ticket.status)
