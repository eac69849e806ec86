"""Message-ID, References and In-Reply-To parsing that survives real mail; the id policy.

Normalisation policy (applied to every id, so that dedupe and threading agree):
- Folding and all whitespace inside an id are removed (RFC 5322 section 3.2.2 allows CFWS
  around the parts; old Pine and Outlook folded long ids inside the brackets).
- Surrounding angle brackets are removed, however many: ``<<id>>`` (seen from broken
  gateways that add a second pair) is ``id``.
- The domain (after the last ``@``) is lowercased: domains are case-insensitive (RFC 5321
  section 2.4). The local part is kept exactly: RFC 5322 section 3.6.4 makes the whole id
  case-sensitive, and ids that differ only in the case of the local part are different
  messages in real archives (base64-like local parts from Exchange and Gmail).
- Control characters are dropped; an id longer than `MAX_ID_LENGTH` is unusable (hostile).
- Ids without ``@``: accepted when they stand in angle brackets, or as the whole of a
  Message-ID header (old Lotus and X.400 gateways wrote such ids, and replies quote them
  bracketed). A bare word without ``@`` in References or In-Reply-To is not an id: it is the
  prose of "Your message of Tuesday" and friends.
- Fake ids are dropped: ids in `FAKE_ID_DOMAINS` (ProtonMail adds
  ``<...@protonmail.internalid>`` to References; no message ever carries that id, and as
  the last reference it would hide the real parent), and placeholder ids in `BOGUS_IDS`
  (JavaScript clients that send ``<undefined>``; thousands of unrelated messages share it;
  git-send-email's ``<yes>``, see `BOGUS_IDS`).
- In In-Reply-To, an address is not an id: Z-Mail's ``"Name" <addr> "subject" (date)``
  names the sender answered (see `_ZMAIL`). An address equal to one of the message's own
  From/To/Cc/Reply-To addresses is dropped by the importer's parser, which knows them
  (importer/parse.py); this module sees one header at a time.
- References keep header order (oldest first); a repeated id keeps its *last* place, since
  the last reference is the parent a client meant (mutt and Thunderbird append the parent's
  id even when it is already there). At most `MAX_REFERENCES` ids are kept: the first and
  the newest, as RFC 5322 section 3.6.4 suggests for trimming.
"""

from __future__ import annotations

import re

__all__ = ["parse_message_id", "parse_references", "parse_in_reply_to", "normalise_id",
           "FAKE_ID_DOMAINS", "BOGUS_IDS", "MAX_ID_LENGTH", "MAX_REFERENCES"]

FAKE_ID_DOMAINS = ("protonmail.internalid",)
# Placeholders, compared case-insensitively, only for ids without "@". "y", "n", "yes" and
# "no" are answers typed at git-send-email's prompt "Message-ID to be used as In-Reply-To
# for the first email (if any)?": it writes them as "In-Reply-To: <yes>" (and References),
# and one such id merged two unrelated patch series into one 48-message ticket. With an "@"
# ("yes@host") an id is kept: git adds no domain, and such a token could be a real id.
BOGUS_IDS = frozenset({"undefined", "null", "none", "nil", "(none)", "unknown", "0",
                       "y", "n", "yes", "no"})
MAX_ID_LENGTH = 998          # RFC 5322 line limit: nothing longer is a real id
MAX_REFERENCES = 500
MAX_HEADER_CHARS = 65536     # parse at most this much of one header value

_WS_CTL = re.compile(r"[\s\x00-\x20\x7f-\x9f]+")
_POSSESSIVE = re.compile(r"^\s*'s\b", re.I)
_FROM_PHRASE = re.compile(r"\bfrom\b\s*\S", re.I)
# Z-Mail names the message answered by its sender, subject and date, with no id:
#   In-Reply-To: "Dana K. Morrow" <dana.morrow@example.net> "favor" (Sep  8, 10:03)
# Variants read the same way (a name without quotes; an RFC 822 From without brackets):
#   In-Reply-To: Joe Bloggs <joe@host>\n\t"Re: x" (Jan  5, 10:03)
#   In-Reply-To: joe@host (Joe Bloggs) "favor" (Sep  8, 10:03)
# Read as an id, that address hung every reply to one person under one ghost (a 1996-99 list
# archive: 23 tickets held 642 messages). The shape, at the start of the header: a display
# name (one quoted string, or plain words without digits, so no date) and a bracketed token,
# then straight away a quoted subject or a parenthesised date; or a bare word with "@" and
# then a quoted subject, after at most one comment. A bracketed id followed by a comment with
# no name before it stays an id: Emacs writes "<id> (Joe's message of ...)".
_NAME = r'(?:\s*"(?:[^"\\]|\\.)*"\s*|\s*[^"<>()\[\]@,;:\\0-9\s][^"<>()\[\]@,;:\\0-9]*)'
_ZMAIL = re.compile(_NAME + r'<+([^<>]*)>+\s*["(]')
_ZMAIL_BARE = re.compile(r'\s*([^\s"<>()]+@[^\s"<>()@]+)\s*(?:\([^()]*\)\s*)?"')


