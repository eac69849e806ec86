"""A message's raw header block: its bounds, its fields as compat32 reads them, quarantine.

`header_fields` splits and unfolds fields the way the `email` package's compat32 parser
does (tests hold it to `BytesHeaderParser` as an oracle) at several times its speed.  A
clean block (nearly all mail) is split by one regex that gives what the line loop gives
(tests/test_parse_fastpaths.py compares them on generated input).  Nothing here raises:
damage becomes a `Defect`.

Quarantine rule: a message is Unreadable when it is empty or blank; when its header block
is binary (a NUL byte, or more than a tenth control bytes); when its first line (after a
byte-order mark, blank lines and a "From " line) is no header field ("Name: value", RFC
5322 section 2.2); or when no field in the block is one a message has (From, Date, Subject,
Message-ID, ...), as with a mbox cut inside a body.  Everything else is a record.
"""

from __future__ import annotations

import re

from importer.records import Defect

__all__ = ["header_bounds", "header_fields", "unreadable_reason", "preview",
           "spam_flagged", "MAX_HEADER_BYTES"]

MAX_HEADER_BYTES = 1 << 20            # a header block larger than this is junk or an attack
# Fields a message has; a block with none of them is no message's header.
MESSAGE_FIELDS = frozenset({"from", "sender", "to", "cc", "subject", "date", "message-id",
                    "in-reply-to", "references", "received", "return-path", "mime-version",
                    "content-type", "reply-to", "bcc", "newsgroups", "delivered-to",
                    "x-mailer", "user-agent", "resent-from", "resent-date", "list-id"})
_FIELD = re.compile(rb"([!-9;-~]+)[ \t]*:[ \t]*")     # RFC 5322 2.2 (and 4.5 obs-optional)
_BLANK = re.compile(rb"\n\r?\n")
_LEADING_BLANK = re.compile(rb"(?:[ \t]*\r?\n)*")
_CLEAN_HEAD = re.compile(rb"(?:[!-9;-~]+:[^\n]*\n(?:[ \t][^\n]*\n)*)*")
_CLEAN_FIELD = re.compile(rb"([!-9;-~]+):[ \t]*([^\n]*(?:\n[ \t][^\n]*)*)\n")
_NAMES: dict[bytes, str] = {}         # field name as written -> lowercased
# Control bytes that never stand in header text (tab, CR, LF and ISO-2022's ESC may).
_CONTROL = bytes(c for c in range(32) if c not in (9, 10, 13, 27))


