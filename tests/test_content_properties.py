"""Invariants of extract() on arbitrary and on generated MIME bytes."""

from __future__ import annotations

from email.message import EmailMessage

from hypothesis import given, settings, strategies as st

from importer.mail.content import extract


def _no_surrogates(text: str) -> bool:
    return not any("\ud800" <= ch <= "\udfff" for ch in text)


def _check(raw: bytes) -> None:
    c = extract(raw, message_id="p@x")
    assert c.raw is raw
    for field in (c.text, c.from_, c.to, c.cc, c.subject, c.html or ""):
        assert isinstance(field, str) and _no_surrogates(field)
    for att in c.attachments:
        assert att.filename and "/" not in att.filename and "\\" not in att.filename
        assert att.content_type == att.content_type.lower()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_extract_never_raises_on_arbitrary_bytes(raw):
    _check(raw)


# Lines that real MIME is made of, shuffled by Hypothesis into broken trees.
_LINES = st.sampled_from([
    b"Content-Type: multipart/mixed; boundary=A", b"Content-Type: multipart/alternative; boundary=B",
    b"Content-Type: multipart/digest; boundary=A", b"Content-Type: message/rfc822",
    b"Content-Type: text/plain; charset=utf-8", b"Content-Type: text/html; charset=bogus",
    b"Content-Type: text/plain; charset*=utf-8''%C3", b"Content-Type: image/png; name=\"a/b.png\"",
    b"Content-Transfer-Encoding: base64", b"Content-Transfer-Encoding: quoted-printable",
    b"Content-Transfer-Encoding: x-uuencode", b"Content-Disposition: attachment; filename*0*=x''%",
    b"Subject: =?utf-8?b?broken", b"From: =?x-unknown?q?=FF?= <a@b>", b"Date: 31 Feb 99999",
    b"--A", b"--A--", b"--B", b"--B--", b"", b"begin 644 x", b"end", b"SGVsbG8=", b"=C3=A9=",
    b"\xff\xfe\x00caf\xe9", b"<p>hi<script>x</script>", b" folded", b"\r",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINES, max_size=60), st.sampled_from([b"\n", b"\r\n"]))
def test_extract_never_raises_on_broken_mime(lines, eol):
    _check(eol.join(lines))


_NAMES = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=40)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(_NAMES, st.binary(max_size=300)), max_size=5),
       st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=200))
def test_attachments_made_by_the_stdlib_come_back_whole(files, body):
    # The standard library's own generator is the oracle: every file it attaches comes back
    # with the same bytes, in order, and the body text is unchanged but for line endings.
    msg = EmailMessage()
    msg["From"] = "a@example.org"
    msg.set_content(body or "-")
    for name, data in files:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    c = extract(msg.as_bytes(), message_id="x")
    assert [a.data for a in c.attachments] == [data for _, data in files]
    assert c.text.strip() == (body or "-").replace("\r\n", "\n").replace("\r", "\n").strip()
