"""Turning mail's bytes into values: header and body text in any charset, and addresses.

Dates are read by `importer.mail.dates`.

Rules, in the order they are applied:

* A declared charset is looked up through `charset_codec`, which maps the names real
  mailers write (``ks_c_5601-1987``, ``x-sjis``, ``iso-8859-8-i``, ``unknown-8bit``) to
  Python codecs and refuses codecs that are no text encodings (``zlib``, ``base64``,
  ``rot13``, ``unicode_escape``): a charset name comes from the mail and is hostile.
* The declared charset is always tried first and strictly, so where Python's own
  decoder (the reference) gets a text right, we get the same text.  Only when it fails
  do we try a superset (gb2312 -> gb18030, shift_jis -> cp932, ...), then the guess below.
  One exception: iso-8859-1/us-ascii text with bytes 0x80-0x9f is read as windows-1252,
  because those bytes are C1 controls in latin-1 and curly quotes in what Outlook sent.
* Undeclared 8-bit text (RFC 5322 forbids it in headers, RFC 6532 allows UTF-8) is read
  as UTF-8, else in the caller's hint charset (the body's declared charset: the mailer
  that wrote raw headers wrote its body in the same charset), else in chardet's guess
  restricted to charsets mail used, else windows-1252 with replacement characters.
* Adjacent encoded words in one charset are joined before decoding (RFC 2047 section 6.2
  drops the space between them; old Japanese mailers split one character across two).
* The result never holds lone surrogates ('\\udcXX' from surrogateescape) nor control
  characters other than tab; folding is undone (RFC 5322 section 2.2.3).
"""

from __future__ import annotations

import binascii
import codecs
import re
from email.utils import getaddresses

import chardet


__all__ = ["decode_header", "decode_header_ex", "decode_bytes", "decode_raw",
           "charset_codec", "guess_codec", "parse_addresses", "unobfuscate"]

# Names mailers write that Python does not know, mapped to the codec that reads them.
_ALIASES = {
    "x-gbk": "gbk", "gb_2312-80": "gb2312", "x-gb2312": "gb2312", "chinese": "gb2312",
    "x-sjis": "cp932", "shift-jis": "shift_jis", "windows-31j": "cp932", "ms_kanji": "cp932",
    "x-euc-jp": "euc_jp", "x-euc": "euc_jp", "iso-8859-8-i": "iso8859-8",
    "iso-8859-6-i": "iso8859-6", "iso-8859-8-e": "iso8859-8", "iso-8859-6-e": "iso8859-6",
    "windows-874": "cp874", "x-windows-874": "cp874", "x-mac-roman": "mac_roman",
    "x-mac-cyrillic": "mac_cyrillic", "x-mac-greek": "mac_greek", "x-cp1250": "cp1250",
    "x-cp1251": "cp1251", "x-cp1252": "cp1252", "ansi": "cp1252", "ks_c_5601": "euc_kr",
    "x-big5": "big5", "big5-hkscs": "big5hkscs", "x-x-big5": "big5", "cn-big5": "big5",
    "x-unicode-2-0-utf-7": "utf-7", "utf8mb4": "utf-8", "x-utf-8": "utf-8",
}
# Names that say "8-bit, charset not known": read as undeclared text, no complaint.
_UNKNOWN = frozenset({"unknown-8bit", "x-unknown", "unknown", "x-user-defined", "8bit",
                      "default", "none", "charset", "x-none", ""})
# Text codecs that turn mail into something other than its text (escape processors).
_REFUSED = frozenset({"unicode-escape", "raw-unicode-escape", "undefined", "idna",
                      "punycode", "charmap", "utf-8-sig", "unicode-internal"})
# When the declared codec fails, its usual superset (same bytes, more characters).
_SUPERSETS = {
    "gb2312": "gb18030", "gbk": "gb18030", "shift_jis": "cp932", "euc_jp": "cp932",
    "euc_kr": "cp949", "big5": "big5hkscs",
    "iso2022_jp": "iso2022_jp_ext", "iso8859-9": "cp1254", "tis-620": "cp874",
}
_C1 = re.compile(rb"[\x80-\x9f]")
_HIGH_RUN = re.compile(rb"[\x80-\xff]+")
_NOT_LETTERS = bytes(b for b in range(256) if not (65 <= b <= 90 or 97 <= b <= 122))
# chardet eras mail actually used; Mac and DOS code pages are never right for mail.
_ERAS = chardet.EncodingEra.MODERN_WEB | chardet.EncodingEra.LEGACY_ISO
_CTRL = re.compile("[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")
_BODY_CTRL = re.compile("[\x00\ud800-\udfff]")
_FOLD = re.compile(rb"\r?\n(?=[ \t])")
_EWORD = re.compile(rb"=\?([^?\s]{1,75})\?([qQbB])\?([^?]*?)\?=")
_QHEX = re.compile(rb"=([0-9A-Fa-f]{2})")
_SPECIALS = frozenset('()<>@,;:\\".[]')
_PRINTABLE = re.compile(rb"[\t -~]*")      # ASCII text without controls or folds
_cache: dict[str, str | None] = {}


