"""Reads one message in full for delivery: decoded headers, the body text, every other part kept.

The MIME tree is walked here, over the raw bytes, with an explicit stack: the standard library's
feed parser nests one generator per multipart level and raises RecursionError on a deep nesting
bomb, so it only ever reads headers (compat32's way) and the bodies are split at their boundaries
(RFC 2046 section 5.1.1): both in `importer.mail.entity`. Because bodies stay slices of the
original bytes, an attached message/rfc822 is handed on byte for byte.

Bounds (hostile mail): multiparts nest at most MAX_DEPTH deep and a message yields at most
MAX_PARTS parts; what lies past a bound is never dropped but kept whole as one attachment.
A header block ends at entity.MAX_HEADER bytes; the rest is read as body.
"""

from __future__ import annotations

import binascii
import mimetypes
import re
import unicodedata
from datetime import datetime, timezone
from email.message import Message
from email.utils import parsedate_to_datetime

from importer.mail.decode import decode_bytes, decode_header
from importer.mail.entity import parse_entity, split
from importer.mail.html2text import html_to_text
from importer.records import Attachment, MessageContent

MAX_DEPTH = 32
MAX_PARTS = 1000
MAX_NAME = 120

_BODY_TYPES = ("text/plain", "text/html")
_MESSAGE_TYPES = ("message/rfc822", "message/global")   # RFC 6532 section 3.5
_B64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")
_UNFOLD = re.compile(r"\r\n|\r|\n")
_EXTENSIONS = {
    "text/plain": ".txt", "text/html": ".html", "text/calendar": ".ics", "text/csv": ".csv",
    "text/x-vcard": ".vcf", "text/vcard": ".vcf", "image/jpeg": ".jpg", "image/png": ".png",
    "image/gif": ".gif", "application/pdf": ".pdf", "application/zip": ".zip",
    "application/pgp-signature": ".asc", "application/pkcs7-signature": ".p7s",
    "application/ms-tnef": ".dat", "message/rfc822": ".eml", "message/global": ".eml",
    "message/delivery-status": ".txt", "text/rfc822-headers": ".txt",
}


_BUILTIN_TYPES = mimetypes.MimeTypes()


class _Part:
    """One MIME entity: its parsed headers and its slice of the raw bytes."""

    __slots__ = ("headers", "whole", "body", "depth", "number", "role", "signed", "ctype")

    def __init__(self, whole: memoryview, depth: int, role: str, default_type: str):
        self.headers, self.body = parse_entity(whole)
        self.headers.set_default_type(default_type)
        self.whole, self.depth, self.role, self.number = whole, depth, role, 0
        self.signed = False       # the content part of a multipart/signed (RFC 1847)
        self.ctype = self.headers.get_content_type()


# -- transfer encodings (RFC 2045 section 6) --------------------------------------------------

def _base64(data: bytes) -> bytes:
    try:
        return binascii.a2b_base64(data)
    except binascii.Error:
        # Broken padding or a truncated last group: keep every whole byte that is there.
        clean = _B64_JUNK.sub(b"", data)
        clean = clean[: len(clean) - 1] if len(clean) % 4 == 1 else clean
        return binascii.a2b_base64(clean + b"=" * (-len(clean) % 4))


