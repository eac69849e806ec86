"""`archive-import show`: a local ticket and its messages, safe to print on a terminal."""

from __future__ import annotations

import json
import os
import re
import sys

from importer.errors import ImporterError
from importer.store.schema import has_local_tables, open_store

# Mail is hostile: an escape sequence in a subject could rewrite the user's terminal
# (ESC ] 52 sets the clipboard on some). Everything but tab and newline below 0x20,
# DEL and the C1 controls is shown as a visible placeholder.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe(text: str | None) -> str:
    return _CONTROL.sub("\N{REPLACEMENT CHARACTER}", text or "")


def show(store: str, ticket: str, raw: int | None, out=None) -> int:
    out = out or sys.stdout
    if not os.path.exists(store):
        raise ImporterError(f"{store}: no such store")
    conn = open_store(store, readonly=True)
    if not has_local_tables(conn):
        raise ImporterError(f"{store}: holds no local tickets (was it an RT import's ledger?)")
    if not ticket.isdigit():
        raise ImporterError(f"ticket {ticket!r}: must be a ticket number")
    row = conn.execute("SELECT id, queue, subject, status, requestors, created, resolved"
                       " FROM tickets WHERE id=?", (int(ticket),)).fetchone()
    if row is None:
        raise ImporterError(f"{store}: no ticket {ticket}")
    entries = conn.execute("SELECT id, position, message_id, author, recipients, date, subject,"
                           " body, raw FROM entries WHERE ticket_id=? ORDER BY position",
                           (int(ticket),)).fetchall()
    if raw is not None:
        if not 1 <= raw <= len(entries):
            raise ImporterError(f"ticket {ticket} has {len(entries)} messages; --raw takes 1 to {len(entries)}")
        out.flush()
        sys.stdout.buffer.write(entries[raw - 1][8])
        sys.stdout.buffer.flush()
        return 0
    tid, queue, subject, status, requestors, created, resolved = row
    print(f"Ticket {tid} [{safe(queue)}] {safe(subject)}", file=out)
    print(f"Status: {status}  Requestors: {safe(', '.join(json.loads(requestors)))}", file=out)
    print(f"Created: {created or '-'}  Resolved: {resolved or '-'}  Messages: {len(entries)}", file=out)
    for eid, pos, mid, author, recipients, date, subj, body, _raw in entries:
        rcpt = json.loads(recipients)
        atts = conn.execute("SELECT filename, content_type, size FROM attachments WHERE entry_id=?"
                            " ORDER BY position", (eid,)).fetchall()
        print(f"\n--- {pos}. {safe(author)}  {date or '(no date)'}", file=out)
        for label, value in (("To", rcpt.get("to")), ("Cc", rcpt.get("cc"))):
            if value:
                print(f"{label}: {safe(value)}", file=out)
        print(f"Subject: {safe(subj)}\nMessage-ID: <{safe(mid)}>", file=out)
        for name, ctype, size in atts:
            print(f"Attachment: {safe(name)} ({safe(ctype)}, {size} bytes)", file=out)
        print("", file=out)
        print(safe(body).rstrip(), file=out)
    return 0
