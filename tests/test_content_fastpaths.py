"""The fast paths of importer.mail.entity (delivery's MIME walk) give exactly what the general
code gives: the line loop, the compat32 feed parser, the MULTILINE delimiter regex."""

from email.parser import Parser
from email.policy import compat32

import re

from hypothesis import given, settings, strategies as st

from importer.mail import entity


def split_by_regex(body: memoryview, boundary: bytes) -> list[tuple[int, int]]:
    """`entity.split` by one MULTILINE regex (the code it replaced): the reference."""
    delimiter = re.compile(rb"^--" + re.escape(boundary) + rb"(--)?[ \t]*(?:\r\n|\r|\n|\Z)",
                           re.MULTILINE)
    spans: list[tuple[int, int]] = []
    start = None
    for m in delimiter.finditer(body):
        if start is not None:
            spans.append((start, entity._before_break(bytes(body), start, m.start())))
        if m.group(1):
            return spans
        start = m.end()
    if start is not None:
        spans.append((start, len(body)))
    return spans

EOLS = st.sampled_from([b"\n", b"\r\n", b"\r"])
HEADER_LINES = st.sampled_from([
    b"Subject: hello", b"From: a@b", b"From a@b Mon Jan  1", b" folded", b"\tmore", b":x",
    b"X-Weird!#: v", b"no colon here", b"Content-Type: multipart/mixed; boundary=b", b"",
    b"Name :spaced", b"\xc3\xa9t\xc3\xa9: 8-bit name", b"To: \xff\xfe raw", b"  ", b"From:x"])


@st.composite
def entities(draw) -> bytes:
    """A MIME entity's start as mailers write it and as they damage it."""
    out = b""
    for _ in range(draw(st.integers(0, 8))):
        out += draw(HEADER_LINES) + draw(EOLS)
    if draw(st.booleans()):
        out = out.rstrip(b"\r\n")              # no line end after the last line
    return out + draw(st.sampled_from([b"", b"body", b"\nbody", b"\r\nbody\n"]))


@settings(max_examples=1500, deadline=None)
@given(entities())
def test_header_end_is_where_the_line_loop_ends_it(data):
    assert entity.header_end(memoryview(data)) == entity.header_end_by_lines(memoryview(data))


def test_a_header_block_reaching_max_header_is_ended_by_the_line_loop():
    data = b"X: " + b"y" * entity.MAX_HEADER + b"\nZ: z\n\nbody"
    assert entity.header_end(memoryview(data)) == entity.header_end_by_lines(memoryview(data))
    assert entity.header_end(memoryview(data))[0] == data.index(b"\nZ") + 1


TEXT_LINES = st.sampled_from([
    "Subject: hello", "Subject:no space", "Subject:\t tabbed ", "From: a@b", "From a@b Mon",
    " folded", "\tmore", ":no name", "X-Empty:", "X-Blank:   ", "Name :spaced", "To: é ü",
    "Content-Type: text/plain; charset=utf-8", "a:b:c", "From:x", "x\x0by: v", "k: v\x85w"])


@st.composite
def header_texts(draw) -> str:
    lines = draw(st.lists(TEXT_LINES, max_size=8))
    eols = [draw(st.sampled_from(["\n", "\r\n", "\r"])) for _ in lines]
    text = "".join(line + eol for line, eol in zip(lines, eols))
    return text.rstrip("\r\n") if draw(st.booleans()) else text


def _seen(msg):
    return msg.items(), msg.get_unixfrom(), msg.get_payload(), [type(d) for d in msg.defects]


@settings(max_examples=1500, deadline=None)
@given(header_texts())
def test_headers_are_what_the_compat32_parser_reads(text):
    expected = Parser(policy=compat32).parsestr(text, headersonly=True)
    assert _seen(entity.parse_headers(text)) == _seen(expected)


def test_plain_headers_take_the_fast_path(monkeypatch):
    monkeypatch.setattr(entity, "parse_headers_by_parser", None)     # would fail if called
    msg = entity.parse_headers("Subject: hi\r\nContent-Type: text/plain; charset=utf-8\n")
    assert msg.items() == [("Subject", "hi"), ("Content-Type", "text/plain; charset=utf-8")]
    assert msg.get_content_charset() == "utf-8"


BODY_PIECES = st.sampled_from([b"--b", b"--b--", b"--bb", b"--b-", b"-- b", b"x--b", b"--b ",
                               b"--b\t", b"--b--x", b"--b---", b"\n", b"\r\n", b"\r", b" ",
                               b"text", b"--", b"b"])


@settings(max_examples=2000, deadline=None)
@given(st.lists(BODY_PIECES, max_size=20).map(b"".join))
def test_delimiter_spans_are_what_the_multiline_regex_finds(body):
    view = memoryview(body)
    assert entity.split(view, b"b") == split_by_regex(view, b"b")


def test_spans_of_a_plain_multipart_body():
    body = b"preamble\r\n--xyz\r\nContent-Type: text/plain\r\n\r\none\r\n--xyz\r\n\r\ntwo\r\n--xyz--\r\nepilogue"
    spans = entity.split(memoryview(body), b"xyz")
    assert [body[a:b] for a, b in spans] == [b"Content-Type: text/plain\r\n\r\none", b"\r\ntwo"]
