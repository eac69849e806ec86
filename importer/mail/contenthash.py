"""The content hash: which bytes make two copies of a mail the same mail (dedupe.py uses it).

Content hash (after public-inbox's ContentHash.pm), sha256 over these parts only:

* From, To and Cc as lowercased bare addresses, in order.  Display names are left out:
  list servers and gateways re-quote and re-encode names ("Doe, John" vs =?utf-8?...).
* Subject, decoded, whitespace collapsed, with leading "[list]" tags removed from among
  its leading Re:/Fwd: words: Mailman adds "[foo] " to the list's copy but not to the
  copy that reached a Cc'd person directly.
* Date as the instant it names (UTC), else its raw text: Exchange rewrites the Date
  header's format ("+0100" into "+0000" with the hour moved) for the same mail.
* References and In-Reply-To as one sorted set of ids, the message's own id removed:
  LKML "duplicates" put the same parent in one or the other (public-inbox's rule).
* The body bytes after the header block, with line endings made LF, trailing blanks on
  each line and at the end removed (MTAs convert CRLF and strip trailing spaces), and a
  mailing-list footer removed (see `strip_list_footer`).

Left out on purpose: Message-ID (the same mail arrives under different ids from broken
gateways, and a missing id must not make copies differ), Received, Delivered-To,
Return-Path, X-* and every other header (they record the path a copy travelled, not
its content), and the mbox "From " line (written by the mailbox, not the sender).
Not handled: a footer that Mailman adds as its own MIME part, or a body re-encoded
(quoted-printable into base64) in transit: such copies keep different hashes.

A message without a usable Message-ID gets the synthetic id
``synthetic.<first 32 hex digits of content_hash>@archive-import.invalid``; the same
content therefore gets the same id on every run.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone

__all__ = ["content_hash", "synthetic_id", "strip_list_footer", "normalise_body"]

# A footer block starts at a signature separator ("-- ", RFC 3676 4.3) or Mailman's row
# of underscores; it is a list footer only if it names a list's info page or how to
# leave the list.  A person's own signature never matches unless it says exactly that.
_SEPARATOR = re.compile(rb"\n(?:-- ?|_{20,})\n")
_LIST_FOOTER = re.compile(
    rb"(?i)https?://\S+/listinfo\b|/mailman/listinfo|mailing list\b[^\n]*\n(?:[^\n]*\n)?"
    rb"[^\n]*unsubscribe|to unsubscribe from this group|-leave@\S+\.\w+")
_BLANK_AT_EOL = re.compile(rb"\n(?<=[ \t]\n)")
_FOOTER_MAX = 1500          # bytes: footers are a few lines, never a message's body
_FOOTER_LINES = 12
_SUBJECT_LEAD = re.compile(r"^(?:\s*(?:\[[^\]]{1,60}\]|(?:re|fwd?|aw|sv|wg)\s*:))+", re.I)
_TAG = re.compile(r"\[[^\]]{1,60}\]\s*")


def normalise_body(body: bytes) -> bytes:
    """Body bytes as the hash sees them: LF endings, no trailing blanks, no list footer."""
    body, end = _normalised(body)
    return body[:end]


def _normalised(body: bytes) -> tuple[bytes, int]:
    """`normalise_body` as (bytes, end): the hash reads body[:end] without a copy."""
    if b"\r" in body:
        body = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if _BLANK_AT_EOL.search(body):      # a line end is rare, a blank common: look for ends
        body = _strip_blanks_at_eol(body)
    return body, _footer_start(body, _rstrip_end(body, len(body)))


def _strip_blanks_at_eol(body: bytes) -> bytes:
    """rstrip(b" \t") on every line (a hypothesis test holds them equal), without splitting
    the body and its attachments into lines: only the few lines that end in a blank (a
    signature's "-- ", quoted "> " lines) are cut. A regex sub of [ \t]+ before each line end
    was a third of a dry run: it tried every blank of every line."""
    out, last = [], 0
    for m in _BLANK_AT_EOL.finditer(body):
        out.append(body[last:m.start()].rstrip(b" \t"))
        last = m.start()
    out.append(body[last:].rstrip(b" \t"))
    return b"".join(out)


def _rstrip_end(data: bytes, end: int) -> int:
    """len(data[:end].rstrip()), without copying data."""
    tail = data[max(0, end - 64):end].rstrip()
    if tail or end <= 64:
        return max(0, end - 64) + len(tail)
    return len(data[:end].rstrip())


def strip_list_footer(body: bytes) -> bytes:
    """Remove a trailing mailing-list footer block, if the last separator starts one."""
    end = _footer_start(body, len(body))
    return body if end == len(body) else body[:end]


def _footer_start(body: bytes, end: int) -> int:
    """Where body[:end] ends once a list footer after its last separator is cut off."""
    last = None
    for m in _SEPARATOR.finditer(body, max(0, end - _FOOTER_MAX), end):
        last = m
    if last is None:
        return end
    block = body[last.end():end]
    if block.count(b"\n") >= _FOOTER_LINES or not _LIST_FOOTER.search(block):
        return end
    return _rstrip_end(body, last.start())


def _subject_key(subject: str) -> str:
    subject = " ".join(subject.split())
    lead = _SUBJECT_LEAD.match(subject)
    if lead:
        kept = _TAG.sub("", lead.group())
        subject = " ".join((kept + subject[lead.end():]).split())
    return subject


def _date_key(date: datetime | None, raw: str) -> str:
    if date is not None and date.tzinfo is not None:
        return date.astimezone(timezone.utc).isoformat()
    return " ".join(raw.split())


def content_hash(*, from_addrs: tuple[str, ...], to: tuple[str, ...], cc: tuple[str, ...],
                 subject: str, date: datetime | None, date_raw: str,
                 refs: tuple[str, ...], own_id: str | None, body: bytes) -> str:
    """sha256 hex of the parts listed in the module docstring (`date` is the Date header's)."""
    ids = sorted(set(refs) - {own_id})
    parts = (f"from\0{' '.join(from_addrs)}\0to\0{' '.join(to)}\0cc\0{' '.join(cc)}\0"
             f"subject\0{_subject_key(subject)}\0date\0{_date_key(date, date_raw)}\0"
             f"refs\0{' '.join(ids)}\0body\0")
    h = hashlib.sha256(parts.encode("utf-8", "replace"))
    body, end = _normalised(body)
    h.update(memoryview(body)[:end])
    return h.hexdigest()


def synthetic_id(content_hash_hex: str) -> str:
    """The deterministic id for a message without a usable Message-ID."""
    return f"synthetic.{content_hash_hex[:32]}@archive-import.invalid"
