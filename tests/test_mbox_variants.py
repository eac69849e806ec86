"""The mbox splitter on small hand-written archives, one variant each."""

import io

import pytest

from importer.read.mbox import MboxSplitter, is_dated_from, unescape, write_mboxrd

FROM = b"From alice@example.org Mon Jan  1 00:00:00 2001\n"


def pieces(data: bytes, **kw):
    return list(MboxSplitter(io.BytesIO(data), **kw))


def messages(data: bytes, **kw):
    return [unescape(p.data, p.escaping) for p in pieces(data, **kw) if p.kind == "message"]


def test_messages_end_before_the_separator_blank_line():
    data = FROM + b"Subject: one\n\nbody\n\n" + FROM + b"Subject: two\n\nbody two\n"
    assert messages(data) == [b"Subject: one\n\nbody\n", b"Subject: two\n\nbody two\n"]


def test_trailing_blank_line_at_end_of_file_is_the_writers():
    assert messages(FROM + b"S: 1\n\nbody\n\n") == [b"S: 1\n\nbody\n"]


def test_offsets_address_the_stored_bytes():
    data = FROM + b"S: 1\n\n>From x\n\n" + FROM + b"S: 2\n\nb\n"
    for p in pieces(data):
        assert data[p.offset:p.offset + p.length] == p.data


def test_mboxrd_unquotes_one_level_of_quoted_from_lines():
    data = FROM + b"S: 1\n\n>From a\n>>From b\n>>>From c\n> From d\n"
    assert messages(data) == [b"S: 1\n\nFrom a\n>From b\n>>From c\n> From d\n"]


def test_mboxo_unquotes_only_single_quoted_from_lines():
    data = FROM + b"S: 1\n\n>From a\n>>From b\n"
    assert messages(data, escaping="mboxo") == [b"S: 1\n\nFrom a\n>>From b\n"]


def test_from_line_is_kept_without_its_newline():
    (p,) = pieces(FROM.replace(b"\n", b"\r\n") + b"S: 1\r\n\r\nb\r\n")
    assert p.from_line == FROM.rstrip(b"\n")


def test_crlf_archive_drops_a_crlf_separator_line():
    f = FROM.replace(b"\n", b"\r\n")
    data = f + b"S: 1\r\n\r\nbody\r\n\r\n" + f + b"S: 2\r\n\r\nb\r\n\r\n"
    assert messages(data) == [b"S: 1\r\n\r\nbody\r\n", b"S: 2\r\n\r\nb\r\n"]


def test_byte_order_mark_before_first_from_line_is_skipped():
    data = b"\xef\xbb\xbf" + FROM + b"S: 1\n\nb\n"
    splitter = MboxSplitter(io.BytesIO(data))
    assert [p.data for p in splitter] == [b"S: 1\n\nb\n"]
    assert splitter.bom


def test_body_from_line_without_date_does_not_split():
    data = FROM + b"S: 1\n\nThis is my favourite film:\n\nFrom Russia with love\n\nYes.\n"
    assert len(messages(data)) == 1


def test_dated_from_line_without_blank_line_before_splits():
    data = FROM + b"S: 1\n\nbody\n" + FROM + b"S: 2\n\nb\n"
    assert messages(data) == [b"S: 1\n\nbody\n", b"S: 2\n\nb\n"]


def test_bare_separators_split_netscape_style_archives():
    # jwz's test mbox: "From - " straight after a closing boundary, no blank line.
    data = (b"From - \nFrom: a@b\n\n--x--\nFrom - \nMessage-ID: <1@b>\n\nb\n"
            b"\nFrom Russia with love\nnot a header line\n")
    assert messages(data) == [b"From: a@b\n\n--x--\n",
                              b"Message-ID: <1@b>\n\nb\n\nFrom Russia with love\n"
                              b"not a header line\n"]


def test_bare_from_line_in_a_dated_archive_is_body_text():
    data = FROM + b"S: 1\n\nb\n\nFrom -\nFrom: not@separator\n"
    assert len(messages(data)) == 1


def test_junk_before_the_first_from_line_is_a_piece_of_its_own():
    data = b"some notes\nabout this file\n\n" + FROM + b"S: 1\n\nb\n"
    kinds = [(p.kind, p.data) for p in pieces(data)]
    assert kinds == [("junk", b"some notes\nabout this file\n\n"), ("message", b"S: 1\n\nb\n")]


