"""Finds the original sender of a mail that staff forwarded into the archive.

Two shapes are recognised, in this order:

* an inline forward block, as mail clients write it above the forwarded headers
  (Gmail "---------- Forwarded message ---------", Apple Mail "Begin forwarded message:",
  Thunderbird "-------- Forwarded Message --------", Outlook "-----Original Message-----",
  and their translations); the first block's From line names the original sender;
* an attached message/rfc822 (Outlook's and Gmail's "forward as attachment"): its From.

Outlook and Thunderbird write the same "Original Message" block in replies, so that marker (and
Outlook 2010's rule of underscores) is not taken when the Subject says reply ("Re:", "AW:", ...).
Bounces (multipart/report, RFC 3462) carry the bounced message, which is no forward.
"""

from __future__ import annotations

import binascii
import re
import unicodedata
from email.message import Message
from email.utils import parseaddr

from importer.mail.decode import decode_bytes, decode_header
from importer.mail.html2text import html_to_text

MAX_PARTS = 200        # parts looked at in one message
MAX_DEPTH = 16         # multipart nesting followed
MAX_SCAN = 262_144     # characters of each body text searched for a marker
WINDOW = 4096          # characters after a marker searched for its From line
HEADER_LINES = 12      # lines after a marker that may hold the From line

# Unambiguous forward markers: "--- <phrase> ---" (Gmail, Thunderbird, Yahoo) ...
_FORWARDED = ("Forwarded message", "Weitergeleitete Nachricht", "Message transféré",
              "Mensaje reenviado", "Messaggio inoltrato", "Doorgestuurd bericht",
              "Mensagem encaminhada", "Videresendt meddelelse", "Videresendt melding",
              "Vidarebefordrat meddelande", "Välitetty viesti", "Przekazana wiadomość",
              "Přeposlaná zpráva", "Пересылаемое сообщение", "Пересланное сообщение",
              "転送されたメッセージ", "转发的邮件")
# ... and "<phrase>:" (Apple Mail).
_BEGIN = ("Begin forwarded message", "Anfang der weitergeleiteten Nachricht",
          "Début du message réexpédié", "Inicio del mensaje reenviado",
          "Inizio messaggio inoltrato", "Begin doorgestuurd bericht",
          "Início da mensagem reencaminhada", "Videresendt besked")
# Reply-or-forward markers: Outlook "-----Original Message-----" and its translations.
_ORIGINAL = ("Original Message", "Ursprüngliche Nachricht", "Message d'origine",
             "Mensaje original", "Messaggio originale", "Oorspronkelijk bericht",
             "Mensagem original", "Original meddelelse", "Ursprungligt meddelande",
             "Alkuperäinen viesti", "Wiadomość oryginalna", "Исходное сообщение",
             "原始邮件", "元のメッセージ")
_FROM_LABELS = ("From", "Von", "De", "Da", "Van", "Fra", "Från", "Od", "Lähettäjä", "Kimden",
                "От", "Afzender", "Remitente", "Mittente", "Expéditeur", "Absender",
                "发件人", "寄件者", "差出人", "보낸 사람")


def _alternation(phrases) -> str:
    return "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in phrases)


_MARKER = re.compile(
    r"^[ \t]*(?:(?P<forward>-{2,}[ \t]*(?:%s)[ \t]*-{2,}|(?:%s)[ \t]*:)"
    r"|(?P<original>-{2,}[ \t]*(?:%s)[ \t]*-{2,}|_{20,}))[ \t]*$"
    % (_alternation(_FORWARDED), _alternation(_BEGIN), _alternation(_ORIGINAL)),
    re.IGNORECASE | re.MULTILINE)
# Gmail's plain text bolds labels ("*From:*"); French puts a space before the colon.
_FROM_LINE = re.compile(r"^[ \t]*\*?(?:%s)\*?[ \t]*[:：]\*?[ \t]*(?P<value>.*)$"
                        % _alternation(_FROM_LABELS), re.IGNORECASE)
