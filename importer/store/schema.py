"""The store file's schema, in one place: the ledger, the quarantine, the runs and the
local backend's tickets (one SQLite file, `archive.sqlite` by default), and how it is opened.

Every table of the store is declared here; ledger.py, backends/local.py and show.py
only read and write them.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import urllib.parse

from importer.errors import StoreError

FORMAT = "archive-import-store/1"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, started TEXT NOT NULL, finished TEXT, command TEXT NOT NULL,
    destination TEXT NOT NULL, sources TEXT NOT NULL, outcome TEXT,
    messages_read INTEGER, threads INTEGER, tickets_created INTEGER,
    tickets_present INTEGER, messages_added INTEGER, threads_failed INTEGER);
CREATE TABLE IF NOT EXISTS ledger_threads (
    destination TEXT NOT NULL, thread_id TEXT NOT NULL, ticket_id TEXT,
    state TEXT NOT NULL CHECK (state IN ('creating', 'open', 'done', 'failed')),
    error TEXT, updated TEXT NOT NULL, finished INTEGER NOT NULL DEFAULT 0, first_date TEXT,
    PRIMARY KEY (destination, thread_id));
CREATE TABLE IF NOT EXISTS ledger_messages (
    destination TEXT NOT NULL, message_key TEXT NOT NULL, message_id TEXT NOT NULL,
    thread_id TEXT NOT NULL, ticket_id TEXT, entry_id TEXT,
    state TEXT NOT NULL CHECK (state IN ('adding', 'done')), date TEXT,
    PRIMARY KEY (destination, message_key));
CREATE TABLE IF NOT EXISTS quarantine (
    sha256 TEXT PRIMARY KEY, path TEXT NOT NULL, idx INTEGER NOT NULL, offset INTEGER,
    reason TEXT NOT NULL, raw BLOB NOT NULL, first_seen TEXT NOT NULL, length INTEGER,
    kept TEXT NOT NULL DEFAULT 'bytes');
CREATE TABLE IF NOT EXISTS ledger_sources (
    destination TEXT NOT NULL, path TEXT NOT NULL, idx INTEGER NOT NULL, offset INTEGER,
    sha256 TEXT NOT NULL, message_id TEXT NOT NULL, message_key TEXT,
    status TEXT NOT NULL CHECK (status IN ('unique', 'duplicate', 'excluded', 'quarantined')),
    PRIMARY KEY (destination, path, idx));
CREATE INDEX IF NOT EXISTS ledger_messages_by_id ON ledger_messages (destination, message_id);
CREATE INDEX IF NOT EXISTS ledger_threads_by_ticket ON ledger_threads (destination, ticket_id);
"""




# Columns added since the first release of the format; older stores get them on open.
_ADDED = {"ledger_threads": (("finished", "INTEGER NOT NULL DEFAULT 0"), ("first_date", "TEXT")),
          "ledger_messages": (("date", "TEXT"),),
          # kept: 'bytes' (in `raw`) or 'source' (too large to copy: `raw` is empty, the
          # bytes stay at path/offset/length in the source, verified by sha256).
          "quarantine": (("length", "INTEGER"), ("kept", "TEXT NOT NULL DEFAULT 'bytes'"))}


def _migrate(conn: sqlite3.Connection) -> None:
    for table, columns in _ADDED.items():
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for name, decl in columns:
            if name not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")


def _readonly_views(conn: sqlite3.Connection) -> None:
    """A read-only store written by an older version: temporary views (which SQLite resolves
    before the file's own tables) add the missing columns, so reading needs no write."""
    for table, columns in _ADDED.items():
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        missing = [name for name, _ in columns if name not in have]
        if have and missing:
            extra = ", ".join({"finished": "0 AS finished", "kept": "'bytes' AS kept"}.get(
                name, f"NULL AS {name}") for name in missing)
            conn.execute(f"CREATE TEMP VIEW {table} AS SELECT *, {extra} FROM main.{table}")


def _writable(folder: str) -> bool:
    """Whether a file can be made in `folder` (tried: os.access says yes to root even on a
    read-only mount)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".archive-import-probe-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(probe)
    return True


def open_store(path: str, *, readonly: bool = False) -> sqlite3.Connection:
    """Open (or create) the store file and check that it is ours."""
    if readonly:
        if not os.path.exists(path):
            conn = sqlite3.connect(":memory:", check_same_thread=False)
            conn.executescript(SCHEMA)
            return conn
        # In a folder nobody may write (a read-only mount, an archive copy), SQLite cannot
        # make the -shm file a WAL store needs, even to read: read it as immutable then.
        ro = "?mode=ro" if _writable(os.path.dirname(os.path.abspath(path))) else "?immutable=1"
        conn = sqlite3.connect("file:" + urllib.parse.quote(os.path.abspath(path)) + ro,
                               uri=True, check_same_thread=False)
    else:
        try:
            # Autocommit: every write outside an explicit transaction is durable at once
            # (the ledger's write-ahead records), and Ledger.atomic() / SAVEPOINTs group the
            # rest; Python's implicit transactions would make that nesting unreliable.
            conn = sqlite3.connect(path, check_same_thread=False, timeout=30,
                                   isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the store: {exc}") from exc
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "meta" not in tables:
            raise StoreError(f"{path}: is an SQLite file but not an archive-import store")
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL survives a crash or kill of the process (the commit is in
            # the WAL before SQLite returns); only a power cut may lose the last commits,
            # which the destination lookups then find again. FULL cost an fsync per write.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.executescript(SCHEMA)
            _migrate(conn)
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (FORMAT,))
            conn.commit()
        elif tables:
            _readonly_views(conn)
        fmt = conn.execute("SELECT value FROM meta WHERE key='format'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a usable store ({exc})") from exc
    if fmt and fmt[0] != FORMAT:
        raise StoreError(f"{path}: store format {fmt[0]!r}, this version reads {FORMAT!r}")
    return conn


LOCAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY, thread_id TEXT NOT NULL UNIQUE, queue TEXT NOT NULL,
    subject TEXT NOT NULL, status TEXT NOT NULL, requestors TEXT NOT NULL,
    created TEXT, resolved TEXT);
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY, ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    position INTEGER NOT NULL, message_id TEXT NOT NULL, author TEXT NOT NULL,
    recipients TEXT NOT NULL, date TEXT, subject TEXT NOT NULL, body TEXT NOT NULL,
    html TEXT, sha256 TEXT NOT NULL, raw BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS entries_by_ticket ON entries (ticket_id, position);
CREATE TABLE IF NOT EXISTS attachments (
    id INTEGER PRIMARY KEY, entry_id INTEGER NOT NULL REFERENCES entries (id),
    position INTEGER NOT NULL, filename TEXT NOT NULL, content_type TEXT NOT NULL,
    size INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS attachments_by_entry ON attachments (entry_id, position);
"""


def ensure_local_tables(conn: sqlite3.Connection) -> None:
    """The local backend's tables (an RT import's store has none)."""
    conn.executescript(LOCAL_SCHEMA)


def has_local_tables(conn: sqlite3.Connection) -> bool:
    return "tickets" in {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
