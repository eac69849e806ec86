"""`archive-import map`: for every source message, the ticket and entry it became.

Old links and references into the archive (a wiki page naming `2003.mbox` message 412, a
list archive's URL) can then be redirected to the ticket. From the store: the sources
each run recorded (ledger_sources: every message read and every stretch quarantined, by
its place) and the ledger's message rows.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from typing import IO, Iterator

from importer.review.table import cell

COLUMNS = ("path", "index", "message_id", "sha256", "ticket", "entry", "status")
# status: imported | duplicate (the ticket and entry of the copy kept) | excluded (by the
# reviewer's overrides) | pending (not delivered yet: run again) | quarantined


def rows(conn: sqlite3.Connection, destination: str) -> Iterator[dict]:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "ledger_sources" not in tables:     # a store written before the map existed
        return
    # A duplicate of a message the reviewer left out is left out with it (not "pending").
    left_out = {key for (key,) in conn.execute(
        "SELECT message_key FROM ledger_sources WHERE destination = ? AND status = 'excluded'",
        (destination,))}
    for path, idx, mid, sha, status, key, ticket, entry, state in conn.execute(
            "SELECT s.path, s.idx, s.message_id, s.sha256, s.status, s.message_key,"
            " m.ticket_id, m.entry_id, m.state FROM ledger_sources s LEFT JOIN ledger_messages m"
            " ON m.destination = s.destination AND m.message_key = s.message_key"
            " WHERE s.destination = ? ORDER BY s.path, s.idx", (destination,)):
        done = state == "done"
        if status == "quarantined":
            mid, done = None, False
        elif status == "unique":
            status = "imported" if done else "pending"
        elif done:           # in a ticket, whatever a later run's overrides left out
            status = "imported" if status in ("unique", "excluded") else status
        elif status == "excluded" or (key is not None and key in left_out):
            status, ticket, entry = "excluded", None, None
        elif not done:
            status = "pending"
        yield {"path": path, "index": idx, "message_id": mid, "sha256": sha,
               "ticket": ticket if done else None, "entry": entry if done else None,
               "status": status}


def write(conn: sqlite3.Connection, destination: str, out: IO[str], fmt: str) -> int:
    """Write the map as CSV (a header row, then a row per message) or as a JSON list."""
    n = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows(conn, destination):
            # Text from mail a spreadsheet would take for a formula gets a leading "'"
            # (review/table.py); JSON holds every value as stored.
            writer.writerow({**row, "path": cell(row["path"]),
                             "message_id": cell(row["message_id"] or "")})
            n += 1
        return n
    out.write("[")
    for row in rows(conn, destination):
        out.write(("," if n else "") + "\n " + json.dumps(row, ensure_ascii=False))
        n += 1
    out.write("\n]\n")
    return n