_OTHER_LABEL = re.compile(r"^[ \t]*\*?[\w .-]{1,30}[:：]")
# A reply's subject ("Re:", German "AW:", Nordic "SV:", Dutch "Antw:", Italian "R:", "Rif:",
# Polish "Odp:", Turkish "YNT:", Chinese and Japanese clients), after any "[list]" tag.
_REPLY_SUBJECT = re.compile(r"^\s*(?:\[[^\]]{0,80}\]\s*)?(?:re|aw|sv|antw|r|rif|odp|ynt|回复|答复|返信)"
                            r"\s*(?:\[\d+\]|\(\d+\))?\s*[:：]", re.IGNORECASE)
_MAILTO = re.compile(r"\[mailto:([^\]\s]+)\]", re.IGNORECASE)   # Outlook: Name [mailto:a@b]
_ADDRESS = re.compile(r"[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+")
_ANGLED = re.compile(r"<([^<>\s]+@[^<>\s]+)>")
# The raw pre-check below is made from the same phrase lists.  A phrase with a long ASCII
# run is looked for by that run (it survives any charset and quoted-printable: "Message
# transf=C3=A9r=C3=A9"); one without (Cyrillic, CJK) in UTF-8 and in the legacy charsets
# mail used for its script, raw and quoted-printable.  Not seen: base64-encoded text,
# non-Latin phrases in capitals, other charsets.
_RAW_SUBJECT = re.compile(rb"subject:[ \t]*(?:fwd?|wg|tr|rv|enc|doorst|vl|vs|vb|i)[ \t]*:")
_RAW_LABEL = re.compile(
    rb"^[ \t]*\*?(?:%s|[a-z]{0,12}(?:[\x80-\xff]|=[0-9a-f]{2})[^\s:]{0,30}(?: [^\s:]{1,30})?)"
    rb"\*?[ \t]*(?::|\xef\xbc\x9a)"
    % b"|".join(re.escape(label.lower().encode()) for label in _FROM_LABELS if label.isascii()),
    re.MULTILINE)
# What stands between two dash runs (dashes end it, so MIME boundaries rarely qualify;
# the closing run may hold a quoted-printable soft line break) ...
_RAW_DASHED = re.compile(rb"--+[ \t]*([^-\s][^-]{0,400}?)(?=[ \t]*-(?:=\r?\n)?-)")
# ... and the text before a colon that ends a line (or meets a tag: HTML-only mail).
_RAW_COLON = re.compile(rb":[ \t]*(?:\r?\n|<|\Z)")
_RAW_LEAD = re.compile(rb"(?:\xef\xbb\xbf)?(?:[ \t]*\r?\n)*")
_RAW_ESCAPES = re.compile(rb"\x1b[$(][@a-z]")     # ISO-2022 shifts (lowercased)
_RAW_BELOW = WINDOW * 4     # bytes after a rule searched for a From label: 4 a character
_LEGACY = ("koi8-r", "cp1251", "iso8859-5", "gb18030", "big5", "shift_jis", "euc_jp",
           "iso2022_jp", "euc_kr")


def _raw_keys(phrases) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """(7-bit keys, 8-bit keys) of phrases: lowercased as raw.lower() does, blanks single."""
    keys: dict[bytes, None] = {}
    for phrase in phrases:
        runs = sorted(re.findall(r"[ -~]+", phrase), key=len, reverse=True)
        if runs and len(runs[0].strip()) >= 6:
            keys[runs[0].strip().encode("ascii").lower()] = None
            continue
        for codec in ("utf-8",) + _LEGACY:
            try:
                words = [w.encode(codec) for w in phrase.split()]
            except UnicodeEncodeError:
                continue
            if codec.startswith("iso2022"):      # the text between its escape sequences
                words = [w[3:-3] for w in words]
            else:
                qp = (binascii.b2a_qp(w).replace(b"=\n", b"") for w in words)
                keys[b" ".join(qp).lower()] = None
            keys[b" ".join(words).lower()] = None
    return tuple(k for k in keys if k.isascii()), tuple(k for k in keys if not k.isascii())