def _uudecode(data: bytes) -> bytes:
    """x-uuencode bodies (pre-MIME mailers, still sent by some): lines between begin and end."""
    lines = data.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(b"begin ")), None)
    if start is None:
        return data
    out = bytearray()
    for line in lines[start + 1:]:
        if line.strip() == b"end":
            break
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            # Trailing garbage after the counted bytes, as Python's old uu module tolerated.
            try:
                out += binascii.a2b_uu(line[: (((line[0] - 32) & 63) * 4 + 5) // 3])
            except (binascii.Error, IndexError):
                continue
    return bytes(out)


def _decoded(part: _Part) -> bytes:
    """The part's body with its Content-Transfer-Encoding undone; unknown ones left as sent."""
    data = bytes(part.body)
    cte = str(part.headers.get("content-transfer-encoding", "")).strip().lower()
    try:
        if cte == "base64":
            return _base64(data)
        if cte == "quoted-printable":
            return binascii.a2b_qp(data)
        if cte in ("x-uuencode", "uuencode", "x-uue", "uue"):
            return _uudecode(data)
    except (binascii.Error, ValueError):
        pass
    return data


def _text(part: _Part) -> str:
    try:
        charset = part.headers.get_content_charset()
    except Exception:  # a malformed RFC 2231 charset parameter: guess instead
        charset = None
    text = decode_bytes(_decoded(part), charset)
    return text.replace("\r\n", "\n").replace("\r", "\n")


# -- multipart bodies (RFC 2046 section 5.1) --------------------------------------------------

def _boundary(headers: Message) -> bytes | None:
    try:
        boundary = headers.get_boundary()
    except Exception:  # malformed parameters: treated as no boundary at all
        return None
    if not boundary or len(boundary) > 200:
        return None
    return boundary.encode("utf-8", "surrogateescape")


# -- the walk ---------------------------------------------------------------------------------

class _Walk:
    """Visits the MIME tree in document order with an explicit stack, sorting parts into
    body text, body HTML and attachments.

    A part's role says which body parts it may still give: "any"; "html" inside the rich branch
    of a multipart/alternative that also has a text/plain branch (its text/plain parts are the
    same words again and are dropped; the raw message keeps them).
    """

    def __init__(self, max_depth: int = MAX_DEPTH, max_parts: int = MAX_PARTS) -> None:
        self.max_depth, self.max_parts = max_depth, max_parts
        self.plain: list[str] = []
        self.html: list[str] = []
        self.attachments: list[Attachment] = []
        self.count = 0                        # parts made, against MAX_PARTS
        self.visited = 0

    def run(self, raw: bytes) -> Message:
        """Walk the whole message; return its top-level headers."""
        root = self._part(memoryview(raw), 0, "any")
        stack: list[_Part | Attachment] = [root]
        while stack:
            part = stack.pop()
            if isinstance(part, Attachment):  # the kept-together rest of an overlong multipart
                self.attachments.append(part)
                continue
            self.visited += 1
            part.number = self.visited        # document order, for default names
            children = self._children(part) if part.ctype.startswith("multipart/") else None
            if children is None:
                self._leaf(part)
            else:
                stack.extend(reversed(children))
        return root.headers

    def _part(self, whole: memoryview, depth: int, role: str, default: str = "text/plain"):
        self.count += 1
        return _Part(whole, depth, role, default)

    def _children(self, part: _Part) -> list[_Part] | None:
        """The parts of a multipart, or None to read it as one text part (no usable boundary)."""
        if part.depth >= self.max_depth:
            self._attach(part)                # kept whole, headers and all
            return []
        boundary = _boundary(part.headers)
        spans = split(part.body, boundary) if boundary else []
        if not spans:
            return None                       # a client shows such a body as text; so do we
        # RFC 2046 5.1.5: in a digest the parts are messages unless they say otherwise.
        default = "message/rfc822" if part.ctype == "multipart/digest" else "text/plain"
        room = max(self.max_parts - self.count, 0)
        children: list = [self._part(part.body[a:b], part.depth + 1, part.role, default)
                          for a, b in spans[:room]]
        if part.ctype == "multipart/alternative":
            _assign_roles(children)
        if part.ctype == "multipart/signed" and isinstance(children[0], _Part):
            children[0].signed = True
        if len(spans) > room:                 # the rest stays together, bytes as sent
            rest = bytes(part.body[spans[room][0]:spans[-1][1]])
            children.append(Attachment(f"part-{part.number}-rest.txt",
                                       "application/octet-stream", rest))
        return children

    def _leaf(self, part: _Part) -> None:
        ctype = part.ctype
        if ctype.startswith("multipart/"):
            ctype = "text/plain"              # no boundary found: its body is its text
        elif part.signed and ctype not in _BODY_TYPES and not ctype.startswith(_MEDIA):
            # RFC 1847 2.1: the first part of a multipart/signed is the content itself. S/MIME
            # signers label it oddly (M2Crypto: "application/plain"), and a body shown only as
            # part-2.bin is lost to a reader: read as text where it decodes as text.
            if _looks_like_text(_decoded(part)):
                ctype = "text/plain"
        if ctype in _BODY_TYPES and _is_inline(part.headers):
            if ctype == "text/html":
                self.html.append(_text(part))
            elif part.role == "any":
                self.plain.append(_text(part))
            return
        self._attach(part)

    def _attach(self, part: _Part) -> None:
        ctype = part.ctype
        if ctype.startswith("multipart/"):    # past MAX_DEPTH: the entity as a message file
            data, ctype = bytes(part.whole), "message/rfc822"
        else:
            data = _decoded(part)
        name = _filename(part.headers)
        if not name and ctype in _MESSAGE_TYPES:
            name = _message_name(data)
        if not name:
            name = f"part-{part.number}{_extension(ctype)}"
        self.attachments.append(Attachment(name, ctype, data))


_MEDIA = ("image/", "audio/", "video/", "font/", "model/")


def _looks_like_text(data: bytes) -> bool:
    if b"\0" in data[:65536]:
        return False
    try:
        data[:65536].decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        return exc.start >= 65530          # cut inside a character at the window's end


def _assign_roles(children: list[_Part]) -> None:
    """RFC 2046 5.1.4: alternatives are the same content; the text/plain one gives the text."""
    plain = [c for c in children if c.ctype == "text/plain" and _is_inline(c.headers)]
    if not plain or plain[0].role != "any":
        return
    for child in children:
        if child is not plain[0] and (child.ctype == "text/html"
                                      or child.ctype.startswith("multipart/")
                                      or child.ctype == "text/plain"):
            child.role = "html"


def _is_inline(headers: Message) -> bool:
    """A body part: not marked as an attachment and carrying no file name."""
    try:
        if headers.get_content_disposition() == "attachment":
            return False
        return not headers.get_filename()
    except Exception:  # unparseable parameters: show the part rather than hide it
        return True


# -- names (hostile: for display only, never a path here) -------------------------------------

def _clean_name(name: str, limit: int = MAX_NAME) -> str:
    """Last path component, no control or format characters (bidi overrides), bounded."""
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = " ".join(name.split()).lstrip(". ")
    if len(name) > limit:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: limit - len(ext) - 1] + "." + ext) if dot and len(ext) <= 10 else name[:limit]
    return name


