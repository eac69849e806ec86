"""Frozen records that flow between the pipeline's stages (see ARCHITECTURE.md)."""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass, field, fields
from datetime import datetime


class DateSource(str, enum.Enum):
    """Where a message's date came from, in the order they are tried."""

    DATE = "date"            # the Date: header (RFC 5322 section 3.6.1)
    RECEIVED = "received"    # the newest Received: header's date
    FROM_LINE = "from-line"  # the mbox "From " separator line's date
    NONE = "none"


class Link(str, enum.Enum):
    """Why a message sits under its parent in a thread."""

    REFERENCES = "references"
    IN_REPLY_TO = "in-reply-to"
    SUBJECT = "subject"
    ROOT = "root"
    OVERRIDE = "override"    # put here by the reviewer's overrides file (merge)


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a message's raw bytes live, so they can be read again on delivery.

    `offset`/`length` address the stored (still escaped) bytes inside the
    (decompressed) file; both are None for one-message files (.eml, Maildir).
    `escaping` says which mbox quoting must be undone on re-read.
    """

    path: str
    index: int
    offset: int | None = None
    length: int | None = None
    fmt: str = "eml"          # "mbox" | "maildir" | "eml" | "unknown" (not mail)
    escaping: str = "none"    # "mboxo" | "mboxrd" | "none"

    def to_report(self) -> dict:
        return {"path": self.path, "index": self.index, "offset": self.offset}

    def where(self) -> str:
        """Human form for error messages: file, message number, byte offset."""
        at = f" at byte {self.offset}" if self.offset is not None else ""
        return f"{self.path}: message {self.index}{at}"


@dataclass(frozen=True, slots=True)
class Defect:
    """Something wrong with a message that did not stop it being imported."""

    code: str     # stable short name, e.g. "bad-date", "no-message-id"
    detail: str = ""


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One message's raw bytes as a mail client would store them (escaping undone)."""

    source: SourceRef
    raw: bytes
    from_line: bytes | None = None   # the mbox "From " line, without its newline


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A stretch of input that could not be made into a message: it goes to quarantine."""

    source: SourceRef
    reason: str
    raw: bytes = b""


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """The compact facts of one message that threading, dedupe and the report need.

    Bodies are not kept: delivery reads the raw bytes again through `source`.
    Addresses are lowercased bare addresses; `from_display` is the decoded
    From header as a person would read it.
    """

    source: SourceRef
    sha256: str                       # of the raw bytes
    size: int
    message_id: str                   # without <>; synthetic when `synthetic_id`
    synthetic_id: bool
    references: tuple[str, ...]
    in_reply_to: tuple[str, ...]
    subject: str
    from_addr: str
    from_display: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    date: datetime | None             # timezone-aware
    date_source: DateSource
    content_hash: str                 # dedupe hash: excludes Message-ID and transport headers
    completeness: tuple[int, ...]     # larger is a more complete copy (see dedupe.py)
    forwarded_from: str | None = None  # original sender of a forwarded mail, if any
    defects: tuple[Defect, ...] = ()
    spam: bool = False                # a spam filter's header marks it (mail/headers.py)

    def __setstate__(self, state: list) -> None:
        """Unpickled, as records arrive from the parse workers: equal values are shared,
        not copied. An id in References is another record's Message-ID, a correspondent
        writes many messages, replies repeat a subject, a zone is shared by thousands: a fifth
        of a record."""
        state = list(state)
        for at in _SHARED_AT:
            value = state[at]
            if value:
                state[at] = _intern(value) if type(value) is str else tuple(map(_intern, value))
        date = state[_DATE_AT]
        if date is not None and date.tzinfo is not None:
            zone = _ZONES.setdefault(date.tzinfo, date.tzinfo)
            if zone is not date.tzinfo:
                state[_DATE_AT] = date.replace(tzinfo=zone)
        for setter, value in zip(_SETTERS, state):
            setter(self, value)


_RECORD_FIELDS = [f.name for f in fields(MessageRecord)]
# Strings interned (sys.intern forgets one when no record holds it any more).
_SHARED_AT = [_RECORD_FIELDS.index(name) for name in (
    "message_id", "references", "in_reply_to", "subject", "from_addr", "from_display", "to",
    "cc")]
_DATE_AT = _RECORD_FIELDS.index("date")
_SETTERS = [getattr(MessageRecord, name).__set__ for name in _RECORD_FIELDS]   # the slots
_intern = sys.intern
_ZONES: dict = {}      # one object per UTC offset met (at most a few hundred exist)


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class MessageContent:
    """A message read in full for delivery: what a ticket entry shows."""

    message_id: str
    from_: str                        # decoded From header
    to: str                           # decoded To header ("" if none)
    cc: str
    date: datetime | None
    subject: str
    text: str                         # text body; HTML-only mail converted to text
    html: str | None                  # the HTML body when there was one
    attachments: tuple[Attachment, ...]
    raw: bytes

    def header_block(self) -> str:
        """The original headers a reader needs, put first in every ticket entry."""
        lines = [f"From: {self.from_}"]
        if self.to:
            lines.append(f"To: {self.to}")
        if self.cc:
            lines.append(f"Cc: {self.cc}")
        lines.append(f"Date: {self.date.isoformat() if self.date else '(unknown)'}")
        lines.append(f"Subject: {self.subject}")
        lines.append(f"Message-ID: <{self.message_id}>")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class PlacedMessage:
    """A message in a thread, with its parent and why it is there."""

    record: MessageRecord
    parent_id: str | None
    link: Link


@dataclass(frozen=True, slots=True)
class Ghost:
    """A Message-ID referenced by the archive but not in it; or (`excluded`) the place of
    a message the reviewer left out, which holds its replies where they were."""

    message_id: str
    parent_id: str | None
    excluded: bool = False


@dataclass(frozen=True, slots=True)
class ThreadPlan:
    """One conversation: becomes one ticket."""

    id: str
    subject: str
    requestors: tuple[str, ...]
    first_date: datetime | None
    last_date: datetime | None
    messages: tuple[PlacedMessage, ...]   # tree order: pre-order, siblings by date
    ghosts: tuple[Ghost, ...] = ()


@dataclass(frozen=True, slots=True)
class TicketRef:
    backend: str
    id: str
    # A ticket a dry run would create: no real id yet (not compared: the same ticket).
    planned: bool = field(default=False, compare=False)

    def to_report(self) -> dict | None:
        """The report's `ticket`: null for a ticket that does not exist yet."""
        return None if self.planned else {"backend": str(self.backend), "id": self.id}


@dataclass(frozen=True, slots=True)
class Duplicate:
    message_id: str
    kept: SourceRef
    dropped: SourceRef
    reason: str        # "message-id" | "content"
    sha256: str = ""   # of the dropped copy's bytes: a reviewer can check it against its source
    kept_sha256: str = ""


@dataclass(frozen=True, slots=True)
class Excluded:
    """A unique message the reviewer's overrides left out: counted and listed like a
    duplicate, never lost (it stays in its source, named by path, index and SHA-256)."""

    message_id: str
    source: SourceRef
    sha256: str
    reason: str            # "spam-flagged" | "excluded message" | "excluded thread"
    thread_id: str | None = None   # the thread it was in, for an excluded thread


@dataclass(frozen=True, slots=True)
class Quarantined:
    source: SourceRef
    reason: str
    sha256: str
    kept: str = "bytes"    # or "source": too large to copy, kept at its verified place