_DASHED_KEYS = _raw_keys(_FORWARDED + _ORIGINAL)
_BEGIN_KEYS = _raw_keys(_BEGIN)


def may_be_forward(raw: bytes, window: int | None = None) -> bool:
    """Cheap test before parsing: could `raw` hold a forward that forwarded_sender finds?

    True for an attached message (a message/ type: rfc822 or global), a Subject field
    with a forward prefix ("Fwd:", German "WG:", French "TR:": it also stands for the
    forwards this test cannot see, such as markers inside base64-encoded text), or, in
    the first `window` bytes (None: all), a marker phrase between dashes, an Apple Mail
    phrase before a colon, or a rule of underscores with a From label below it.  The
    bytes are lowercased once; phrases are looked for only in the few stretches of the
    body that stand between dashes or before a colon.
    """
    low = (raw if window is None else raw[:window]).lower()
    if len(low) < len(raw) and (b"rfc822" in raw or b"RFC822" in raw):
        return True
    if b"message/" in low:
        return True
    lead = _RAW_LEAD.match(low).end()     # as parse: a byte-order mark, blank lines
    body = _body_start(low, lead)
    if _forward_subject(low[lead:body]):
        return True
    for m in _RAW_DASHED.finditer(low, body):
        if _holds(m.group(1), _DASHED_KEYS):
            return True
    for m in _RAW_COLON.finditer(low, body):
        line = _unbreak(low[max(body, m.start() - 240):m.start()])
        if _holds(line[max(line.rfind(b"\n"), line.rfind(b">")) + 1:], _BEGIN_KEYS):
            return True
    return low.find(b"_" * 20, body) >= 0 and _rule_before_from(low, body)


def _body_start(low: bytes, lead: int) -> int:
    """Where the header block ends: its first blank line (LF or CRLF), else the end."""
    end = low.find(b"\n\n", lead)
    crlf = low.find(b"\n\r\n", lead, len(low) if end < 0 else end)
    return crlf + 1 if crlf >= 0 else end + 1 if end >= 0 else len(low)


def _unbreak(text: bytes) -> bytes:
    """Quoted-printable soft line breaks (RFC 2045 6.7 rule 5) removed: they split words."""
    return text.replace(b"=\r\n", b"").replace(b"=\n", b"") if b"=\n" in text or b"=\r" in text \
        else text


def _holds(text: bytes, keys: tuple[tuple[bytes, ...], tuple[bytes, ...]]) -> bool:
    text = _unbreak(text)
    if b"\x1b" in text:
        text = _RAW_ESCAPES.sub(b"", text)
    text = b" ".join(text.split())
    return any(k in text for k in keys[0]) or (
        not text.isascii() and any(k in text for k in keys[1]))


def _forward_subject(head: bytes) -> bool:
    at = head.find(b"subject:")
    while at >= 0:
        if head[at - 1:at] in (b"", b"\n") and _RAW_SUBJECT.match(head, at):
            return True
        at = head.find(b"subject:", at + 8)
    return False


def _rule_before_from(low: bytes, body: int) -> bool:
    """A rule of underscores alone on its line with a From label below it (Outlook 2010).

    Mailman's footer rule is followed by the list's name and address, which are no label;
    a digest's rule is followed by the next message's headers, as forwarded_sender reads.
    """
    at = low.find(b"_" * 20, body)
    while at >= 0:
        start = low.rfind(b"\n", 0, at) + 1
        end = low.find(b"\n", at)
        end = len(low) if end < 0 else end
        if not low[start:end].strip(b" \t\r_") and _RAW_LABEL.search(low, end, end + _RAW_BELOW):
            return True
        at = low.find(b"_" * 20, end)
    return False