def normalise_id(token: str) -> str | None:
    """One raw id (brackets optional) in normal form, or None if it is unusable."""
    token = _WS_CTL.sub("", token).strip("<>")
    if not token or len(token) > MAX_ID_LENGTH or "<" in token or ">" in token:
        return None
    local, at, domain = token.rpartition("@")
    if at:
        if not local or not domain:
            return None
        domain = domain.lower()
        if domain in FAKE_ID_DOMAINS:
            return None
        token = f"{local}@{domain}"
    elif token.lower() in BOGUS_IDS:
        return None
    return token


def _scan(value: str) -> list[tuple[str, str]]:
    """Split a header into ("id", text) bracketed tokens and ("text", text) prose.

    Comments ``(...)`` (nested) and quoted strings outside brackets are dropped: RFC 5322
    CFWS, and the ``"Joe"'s message of "date"`` that Elm and MH put into In-Reply-To.
    A bracket left open runs to the end of the header.
    """
    out: list[tuple[str, str]] = []
    text: list[str] = []
    i, n = 0, min(len(value), MAX_HEADER_CHARS)
    while i < n:
        ch = value[i]
        if ch == "<":
            j = i
            while j < n and value[j] == "<":
                j += 1
            end = value.find(">", j, n)
            end = n if end < 0 else end
            if text:
                out.append(("text", "".join(text)))
                text = []
            out.append(("id", value[j:end]))
            i = end
            while i < n and value[i] == ">":
                i += 1
        elif ch == "(":
            i = _skip_comment(value, i, n)
        elif ch == '"':
            end = value.find('"', i + 1, n)
            i = n if end < 0 else end + 1
            text.append(" ")
        else:
            text.append(ch)
            i += 1
    if text:
        out.append(("text", "".join(text)))
    return out


def _skip_comment(value: str, i: int, n: int) -> int:
    depth = 0
    while i < n:
        ch = value[i]
        if ch == "\\":
            i += 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


def _bare_ids(text: str) -> list[str]:
    """Ids written without brackets: words with an ``@`` that are not a sender's address
    (a possessive ``joe@host's``, or a word right after "from")."""
    found, previous = [], ""
    for word in text.replace(",", " ").replace(";", " ").split():
        if "@" in word and not word.lower().endswith("'s") and previous != "from":
            found.append(word.strip(".:"))
        previous = word.lower()
    return found


def parse_message_id(value: str | None) -> str | None:
    """The one id of a Message-ID header, normalised, or None if there is none usable."""
    if not value:
        return None
    parts = _scan(value)
    for kind, text in parts:
        if kind == "id":
            found = normalise_id(text)
            if found:
                return found
    prose = " ".join(text for kind, text in parts if kind == "text").split()
    if len(prose) == 1:              # a bare id, e.g. "Message-ID: 1234.abc@host"
        return normalise_id(prose[0])
    for word in prose:
        if "@" in word:
            return normalise_id(word)
    return None


def parse_references(value: str | None) -> tuple[str, ...]:
    """The ids of a References header, oldest first, deduplicated (last place kept)."""
    if not value:
        return ()
    ids: list[str] = []
    for kind, text in _scan(value):
        raw = [text] if kind == "id" else _bare_ids(text)
        for token in raw:
            found = normalise_id(token)
            if found:
                ids.append(found)
    return _trim(_dedupe_keep_last(ids))


def parse_in_reply_to(value: str | None) -> tuple[str, ...]:
    """The ids of an In-Reply-To header with the prose and sender addresses left out.

    Real headers seen: ``<id>; from Joe on Mon, 1 Jan`` (Elm), ``"Joe"'s message of "date"``
    (no id at all), ``Message from Joe <joe@host> of "date" <id>`` (MH: the first bracket
    is the sender's address), ``Joe <joe@host>'s message of date``, ``"Joe" <joe@host>
    "subject" (Sep  8, 10:03)`` (Z-Mail: the address only). A bracketed token right after
    "from <words>" or right before "'s", or in Z-Mail's shape, is an address, not an id.
    """
    if not value:
        return ()
    parts = _scan(value)
    address = _zmail_address(value)
    ids: list[str] = []
    for pos, (kind, text) in enumerate(parts):
        if kind == "text":
            if not any(k == "id" for k, _ in parts):
                ids.extend(t for t in map(normalise_id, _bare_ids(text)) if t)
            continue
        before = parts[pos - 1][1] if pos and parts[pos - 1][0] == "text" else ""
        after = parts[pos + 1][1] if pos + 1 < len(parts) and parts[pos + 1][0] == "text" else ""
        if _POSSESSIVE.match(after) or _FROM_PHRASE.search(before):
            continue
        found = normalise_id(text)
        if found:
            ids.append(found)
    if address is not None:
        ids = [found for found in ids if found != address]
    return tuple(dict.fromkeys(ids))


def _zmail_address(value: str) -> str | None:
    """The address at the start of a Z-Mail In-Reply-To (`_ZMAIL`), normalised, or None."""
    m = _ZMAIL.match(value, 0, MAX_HEADER_CHARS) or _ZMAIL_BARE.match(value, 0, MAX_HEADER_CHARS)
    return normalise_id(m.group(1)) if m else None


def _dedupe_keep_last(ids: list[str]) -> list[str]:
    if len(set(ids)) == len(ids):
        return ids
    return list(reversed(dict.fromkeys(reversed(ids))))


def _trim(ids: list[str]) -> tuple[str, ...]:
    if len(ids) > MAX_REFERENCES:
        ids = ids[:1] + ids[-(MAX_REFERENCES - 1):]
    return tuple(ids)
