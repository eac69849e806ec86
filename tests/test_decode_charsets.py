"""Header and body decoding: agreement with the stdlib decoder, raw 8-bit text, damage."""

import email.header
from email.utils import getaddresses

import pytest
from hypothesis import given, settings, strategies as st

from importer.mail.decode import (charset_codec, decode_bytes, decode_header, decode_header_ex,
                             parse_addresses)

SAMPLES = [
    ("Jörg Müller: Grüße", "iso-8859-1"),
    ("Привет, как дела?", "koi8-r"),
    ("日本語の件名です", "shift_jis"),
    ("中文邮件主题", "gb2312"),
    ("日本語の件名", "iso-2022-jp"),
    ("繁體中文主旨", "big5"),
    ("한국어 제목", "euc-kr"),
    ("Ελληνικά θέματα", "iso-8859-7"),
    ("Zażółć gęślą jaźń", "iso-8859-2"),
    ("emoji 🎉 and ünïcödé", "utf-8"),
]


def _reference(value: str) -> str:
    return str(email.header.make_header(email.header.decode_header(value)))


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


@pytest.mark.parametrize("text,charset", SAMPLES)
def test_encoded_words_match_the_stdlib_decoder(text, charset):
    encoded = email.header.Header(text, charset).encode()
    assert decode_header(encoded) == _reference(encoded) == text


@pytest.mark.parametrize("text,charset", SAMPLES)
def test_raw_8bit_header_in_utf8_or_hinted_charset_is_read(text, charset):
    raw = text.encode(charset)
    assert decode_header(raw, hint=charset) == text
    assert decode_header(text.encode("utf-8")) == text


def test_raw_8bit_header_as_compat32_surrogates_is_decoded():
    value = "Jörg Müller".encode("latin-1").decode("ascii", "surrogateescape")
    text, defects = decode_header_ex(value)
    assert text == "Jörg Müller"
    assert "8bit-header" in defects


def test_short_latin_text_is_not_guessed_as_greek():
    assert decode_header("José García".encode("latin-1")) == "José García"


def test_adjacent_encoded_words_join_without_their_space():
    assert decode_header("=?utf-8?q?a?= =?utf-8?q?b?=\r\n =?utf-8?q?c?= d") == "abc d"


def test_character_split_across_two_encoded_words_is_joined():
    raw = "日".encode("utf-8")
    value = "=?utf-8?q?" + "".join(f"={b:02X}" for b in raw[:2]) + "?= =?utf-8?q?" + \
        f"={raw[2]:02X}" + "?="
    assert decode_header(value) == "日"


def test_unknown_charset_is_a_defect_and_still_text():
    text, defects = decode_header_ex("=?x-no-such-charset?q?caf=C3=A9?=")
    assert text == "café"
    assert "bad-charset" in defects


@pytest.mark.parametrize("label", ["zlib", "base64", "rot13", "unicode_escape", "bz2",
                                   "undefined", "hex"])
def test_non_text_codecs_named_in_mail_are_refused(label):
    assert charset_codec(label) is None
    text, defects = decode_header_ex(f"=?{label}?q?abc?=")
    assert text == "abc" and "bad-charset" in defects


def test_truncated_base64_word_keeps_what_decodes():
    text, defects = decode_header_ex("=?utf-8?b?5pel5pys6Kq?=")
    assert text.startswith("日本") and not _has_surrogate(text)
    assert "bad-charset" in defects


def test_latin1_declared_text_with_windows_quotes_is_read_as_cp1252():
    assert decode_header("=?iso-8859-1?q?=93quoted=94?=") == "\u201cquoted\u201d"


def test_unterminated_encoded_word_is_left_as_written():
    assert decode_header("=?utf-8?q?abc") == "=?utf-8?q?abc"


def test_address_mode_quotes_a_decoded_comma_so_one_address_stays_one():
    text = decode_header_ex("=?utf-8?q?Doe=2C_John?= <j@x.org>, b@y.org", address=True)[0]
    assert getaddresses([text]) == [("Doe, John", "j@x.org"), ("", "b@y.org")]


def test_body_decoding_uses_the_declared_charset_then_guesses():
    assert decode_bytes("Привет".encode("koi8-r"), "koi8-r") == "Привет"
    assert decode_bytes("Grüße".encode("utf-8"), "us-ascii") == "Grüße"
    assert decode_bytes("Grüße".encode("utf-8"), None) == "Grüße"
    assert decode_bytes(b"caf\xe9", "x-bogus") == "café"


def test_body_decoding_keeps_lines_and_drops_nul():
    assert decode_bytes(b"a\r\nb\x00c\n", "utf-8") == "a\r\nb c\n"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_decode_header_never_raises_nor_returns_surrogates_or_controls(value):
    text = decode_header(value)
    assert not _has_surrogate(text)
    assert not any(c < " " and c != "\t" for c in text)


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=60),
       st.sampled_from(["utf-8", "iso-8859-1", "koi8-r", "gb2312",
                                              "shift_jis", "iso-8859-7"]))
def test_any_encodable_text_round_trips_like_the_stdlib(text, charset):
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        return
    encoded = email.header.Header(text, charset).encode()
    assert decode_header(encoded) == _reference(encoded).strip()


_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC'-é ", max_size=15)
_addr = st.from_regex(r"[a-z0-9]{1,6}(\.[a-z0-9_+=-]{1,4})?@[a-z0-9-]{1,6}\.[a-z]{2,3}",
                      fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_name, _addr, st.booleans()), min_size=1, max_size=4))
def test_fast_address_path_agrees_with_getaddresses(entries):
    text = ", ".join(f"{n} <{a}>" if named else a for n, a, named in entries)
    expected = [(n, a) for n, a in getaddresses([text]) if n or a]
    assert parse_addresses(text) == expected


def test_mostly_utf8_text_with_a_bad_byte_stays_utf8():
    """One stray byte made a whole UTF-8 body decode in a wrong code page ("Ã¼" for "ü"),
    and differently in the report and the store."""
    from importer.mail.decode import decode_bytes, guess_codec, mostly_utf8
    text = "Grüße aus München, schöne Tage!\n".encode() * 4 + b"stray \xff byte\n"
    assert mostly_utf8(text) and guess_codec(text) == "utf-8"
    out = decode_bytes(text, None)
    assert "München" in out and "Ã" not in out and out.count("\ufffd") == 1
    latin = "José García, café crème".encode("latin-1")     # no UTF-8 at all: still Latin
    assert not mostly_utf8(latin) and decode_bytes(latin, None) == "José García, café crème"
    mixed = "ü".encode() + "é".encode("latin-1") * 5       # more stray than valid: not UTF-8
    assert not mostly_utf8(mixed)
