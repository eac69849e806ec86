"""Frozen records that flow between the pipeline's stages (see ARCHITECTURE.md)."""

from __future__ import annotations

import enum
import struct
from dataclasses import FrozenInstanceError, dataclass, field, fields
from datetime import datetime

from importer import packing, sharing


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


@dataclass(frozen=True)
class _MessageFields:
    """The fields of a MessageRecord, as `dataclasses` sees them (fields, replace, asdict)."""

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


_FIELD_NAMES = tuple(f.name for f in fields(_MessageFields))
_HELD = ("message_id", "references", "in_reply_to", "subject", "from_addr", "from_display",
         "to", "cc", "forwarded_from", "defects")
_DATE_SOURCES = tuple(DateSource)


class MessageRecord:
    """The compact facts of one message that threading, dedupe and the report need.

    Bodies are not kept: delivery reads the raw bytes again through `source`. Addresses are
    lowercased bare addresses; `from_display` is the decoded From header as a person would
    read it. The fields are `_MessageFields`'s (`dataclasses.fields`, `replace`, `asdict`).

    One per message, a million in a large archive, all held until the report: the strings
    threading and the report read are kept as they are (shared between records), the rest
    (both digests, size, place, completeness, flags) as one packed bytes object of 102
    bytes. As fields they took 650 bytes (the two hex digests alone 226). A value the
    packing cannot hold (a digest that is not SHA-256 hex) keeps them all in a tuple.
    """

    __slots__ = _HELD + ("_path", "_facts")
    __dataclass_fields__ = _MessageFields.__dataclass_fields__
    __dataclass_params__ = _MessageFields.__dataclass_params__
    __match_args__ = _FIELD_NAMES

    def __init__(self, source: SourceRef, sha256: str, size: int, message_id: str,
                 synthetic_id: bool, references: tuple[str, ...], in_reply_to: tuple[str, ...],
                 subject: str, from_addr: str, from_display: str, to: tuple[str, ...],
                 cc: tuple[str, ...], date: datetime | None, date_source: DateSource,
                 content_hash: str, completeness: tuple[int, ...],
                 forwarded_from: str | None = None, defects: tuple[Defect, ...] = (),
                 spam: bool = False) -> None:
        for setter, value in zip(_SETTERS, (message_id, references, in_reply_to, subject,
                                            from_addr, from_display, to, cc,
                                            forwarded_from, defects, source.path)):
            setter(self, value)
        _SET_FACTS(self, _pack(source, sha256, size, synthetic_id, date_source, content_hash,
                               completeness, spam, date))

    # The packed fields, read back.
    @property
    def source(self) -> SourceRef:
        f = self._facts
        if type(f) is not bytes:
            return f[0]
        _, _, _, index, offset, length, _, flags, _, _, _, _ = packing.FACTS.unpack(f)
        return SourceRef(self._path, index, None if offset < 0 else offset,
                         None if length < 0 else length, packing.FMTS[flags >> 4 & 3],
                         packing.ESCAPINGS[flags >> 6])

    @property
    def place(self) -> tuple[str, int]:
        """(path, index) of `source`, without making the SourceRef: one message read each."""
        f = self._facts
        return (self._path, _SIZE.unpack_from(f, 72)[0]) if type(f) is bytes else \
            (f[0].path, f[0].index)

    sha256 = property(lambda self: self._facts[:32].hex() if type(self._facts) is bytes
                      else self._facts[1])
    content_hash = property(lambda self: self._facts[32:64].hex() if type(self._facts) is bytes
                            else self._facts[5])

    @property
    def content_key(self) -> bytes | str:
        """What the deduper groups by: the content hash, as its 32 bytes where packed."""
        f = self._facts
        if type(f) is bytes:
            return f[32:64]
        return bytes.fromhex(f[5]) if packing.HEX64.fullmatch(f[5]) else f[5]

    @property
    def size(self) -> int:
        f = self._facts
        return _SIZE.unpack_from(f, 64)[0] if type(f) is bytes else f[2]

    synthetic_id = property(lambda self: bool(self._facts[100] & 1)
                            if type(self._facts) is bytes else self._facts[3])
    spam = property(lambda self: bool(self._facts[100] & 2) if type(self._facts) is bytes
                    else self._facts[7])

    @property
    def date_source(self) -> DateSource:
        f = self._facts
        return _DATE_SOURCES[f[101] & 3] if type(f) is bytes else f[4]

    @property
    def date(self) -> datetime | None:
        """Timezone-aware; packed as its instant and UTC offset (a datetime is 48 bytes)."""
        f = self._facts
        if type(f) is not bytes:
            return f[8]
        return packing.date_of(f)

    @property
    def timestamp(self) -> float | None:
        """`date.timestamp()` (to the last bit), without making the datetime."""
        f = self._facts
        if type(f) is not bytes:
            return None if f[8] is None else f[8].timestamp()
        return packing.timestamp_of(f)

    @property
    def completeness(self) -> tuple[int, ...]:
        f = self._facts
        if type(f) is not bytes:
            return f[6]
        size, headers = _SIZE.unpack_from(f, 64)[0], _HEADERS.unpack_from(f, 96)[0]
        return (f[100] >> 2 & 1, f[100] >> 3 & 1, headers, size)

    # A frozen dataclass's behaviour.
    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in _FIELD_NAMES)

    def __eq__(self, other) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return "MessageRecord(" + ", ".join(
            f"{name}={value!r}" for name, value in zip(_FIELD_NAMES, self._values())) + ")"

    def __setattr__(self, name, value=None):
        raise FrozenInstanceError(f"cannot assign to field {name!r}")
    __delattr__ = __setattr__

    def __reduce__(self):
        return _restore, (tuple(getattr(self, name) for name in _HELD),
                          self._path, self._facts)


def _pack(source: SourceRef, sha256: str, size: int, synthetic_id: bool,
          date_source: DateSource, content_hash: str, completeness: tuple, spam: bool,
          date: datetime | None):
    facts = packing.pack(source, sha256, size, synthetic_id, _DATE_SOURCES.index(date_source)
                         if type(date_source) is DateSource else None, content_hash,
                         completeness, spam, date)
    return facts if facts is not None else (source, sha256, size, synthetic_id, date_source,
                                            content_hash, completeness, spam, date)


def _restore(held: tuple, path: str, facts) -> MessageRecord:
    """Unpickled: with equal values shared between records during the first pass
    (sharing.py), a fifth of a record."""
    rec = object.__new__(MessageRecord)
    if sharing.on:
        held = sharing.shared(held, _SHARED_AT, _TUPLES_AT)
        path = sharing.string(path)
    for setter, value in zip(_SETTERS, held):
        setter(rec, value)
    _SETTERS[-1](rec, path)
    _SET_FACTS(rec, facts)
    return rec


_SETTERS = [getattr(MessageRecord, name).__set__ for name in _HELD + ("_path",)]  # the slots
_SET_FACTS = MessageRecord._facts.__set__
_SIZE, _HEADERS = struct.Struct("<Q"), struct.Struct("<I")
_SHARED_AT = [_HELD.index(name) for name in (   # strings, or tuples of strings
    "message_id", "references", "in_reply_to", "subject", "from_addr", "from_display", "to",
    "cc")]
_TUPLES_AT = [_HELD.index("to"), _HELD.index("cc")]   # whole recipient lists


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
