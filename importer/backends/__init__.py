"""Backends: where tickets go. One small protocol (base.Backend), one contract suite."""

from __future__ import annotations

import os
import sqlite3

from importer.config import Config


def rt_url(cfg: Config, env=os.environ) -> str | None:
    """The RT base URL as the ledger records it: never with a user:password in it."""
    from importer.backends.rt.client import clean_base_url
    url = cfg.rt.url or env.get("RTSERVER")
    if not url:
        return None
    try:
        return clean_base_url(url)
    except ValueError as exc:
        from importer.errors import ConfigError
        raise ConfigError(cfg.source, "rt.url", str(exc)) from exc


def destination_for(cfg: Config, env=os.environ) -> str:
    """The ledger's name for where tickets go: the same import into another RT is new work."""
    if cfg.backend.kind == "rt":
        return f"rt:{rt_url(cfg, env)}:{cfg.rt.queue}"
    return f"local:{cfg.ticket.queue}"


def make_backend(cfg: Config, conn: sqlite3.Connection, *, dry_run: bool, env=os.environ):
    """The backend a run writes to; the dry run stands in for any of them."""
    if dry_run or cfg.backend.kind == "dry-run":
        from importer.backends.dryrun import DryRunBackend
        return DryRunBackend(status=cfg.ticket.status)
    if cfg.backend.kind == "rt":
        from importer.backends.rt.backend import RTBackend
        return RTBackend.from_config(cfg.rt, cfg.ticket.status, env)
    from importer.backends.local import LocalBackend
    return LocalBackend(conn, queue=cfg.ticket.queue, status=cfg.ticket.status)
