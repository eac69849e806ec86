"""The original dates of imported RT tickets, from the ledger, for contrib/rt-import-dates.

Where RT drops a historical `Created` over REST 2 (Debian's 5.0.3 since deb12u7),
tickets and transactions carry the time of the import. Only code inside RT can
change that; this writes what it needs, one tab-separated record a line:

    # archive-import-rt-dates/1
    queue   NAME
    ticket  ID  YYYY-MM-DD HH:MM:SS               (UTC: the thread's first date)
    txn     TICKET  TRANSACTION|create  DATE      (UTC: that message's date)

Nothing from mail goes into the file but dates; the queue name comes from the
configuration, with tabs and line breaks refused.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import IO

from importer.backends.rt.fields import rt_date
from importer.errors import ConfigError
from importer.store.ledger import dates_for

FORMAT = "archive-import-rt-dates/1"


def _utc(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return rt_date(datetime.fromisoformat(value))
    except ValueError:
        return None


def write_dates(conn: sqlite3.Connection, destination: str, queue: str,
                out: IO[str]) -> tuple[int, int]:
    """Write the file; return (tickets, transactions) written."""
    if any(c in queue for c in "\t\r\n"):
        raise ConfigError("rt.queue", None, "a queue name with tabs or line breaks")
    out.write(f"# {FORMAT}\nqueue\t{queue}\n")
    tickets = txns = 0
    for tid, first, entries in dates_for(conn, destination):
        if not str(tid).isdigit():
            continue
        when = _utc(first)
        if when:
            out.write(f"ticket\t{tid}\t{when}\n")
            tickets += 1
        for entry, date in entries:
            when = _utc(date)
            txn = "create" if entry == f"{tid}:create" else entry
            if when and (txn == "create" or str(txn).isdigit()):
                out.write(f"txn\t{tid}\t{txn}\t{when}\n")
                txns += 1
    return tickets, txns
