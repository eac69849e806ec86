"""First pass: raw message bytes to a compact MessageRecord (headers only), or to quarantine.

Only the header block goes through the `email` parser (compat32, headers only); the body is
hashed as bytes and never parsed as MIME, except that a message whose raw bytes look like a
forward is parsed in full for `importer.forwards`.  Nothing here raises: damage becomes a
`Defect` on the record, and a message that cannot be made sense of becomes `Unreadable`.

Quarantine rule: a message is Unreadable when it is empty or blank; when its header block
is binary (a NUL byte, or more than a tenth control bytes); when its first line (after a
byte-order mark, blank lines and a "From " line) is no header field ("Name: value", RFC
5322 section 2.2); or when no field in the block is one a message has (From, Date, Subject,
Message-ID, ...), as with a mbox cut inside a body.  Everything else is a record.

Dates: the Date header; when missing, unparseable or absurd, the newest Received header's
date (after its last ";", RFC 5321 4.4); then the mbox "From " line's asctime date; then
none.  Absurd is before 1970, or more than `FUTURE_SLACK` after the newest Received date
(or after now, when there is none).  A date without a zone is taken as UTC, with a defect.
mail-parser is not used: it adds nothing the standard library lacks here, and it writes
'\\udcXX' text into 8-bit headers.

Message-ID, References and In-Reply-To are read with `mailthreads.ids`, so threading and
dedupe agree on every id; without a usable Message-ID the id is
``synthetic.<first 32 hex of content_hash>@archive-import.invalid`` (see dedupe.py).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email import errors as email_errors
from email.parser import BytesHeaderParser, BytesParser
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from hashlib import sha256

from importer import dedupe
from importer.decode import decode_header_ex, decode_raw, guess_codec
from importer.records import DateSource, Defect, MessageRecord, RawMessage, Unreadable

try:
    from mailthreads.ids import parse_in_reply_to, parse_message_id, parse_references
except ImportError:  # the thread engine not installed: a minimal stand-in, same signatures
    _BRACKETED = re.compile(r"<+\s*([^<>\s]+?)\s*>+")

    def parse_message_id(value: str | None) -> str | None:
        ids = parse_references(value) or tuple(w for w in (value or "").split()[:1])
        return ids[0].strip("<>") or None if ids else None

    def parse_references(value: str | None) -> tuple[str, ...]:
        return tuple(dict.fromkeys(_BRACKETED.findall(value or "")))

    parse_in_reply_to = parse_references

__all__ = ["parse_record", "FUTURE_SLACK"]

FUTURE_SLACK = timedelta(days=3)      # clock skew and zone mistakes, not years
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MAX_HEADER_BYTES = 1 << 20            # a header block larger than this is junk or an attack
MAX_ADDRESSES = 1000                  # per field; spam lists thousands of recipients
MAX_TEXT = 2000                       # characters kept of a subject or display name
_SINGLE = ("from", "sender", "to", "cc", "subject", "date", "message-id",
           "in-reply-to", "references")     # RFC 5322 3.6: at most one of each
_KNOWN = frozenset(_SINGLE) | {"received", "return-path", "mime-version", "content-type",
                               "reply-to", "bcc", "newsgroups", "delivered-to", "x-mailer",
                               "user-agent", "resent-from", "resent-date", "list-id"}
_FIELD = re.compile(rb"[!-9;-~]+[ \t]*:")
_BLANK = re.compile(rb"\n\r?\n")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.I)
_ASCTIME = re.compile(r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s+(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug"
                      r"|Sep|Oct|Nov|Dec)\s+(\d{1,2})\s+(\d{1,2}):(\d\d)(?::(\d\d))?"
                      r"(?:\s+[A-Za-z]{3,5}|\s+[-+]\d{4})?\s+(\d{4})")
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec"
                                      .split(), 1)}
_HEADER_PARSER = BytesHeaderParser(policy=compat32)
_FEEDPARSER_DEFECTS = {
    email_errors.MissingHeaderBodySeparatorDefect: "missing-header-separator",
    email_errors.FirstHeaderLineIsContinuationDefect: "header-continuation-first",
}

try:
    from importer.forwards import forwarded_sender, may_be_forward
except ImportError:  # the forward detector is optional: without it, no forwarded_from
    forwarded_sender = may_be_forward = None


def parse_record(raw: RawMessage) -> MessageRecord | Unreadable:
    """The record for one message, or Unreadable with a reason a person can act on."""
    try:
        return _parse(raw)
    except Exception as exc:  # a bug must cost one message, to quarantine, not the run
        return Unreadable(raw.source, f"internal parser error ({type(exc).__name__}: "
                          f"{_preview(str(exc))}); please report it", raw.raw)


def _preview(text, limit: int = 60) -> str:
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


def _split(data: bytes) -> tuple[int, int, int, list[Defect]]:
    """Where the header block starts and ends and the body starts, with defects."""
    defects = []
    start = 0
    if data.startswith(b"\xef\xbb\xbf"):
        start = 3
        defects.append(Defect("byte-order-mark", "file starts with a UTF-8 byte-order mark"))
    stripped = len(data) - len(data[start:].lstrip(b"\r\n"))
    if stripped > start:
        start = stripped
        defects.append(Defect("leading-blank-line", "blank lines before the header"))
    if data.startswith(b"From ", start):          # an mbox separator left in an .eml
        eol = data.find(b"\n", start)
        start = len(data) if eol < 0 else eol + 1
    m = _BLANK.search(data, start, start + MAX_HEADER_BYTES)
    if m:
        return start, m.start() + 1, m.end(), defects
    end = min(len(data), start + MAX_HEADER_BYTES)
    if end < len(data):
        defects.append(Defect("header-too-long", f"no blank line in {MAX_HEADER_BYTES} bytes"))
    return start, end, end, defects


def _unreadable_reason(data: bytes, head: bytes, names: set[str]) -> str | None:
    if not data.strip():
        return "empty message: no bytes" if not data else "message holds only blank space"
    if b"\0" in head:
        return "binary data where the header should be (a NUL byte in the header block)"
    ctrl = sum(head.count(bytes([c])) for c in range(32) if c not in (9, 10, 13, 27))
    if ctrl * 10 > len(head):
        return "binary data where the header should be (mostly control bytes)"
    if not _FIELD.match(head):
        line = head.split(b"\n", 1)[0]
        return f"no header: the first line {_preview(line)} is not a 'Name: value' field"
    if not names & _KNOWN:
        return ("no message header: none of From, Date, Subject, Message-ID, Received"
                " or Content-Type (a fragment of a mailbox cut inside a message?)")
    return None


def _parse(raw: RawMessage) -> MessageRecord | Unreadable:
    data = raw.raw
    start, head_end, body_start, defects = _split(data)
    head = data[start:head_end]
    msg = _HEADER_PARSER.parsebytes(head) if head else None
    items = list(msg.raw_items()) if msg is not None else []
    fields: dict[str, list[str]] = {}
    for name, value in items:
        fields.setdefault(name.strip().lower(), []).append(value)
    reason = _unreadable_reason(data, head, set(fields))
    if reason:
        return Unreadable(raw.source, reason, data)
    defects.extend(_feedparser_defects(msg))
    leftover = msg.get_payload() if msg is not None else ""
    body = data[body_start:]
    if leftover:              # lines the parser found inside the header block
        body = leftover.encode("ascii", "surrogateescape") + b"\n" + body
    return _build(raw, fields, len(items), body, defects)


def _feedparser_defects(msg) -> list[Defect]:
    out = []
    for d in getattr(msg, "defects", ()):
        code = _FEEDPARSER_DEFECTS.get(type(d), "header-defect")
        out.append(Defect(code, type(d).__name__))
    return out


def _first(fields: dict[str, list[str]], name: str, defects: list[Defect]) -> str | None:
    values = fields.get(name)
    if not values:
        return None
    if len(values) > 1 and name in _SINGLE:
        defects.append(Defect("duplicate-header", f"{len(values)} {name} fields; first used"))
    return values[0]


class _Text:
    """Decodes header values for one message, sharing one charset guess for 8-bit bytes."""

    def __init__(self, fields: dict[str, list[str]], body: bytes, defects: list[Defect]):
        ctype = (fields.get("content-type") or [""])[0]
        m = _CHARSET.search(ctype) if ctype.isascii() else None
        self.hint = m.group(1) if m else None
        self.defects = defects
        self._seen: set[str] = set()
        eight = [v for vals in fields.values() for v in vals if not v.isascii()]
        if eight:
            sample = b" ".join(v.encode("utf-8", "surrogateescape") for v in eight)
            if self.hint is None:   # the same mailer wrote the body: more text to guess on
                sample += b" " + body[:4096]
            self.hint = guess_codec(sample, self.hint)

    def decode(self, value: str | None, address: bool = False) -> str:
        if value is None:
            return ""
        text, codes = decode_header_ex(value, self.hint, address)
        for code in codes - self._seen:
            self._seen.add(code)
            self.defects.append(Defect(code, _preview(text)))
        return text

    def raw(self, value: str | None) -> str | None:
        return None if value is None else decode_raw(value, self.hint)


def _addresses(text: str) -> list[tuple[str, str]]:
    pairs = [(n, a) for n, a in getaddresses([text]) if a or n]
    return pairs[:MAX_ADDRESSES]


def _bare(pairs: list[tuple[str, str]]) -> tuple[str, ...]:
    return tuple(a.strip().lower() for _, a in pairs if a.strip())


def _display(pairs: list[tuple[str, str]], text: str) -> str:
    if not pairs:
        return text[:MAX_TEXT]
    name, addr = pairs[0]
    return (f"{name} <{addr}>" if name and addr else name or addr)[:MAX_TEXT]


def _build(raw: RawMessage, fields, header_count: int, body: bytes,
           defects: list[Defect]) -> MessageRecord:
    text = _Text(fields, body, defects)
    from_value = _first(fields, "from", defects)
    if from_value is None:
        from_value = _first(fields, "sender", defects)
        defects.append(Defect("no-from", "no From field" + (
            "; Sender used" if from_value is not None else "")))
    from_text = text.decode(from_value, address=True)
    from_pairs = _addresses(from_text)
    to = _bare(_addresses(text.decode(_first(fields, "to", defects), address=True)))
    cc = _bare(_addresses(text.decode(_first(fields, "cc", defects), address=True)))
    if len(to) >= MAX_ADDRESSES or len(cc) >= MAX_ADDRESSES:
        defects.append(Defect("too-many-recipients", f"kept the first {MAX_ADDRESSES}"))
    subject = text.decode(_first(fields, "subject", defects))[:MAX_TEXT]
    mid_raw = _first(fields, "message-id", defects)
    mid = _message_id(text.raw(mid_raw), defects)
    refs = _ids(parse_references, text.raw(_first(fields, "references", defects)), defects)
    irt = _ids(parse_in_reply_to, text.raw(_first(fields, "in-reply-to", defects)), defects)
    date_raw = text.raw(_first(fields, "date", defects))
    date, source, header_date = _dates(date_raw, fields.get("received", ()), raw.from_line,
                                       text, defects)
    chash = dedupe.content_hash(
        from_addrs=_bare(from_pairs), to=to, cc=cc, subject=subject, date=header_date,
        date_raw=date_raw or "", refs=refs + irt, own_id=mid, body=body)
    return MessageRecord(
        source=raw.source, sha256=sha256(raw.raw).hexdigest(), size=len(raw.raw),
        message_id=mid or dedupe.synthetic_id(chash), synthetic_id=mid is None,
        references=refs, in_reply_to=irt, subject=subject,
        from_addr=(_bare(from_pairs) or ("",))[0], from_display=_display(from_pairs, from_text),
        to=to, cc=cc, date=date, date_source=source, content_hash=chash,
        completeness=dedupe.completeness(real_id=mid is not None,
                                         has_date=header_date is not None,
                                         header_count=header_count, size=len(raw.raw)),
        forwarded_from=_forwarded(raw.raw, defects), defects=tuple(defects))


def _message_id(value: str | None, defects: list[Defect]) -> str | None:
    if value is None:
        defects.append(Defect("no-message-id", "no Message-ID field; synthetic id used"))
        return None
    try:
        mid = parse_message_id(value)
    except Exception:  # the id parser is another module: its failure costs only the id
        mid = None
    if not mid:
        defects.append(Defect("bad-message-id", f"unusable Message-ID {_preview(value)}"))
        return None
    return mid


def _ids(parser, value: str | None, defects: list[Defect]) -> tuple[str, ...]:
    if value is None:
        return ()
    try:
        return tuple(parser(value))
    except Exception:  # as above: a bad References field must not lose the message
        defects.append(Defect("bad-references", _preview(value)))
        return ()


def _parse_date(text: str | None) -> tuple[datetime | None, bool]:
    """(datetime, had_zone) or (None, False); naive results are made UTC."""
    if not text or not text.strip():
        return None, False
    try:
        dt = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        try:
            dt = datetime.fromisoformat(text.strip())   # "2003-04-05 10:00:00" from scripts
        except ValueError:
            return None, False
    if dt.tzinfo is None:
        # RFC 5322 3.3: "-0000" means UTC with no local zone known; that is no defect.
        return dt.replace(tzinfo=timezone.utc), "-0000" in text
    return dt, True


def _sane(dt: datetime | None, ceiling: datetime) -> bool:
    try:
        return dt is not None and EPOCH <= dt <= ceiling
    except (OverflowError, ValueError):
        return False


def _newest_received(values, text: _Text, now: datetime) -> datetime | None:
    newest = None
    for value in values:
        head, sep, tail = text.raw(value).rpartition(";")
        dt, _ = _parse_date(tail) if sep else (None, False)
        if _sane(dt, now + FUTURE_SLACK) and (newest is None or dt > newest):
            newest = dt
    return newest


def _from_line_date(line: bytes | None) -> datetime | None:
    m = _ASCTIME.search(line.decode("latin-1")) if line else None
    if not m:
        return None
    mon, day, hh, mm, ss, year = m.groups()
    try:   # asctime carries no zone: mbox writers use UTC or local time; UTC is the guess
        return datetime(int(year), _MONTHS[mon], int(day), int(hh), int(mm), int(ss or 0),
                        tzinfo=timezone.utc)
    except ValueError:
        return None


def _dates(date_raw, received, from_line, text: _Text, defects: list[Defect]):
    """(date, source, the Date header's own date if sane) in the module's order."""
    now = datetime.now(timezone.utc)
    newest = _newest_received(received, text, now)
    ceiling = (newest or now) + FUTURE_SLACK
    header, zoned = _parse_date(date_raw)
    if date_raw is None:
        defects.append(Defect("no-date", "no Date field"))
    elif header is None:
        defects.append(Defect("bad-date", f"unparseable Date {_preview(date_raw)}"))
    elif not _sane(header, ceiling):
        defects.append(Defect("bad-date", f"absurd Date {_preview(date_raw)}"))
        header = None
    elif not zoned:
        defects.append(Defect("naive-date", f"Date without a zone, taken as UTC: "
                              f"{_preview(date_raw)}"))
    if header is not None:
        return header, DateSource.DATE, header
    if newest is not None:
        return newest, DateSource.RECEIVED, None
    line_date = _from_line_date(from_line)
    if _sane(line_date, ceiling):
        return line_date, DateSource.FROM_LINE, None
    return None, DateSource.NONE, None


def _forwarded(data: bytes, defects: list[Defect]) -> str | None:
    """The original sender of a forward, asked of importer.forwards only when it may be one."""
    if forwarded_sender is None or not may_be_forward(data):
        return None
    try:
        found = forwarded_sender(BytesParser(policy=compat32).parsebytes(data))
    except Exception as exc:  # a forward we cannot read is still a message
        defects.append(Defect("forward-unreadable", type(exc).__name__))
        return None
    return decode_raw(found)[:MAX_TEXT] if found else None