def test_empty_file_has_no_pieces():
    assert pieces(b"") == []


def test_content_length_is_honoured_when_it_points_at_a_separator():
    body = b"x\n\n" + FROM + b"quoted mail, never escaped (mboxcl2)\n"
    data = FROM + b"Content-Length: %d\n\n" % len(body) + body + b"\n" + FROM + b"S: 2\n\nb\n"
    got = pieces(data)
    assert [p.kind for p in got] == ["message", "message"]
    assert got[0].data.endswith(body) and got[0].escaping == "none"


def test_content_length_reaching_end_of_file_is_honoured():
    body = b"x\n\n" + FROM + b"y\n"
    data = FROM + b"Content-Length: %d\n\n" % len(body) + body + b"\n"
    assert len(pieces(data)) == 1


def test_wrong_content_length_falls_back_to_separators():
    data = FROM + b"Content-Length: 3\n\nlonger body\n\n" + FROM + b"S: 2\n\nb\n"
    assert messages(data) == [b"Content-Length: 3\n\nlonger body\n", b"S: 2\n\nb\n"]


def test_content_length_shorter_than_the_split_is_honoured_at_a_bare_from_line():
    data = (b"From - \nContent-Length: 2\n\nx\n\nFrom - \nS: 2\n\ny\n")
    assert messages(data) == [b"Content-Length: 2\n\nx\n", b"S: 2\n\ny\n"]


def test_oversize_message_keeps_its_place_but_not_its_bytes():
    data = FROM + b"S: 1\n\n" + b"x" * 5000 + b"\n\n" + FROM + b"S: 2\n\nb\n"
    got = pieces(data, max_message=1000)
    assert [p.kind for p in got] == ["oversize", "message"]
    assert got[0].data == b"" and got[0].length == len(b"S: 1\n\n" + b"x" * 5000 + b"\n")
    assert got[1].data == b"S: 2\n\nb\n"


def test_oversize_message_over_many_blocks_is_let_go_and_the_next_one_kept(monkeypatch):
    import importer.read.mbox as mbox
    monkeypatch.setattr(mbox, "BLOCK", 64)
    big = b"S: 1\n\n" + b"".join(b"line %d\n" % i for i in range(2000))
    data = FROM + big + b"\n" + FROM + b"S: 2\n\nb\n"
    splitter = MboxSplitter(io.BytesIO(data), max_message=1000)
    got = list(splitter)
    assert [(p.kind, p.length) for p in got] == [("oversize", len(big)), ("message", 8)]
    assert len(splitter._buf) < 4096     # the big message's bytes were not all held


def test_message_spanning_many_read_blocks_is_whole(monkeypatch):
    import importer.read.mbox as mbox
    monkeypatch.setattr(mbox, "BLOCK", 64)
    body = b"".join(b"line %d\n" % i for i in range(500))
    data = FROM + b"S: 1\n\n" + body + b"\n" + FROM + b"S: 2\n\n" + body
    assert messages(data) == [b"S: 1\n\n" + body, b"S: 2\n\n" + body]


@pytest.mark.parametrize("line", [
    b"From MAILER-DAEMON Fri Apr 06 16:46:09 2001",
    b"From mrc@CAC.Washington.EDU Mon Feb  8 02:53:47 PST 1993",
    b"From 1844347792267117879@xxx Wed Mar 03 16:25:42 +0000 2021",
    b"From - Mon Jun  3 12:50:27 1996",
    b"From \"a b\"@example.org Tue Jul 7 22:47:39 2009",
    b"From uucp Thu Apr 30 14:27 98 remote from host",
])
def test_dated_from_lines_are_recognised(line):
    assert is_dated_from(line + b"\n")


@pytest.mark.parametrize("line", [
    b"From Hello Support Tue Jul 10 18:50:15 2012",    # yahoo complaint body (ARF)
    b"From the RFC about ending boundary:",
    b"From  : John Doe <jdoe@machine.example>",       # RFC 2822 obsolete header syntax
    b"From: a@b Mon Jan  1 00:00:00 2001",
])
def test_other_from_lines_are_not_dated_separators(line):
    assert not is_dated_from(line + b"\n")


def test_writer_refuses_a_from_line_that_is_not_a_separator():
    with pytest.raises(ValueError):
        write_mboxrd([(b"From nobody", b"S: 1\n")], io.BytesIO())