def _header(msg: Message, name: str) -> str:
    for key, value in msg.raw_items():        # raw: compat32 str, 8-bit bytes surrogateescaped
        if key.lower() == name:
            return decode_header(value)
    return ""


def _address(value: str) -> str | None:
    """The bare lowercased address in a From value, or None."""
    value = _MAILTO.sub(r"<\1>", value.replace("*", " "))
    address = parseaddr(value)[1].strip().lower()
    if not _ADDRESS.fullmatch(address):
        angled = _ANGLED.search(value)         # "Name <a@b> on behalf of ...": the first <a@b>
        address = angled.group(1).lower() if angled else ""
    return address if _ADDRESS.fullmatch(address) else None


def _sender_after(block: str) -> tuple[bool, str | None]:
    """(found a From line, its address) in the header lines that follow a marker."""
    lines = [line for line in block.split("\n")[:HEADER_LINES * 2] if line.strip()]
    for i, line in enumerate(lines[:HEADER_LINES]):
        m = _FROM_LINE.match(line)
        if not m:
            continue
        value = m.group("value")
        if "@" not in value and i + 1 < len(lines) and not _OTHER_LABEL.match(lines[i + 1]):
            value += " " + lines[i + 1]        # a long From line wrapped by the client
        return True, _address(value)
    return False, None


def _block_sender(text: str, is_reply: bool) -> tuple[bool, str | None]:
    """The first forward block's sender in one body text."""
    text = unicodedata.normalize("NFC", text[:MAX_SCAN].replace("\r\n", "\n"))
    for m in _MARKER.finditer(text):
        if m.group("original") and is_reply:
            continue
        found, sender = _sender_after(text[m.end():m.end() + WINDOW])
        if found:
            return True, sender
    return False, None


def _parts(msg: Message) -> list[tuple[Message, str]]:
    """(part, its parent's type) in document order, bounded; attached messages not entered."""
    out: list[tuple[Message, str]] = []
    stack = [(msg, "", 0)]
    while stack and len(out) < MAX_PARTS:
        part, parent, depth = stack.pop()
        out.append((part, parent))
        ctype = part.get_content_type()
        payload = part.get_payload()
        if ctype.startswith("multipart/") and isinstance(payload, list) and depth < MAX_DEPTH:
            stack.extend((child, ctype, depth + 1) for child in reversed(payload)
                         if isinstance(child, Message))
    return out


def _body_text(part: Message) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    text = decode_bytes(data[:MAX_SCAN * 4], part.get_content_charset())
    return html_to_text(text) if part.get_content_type() == "text/html" else text


def _texts(parts: list[tuple[Message, str]]) -> list[str]:
    """The inline body texts, plain ones first, HTML (as text) only when there is no plain."""
    inline = [p for p, _ in parts if p.get_content_disposition() != "attachment"
              and not p.get_filename()]
    plain = [p for p in inline if p.get_content_type() == "text/plain"]
    chosen = plain or [p for p in inline if p.get_content_type() == "text/html"]
    return [_body_text(p) for p in chosen]


def _attached_sender(parts: list[tuple[Message, str]]) -> str | None:
    for part, parent in parts:
        if part.get_content_type() not in ("message/rfc822", "message/global"):
            continue
        if parent == "multipart/report":
            continue                           # a bounce's copy of the bounced message
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return _address(_header(payload[0], "from"))
    return None


def forwarded_sender(msg: Message) -> str | None:
    """The bare lowercased address of the original sender of a forwarded mail, or None."""
    try:
        return _forwarded_sender(msg)
    except Exception:  # hostile parameters inside the message: no sender rather than no import
        return None


def _forwarded_sender(msg: Message) -> str | None:
    parts = _parts(msg)
    is_reply = bool(_REPLY_SUBJECT.match(_header(msg, "subject")))
    for text in _texts(parts):
        found, sender = _block_sender(text, is_reply)
        if found:
            return sender
    return _attached_sender(parts)
