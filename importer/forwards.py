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

import re
import unicodedata
from email.message import Message
from email.utils import parseaddr

from importer.html2text import html_to_text

try:
    from importer.decode import decode_bytes, decode_header
except ImportError:  # importer.decode is written alongside; content.py holds the stand-in
    from importer.content import decode_bytes, decode_header

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
_FORWARD_SUBJECT = rb"^subject:[ \t]*(?:fwd?|wg|tr|rv|enc|doorst|vl|vs|vb|i)[ \t]*:"


def _raw_hints() -> re.Pattern:
    """The bytes test for may_be_forward, made from the same phrases as the text test."""
    hints = [rb"message/rfc822", rb"message/global", rb"_{20,}", _FORWARD_SUBJECT]
    for phrase in _FORWARDED + _BEGIN + _ORIGINAL:
        # The longest ASCII run survives any charset and most quoted-printable.
        runs = sorted(re.findall(r"[ -~]+", phrase), key=len, reverse=True)
        if runs and len(runs[0].strip()) >= 6:
            hints.append(re.escape(runs[0].strip().encode("ascii")).replace(rb"\ ", rb"\s+"))
        else:
            hints.append(re.escape(phrase.encode("utf-8")))
    return re.compile(b"|".join(hints), re.IGNORECASE | re.MULTILINE)


_HINTS = _raw_hints()


def may_be_forward(raw: bytes) -> bool:
    """Cheap test before parsing: could `raw` hold a forward that forwarded_sender finds?

    It cannot see markers inside base64-encoded text; a Subject beginning with a forward
    prefix ("Fwd:", German "WG:", French "TR:") makes it answer yes for those.
    """
    return _HINTS.search(raw) is not None


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