def preview(text, limit: int = 60) -> str:
    """A value from mail, cut and quoted for a defect's detail or a quarantine reason."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


def header_bounds(data: bytes, max_bytes: int = MAX_HEADER_BYTES
                  ) -> tuple[int, int, int, list[Defect]]:
    """Where the header block starts and ends and the body starts, with defects."""
    defects = []
    start = 0
    if data.startswith(b"\xef\xbb\xbf"):
        start = 3
        defects.append(Defect("byte-order-mark", "file starts with a UTF-8 byte-order mark"))
    blank = _LEADING_BLANK.match(data, start)
    if blank.end() > start:        # seen: a line of spaces before the header (flanker)
        start = blank.end()
        defects.append(Defect("leading-blank-line", "blank lines before the header"))
    if data.startswith(b"From ", start):          # an mbox separator left in an .eml
        eol = data.find(b"\n", start)
        start = len(data) if eol < 0 else eol + 1
    m = _BLANK.search(data, start, start + max_bytes)
    if m:
        return start, m.start() + 1, m.end(), defects
    end = min(len(data), start + max_bytes)
    if end < len(data):
        defects.append(Defect("header-too-long", f"no blank line in {max_bytes} bytes"))
    return start, end, end, defects


def header_fields(head: bytes,
                  defects: list[Defect]) -> tuple[dict[str, list[bytes]], int, bytes]:
    """Header fields by lowercased name (values unfolded later), their count, and leftover."""
    return _clean_fields(head) or _split_fields(head, defects)


def _clean_fields(head: bytes) -> tuple[dict[str, list[bytes]], int, bytes] | None:
    """`_split_fields` of a block of nothing but fields and continuation lines, or None.

    Nearly all mail: no "From " line, no blank before a colon, no CR but in CRLF, and a
    line end after the last field.  One regex reads the fields as the line loop would.
    """
    if b"\r" in head:
        if head.count(b"\r") != head.count(b"\r\n"):
            return None
        head = head.replace(b"\r\n", b"\n")
    if not _CLEAN_HEAD.fullmatch(head):
        return None
    fields: dict[str, list[bytes]] = {}
    found = _CLEAN_FIELD.findall(head)
    for name, value in found:
        key = _NAMES.get(name)
        if key is None:
            key = name.decode("ascii").lower()
            if len(_NAMES) < 4096 and len(name) <= 64:   # names come from mail: bound them
                _NAMES[name] = key
        values = fields.get(key)
        if values is None:
            fields[key] = [value]
        else:
            values.append(value)
    return fields, len(found), b""


def _split_fields(head: bytes, defects: list[Defect]) -> tuple[dict[str, list[bytes]], int, bytes]:
    """Header fields, their count and leftover, line by line with defects for damage.

    As compat32's feed parser: a line starting with blank continues the field before it
    (RFC 5322 2.2.3); a "From " line inside the block is skipped; the first line that is
    neither ends the header block, and it and the rest count as body.
    """
    fields: dict[str, list[bytes]] = {}
    count = 0
    last: list[bytes] | None = None
    lines = head.split(b"\n")
    for i, line in enumerate(lines):
        if line[:1] in (b" ", b"\t"):
            if last is None:
                defects.append(Defect("header-continuation-first", preview(line)))
            else:
                last[-1] += b"\n" + line.rstrip(b"\r")
            continue
        m = _FIELD.match(line)
        if m is None:
            if line.startswith(b"From ") or not line.rstrip(b"\r"):
                continue
            defects.append(Defect("missing-header-separator",
                                  f"header ends at a non-field line {preview(line)}"))
            return fields, count, b"\n".join(lines[i:])
        if m.end(1) < m.end() and line[m.end(1):m.end(1) + 1] != b":":
            defects.append(Defect("obsolete-syntax", f"blank before colon: {preview(line)}"))
        last = fields.setdefault(m.group(1).decode("ascii").lower(), [])
        last.append(line[m.end():].rstrip(b"\r"))
        count += 1
    return fields, count, b""


def unreadable_reason(data: bytes, head: bytes, names) -> str | None:
    """Why the message `data` with header block `head` and field `names` is no message, or None."""
    if not data or data.isspace():
        return "empty message: no bytes" if not data else "message holds only blank space"
    if b"\0" in head:
        return "binary data where the header should be (a NUL byte in the header block)"
    ctrl = len(head) - len(head.translate(None, _CONTROL))
    if ctrl * 10 > len(head):
        return "binary data where the header should be (mostly control bytes)"
    if not _FIELD.match(head):
        line = head.split(b"\n", 1)[0]
        return f"no header: the first line {preview(line)} is not a 'Name: value' field"
    if not MESSAGE_FIELDS.intersection(names):
        return ("no message header: none of From, Date, Subject, Message-ID, Received"
                " or Content-Type (a fragment of a mailbox cut inside a message?)")
    return None


# What spam filters write on the way in: SpamAssassin's "X-Spam-Flag: YES" and
# "X-Spam-Status: Yes, score=7.1 ...", rspamd's "X-Spam: Yes". Any copy of the field
# counts: a spammer can forge "No" above the receiving server's "Yes", not remove it.
_SPAM_FIELDS = ("x-spam-flag", "x-spam-status", "x-spam")
_YES = re.compile(rb"\s*yes\b", re.IGNORECASE)


def spam_flagged(fields: dict[str, list[bytes]]) -> bool:
    """Whether a spam filter's header marks this message as spam (`exclude: spam_flagged`)."""
    return any(_YES.match(v) for name in _SPAM_FIELDS for v in fields.get(name, ()))