def charset_codec(name: str | None) -> str | None:
    """Python codec name for a charset label from mail, or None if unknown or refused."""
    key = (name or "").strip().strip("\"'").lower()
    if key in _cache:
        return _cache[key]
    label = key.split("*", 1)[0]            # RFC 2231 language suffix: utf-8*en
    label = _ALIASES.get(label, label)
    found = None
    for candidate in (label, label[2:] if label.startswith("x-") else None):
        if not candidate or candidate in _UNKNOWN:
            continue
        try:
            info = codecs.lookup(candidate)
        except (LookupError, ValueError):
            continue
        if getattr(info, "_is_text_encoding", True) and info.name not in _REFUSED:
            found = info.name
            break
    if len(_cache) < 1000:                   # hostile mail can invent unbounded names
        _cache[key] = found
    return found


def guess_codec(data: bytes, hint: str | None = None, sample: int = 2048) -> str:
    """The codec undeclared 8-bit `data` decodes in: UTF-8, the hint, chardet, cp1252.

    chardet reads the first `sample` bytes (it costs about a microsecond a byte).
    """
    for codec in ("utf-8", charset_codec(hint)):
        if codec and _decodes(data, codec):
            return codec
    if mostly_utf8(data):
        return "utf-8"          # decoded with "replace": the few bad bytes become U+FFFD
    if _latin_like(data) and _decodes(data, "cp1252"):
        return "cp1252"
    try:
        found = chardet.detect(data[:sample], encoding_era=_ERAS).get("encoding")
    except Exception:  # chardet is a heuristic: its failure only costs the guess
        found = None
    codec = charset_codec(found)
    if codec and _decodes(data, codec):
        return codec
    return "cp1252"


_UTF8_SEQ = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}"
                       rb"|[\xf0-\xf4][\x80-\xbf]{3}")


