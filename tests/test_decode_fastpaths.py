"""The fast paths of importer.mail.decode give exactly what its general paths give."""

from hypothesis import given, settings, strategies as st

from importer.mail.dates import _parse_date, parse_date
from importer.mail.decode import _decode_raw, decode_header_ex, decode_raw

DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Xyz", "mon"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
          "feb", "Foo"]
BLANKS = st.sampled_from([" ", "  ", "\t", " \t"])


@st.composite
def dates(draw) -> str:
    """RFC 5322 dates and their near misses: wrong days, zones, leap seconds, comments."""
    blank = draw(BLANKS)
    parts = []
    if draw(st.booleans()):
        day = draw(st.sampled_from(DAYS[:7]) | st.sampled_from(DAYS))
        parts.append(day + draw(st.sampled_from([",", ", ", ",\t", ""])))
    parts.append(str(draw(st.integers(0, 40))).zfill(draw(st.integers(1, 2))))
    parts.append(draw(st.sampled_from(MONTHS[:12]) | st.sampled_from(MONTHS)))
    parts.append(str(draw(st.one_of(st.integers(1969, 2040), st.integers(0, 99999)))))
    clock = [draw(st.integers(0, 25)), draw(st.integers(0, 61))]
    if draw(st.booleans()):
        clock.append(draw(st.integers(0, 61)))
    parts.append(":".join(str(n).zfill(draw(st.integers(1, 2))) for n in clock))
    zone = draw(st.sampled_from(["+", "-"])) + str(draw(st.integers(0, 2599))).zfill(4)
    others = st.sampled_from(["-0000", "+0000", "GMT", "EST", zone + "x"])
    parts.append(draw(st.just(zone) | others))
    text = blank.join(p for p in parts if p)
    tail = draw(st.sampled_from(["", " ", " (PDT)", " (GMT+02:00)", "\t(CET) x", "x"]))
    return draw(st.sampled_from(["", " ", "\t"])) + text + tail


def _same(a, b) -> bool:
    """Equal values with equal zones (datetimes in two zones compare equal by instant)."""
    return repr(a) == repr(b)


@settings(max_examples=1500, deadline=None)
@given(dates())
def test_date_fast_path_gives_what_parsedate_to_datetime_gives(text):
    assert _same(parse_date(text), _parse_date(text))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x7f), max_size=60))
def test_any_short_ascii_date_text_parses_as_the_general_path(text):
    if text.strip():
        assert _same(parse_date(text), _parse_date(text))


def test_common_dates_take_the_fast_path_and_keep_their_zone():
    dt, zoned = parse_date("Tue, 02 Jul 2019 18:10:00 +0100 (CET)")
    assert zoned and dt.utcoffset().total_seconds() == 3600 and dt.hour == 18
    dt, zoned = parse_date("Mon, 2 Feb 2015 10:00 -0000")
    assert zoned and dt.utcoffset().total_seconds() == 0
    assert parse_date("Mon, 30 Feb 2015 10:00:00 +0000") == (None, False)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80) | st.text(alphabet=st.characters(max_codepoint=0x7f),
                                        max_size=80).map(str.encode))
def test_raw_decoding_fast_path_gives_what_the_general_path_gives(data):
    assert decode_raw(data) == _decode_raw(data, None)
    assert decode_raw(data, "koi8-r") == _decode_raw(data, "koi8-r")


ENCODED = st.builds(
    lambda charset, kind, payload: f"=?{charset}?{kind}?{payload}?=",
    st.sampled_from(["utf-8", "iso-8859-1", "koi8-r", "x-unknown", "bogus", "shift_jis",
                     "us-ascii", "gb2312"]),
    st.sampled_from(["q", "B", "Q", "b"]),
    st.text(alphabet="=ABCDEFabcdef0123456789_+/ xyz", max_size=16))
ASCII_VALUES = st.lists(ENCODED | st.text(alphabet=st.characters(max_codepoint=0x7f),
                                          max_size=12), max_size=4).map("".join)


@settings(max_examples=500, deadline=None)
@given(ASCII_VALUES, st.sampled_from(["koi8-r", "shift_jis", "cp1252", "utf-8"]),
       st.booleans())
def test_ascii_values_read_the_hint_only_after_a_failed_charset(value, hint, address):
    # parse.py decodes ASCII values without guessing a hint unless "bad-charset" comes back.
    data = value.encode("ascii")
    text, codes = decode_header_ex(data, None, address)
    if "bad-charset" not in codes:
        assert (text, codes) == decode_header_ex(data, hint, address)
    assert decode_raw(data) == decode_raw(data, hint)


def test_a_zone_beyond_fourteen_hours_is_ignored_and_flagged():
    """A mailer wrote "-2200": no zone on earth; the time is taken as UTC, flagged zoneless."""
    from importer.mail.dates import parse_date
    for text in ("Thu, 1 Nov 2001 11:19:12 -2200", "Thu, 1 Nov 2001 11:19:12 +1500"):
        dt, zoned = parse_date(text)
        assert (dt.hour, dt.utcoffset().total_seconds(), zoned) == (11, 0, False)
    dt, zoned = parse_date("Thu, 1 Nov 2001 11:19:12 +1400")     # Kiribati: real
    assert dt.utcoffset().total_seconds() == 14 * 3600 and zoned


def test_a_year_written_0000_is_no_date():
    """'Date: ... 0000' became the year 2000 with no defect (parsedate's two-digit years)."""
    from importer.mail.dates import parse_date
    assert parse_date("Mon, 5 Mar 0000 10:00:00 +0000") == (None, False)
    assert parse_date("Thu Nov  1 11:19:12 0000") == (None, False)
    assert parse_date("Mon, 5 Mar 2001 10:00:00 0000")[0].year == 2001     # a zone, not a year
