"""How a MessageRecord packs the fields threading does not read into one bytes object.

102 bytes of facts and 16 of date, where the same fields took about 700 bytes as objects: two
64-character hex digests (113 bytes each), a SourceRef and its three ints, a completeness
tuple, a datetime. A value that would not come back exactly as given (a digest that is not
SHA-256 hex, a date in a named zone) is not packed: the record keeps its fields as a tuple.
"""

from __future__ import annotations

import re
import struct
from datetime import datetime, timedelta, timezone

FMTS, ESCAPINGS = ("mbox", "maildir", "eml", "unknown"), ("none", "mboxo", "mboxrd")
# sha256, content hash, size, index, offset, length (-1: None), header count, flags, date
# source (its bit 7: a date follows), the date: UTC seconds since 1970, microseconds, offset
FACTS = struct.Struct("<32s32sQqqqIBBqIi")
_DATE = struct.Struct("<qIi")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
HEX64 = re.compile(r"[0-9a-f]{64}")
_ZONE_AT: dict[int, timezone] = {}      # UTC offset in seconds -> one zone object


def pack(source, sha256: str, size: int, synthetic_id: bool, date_source: int | None,
         content_hash: str, completeness: tuple, spam: bool, date: datetime | None
         ) -> bytes | None:
    """A record's packed fields (`date_source`: the DateSource's number), or None when a
    value would not come back exactly as given."""
    c = completeness
    when = _date(date)
    if (type(sha256) is str and HEX64.fullmatch(sha256) and type(content_hash) is str
            and HEX64.fullmatch(content_hash) and source.fmt in FMTS
            and source.escaping in ESCAPINGS and date_source is not None
            and type(c) is tuple and len(c) == 4 and all(type(v) is int for v in c)
            and c[0] in (0, 1) and c[1] in (0, 1) and 0 <= c[2] < 1 << 32 and c[3] == size
            and _count(size) and _count(source.index)
            and (source.offset is None or _count(source.offset))
            and (source.length is None or _count(source.length))
            and type(synthetic_id) is bool and type(spam) is bool and when is not None):
        flags = (synthetic_id | spam << 1 | c[0] << 2 | c[1] << 3
                 | FMTS.index(source.fmt) << 4 | ESCAPINGS.index(source.escaping) << 6)
        return FACTS.pack(bytes.fromhex(sha256), bytes.fromhex(content_hash), size,
                          source.index, -1 if source.offset is None else source.offset,
                          -1 if source.length is None else source.length, c[2], flags,
                          date_source | (date is not None) << 7, *when)
    return None


def _count(value) -> bool:
    return type(value) is int and 0 <= value < 1 << 63


def _date(date: datetime | None) -> tuple[int, int, int] | None:
    """(UTC seconds, microseconds, offset) of a date `date_of` gives back as it was: aware,
    in a zone of whole seconds without a name of its own; None otherwise."""
    if date is None:
        return (0, 0, 0)
    offset = date.utcoffset() if type(date) is datetime else None
    if offset is None or offset % timedelta(seconds=1) or date.fold or not 1 < date.year < 9999:
        return None
    seconds = int(offset.total_seconds())
    if repr(date.tzinfo) != repr(timezone(offset)):
        return None
    delta = date - EPOCH
    return (delta.days * 86400 + delta.seconds, delta.microseconds, seconds)


def date_of(facts: bytes) -> datetime | None:
    """The record's date: in one zone object per UTC offset."""
    if not facts[101] & 128:
        return None
    seconds, micro, offset = _DATE.unpack_from(facts, 102)
    zone = _ZONE_AT.get(offset) or _ZONE_AT.setdefault(offset, timezone(timedelta(seconds=offset)))
    date = datetime.fromtimestamp(seconds, zone)       # whole seconds: exact
    return date.replace(microsecond=micro) if micro else date


def timestamp_of(facts: bytes) -> float | None:
    """`date_of(facts).timestamp()` to the last bit, without making the datetime."""
    if not facts[101] & 128:
        return None
    seconds, micro, _ = _DATE.unpack_from(facts, 102)
    return (seconds * 1_000_000 + micro) / 1_000_000
