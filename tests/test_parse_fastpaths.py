"""The fast paths of importer.parse give exactly what its general paths give."""

from hypothesis import assume, given, settings, strategies as st

from importer.mail import headers
from importer import parse
from importer.mail.decode import decode_raw
from importer.records import RawMessage, SourceRef
from mailthreads import ids

# Id parts: mostly what real ids hold, sometimes what the id policy has a word about.
LOCAL = st.text(alphabet=st.sampled_from("abcXYZ019.$-_+=/!#%&'*?^`{|}~@:;"), min_size=1,
                max_size=12)
ODD_LOCAL = st.text(alphabet=st.sampled_from("abc@\"()[] \t<>"), min_size=1)
DOMAIN = st.sampled_from(["example.com", "Mail.Example.COM", "h", "[1.2.3.4]", "Ex:1"])
ODD_DOMAIN = st.sampled_from(["protonmail.internalid", "PROTONMAIL.INTERNALID", "a b", "ex>am",
                              "", "x.protonmail.internalid"])
GAP = st.sampled_from(["", " ", "\t", "\n ", "\n\t"])
ODD_GAP = st.sampled_from(["  ", ", ", " (comment) ", " x "])


def _mostly(draw, usual, odd):
    return draw(odd if draw(st.integers(0, 14)) == 0 else usual)


@st.composite
def id_fields(draw) -> bytes:
    """A Message-ID, References or In-Reply-To value: bracketed ids and what may surround them."""
    count = draw(st.integers(1, 5))
    parts = [f"<{_mostly(draw, LOCAL, ODD_LOCAL)}@{_mostly(draw, DOMAIN, ODD_DOMAIN)}>"
             for _ in range(count)]
    if count > 1 and draw(st.integers(0, 4)) == 0:
        parts.append(parts[0])                      # a repeated id
    text = draw(st.sampled_from(["", " ", "\t"]))
    for part in parts:
        text += part + _mostly(draw, GAP, ODD_GAP)
    if draw(st.integers(0, 9)) == 0:
        text = draw(st.sampled_from(["<<", "x@y ", "from a@b ", "<"])) + text
    return text.rstrip("\n").encode("utf-8")


def _expected(parser, value: bytes):
    found = parser(decode_raw(value))
    return tuple(found) if not isinstance(found, (str, type(None))) else (found,)


@settings(max_examples=1000, deadline=None)
@given(id_fields())
def test_plain_ids_are_what_mailthreads_ids_reads(value):
    fast = parse._plain_ids(value)
    if fast is not None:
        assert fast == _expected(ids.parse_references, value)
        assert fast == _expected(ids.parse_in_reply_to, value)
        assert fast[:1] == _expected(ids.parse_message_id, value)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.text("abcXYZ019.$-_+=/", min_size=1, max_size=20),
                          st.sampled_from(["example.com", "Mail.Example.COM", "h"])),
                min_size=1, max_size=8, unique=True),
       st.sampled_from([" ", "\n ", "\n\t", "", "\t"]))
def test_common_id_fields_take_the_fast_path(pairs, gap):
    assume(len({f"{local}@{domain.lower()}" for local, domain in pairs}) == len(pairs))
    value = gap.join(f"<{local}@{domain}>" for local, domain in pairs).encode()
    assert parse._plain_ids(value) == _expected(ids.parse_references, value)


NAMES = st.sampled_from([b"From", b"to", b"SUBJECT", b"X-Weird!#", b"Received", b"From ",
                         b"Subject ", b"Date", b"content-type", b"Message-ID"])
VALUES = st.binary(max_size=30).map(lambda v: v.replace(b"\n", b" "))


@st.composite
def header_blocks(draw) -> bytes:
    """Header blocks as mailers write them, and as they damage them."""
    eol = draw(st.sampled_from([b"\n", b"\r\n"]))
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            lines.append(draw(st.sampled_from([b" folded", b"\tmore", b"From x@y Mon", b"\r",
                                               b"no colon here", b"  "])))
        else:
            lines.append(draw(NAMES) + b":" + draw(st.sampled_from([b"", b" ", b"\t"]))
                         + draw(VALUES))
    block = eol.join(lines)
    return block + (eol if lines and draw(st.integers(0, 5)) else b"")


@settings(max_examples=1000, deadline=None)
@given(header_blocks())
def test_clean_header_fields_are_what_the_line_loop_reads(head):
    fast = headers._clean_fields(head)
    defects = []
    slow = headers._split_fields(head, defects)
    if fast is not None:
        assert fast == slow
        assert defects == []


def _message(from_value: bytes, extra: bytes = b"") -> RawMessage:
    raw = (b"From: " + from_value + b"\nTo: a@example.org, B <b@example.org>\n"
           b"Subject: s\nDate: Mon, 2 Feb 2015 10:00:00 +0000\nMessage-ID: <m@example.net>\n"
           + extra + b"\nbody\n")
    return RawMessage(SourceRef("t.mbox", 0), raw)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40).map(lambda v: v.replace(b"\n", b" ")),
       st.sampled_from([b"", b"Content-Type: text/plain; charset=koi8-r\n"]))
def test_cached_address_fields_give_the_record_an_uncached_parse_gives(from_value, extra):
    parse._ADDRESSES.clear()
    first = parse.parse_record(_message(from_value, extra))
    again = parse.parse_record(_message(from_value, extra))      # from the cache, if kept
    parse._ADDRESSES.clear()
    other = parse.parse_record(_message(from_value))             # no hint: cache not shared
    parse._ADDRESSES.clear()
    fresh = parse.parse_record(_message(from_value))
    assert first == again
    assert other == fresh


def test_address_cache_is_bounded():
    parse._ADDRESSES.clear()
    for n in range(parse._ADDRESSES_KEPT + 10):
        parse.parse_record(_message(b"p%d@example.net" % n))
    assert len(parse._ADDRESSES) <= parse._ADDRESSES_KEPT
