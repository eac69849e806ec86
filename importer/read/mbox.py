"""Splitting an mbox file into stored messages with plain bytes operations; the mboxrd writer.

What a separator is (RFC 4155 appendix A; mutt's `is_from()`, public-inbox's MboxReader):

* A line at the start of the file (after an optional UTF-8 byte-order mark) that begins
  with ``From `` and is either *dated* (``From addr asctime-date``) or *bare* (``From -``
  as Netscape wrote, or ``From 1844347792267117879@xxx`` as in a redacted Gmail Takeout).
  Its shape decides the file's style: bare separators are accepted later only in a file
  whose first separator was bare.
* Later, a dated ``From `` line, after a blank line or not (some archivers wrote none);
  in a bare-style file, a bare one followed by a header field line (Netscape wrote
  ``From - `` right after a closing MIME boundary, with no blank line: jwz's test mbox).
  Anything else starting with ``From `` is body text ("From Russia with love" in an
  unmunged mbox), and so is a bare line in a file whose separators are dated.
* A Content-Length header (mboxcl/mboxcl2) is honoured when it points exactly at a blank
  line followed by a separator-shaped ``From `` line, or at the end of the file; otherwise
  it is ignored (jwz's test mbox carries lengths that a splitter must not trust blindly).

A message's stored bytes run from after its ``From `` line to the next separator, less one
blank line (``\\n`` or ``\\r\\n``) just before that separator or before the end of the file:
that blank line is the writer's, not the message's.

Quoting. mboxo writers turn ``From `` into ``>From ``; mboxrd writers also add a ``>`` to
``>+From `` lines. Both undo ``>From `` the same way, so the variants differ only on lines
``>>From ``, ``>>>From ``... which no file marks as one or the other. We read ``mboxrd``
by default: on an mboxrd file that is exact, and on an mboxo file it only takes a ``>``
from a line that was already ``>>From `` in the original (a quoted, already-mangled line,
rare: clients quote as ``> >From``), whereas reading an mboxrd file as mboxo would add a
``>`` to every body line that really was ``>From `` (common in list archives). A message
whose honoured Content-Length body holds an unquoted ``From `` line was written by an
mboxcl2 writer, which quotes nothing: it is read with escaping "none".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator

BLOCK = 1 << 20                 # bytes read at a time
MAX_MESSAGE = 256 << 20         # larger messages are quarantined with their position, not held
# A "From " line, or the field line that must follow a bare one, longer than this makes no
# separator (real ones are well under 1 KB): a stretch of one endless line (2 GiB of zeros
# after a message, from a decompression bomb) is then never held to find where it ends.
SEPARATOR_LINE = 64 << 10
BOM = b"\xef\xbb\xbf"

_DAY = rb"(?i:mon|tue|wed|thu|fri|sat|sun)"
_MON = rb"(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
_ZONE = rb"(?:[A-Za-z]{1,5}|[+-]\d{4})"
# "From addr Www Mmm dd hh:mm[:ss] [zone] yyyy [zone] [remote from host]", the asctime
# form with the variants mutt's is_from() accepts (2-digit years, zones before or after
# the year as in "Mon Feb  8 02:53:47 PST 1993", Gmail's "+0000 2021", UUCP's suffix).
# Mailman 2's pipermail writes the sender obfuscated, "From jjl at pobox.com  Thu Nov  1
# 11:19:12 2001", in every monthly YYYY-Month.txt(.gz) it publishes: " at " may stand in the
# address (only there: the date must follow).
_DATED = re.compile(
    rb"From (?:[^\s\"]+ at [^\s\"]+ +|(?:\"[^\"]*\"|\S)*\S? +)?" + _DAY + rb",? +" + _MON + rb" +\d{1,2},? +"
    rb"\d{1,2}:\d\d(?::\d\d)?(?: +" + _ZONE + rb")? +\d{2}(?:\d\d)?(?: +" + _ZONE + rb")?"
    rb"(?: +remote from \S+)?[ \t]*\r?\n?")
_BARE = re.compile(rb"From +[^\s:]\S*[ \t]*\r?\n?")
# Candidates for a separator, found in a whole buffer at C speed (2 GiB of "From x" lines,
# each looked at in Python, were once scanned at 1.8 MB/s): a dated separator holds a time;
# a bare one ("From -", in files whose first separator is bare) has a header field after it.
# Each candidate is then checked exactly (_is_separator).
_DATED_CANDIDATE = re.compile(rb"\nFrom [^\n]*\d:\d\d")
# Either shape, in one search: the earliest line that could be a separator, dated or bare
# (a bare one is followed by a field line). A search for each shape tried every line twice.
_ANY_CANDIDATE = re.compile(
    rb"\nFrom (?:[^\n]*\d:\d\d|[^\n]*\n(?!From [^ \t:\n])[!-9;-~]+[ \t]*:)")
# RFC 5322 section 2.2: a field name is printable US-ASCII except the colon.
_FIELD = re.compile(rb"[!-9;-~]+[ \t]*:")
_CONTENT_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*(\d{1,12})[ \t]*\r?$")
_QUOTE_RD = re.compile(rb"(?m)^(>*From )")


def is_dated_from(line: bytes) -> bool:
    """True for a ``From addr date`` separator line (with or without its newline)."""
    return _DATED.fullmatch(line) is not None


def is_bare_from(line: bytes) -> bool:
    """True for a ``From addr`` line with nothing after the address (``From -``)."""
    return _BARE.fullmatch(line) is not None


def looks_like_field(line: bytes) -> bool:
    """True when a line starts like a header field ("Name:")."""
    return _FIELD.match(line) is not None


def unescape(data: bytes, escaping: str) -> bytes:
    """Undo the From-quoting of one stored message ("mboxrd", "mboxo" or "none").

    A find() loop rather than a multiline regex: this runs on every message, and
    `(?m)^>` costs a regex step per byte where find() costs a memchr.
    """
    if escaping not in ("mboxrd", "mboxo"):
        return data
    parts, last = [], 0
    at = data.find(b">From ")
    while at >= 0:
        start = at
        while start and data[start - 1] == 0x3E:           # a run of ">"
            start -= 1
        if (start == 0 or data[start - 1] == 0x0A) and (escaping == "mboxrd" or start == at):
            parts.append(data[last:start])
            last = start + 1
        at = data.find(b">From ", at + 6)
    if not parts:
        return data
    parts.append(data[last:])
    return b"".join(parts)


def write_mboxrd(messages: Iterable[tuple[bytes, bytes] | bytes], fp: BinaryIO) -> None:
    """Write messages as mboxrd: each is raw bytes, or (from_line, raw bytes).

    The contract the reader keeps: a message comes back byte-exact, except that one
    which does not end in ``\\n`` gains one (mbox can only store whole lines).
    """
    for item in messages:
        from_line, raw = item if isinstance(item, tuple) else (
            b"From MAILER-DAEMON Thu Jan  1 00:00:00 1970", item)
        if not is_dated_from(from_line) or b"\n" in from_line:
            raise ValueError(f"not a From_ separator line: {from_line[:80]!r}")
        fp.write(from_line + b"\n")
        fp.write(_QUOTE_RD.sub(rb">\1", raw))
        fp.write(b"\n" if raw.endswith(b"\n") else b"\n\n")


@dataclass(frozen=True, slots=True)
class Piece:
    """One stretch of an mbox file: a message, junk before the first separator, or too big."""

    kind: str                  # "message" | "junk" | "oversize"
    offset: int                # of the stored bytes in the file
    length: int
    data: bytes                # stored bytes, still quoted; b"" for "oversize"
    from_line: bytes | None    # without its line ending
    escaping: str


class MboxSplitter:
    """Streams `Piece`s out of one binary file; holds at most one message (bounded)."""

    def __init__(self, fp: BinaryIO, escaping: str = "mboxrd", max_message: int = MAX_MESSAGE):
        self._fp, self._escaping, self._max = fp, escaping, max_message
        # A bytearray: dropping from its front and appending to its end cost no copy of
        # what stays, so reads stay small and a message over the bound is never held twice
        # (with bytes, each read copied the buffer: a 300 MB message peaked at 633 MB).
        self._buf, self._base, self._eof = bytearray(), 0, False
        self._start = 0              # where the current piece starts
        self._keep = 0               # the buffer must still hold bytes from here on
        self._bare = False           # the file's first separator was bare
        self.bom = False

    # -- buffer ---------------------------------------------------------------------
    def _end(self) -> int:
        return self._base + len(self._buf)

    def _fill(self) -> bool:
        """Read more, dropping what no piece needs."""
        if self._eof:
            return False
        drop = max(0, self._keep - 8 - self._base)
        chunk = self._fp.read(BLOCK)
        if not chunk:
            self._eof = True
            return False
        del self._buf[:drop]
        self._buf += chunk
        self._base += drop
        return True

    def _slice(self, start: int, stop: int) -> bytes:
        lo, hi = start - self._base, stop - self._base
        if hi - lo < 65536:                 # a line, a small message: one short copy more
            return bytes(self._buf[lo:hi])
        with memoryview(self._buf) as view:  # a large one: copied once
            return bytes(view[lo:hi])

    def _line_end(self, start: int, limit: int | None = None) -> int | None:
        """Offset just past the line that starts at `start` (the end if unterminated); None
        when the line is longer than `limit`."""
        while True:
            i = self._buf.find(b"\n", start - self._base)
            if i >= 0:
                end = self._base + i + 1
                return None if limit is not None and end - start > limit + 1 else end
            if limit is not None and self._end() - start > limit + 1:
                return None
            if not self._fill():
                return self._end()

    def _begin(self, start: int) -> None:
        self._start = self._keep = start

    # -- separators -----------------------------------------------------------------
    def _blank_before(self, at: int) -> int:
        """Length of the blank line ending just before offset `at` (0, 1 or 2)."""
        before = self._slice(max(self._base, at - 3), at)
        if before.endswith(b"\n\n"):
            return 1
        return 2 if before.endswith(b"\n\r\n") else 0

    def _is_separator(self, at: int, *, anywhere: bool = False) -> bool:
        """Whether the line at `at` is a separator; `anywhere` accepts either shape."""
        end = self._line_end(at, SEPARATOR_LINE)
        if end is None:
            return False
        line = self._slice(at, end)
        if _DATED.fullmatch(line):
            return True
        if not (anywhere or self._bare) or not _BARE.fullmatch(line):
            return False
        field_end = self._line_end(end, SEPARATOR_LINE)
        return field_end is not None and looks_like_field(self._slice(end, field_end))

    def _next_separator(self, start: int) -> int | None:
        """Offset of the next separator line starting at or after `start`, or None."""
        pos = start - 1                      # the line end before a line starting at `start`
        while True:
            at = self._candidate(pos - self._base)
            if at is not None:
                at += self._base + 1
                if self._is_separator(at):
                    return at
                pos = at
                continue
            last = self._buf.rfind(b"\n")
            if last < pos - self._base or len(self._buf) - last > SEPARATOR_LINE + 2:
                # No line end since `pos`, or a last line too long to be a separator or the
                # field line after one: none can start before the buffer's end (2 GiB of
                # zeros after a message once held the whole stretch in memory).
                pos = max(pos, self._end() - 1)
            else:
                # The last two lines may still be coming in (a separator, then its field line).
                tail = self._buf.rfind(b"\n", 0, max(last, 0))
                pos = max(pos, self._base + tail)
            if self._end() - self._start > self._max:
                self._keep = pos             # too big to hold: let its bytes go, keep its place
            if not self._fill():
                return None

    def _candidate(self, at: int) -> int | None:
        # Either shape needs a colon after its line start: a dated line's time, or the field
        # line after a bare one. Lines before the second line end ahead of the next colon
        # cannot be candidates, so the regex starts there (a page of "From x" lines holds no
        # colon at all: skipped at memchr speed, not tried line by line).
        buf = self._buf
        colon = buf.find(b":", at)
        if colon < 0:
            return None
        last = buf.rfind(b"\n", at, colon)
        before = buf.rfind(b"\n", at, last) if last > at else -1
        start = before if before >= 0 else at
        m = (_ANY_CANDIDATE if self._bare else _DATED_CANDIDATE).search(buf, start)
        return m.start() if m else None

    # -- pieces ---------------------------------------------------------------------
    def __iter__(self) -> Iterator[Piece]:
        self._fill()
        pos = 3 if self._buf.startswith(BOM) else 0
        self.bom = pos == 3
        first_end = self._line_end(pos, SEPARATOR_LINE)
        first = b"" if first_end is None else self._slice(pos, first_end)
        dated = _DATED.fullmatch(first) is not None
        self._bare = not dated and _BARE.fullmatch(first) is not None
        if not (dated or self._bare):
            self._begin(pos)
            sep = (self._next_separator(pos + 1)
                   if first_end is None or first.endswith(b"\n") else None)
            end = sep if sep is not None else self._end()
            if end > pos:
                yield self._piece("junk", pos, end, None, "none")
            pos = sep
        while pos is not None:
            piece, pos = self._message(pos)
            yield piece

    def _message(self, at: int) -> tuple[Piece, int | None]:
        """The message whose From line starts at `at`, and where the next one starts."""
        start = self._line_end(at)
        from_line = self._slice(at, start).rstrip(b"\r\n")
        self._begin(start)
        nxt = self._next_separator(start)
        stop = self._end() if nxt is None else nxt
        end = stop - self._blank_before(stop) if stop > start else stop
        escaping = self._escaping
        if self._base < start and end - start <= self._max:
            honoured = self._content_length(start, end, nxt)
            if honoured is not None:
                end, nxt, unquoted = honoured
                escaping = "none" if unquoted else escaping
        return self._piece("message", start, end, from_line, escaping), nxt

    def _content_length(self, start: int, end: int, nxt: int | None):
        """(end, next separator, body has unquoted From lines) when Content-Length holds."""
        buf, lo, hi = self._buf, start - 1 - self._base, end - self._base
        cut = buf.find(b"\n\n", lo, hi)
        crlf = buf.find(b"\n\r\n", lo, cut if cut >= 0 else hi)
        if crlf >= 0:
            cut = crlf
        if cut < 0:
            return None
        m = _CONTENT_LENGTH.search(buf, lo + 1, cut + 1)
        if m is None:
            return None
        body = self._base + cut + (3 if crlf >= 0 else 2)
        target = body + int(m.group(1))
        if target != end:
            if target - start > self._max:
                return None
            nxt = self._check_target(target)
            if nxt is False:
                return None
        return target, nxt, b"\nFrom " in self._slice(body - 1, target)

    def _check_target(self, target: int) -> int | None | bool:
        """The separator after a Content-Length body ending at `target`; False if none is."""
        while self._end() < target + 3 and self._fill():
            pass
        rest = self._slice(target, target + 2)
        blank = 2 if rest == b"\r\n" else 1 if rest[:1] == b"\n" else 0
        if self._end() == target + blank:
            # At the end of the file the length must leave the writer's blank line out, as
            # it does before a From line: a length that swallows it is the message's own
            # header lying (found by the round-trip property: "Content-Length: 3" over "\0").
            return None if self._eof and blank else False
        if not blank or self._slice(target + blank, target + blank + 5) != b"From ":
            return False
        return target + blank if self._is_separator(target + blank, anywhere=True) else False

    def _piece(self, kind: str, start: int, end: int, from_line, escaping: str) -> Piece:
        if end - start > self._max or start < self._base:
            return Piece("oversize", start, end - start, b"", from_line, escaping)
        return Piece(kind, start, end - start, self._slice(start, end), from_line, escaping)
