"""One MIME entity of a message being delivered: where its header block ends, its headers
as compat32 reads them, and the spans of a multipart body's parts.

Delivery reads every part of every message, so each of these has a fast path for what
nearly all mail is, held equal to the general code by tests/test_content_fastpaths.py on
generated input (the line loop and the parser stay here for what the fast paths leave; the
delimiter regex they replaced is the test's reference):
- the header block ends where one C regex over its lines stops (the line loop after it only
  for a block near MAX_HEADER);
- headers that are one "Name: value" line each (after unfolding) are stored as compat32's
  feed parser stores them, without the parser (a quarter of a local import was its line
  machinery);
- delimiter lines are found with bytes.find, not a MULTILINE regex compiled for every
  boundary (the regex tried every line of a 2 MB base64 attachment, and most boundaries are
  used once).
"""

from __future__ import annotations

import re
from email.message import Message
from email.parser import Parser
from email.policy import compat32

from importer.mail.decode import decode_bytes

__all__ = ["header_end", "parse_entity", "split", "MAX_HEADER"]

MAX_HEADER = 1 << 20   # bytes of one header block; hostile "a: b" lines past it are body text

# RFC 5322 section 2.2 field lines, as email.feedparser's headerRE reads them.
_HEADER_LINE = re.compile(rb"From |[\x21-\x39\x3b-\x7e]*:|[ \t]")
_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)?")
_HEADER_LINES = re.compile(rb"(?:(?:From |[\x21-\x39\x3b-\x7e]*:|[ \t])[^\r\n]*(?:\r\n|\r|\n|\Z))*")
_NEWLINE = re.compile(rb"\r\n|\r|\n")
_CHARSET = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE)
_FOLDING = re.compile(r"\r?\n(?=[ \t])")
# Unfolded lines that compat32 stores as (name, value) with nothing else to decide: a name
# (no "From " envelope line, no leading colon, no continuation), a colon, one line.
_SIMPLE_FIELDS = re.compile(r"(?:[\x21-\x39\x3b-\x7e]+:[^\r\n]*(?:\r\n|\r|\n|\Z))*")
_SIMPLE_FIELD = re.compile(r"([\x21-\x39\x3b-\x7e]+):[ \t]*([^\r\n]*)(?:\r\n|\r|\n|\Z)")


def header_end(data: memoryview) -> tuple[int, int]:
    """Where the header block ends and the body starts (a blank line, or the first non-header)."""
    end = _HEADER_LINES.match(data).end()
    if end >= MAX_HEADER:
        return header_end_by_lines(data)
    blank = _NEWLINE.match(data, end)
    return (end, blank.end()) if blank else (end, end)


def header_end_by_lines(data: memoryview) -> tuple[int, int]:
    """`header_end`, line by line: the general code, for a block that reaches MAX_HEADER."""
    pos, size = 0, len(data)
    while pos < min(size, MAX_HEADER):
        line = _LINE.match(data, pos).group()
        if line in (b"\r\n", b"\n", b"\r"):
            return pos, pos + len(line)
        if not _HEADER_LINE.match(line):
            return pos, pos          # RFC 5322 says a blank line; feedparser starts the body
        pos += len(line)
    return pos, pos                      # all headers, or past MAX_HEADER: the rest is body


def parse_entity(whole: memoryview) -> tuple[Message, memoryview]:
    """The entity's headers (compat32) and its body, a slice of the same bytes."""
    end, body_start = header_end(whole)
    return parse_headers(head_text(bytes(whole[:end]))), whole[body_start:]


def head_text(head: bytes) -> str:
    """The header block as text, unfolded."""
    try:
        text = head.decode("utf-8")          # RFC 6532 headers; plain ASCII is valid UTF-8
    except UnicodeDecodeError:
        # Raw 8-bit headers are undeclared; the mailer that wrote them wrote its body in the
        # same charset, so the body's declared charset is the first guess.
        charset = _CHARSET.search(head)
        text = decode_bytes(head, charset.group(1).decode("ascii") if charset else None)
    # Unfolded first (RFC 5322 2.2.3), or a folded boundary="simple\r\n boundary" is not found.
    return _FOLDING.sub("", text)


def parse_headers(text: str) -> Message:
    """What `Parser(policy=compat32).parsestr(text, headersonly=True)` gives for a header
    block, without the parser where every line is a simple field."""
    if not _SIMPLE_FIELDS.fullmatch(text):
        return parse_headers_by_parser(text)
    msg = Message(policy=compat32)
    for name, value in _SIMPLE_FIELD.findall(text):
        msg.set_raw(name, value)          # compat32's header_source_parse: lstrip, no EOL
    msg.set_payload("")
    return msg


def parse_headers_by_parser(text: str) -> Message:
    return Parser(policy=compat32).parsestr(text, headersonly=True)


def split(body: memoryview, boundary: bytes) -> list[tuple[int, int]]:
    """(start, end) of each body part between the delimiter lines of `boundary`
    (RFC 2046 5.1.1: "--" boundary at a line's start, "--" after it closes, then blanks)."""
    data, marker = bytes(body), b"--" + boundary
    spans: list[tuple[int, int]] = []
    start, pos = None, data.find(marker)
    while pos >= 0:
        after = _delimiter_end(data, pos, len(marker))
        if after is not None:
            if start is not None:
                spans.append((start, _before_break(data, start, pos)))
            if after[1]:
                return spans                   # close delimiter: the epilogue is not a part
            start = after[0]
        pos = data.find(marker, pos + 1)
    if start is not None:                      # no close delimiter: the last part runs on
        spans.append((start, len(data)))
    return spans


def _delimiter_end(data: bytes, pos: int, size: int) -> tuple[int, bool] | None:
    """Where the delimiter line at `pos` ends and whether it closes, or None if none is there
    (not at a line's start, as a MULTILINE "^" sees it: after "\\n"; or more on its line)."""
    if pos and data[pos - 1] != 10:
        return None
    end = pos + size
    closes = data.startswith(b"--", end)
    end += 2 if closes else 0
    while end < len(data) and data[end] in (32, 9):
        end += 1
    if end == len(data):
        return end, closes
    if data.startswith(b"\r\n", end):
        return end + 2, closes
    if data[end] in (10, 13):
        return end + 1, closes
    return None


def _before_break(data: bytes, start: int, end: int) -> int:
    """The line break before a delimiter belongs to the delimiter (RFC 2046 5.1.1)."""
    if end - start >= 2 and data[end - 2:end] == b"\r\n":
        return end - 2
    if end > start and data[end - 1] in (10, 13):
        return end - 1
    return end