def mostly_utf8(data: bytes) -> bool:
    """UTF-8 text with a few bad bytes (a truncated or hand-edited mail): decoded whole in a
    wrong code page, every "ü" of it became "Ã¼". Mostly UTF-8 means at least two valid
    multi-byte sequences and fewer stray 8-bit bytes than those (and at most 1 in 20)."""
    good = _UTF8_SEQ.findall(data)
    if len(good) < 2:
        return False
    stray = sum(map(len, _HIGH_RUN.findall(data))) - sum(map(len, good))
    return 0 < stray < len(good) and stray <= max(2, sum(map(len, good)) // 20)


def _latin_like(data: bytes) -> bool:
    """Isolated 8-bit bytes between ASCII letters ("Jos\xe9 Garc\xeda"): a Latin script.

    Cyrillic, Greek, Hebrew and CJK text is runs of 8-bit bytes; on short Latin text
    chardet guesses wildly (Greek for "Jos\xe9"), so Latin-looking text is windows-1252.
    """
    runs = _HIGH_RUN.findall(data)
    letters = len(data.translate(None, _NOT_LETTERS))
    return max(map(len, runs), default=0) <= 2 and sum(map(len, runs)) <= letters


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _clean(text: str, pattern: re.Pattern = _CTRL) -> str:
    """No surrogates, no controls but tab: safe to store, print and compare."""
    return pattern.sub(_ctrl_repl, text) if pattern.search(text) else text


def _ctrl_repl(m: re.Match) -> str:
    return "\ufffd" if "\ud800" <= m.group() <= "\udfff" else " "


def _decode_declared(data: bytes, codec: str | None, defects: set[str],
                     hint: str | None) -> str:
    """Bytes in a declared codec: strictly, then its superset, then as undeclared text."""
    if codec is None:
        defects.add("bad-charset")
        return _decode_guess(data, hint, None)
    if codec == "iso8859-1" and _C1.search(data):
        codec = "cp1252"
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        pass
    defects.add("bad-charset")
    superset = _SUPERSETS.get(codec)
    if superset and _decodes(data, superset):
        return data.decode(superset)
    if codec != "ascii":
        # Mostly right (a truncated UTF-8 word, one stray byte): keep the declared
        # charset with U+FFFD for the damage rather than guess the whole text anew.
        text = data.decode(codec, "replace")
        bad = text.count("\ufffd")
        if sum(1 for c in text if c > "\x7f") - bad >= bad:
            return text
    return _decode_guess(data, hint, None)


def _decode_guess(data: bytes, hint: str | None, defects: set[str] | None) -> str:
    if data.isascii():
        if b"\x1b" in data:      # raw ISO-2022 (7-bit, escape sequences): old Japanese mail
            for codec in ("iso2022_jp_ext", "iso2022_jp_2", "iso2022_kr"):
                if _decodes(data, codec):
                    return data.decode(codec)
        return data.decode("ascii")
    if defects is not None:
        defects.add("8bit-header")
    codec = guess_codec(data, hint)
    if defects is not None and codec == "utf-8" and not _decodes(data, "utf-8"):
        defects.add("bad-utf8")      # mostly UTF-8: its stray bytes are shown as U+FFFD
    return data.decode(codec, "replace")


def decode_raw(value, hint: str | None = None) -> str:
    """A header value with raw 8-bit bytes made text, encoded words left as they are.

    For Message-ID, References, Date and Received, where RFC 2047 does not apply.
    """
    data = _as_bytes(value)
    if _PRINTABLE.fullmatch(data):          # most ids and dates: _decode_raw gives the same
        return data.decode("ascii")
    return _decode_raw(data, hint)


def _decode_raw(data: bytes, hint: str | None) -> str:
    return _clean(_decode_guess(_FOLD.sub(b"", data), hint, None))


def _as_bytes(value) -> bytes:
    """Header values arrive as str holding surrogateescaped bytes (compat32), or bytes."""
    if value is None:
        return b""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if not isinstance(value, str):
        value = str(value)
    return value.encode("utf-8", "surrogateescape")


def _b64(text: bytes, defects: set[str]) -> bytes:
    text = re.sub(rb"[^A-Za-z0-9+/]", b"", text)
    if len(text) % 4 == 1:
        text = text[:-1]
        defects.add("bad-encoded-word")
    if len(text) % 4:
        text += b"=" * (4 - len(text) % 4)
    try:
        return binascii.a2b_base64(text)
    except binascii.Error:
        defects.add("bad-encoded-word")
        return b""


def _q(text: bytes) -> bytes:
    return _QHEX.sub(lambda m: bytes([int(m.group(1), 16)]), text.replace(b"_", b" "))


def _words(data: bytes, defects: set[str]) -> list[tuple[str | None, bytes, str]]:
    """Split into (label, bytes, kind) runs: kind 'word' for encoded words, 'text' else."""
    parts: list[tuple[str | None, bytes, str]] = []
    pos = 0
    for m in _EWORD.finditer(data):
        gap = data[pos:m.start()]
        if gap and not (gap.isspace() and parts and parts[-1][2] == "word"):
            parts.append((None, gap, "text"))    # RFC 2047 6.2: drop space between words
        label = m.group(1).decode("ascii", "replace").lower()
        raw = m.group(3)
        payload = _b64(raw, defects) if m.group(2) in b"bB" else _q(raw)
        if parts and parts[-1][2] == "word" and parts[-1][0] == label:
            parts[-1] = (label, parts[-1][1] + payload, "word")
        else:
            parts.append((label, payload, "word"))
        pos = m.end()
    if pos < len(data):
        parts.append((None, data[pos:], "text"))
    return parts


def _quote(text: str, in_quotes: bool) -> str:
    """Protect an encoded word's text inside an address list (Doe=2C John -> "Doe, John")."""
    if in_quotes:
        return text.replace("\\", "\\\\").replace('"', '\\"')
    if any(c in _SPECIALS for c in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def _quote_state(text: str, in_quotes: bool) -> bool:
    if '"' not in text:
        return in_quotes
    escaped = False
    for c in text:
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == '"':
            in_quotes = not in_quotes
    return in_quotes


def decode_header_ex(value, hint: str | None = None,
                     address: bool = False) -> tuple[str, frozenset[str]]:
    """Decode a header value; also return defect codes seen.

    `address=True` quotes decoded words that hold specials, so that
    `email.utils.getaddresses` on the result splits where the sender meant.  The hint
    is read only for 8-bit bytes and for encoded words whose charset fails (a
    "bad-charset" defect): callers may skip guessing one for other ASCII values.
    """
    data = _as_bytes(value)
    if b"\n" in data:
        data = _FOLD.sub(b"", data)
    if data.isascii() and b"=?" not in data and b"\x1b" not in data:   # most fields
        return _clean(data.decode("ascii")).strip(), frozenset()
    defects: set[str] = set()
    out: list[str] = []
    in_quotes = False
    for label, chunk, kind in _words(data, defects):
        if kind == "text":
            text = _decode_guess(chunk, hint, defects)
            if address:
                in_quotes = _quote_state(text, in_quotes)
        else:
            text = _decode_declared(chunk, charset_codec(label), defects, hint)
            if address:
                text = _quote(text, in_quotes)
        out.append(text)
    return _clean("".join(out)).strip(), frozenset(defects)


def decode_header(value, hint: str | None = None) -> str:
    """A header value as a person reads it: encoded words and raw 8-bit bytes decoded."""
    return decode_header_ex(value, hint)[0]


def decode_bytes(data: bytes, declared: str | None) -> str:
    """A body's bytes as text: the declared charset, else a guess; never raises."""
    codec = charset_codec(declared) if declared else None
    if codec is None and not data.isascii():     # a body: worth a larger sample
        text = data.decode(guess_codec(data, None, 65536), "replace")
    elif codec is None:
        text = _decode_guess(data, None, None)
    else:
        text = _decode_declared(data, codec, set(), None)
    return _clean(text, _BODY_CTRL)


# Addresses ------------------------------------------------------------------------------

_ATOM_NAME = r"[A-Za-z0-9'\- \t\u0080-\U0010ffff]*"
_DOT_ATOM = r"[A-Za-z0-9_%+=\-]+(?:\.[A-Za-z0-9_%+=\-]+)*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*"
_SIMPLE_ADDR = re.compile(rf"\s*(?:({_ATOM_NAME}?)\s*<({_DOT_ATOM})>|({_DOT_ATOM}))\s*")


# Mailman 2's pipermail archives write every address as "jjl at pobox.com (John J. Lee)":
# read as written, each sender is a bare user name "jjl", which RT takes for a user login.
# Only an address that is the whole field item is turned back; text is never touched.
_OBFUSCATED = re.compile(r"[ \t]*([^\s@<>()\[\],;:\"]{1,64}) at "
                         r"((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
                         r"(?:[ \t]*\(([^()]{0,200})\))?[ \t]*")


def unobfuscate(text: str) -> str:
    """"jjl at pobox.com (John J. Lee)" -> "John J. Lee <jjl@pobox.com>", item by item of an
    address list; anything else is returned as it is."""
    if " at " not in text:
        return text
    items = text.split(",")
    out = []
    for item in items:
        m = _OBFUSCATED.fullmatch(item)
        if m is None:
            out.append(item)
            continue
        local, host, name = m.groups()
        address = f"{local}@{host}"
        out.append(f" {_quoted(name)} <{address}>" if name and name.strip() else f" {address}")
    return ",".join(out).strip()


def _quoted(name: str) -> str:
    name = " ".join(name.split())
    return name if re.fullmatch(r"[\w .'-]+", name) else '"' + name.replace('"', "'") + '"'


def parse_addresses(text: str) -> list[tuple[str, str]]:
    """(display name, address) pairs of a decoded address field, as getaddresses gives them.

    Plain "Name <a@b>" and "a@b" lists (nearly all mail) take a fast path that gives
    the same pairs as `email.utils.getaddresses`; anything else goes to getaddresses
    (after `unobfuscate`). Pairs with neither name nor address are left out.
    """
    pairs = []
    for piece in text.split(","):
        m = _SIMPLE_ADDR.fullmatch(piece)
        if m is None:
            if piece.strip():
                return _getaddresses(unobfuscate(text))
            continue
        pairs.append((" ".join(m.group(1).split()), m.group(2)) if m.group(2)
                     else ("", m.group(3)))
    return pairs


def _getaddresses(text: str) -> list[tuple[str, str]]:
    pairs = [(n, a) for n, a in getaddresses([text]) if n or a]
    if not pairs and text.strip():
        try:   # Python 3.13+ (and patched 3.11/3.12) refuse ambiguous lists when strict
            pairs = [(n, a) for n, a in getaddresses([text], strict=False) if n or a]
        except TypeError:
            pass
    return pairs
