"""First pass: raw message bytes to a compact MessageRecord (headers only), or to quarantine.

Only the header block is read, by `importer.mail.headers`, which splits and unfolds fields the
way the `email` package's compat32 parser does at several times its speed, and which says
when a message is Unreadable (its module docstring holds the quarantine rule); the body is
hashed as bytes and never parsed as MIME.  A message whose raw bytes look like a forward is
parsed in full (`BytesParser`, compat32) for `importer.mail.forwards`.  Nothing here raises:
damage becomes a `Defect` on the record, and a message that cannot be made sense of
becomes `Unreadable`.

Dates: the Date header; when missing, unparseable or absurd, the newest Received header's
date (after its last ";", RFC 5321 4.4); then the mbox "From " line's asctime date; then
none.  Absurd is before 1970, or more than `FUTURE_SLACK` after the newest Received date
(or after now, when there is none).  A date without a zone is taken as UTC, with a defect.
mail-parser is not used: it adds nothing the standard library lacks here, and it writes
'\\udcXX' text into 8-bit headers.

Message-ID, References and In-Reply-To are read with `mailthreads.ids`, so threading and
dedupe agree on every id; an In-Reply-To id equal to one of the message's own From, To, Cc
or Reply-To addresses is an address and is dropped (`_not_addresses`). Without a usable
Message-ID the id is ``synthetic.<first 32 hex of content_hash>@archive-import.invalid``
(see dedupe.py).

Speed: this runs once per message of an archive, so the common case has fast paths that
give exactly what the general code gives (tests/test_parse_fastpaths.py compares them on
generated input): a clean header block is split by one regex (in importer.mail.headers),
plain "<local@domain>" ids are read without mailthreads.ids, plain address fields are
decoded once per run, and the charset guess is made only for a value that needs it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email.parser import BytesParser
from email.policy import compat32
from hashlib import sha256

from importer import dedupe
from importer.mail import contenthash
from importer.mail.dates import from_line_date, parse_date
from importer.mail.decode import (decode_header_ex, decode_raw, guess_codec, parse_addresses,
                                 unobfuscate)
from importer.mail.mimeshape import over_bounds
from importer.mail.headers import (header_bounds, header_fields, preview, spam_flagged,
                                   unreadable_reason)
from importer.config import LimitsCfg, StaffCfg
from importer.records import DateSource, Defect, MessageRecord, RawMessage, Unreadable

from importer.mail.forwards import forwarded_sender, may_be_forward
from mailthreads.ids import (FAKE_ID_DOMAINS, MAX_HEADER_CHARS, MAX_ID_LENGTH, MAX_REFERENCES,
                             parse_in_reply_to, parse_message_id, parse_references)

_FAKE_DOMAINS = frozenset(domain.encode() for domain in FAKE_ID_DOMAINS)

__all__ = ["parse_record", "display_headers", "FUTURE_SLACK"]
_LIMITS = LimitsCfg()

FUTURE_SLACK = timedelta(days=3)      # clock skew and zone mistakes, not years
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MAX_ADDRESSES = 1000                  # per field; spam lists thousands of recipients
MAX_TEXT = 2000                       # characters kept of a subject or display name
MAX_DISPLAY = 20000                   # characters of a header line shown in a ticket entry
FORWARD_WINDOW = 65536                # bytes searched for an inline forward's marker
_SINGLE = ("from", "sender", "to", "cc", "subject", "date", "message-id",
           "in-reply-to", "references")     # RFC 5322 3.6: at most one of each
_CHARSET = re.compile(rb"""charset\s*=\s*["']?([^"';\s]+)""", re.I)
# Bracketed ids with nothing the id policy would change or drop but the domain's case.
_ID_LIST = re.compile(rb"[ \t]*(?:<[!-;=?-~]+@[!-;=?A-~]+>[ \t]*)+")
_ID = re.compile(r"<([!-;=?-~]+)@([!-;=?A-~]+)>")
_ONE_ID = re.compile(rb"[ \t]*<([!-;=?-~]+@)([!-;=?A-~]+)>[ \t]*")    # local with its @


def parse_record(raw: RawMessage, limits: LimitsCfg = _LIMITS,
                 staff: StaffCfg | None = None) -> MessageRecord | Unreadable:
    """The record for one message, or Unreadable with a reason a person can act on.

    With `staff` given, a message from outside the organisation is not searched for a
    forward: only a staff member's forward names someone else as the requestor (plan.py),
    and that body scan was an eighth of a dry run on realistic mail."""
    try:
        return _parse(raw, limits, staff)
    except Exception as exc:  # a bug must cost one message, to quarantine, not the run
        return Unreadable(raw.source, f"internal parser error ({type(exc).__name__}: "
                          f"{preview(str(exc))}); please report it", raw.raw)


def _parse(raw: RawMessage, limits: LimitsCfg, staff: StaffCfg | None) -> MessageRecord | Unreadable:
    data = raw.raw
    start, head_end, body_start, defects = header_bounds(data, limits.max_header_bytes)
    head = data[start:head_end]
    fields, count, leftover = header_fields(head, defects)
    body = data[body_start:]
    reason = (unreadable_reason(data, head, fields) or _over_limits(defects, count, limits)
              or over_bounds(data, body, (fields.get("content-type") or (None,))[0],
                             limits.max_mime_depth, limits.max_mime_parts))
    if reason:
        return Unreadable(raw.source, reason, data)
    if leftover:              # lines after the header ended inside the header block
        body = leftover + b"\n" + body
    return _build(raw, fields, count, body, defects, staff)


def _over_limits(defects: list[Defect], count: int, limits: LimitsCfg) -> str | None:
    if any(d.code == "header-too-long" for d in defects):
        return (f"header block over {limits.max_header_bytes} bytes"
                " (limits.max_header_bytes): no blank line ends it")
    if count > limits.max_header_fields:
        return f"{count} header fields, over limits.max_header_fields ({limits.max_header_fields})"
    return None


def display_headers(data: bytes) -> dict[str, str]:
    """From, To, Cc and Subject of a message as a reader sees them, decoded by the same code
    as the first pass (so the ticket entry and the report never disagree: raw 8-bit bytes
    in an encoded word once read "Heinz Müller" in one and "Heinz MÃ¼ller" in the other)."""
    start, head_end, body_start, defects = header_bounds(data)
    fields, _, _ = header_fields(data[start:head_end], defects)
    text = _Text(fields, data[body_start:body_start + 512], defects)

    def shown(name: str) -> str:
        values = fields.get(name) or []
        out = [_one_line(text.decode(v, address=name != "subject")) for v in values[:1 if name
               in ("from", "subject") else MAX_ADDRESSES]]
        if name != "subject":
            out = [unobfuscate(v) for v in out]
        return ", ".join(v for v in out if v)[:MAX_DISPLAY]
    return {"from_": shown("from") or shown("sender"), "to": shown("to"), "cc": shown("cc"),
            "subject": shown("subject")}


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _first(fields: dict[str, list[bytes]], name: str, defects: list[Defect]) -> bytes | None:
    values = fields.get(name)
    if not values:
        return None
    if len(values) > 1 and name in _SINGLE:
        defects.append(Defect("duplicate-header", f"{len(values)} {name} fields; first used"))
    return values[0]


class _Text:
    """Decodes header values for one message, sharing one charset guess for 8-bit bytes.

    The guess is made on first need: most messages are plain ASCII and never need it.
    """

    def __init__(self, fields: dict[str, list[bytes]], body: bytes, defects: list[Defect]):
        self.fields, self.body, self.defects = fields, body, defects
        self._hint: str | None = None
        self._guessed = False
        self._seen: set[str] = set()

    def hint(self) -> str | None:
        """The charset hint for 8-bit values, guessed once per message."""
        if not self._guessed:
            self._hint, self._guessed = self._guess(), True
        return self._hint

    def _guess(self) -> str | None:
        m = _CHARSET.search((self.fields.get("content-type") or [b""])[0])
        hint = m.group(1).decode("ascii", "replace") if m else None
        eight = [v for vals in self.fields.values() for v in vals if not v.isascii()]
        if eight:
            sample = b" ".join(eight)
            if hint is None:   # the same mailer wrote the body: more text to guess on
                sample += b" " + self.body[:512]   # chardet costs ~1 us a byte
            hint = guess_codec(sample, hint)
        return hint

    def decode(self, value: bytes | None, address: bool = False) -> str:
        return self._decode(value, address)[0]

    def _decode(self, value: bytes | None, address: bool) -> tuple[str, frozenset[str]]:
        if value is None:
            return "", frozenset()
        if value.isascii():     # decode.py reads the hint only for a failed charset here
            text, codes = decode_header_ex(value, None, address)
            if "bad-charset" in codes:
                text, codes = decode_header_ex(value, self.hint(), address)
        else:
            text, codes = decode_header_ex(value, self.hint(), address)
        for code in codes - self._seen:
            self._seen.add(code)
            self.defects.append(Defect(code, preview(text)))
        return text, codes

    def raw(self, value: bytes | None) -> str | None:
        if value is None:
            return None
        return decode_raw(value, None if value.isascii() else self.hint())

    def addresses(self, value: bytes | None) -> tuple[tuple[str, ...], str]:
        """(bare addresses, display form of the first) of an address field."""
        found = _ADDRESSES.get(value) if value is not None else None
        if found is None:
            text, codes = self._decode(value, address=True)
            pairs = parse_addresses(text)[:MAX_ADDRESSES]
            found = _bare(pairs), _display(pairs, text)
            # An ASCII field decoded without a defect reads the same in every message.
            if value is not None and len(value) <= 512 and value.isascii() and not codes:
                if len(_ADDRESSES) >= _ADDRESSES_KEPT:
                    _ADDRESSES.clear()
                _ADDRESSES[value] = found
        return found


# Address fields as written -> (bare addresses, display); senders and desks repeat.
# At most 16,384 fields of at most 512 bytes (a few MB): a long list is not kept.
_ADDRESSES: dict[bytes, tuple[tuple[str, ...], str]] = {}
_ADDRESSES_KEPT = 16384


def _bare(pairs: list[tuple[str, str]]) -> tuple[str, ...]:
    return tuple(a.strip().lower() for _, a in pairs if a.strip())


def _display(pairs: list[tuple[str, str]], text: str) -> str:
    if not pairs:
        return text[:MAX_TEXT]
    name, addr = pairs[0]
    return (f"{name} <{addr}>" if name and addr else name or addr)[:MAX_TEXT]


def _sender(fields, defects: list[Defect]) -> bytes | None:
    value = _first(fields, "from", defects)
    if value is None:
        value = _first(fields, "sender", defects)
        defects.append(Defect("no-from", "no From field" + (
            "; Sender used" if value is not None else "")))
    return value


def _build(raw: RawMessage, fields, header_count: int, body: bytes,
           defects: list[Defect], staff: StaffCfg | None = None) -> MessageRecord:
    text = _Text(fields, body, defects)
    from_addrs, from_display = text.addresses(_sender(fields, defects))
    to = text.addresses(_first(fields, "to", defects))[0]
    cc = text.addresses(_first(fields, "cc", defects))[0]
    if len(to) >= MAX_ADDRESSES or len(cc) >= MAX_ADDRESSES:
        defects.append(Defect("too-many-recipients", f"kept the first {MAX_ADDRESSES}"))
    subject = text.decode(_first(fields, "subject", defects))[:MAX_TEXT]
    mid = _message_id(text, _first(fields, "message-id", defects), defects)
    refs = _ids(parse_references, text, _first(fields, "references", defects), defects)
    irt = _ids(parse_in_reply_to, text, _first(fields, "in-reply-to", defects), defects)
    if irt:
        irt = _not_addresses(irt, from_addrs + to + cc + text.addresses(
            _first(fields, "reply-to", defects))[0])
    date_raw = text.raw(_first(fields, "date", defects))
    received = fields.get("received", ())
    date, source, header_date = _dates(date_raw, received, text.raw, raw.from_line, defects)
    chash = contenthash.content_hash(
        from_addrs=from_addrs, to=to, cc=cc, subject=subject, date=header_date,
        date_raw=date_raw or "", refs=refs + irt, own_id=mid, body=body)
    return MessageRecord(
        source=raw.source, sha256=sha256(raw.raw).hexdigest(), size=len(raw.raw),
        message_id=mid or contenthash.synthetic_id(chash), synthetic_id=mid is None,
        references=refs, in_reply_to=irt, subject=subject,
        from_addr=(from_addrs or ("",))[0], from_display=from_display,
        to=to, cc=cc, date=date, date_source=source, content_hash=chash,
        completeness=dedupe.completeness(real_id=mid is not None,
                                         has_date=header_date is not None,
                                         header_count=header_count, size=len(raw.raw)),
        forwarded_from=_forwarded(raw.raw, defects) if _may_forward_for_someone(
            from_addrs, staff) else None, defects=tuple(defects), spam=spam_flagged(fields))


def _may_forward_for_someone(from_addrs: tuple[str, ...], staff: StaffCfg | None) -> bool:
    """Whether this sender's forward could name the requestor: staff, or no real sender."""
    if staff is None or not from_addrs or "@" not in from_addrs[0]:
        return True
    return staff.is_staff(from_addrs[0])


def _message_id(text: _Text, value: bytes | None, defects: list[Defect]) -> str | None:
    if value is None:
        defects.append(Defect("no-message-id", "no Message-ID field; synthetic id used"))
        return None
    plain = _plain_ids(value)
    if plain:
        return plain[0]
    value = text.raw(value)
    try:
        mid = parse_message_id(value)
    except Exception:  # the id parser is another module: its failure costs only the id
        mid = None
    if not mid:
        defects.append(Defect("bad-message-id", f"unusable Message-ID {preview(value)}"))
        return None
    return mid


def _ids(parser, text: _Text, value: bytes | None, defects: list[Defect]) -> tuple[str, ...]:
    if value is None:
        return ()
    plain = _plain_ids(value)
    if plain:
        return plain
    value = text.raw(value)
    try:
        return tuple(parser(value))
    except Exception:  # as above: a bad References field must not lose the message
        defects.append(Defect("bad-references", preview(value)))
        return ()


def _not_addresses(irt: tuple[str, ...], addresses: tuple[str, ...]) -> tuple[str, ...]:
    """In-Reply-To ids less those equal to an address of the message's own From, To, Cc or
    Reply-To (compared lowercased, as addresses are).

    Real clients put the address of the person answered into In-Reply-To: Z-Mail writes
    ``"Name" <addr> "subject" (date)``, MH ``Message from Name <addr> of date <id>``.
    mailthreads.ids drops the shapes it can tell from one header, but a ``<local@domain>``
    alone looks exactly like a Message-ID there. The person answered is nearly always in
    the reply's own To or Cc, and the message's own From or Reply-To is never its parent's
    id, so an In-Reply-To id equal to one of those addresses is taken for an address. Read
    as an id it becomes a ghost that every reply to that person hangs under (a 1996-99 list
    archive: 23 tickets held 642 messages, one 212). References are left as read.
    """
    people = set(addresses)
    return tuple(found for found in irt if found.lower() not in people)


def _plain_ids(value: bytes) -> tuple[str, ...] | None:
    """The ids of a field of nothing but distinct "<local@domain>" ids, or None.

    Nearly all Message-ID, In-Reply-To and References fields.  The result is what
    mailthreads.ids gives them (tests compare): folds and brackets dropped, the domain
    lowercased; anything its policy has more to say about (fake domains, repeats,
    lengths, comments, prose) is left to it.
    """
    if b"\n" in value:
        value = value.replace(b"\n", b"")   # each line end here is a fold before a blank
    one = _ONE_ID.fullmatch(value)
    if one is not None:                     # most fields: one id
        local, domain = one.groups()
        domain = domain.lower()
        if domain in _FAKE_DOMAINS or len(local) + len(domain) > MAX_ID_LENGTH:
            return None
        return ((local + domain).decode("ascii"),)
    if len(value) > MAX_HEADER_CHARS or not _ID_LIST.fullmatch(value):
        return None
    low = value.lower()
    if any(b"@%s>" % fake in low for fake in _FAKE_DOMAINS):
        return None
    ids = [f"{local}@{domain.lower()}" for local, domain in _ID.findall(value.decode("ascii"))]
    if len(ids) > MAX_REFERENCES or len(set(ids)) < len(ids) or (
            len(value) > MAX_ID_LENGTH and max(map(len, ids)) > MAX_ID_LENGTH):
        return None
    return tuple(ids)


def _sane(dt: datetime | None, ceiling: datetime) -> bool:
    return dt is not None and EPOCH <= dt <= ceiling


def _received_date(value: str, now: datetime) -> datetime | None:
    _, sep, tail = value.rpartition(";")
    dt = parse_date(tail)[0] if sep else None
    return dt if _sane(dt, now + FUTURE_SLACK) else None


def _newest_received(values: list[bytes], raw, now: datetime) -> datetime | None:
    if not values:
        return None
    dates = [dt for dt in (_received_date(raw(v), now) for v in values) if dt is not None]
    return max(dates, default=None)


def _dates(date_raw: str | None, received: list[bytes], raw, from_line: bytes | None,
           defects: list[Defect]):
    """(date, source, the Date header's own date if sane) in the module's order.

    `received` holds the Received values as bytes; `raw` decodes one (when it is read).
    """
    now = datetime.now(timezone.utc)
    header, zoned = parse_date(date_raw)
    # The topmost Received (added last) is nearly always the newest; all are read only
    # when it does not settle the Date's ceiling, since real mail carries many of them.
    top = _received_date(raw(received[0]), now) if received else None
    settled = header is not None and top is not None and EPOCH <= header <= top
    newest = top if settled else _newest_received(received, raw, now)
    ceiling = (newest or now) + FUTURE_SLACK
    if date_raw is None:
        defects.append(Defect("no-date", "no Date field"))
    elif header is None:
        defects.append(Defect("bad-date", f"unparseable Date {preview(date_raw)}"))
    elif not _sane(header, ceiling):
        defects.append(Defect("bad-date", f"absurd Date {preview(date_raw)}"))
        header = None
    elif not zoned:
        defects.append(Defect("naive-date", f"Date without a (real) zone, taken as UTC: "
                              f"{preview(date_raw)}"))
    if header is not None:
        return header, DateSource.DATE, header
    if newest is not None:
        return newest, DateSource.RECEIVED, None
    line_date = from_line_date(from_line)
    if _sane(line_date, ceiling):
        return line_date, DateSource.FROM_LINE, None
    return None, DateSource.NONE, None


def _forwarded(data: bytes, defects: list[Defect]) -> str | None:
    """The original sender of a forward, asked of importer.mail.forwards only when it may be one."""
    if not may_be_forward(data, FORWARD_WINDOW):
        return None
    try:
        found = forwarded_sender(BytesParser(policy=compat32).parsebytes(data))
    except Exception as exc:  # a forward we cannot read is still a message
        defects.append(Defect("forward-unreadable", type(exc).__name__))
        return None
    return decode_raw(found)[:MAX_TEXT] if found else None