def _extension(ctype: str) -> str:
    """Python's built-in table only (not this machine's mime.types): the same name everywhere."""
    return _EXTENSIONS.get(ctype) or _BUILTIN_TYPES.guess_extension(ctype) or ".bin"


def _filename(headers: Message) -> str:
    try:
        name = headers.get_filename()          # RFC 2231 decoded (filename*=utf-8''...)
    except Exception:  # malformed RFC 2231 continuations
        name = None
    if not name:
        return ""
    return _clean_name(decode_header(name))    # RFC 2047 words, as Outlook and Gmail send


def _message_name(data: bytes) -> str:
    """An attached message is named for its subject, as mail clients save it."""
    headers, _ = parse_entity(memoryview(data))
    subject = _clean_name(_header(headers, "subject"), 80)
    return f"{subject or 'message'}.eml"


# -- headers and the whole message ------------------------------------------------------------

def _header(headers: Message, name: str, every: bool = False) -> str:
    values = headers.get_all(name) or []
    # Folding whitespace collapses (RFC 5322 2.2.3 unfolds, but a TAB that was the fold's
    # indent would stay in "From: Dana\tMorrow" on screen).
    values = [" ".join(decode_header(_UNFOLD.sub("", str(v))).split())
              for v in (values if every else values[:1])]
    return ", ".join(v for v in values if v)


def _date(headers: Message) -> datetime | None:
    value = headers.get("date")
    if not value:
        return None
    try:
        date = parsedate_to_datetime(_UNFOLD.sub("", str(value)))
    except Exception:  # parsedate raises TypeError/ValueError/OverflowError on garbage
        return None
    if date.tzinfo is None:                    # "-0000": UTC, local zone unknown (RFC 5322 3.3)
        date = date.replace(tzinfo=timezone.utc)
    return date if 1970 <= date.year <= 2100 else None


def _fields(headers: Message) -> dict:
    try:
        return {"from_": _header(headers, "from"), "to": _header(headers, "to", every=True),
                "cc": _header(headers, "cc", every=True), "subject": _header(headers, "subject"),
                "date": _date(headers)}
    except Exception:  # decoding must never cost the message; the raw bytes keep the headers
        return {"from_": "", "to": "", "cc": "", "subject": "", "date": None}


def extract(raw: bytes, *, message_id: str, max_depth: int = MAX_DEPTH,
            max_parts: int = MAX_PARTS, headers: dict | None = None) -> MessageContent:
    """The message as a ticket entry shows it (`headers`: From/To/Cc/Subject decoded already,
    by parse.display_headers); never raises, `raw` is returned untouched."""
    walk = _Walk(max_depth, max_parts)
    try:
        # A byte-order mark (Windows editors): skipped as the first pass skips it.
        top = walk.run(raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw)
    except Exception:  # a bug here must not lose the message: it is kept whole as its own file
        walk.plain, walk.html = [], []
        walk.attachments = [Attachment("message.eml", "message/rfc822", bytes(raw))]
        top = Message()
    plain = "\n".join(t.rstrip("\n") + "\n" for t in walk.plain if t.strip())
    html = "\n".join(walk.html) if walk.html else None
    try:
        text = plain if plain else (html_to_text(html) if html else "")
    except Exception:  # html_to_text guards itself; this only keeps the promise above
        text = ""
    fields = _fields(top) if headers is None else {**headers, "date": _date(top)}
    return MessageContent(message_id=message_id, text=text, html=html,
                          attachments=tuple(walk.attachments), raw=raw, **fields)
