"""Properties of the mbox reader: round trips through write_mboxrd, nothing dropped, read == scan."""

import io

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from importer.read.mbox import MboxSplitter, write_mboxrd
from importer.records import RawMessage
from importer.read.archive import Archive

FROM = b"From bob@example.org Tue Feb  2 12:34:56 1999"
_prefix = st.sampled_from([b"", b"From ", b">From ", b">>From ", b">>>From ", b"From - ",
                           FROM, b"Content-Length: 3", b"\r", b"Subject: x"])
_ending = st.sampled_from([b"\n", b"\r\n", b"\n\n", b"\r\n\r\n"])
_line = st.tuples(_prefix, st.binary(max_size=30), _ending).map(b"".join)
message = st.tuples(st.lists(_line, max_size=8), st.binary(max_size=10)).map(
    lambda parts: b"".join(parts[0]) + parts[1])      # last line may lack its newline


def stored(raw: bytes) -> bytes:
    """The contract: a message comes back exactly, gaining a newline if it had none."""
    return raw if raw.endswith(b"\n") else raw + b"\n"


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(message, min_size=1, max_size=6))
@example(msgs=[b"Content-Length: 3\n\n\x00"])   # a length that would swallow the last blank line
def test_mboxrd_round_trip_is_byte_exact(tmp_path_factory, msgs):
    path = tmp_path_factory.mktemp("rt") / "out.mbox"
    with open(path, "wb") as fp:
        write_mboxrd([(FROM, m) for m in msgs], fp)
    with Archive([str(path)]) as archive:
        items = list(archive.scan())
        assert all(isinstance(i, RawMessage) for i in items)
        assert [i.raw for i in items] == [stored(m) for m in msgs]
        assert [i.from_line for i in items] == [FROM] * len(msgs)
        assert [archive.read(i.source) for i in items] == [i.raw for i in items]


_fragment = st.one_of(
    st.sampled_from([FROM + b"\n", FROM + b"\r\n", b"From - \n", b"From Russia\n", b"\n",
                     b"\r\n", b"Subject: s\n", b">From q\n", b"Content-Length: 4\n",
                     b"Content-Length: 0\n", b"\xef\xbb\xbf", b"x"]),
    st.binary(max_size=12))


@settings(max_examples=400)
@given(st.lists(_fragment, max_size=30).map(b"".join))
def test_pieces_and_separators_cover_every_byte(data):
    """Between two pieces lie only a separator blank line and the next From_ line."""
    pos = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    for piece in MboxSplitter(io.BytesIO(data), max_message=64):
        gap = data[pos:piece.offset]
        if piece.from_line is None:
            assert gap == b""
        else:
            line = gap.lstrip(b"\r\n") if pos else gap
            assert line.rstrip(b"\r\n") == piece.from_line
            assert len(gap) - len(line) <= 2
        if piece.kind != "oversize":
            assert piece.data == data[piece.offset:piece.offset + piece.length]
        pos = piece.offset + piece.length
    assert data[pos:].strip(b"\r\n") == b"" and len(data) - pos <= 2


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_fragment, max_size=30).map(b"".join))
def test_read_returns_what_scan_gave(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("rd") / "box"
    path.write_bytes(data)
    with Archive([str(path)]) as archive:
        for item in archive.scan():
            assert archive.read(item.source) == item.raw


LINES = st.sampled_from([b"From x", b"From a@b Mon Jan  1 10:00:00 2001", b"From a@b 10:00",
                         b"Subject: s", b"From: a@b", b"x: y", b"body", b"", b"From  x", b"From :"
                         , b"From \t", b">From x 1:23"])


@settings(max_examples=1500, deadline=None)
@given(st.lists(LINES, max_size=14), st.booleans(), st.integers(0, 40))
def test_one_search_finds_the_candidate_two_searches_find(lines, bare, at):
    """The splitter looks for the next line that could be a separator of either shape with
    one regex (mbox._ANY_CANDIDATE); it is the earliest that either shape's own regex finds."""
    import io
    from importer.read.mbox import MboxSplitter
    splitter = MboxSplitter(io.BytesIO(b"\n" + b"\n".join(lines) + b"\n"))
    splitter._fill()
    splitter._bare = bare
    at = min(at, len(splitter._buf))
    assert splitter._candidate(at) == _candidate_in_two(splitter._buf, bare, at)


def _candidate_in_two(buf, bare: bool, at: int):
    """The splitter's candidate by one search of each shape (the code it replaced)."""
    import re
    from importer.read.mbox import _DATED_CANDIDATE
    m = _DATED_CANDIDATE.search(buf, at)
    if bare:
        bare_candidate = re.compile(rb"\nFrom [^\n]*\n(?!From [^ \t:\n])[!-9;-~]+[ \t]*:")
        m = bare_candidate.search(buf, at, m.start() + 1 if m else len(buf)) or m
    return m.start() if m else None
