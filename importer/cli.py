"""The `archive-import` command line: run, dry-run, status, show, check.

Every user mistake ends in one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shlex
import signal
import sqlite3
import sys
import threading

from importer import __version__
from importer.backends.base import Kind
from importer.config import Config, load_config
from importer.errors import ImporterError, LocalError

EXIT_OK, EXIT_FAILED_THREADS, EXIT_ERROR, EXIT_CHECK = 0, 3, 2, 1


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="archive-import",
        description="Import old mbox, Maildir and .eml archives: one ticket per conversation.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="YAML configuration (see config.example.yaml)")
    common.add_argument("--quiet", action="store_true", help="no progress bars: only errors and the result")
    common.add_argument("-v", "--verbose", action="count", default=0,
                        help="say more: -v what each stage does, -vv every retry and decision")
    common.add_argument("--version", action="version", version=f"archive-import {__version__}")
    common.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--store", metavar="PATH",
                       help="SQLite file: local tickets and the ledger (default: local.path, archive.sqlite)")
    report = argparse.ArgumentParser(add_help=False)
    report.add_argument("--report", metavar="PATH", action="append",
                        help="where to write the report, in the format its extension names:"
                             " .json, .html (to review in a browser), .csv (a row per"
                             " thread); repeat for several (default report.json)")
    report.add_argument("--overrides", metavar="FILE",
                        help="the reviewer's corrections (YAML): exclude, split, merge, change"
                             " threads (README \"Review, then apply\")")
    sources = argparse.ArgumentParser(add_help=False)
    sources.add_argument("sources", nargs="+", metavar="SOURCE",
                         help="mbox file, Maildir, .eml file or a directory of them (.gz/.bz2/.xz too)")
    sub.add_parser("run", parents=[common, store, report, sources],
                   help="import into the configured backend (default: the local store)")
    sub.add_parser("dry-run", parents=[common, store, report, sources],
                   help="do everything but write tickets; writes only the report")
    sub.add_parser("status", parents=[common, store], help="what the ledger knows")
    show = sub.add_parser("show", parents=[common, store], help="print a local ticket and its messages")
    show.add_argument("ticket", metavar="TICKET", help="ticket number in the local store")
    show.add_argument("--raw", type=int, metavar="N", help="print the N-th message's original bytes (1-based)")
    dates = sub.add_parser("rt-dates", parents=[common, store],
                           help="write the original dates of the imported RT tickets, for"
                                " contrib/rt-import-dates on the RT host")
    dates.add_argument("--output", metavar="FILE", default="-",
                       help="where to write them (default: standard output)")
    smap = sub.add_parser("map", parents=[common, store],
                          help="after a run: the ticket and entry every source message became")
    smap.add_argument("--format", choices=("csv", "json"), default="csv",
                      help="csv (default) or json")
    smap.add_argument("--output", metavar="FILE", default="-",
                      help="where to write it (default: standard output)")
    check = sub.add_parser("check", parents=[common, store], help="preflight: can the import work?")
    check.add_argument("--create-queue", action="store_true", help="create the RT queue if missing")
    return p


class Interrupted(KeyboardInterrupt):
    """SIGTERM (kill, a scheduler) or SIGHUP (a dropped SSH session), taken like Ctrl-C:
    the step in flight finishes or rolls back, the spool is removed, the run is recorded
    as interrupted, and the exit status is 128 + the signal's number."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    args.argv = shlex.join(["archive-import", *argv])
    level = logging.DEBUG if args.debug or args.verbose > 1 else (
        logging.INFO if args.verbose else logging.WARNING)
    logging.basicConfig(level=level, format="archive-import: %(levelname)s: %(message)s")
    previous = {sig: signal.signal(sig, _raise_interrupted)
                for sig in (signal.SIGTERM, signal.SIGHUP)
                if threading.current_thread() is threading.main_thread()}
    try:
        cfg = load_config(args.config)
        return COMMANDS[args.command](args, cfg)
    except ImporterError as exc:
        print(f"archive-import: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"archive-import: interrupted ({signal.Signals(signum).name}); nothing half-done"
              " is kept: run the same command again to finish the job", file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:
        return EXIT_ERROR
    except Exception as exc:   # a bug of ours, not the user's mistake: one line, details on --debug
        if args.debug:
            raise
        print(f"archive-import: internal error: {type(exc).__name__}: {exc}"
              " (run again with --debug for details, and please report it)", file=sys.stderr)
        return EXIT_ERROR
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _store_path(args, cfg: Config) -> str:
    return args.store or cfg.local.path


def cmd_import(args, cfg: Config) -> int:
    from importer.errors import ConfigError
    from importer.pipeline import run
    from importer.read.archive import check_sources
    # Found out now, not after an import of hours: the report is written at the end.
    from importer import overrides
    from importer.report import FORMATS
    reports = args.report or ["report.json"]
    for path in reports:
        if os.path.isdir(path):
            raise ConfigError("--report", None, f"{path} is a folder: name a file in it")
        if os.path.splitext(path)[1].lower() not in FORMATS:
            raise ConfigError("--report", None, f"{path}: the report path must end in "
                              + ", ".join(FORMATS) + " (the extension names the format)")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise ConfigError("--report", None, f"cannot write a report into {folder}")
    ov = overrides.load(args.overrides)
    store_dir = os.path.dirname(os.path.abspath(_store_path(args, cfg)))
    if not os.path.isdir(store_dir):
        raise ConfigError("--store", None, f"no such folder: {store_dir}")
    check_sources(args.sources)
    store = _store_path(args, cfg)
    try:
        result = run(cfg, args.sources, command=args.command, store=store, reports=reports,
                     quiet=args.quiet, overrides=ov, argv=args.argv)
    except sqlite3.OperationalError as exc:
        # A full disk, a quota, a folder made read-only: this machine's, not the mail's.
        raise LocalError(store, f"the store failed: {exc} (free some space or use another"
                         " --store; rerunning then finishes the job)") from exc
    s = result.summary
    verb = "would create" if result.kind == Kind.DRY_RUN else "created"
    line = (f"{s['messages_read']} messages read, {s['duplicates']} duplicates, "
            f"{s['quarantined']} quarantined"
            + (f", {s['excluded']} excluded" if s["excluded"] else "") + f", {s['threads']} threads"
            + (f", {_skipped(result.skipped)}" if result.skipped else "") + f"; tickets {verb} "
            f"{result.created}, already present {result.present}"
            + (f", FAILED {result.failed}" if result.failed else "")
            + f"; {result.seconds:.1f} s; report {', '.join(reports)}")
    print(line)
    if s["messages_read"] == 0:
        print("archive-import: warning: no mail found in " + ", ".join(args.sources)
              + (" (every file was skipped: see the report's files)" if result.skipped else ""),
              file=sys.stderr)
    if result.failed:
        print(f"archive-import: {result.failed} threads failed (see the report and "
              "`archive-import status`); run the same command again to retry them", file=sys.stderr)
        return EXIT_FAILED_THREADS
    return EXIT_OK


def _skipped(reasons) -> str:
    """"3 files skipped: not mail", or with several reasons "4 files skipped (not mail: 3,
    a FIFO: 1)": nothing is left out without being counted and said."""
    import collections
    import re
    by = collections.Counter(re.split(r" \(|: ", r, maxsplit=1)[0] for r in reasons)
    n = sum(by.values())
    files = "file" if n == 1 else "files"
    if len(by) == 1:
        return f"{n} {files} skipped: {next(iter(by))}"
    return f"{n} {files} skipped (" + ", ".join(f"{r}: {k}" for r, k in by.most_common()) + ")"


def cmd_status(args, cfg: Config) -> int:
    from importer.store.ledger import summarize
    from importer.store.schema import open_store
    path = _store_path(args, cfg)
    if not os.path.exists(path):
        print(f"{path}: no store yet (nothing imported)")
        return EXIT_OK
    info = summarize(open_store(path, readonly=True))
    for r in info["runs"][-10:]:
        print(f"run {r['id']}: {r['command']} {r['started']} -> {r['finished'] or '(unfinished)'}"
              f" {r['outcome'] or 'interrupted'}: {r['messages_read'] or 0} read, "
              f"{r['tickets_created'] or 0} created, {r['tickets_present'] or 0} present")
    for dest, t in sorted(info["threads"].items()):
        print(f"{dest}: threads done {t['done']}, pending {t['pending']}, failed {t['failed']};"
              f" messages {info['messages'].get(dest, 0)}")
        if dest in info["identities"]:
            print(f"  destination: {info['identities'][dest]}")
    for f in info["failures"]:
        print(f"failed: {f['destination']} thread <{f['thread_id']}>: {f['error']}")
    if not info["runs"]:
        print(f"{path}: no runs recorded")
    return EXIT_OK


def cmd_show(args, cfg: Config) -> int:
    from importer.store.show import show
    return show(_store_path(args, cfg), args.ticket, args.raw)


def _store_view(args, cfg: Config):
    """What the store knows of the configured RT destination, for `check`."""
    from importer.backends import destination_for
    from importer.store.ledger import Ledger
    from importer.store.schema import open_store
    from importer.backends.rt.preflight import StoreView
    path = _store_path(args, cfg)
    if not os.path.exists(path):
        return StoreView(path, 0, None)
    conn = open_store(path, readonly=True)
    try:
        ledger = Ledger(conn, destination_for(cfg), readonly=True)
        return StoreView(path, ledger.ticket_count(), ledger.identity())
    finally:
        conn.close()


def cmd_check(args, cfg: Config) -> int:
    if cfg.backend.kind != "rt":
        print(f"backend {cfg.backend.kind}: nothing to check beyond the configuration ({cfg.source})")
        return EXIT_OK
    from importer.backends.rt.preflight import run_check
    results = run_check(cfg.rt, create_queue=args.create_queue, store=_store_view(args, cfg),
                        status=cfg.ticket.status)
    for r in results:
        mark = {True: "ok", False: "FAIL", None: "??"}[r.ok]
        print(f"{mark:4} {r.name}: {r.detail}")
    return EXIT_CHECK if any(r.ok is False for r in results) else EXIT_OK


def cmd_rt_dates(args, cfg: Config) -> int:
    from importer.backends import destination_for
    from importer.errors import ConfigError
    from importer.store.schema import open_store
    from importer.backends.rt.dates import write_dates
    if cfg.backend.kind != "rt":
        raise ConfigError(cfg.source, "backend.kind", "rt-dates is for an import into RT")
    path = _store_path(args, cfg)
    if not os.path.exists(path):
        raise ConfigError("--store", None, f"no such store: {path}")
    to_stdout = args.output == "-"
    conn = open_store(path, readonly=True)
    try:
        with (contextlib.nullcontext(sys.stdout) if to_stdout
              else open(args.output, "w", encoding="utf-8")) as out:
            counts = write_dates(conn, destination_for(cfg), cfg.rt.queue, out)
    finally:
        conn.close()
    print(f"{counts[0]} tickets, {counts[1]} transactions"
          + (f" -> {args.output}" if args.output != "-" else ""), file=sys.stderr)
    return EXIT_OK


def cmd_map(args, cfg: Config) -> int:
    from importer.backends import destination_for
    from importer.errors import ConfigError
    from importer.store import sourcemap
    from importer.store.schema import open_store
    path = _store_path(args, cfg)
    if not os.path.exists(path):
        raise ConfigError("--store", None, f"no such store: {path} (map reads the store of a"
                          " run)")
    conn = open_store(path, readonly=True)
    try:
        with (contextlib.nullcontext(sys.stdout) if args.output == "-"
              else open(args.output, "w", encoding="utf-8", newline="")) as out:
            n = sourcemap.write(conn, destination_for(cfg), out, args.format)
    finally:
        conn.close()
    if n == 0:
        print(f"archive-import: warning: {path} records no source messages for"
              f" {destination_for(cfg)} (was `run` used with this configuration?)",
              file=sys.stderr)
    return EXIT_OK


COMMANDS = {"run": cmd_import, "map": cmd_map, "dry-run": cmd_import, "status": cmd_status,
            "show": cmd_show, "check": cmd_check, "rt-dates": cmd_rt_dates}
