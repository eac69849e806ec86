"""extract(): headers, body choice, transfer encodings, attachments and bounds."""

from __future__ import annotations

import base64
from datetime import timezone
from email.message import EmailMessage

from importer.mail import content, entity
from importer.mail.content import extract


def _mail(body: bytes, headers: bytes = b"") -> bytes:
    return (b"From: Sender <s@example.org>\nTo: r@example.org\nSubject: test\n"
            b"Date: Tue, 3 Feb 2004 10:00:00 +0100\n" + headers + b"\n" + body)


def _multipart(subtype: str, boundary: str, *parts: bytes) -> bytes:
    out = [f"Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\n\npreamble\n".encode()]
    for part in parts:
        out.append(f"--{boundary}\n".encode() + part + b"\n")
    out.append(f"--{boundary}--\nepilogue\n".encode())
    return b"".join(out)


def test_decodes_encoded_word_headers():
    raw = (b"From: =?utf-8?q?Zo=C3=AB?= Example <zoe@example.org>\n"
           b"To: =?iso-8859-1?q?J=F6rg?= <j@example.org>\nCc: c@example.org\n"
           b"Subject: =?utf-8?b?Q2Fmw6kgbWVudQ==?=\nDate: Tue, 3 Feb 2004 10:00:00 +0100\n\nhi\n")
    c = extract(raw, message_id="m@x")
    assert c.from_ == "Zoë Example <zoe@example.org>"
    assert c.to == "Jörg <j@example.org>"
    assert c.cc == "c@example.org"
    assert c.subject == "Café menu"
    assert c.date.utcoffset().total_seconds() == 3600 and c.date.hour == 10
    assert c.message_id == "m@x" and c.raw is raw


def test_folded_headers_are_unfolded():
    raw = b"From: a@example.org\nSubject: one\n two\n\tthree\n\nbody\n"
    # The fold's TAB collapses to one space: it was whitespace of the fold, not of the text.
    assert extract(raw, message_id="x").subject == "one two three"


def test_raw_8bit_subject_is_decoded_without_surrogates():
    raw = b"From: a@example.org\nSubject: Gr\xc3\xbc\xc3\x9fe\n\nbody\n"
    c = extract(raw, message_id="x")
    assert c.subject == "Grüße"


def test_unusable_date_is_none_and_minus_zero_is_utc():
    assert extract(_mail(b"x").replace(b"Tue, 3 Feb 2004", b"someday"), message_id="x").date is None
    raw = b"From: a@b.c\nDate: Tue, 3 Feb 2004 10:00:00 -0000\n\nx"
    assert extract(raw, message_id="x").date.tzinfo == timezone.utc


def test_plain_text_of_multipart_alternative_is_preferred():
    raw = _mail(b"", _multipart(
        "alternative", "ALT",
        b"Content-Type: text/plain; charset=us-ascii\n\nthe plain words",
        b"Content-Type: text/html\n\n<p>the <b>html</b> words</p>"))
    c = extract(raw, message_id="x")
    assert c.text.strip() == "the plain words"
    assert c.html == "<p>the <b>html</b> words</p>"
    assert c.attachments == ()


def test_html_only_mail_is_converted_to_text():
    raw = _mail(b"<html><style>p{}</style><p>Hello &amp; welcome</p><ul><li>one</li></ul>"
                b"<a href='https://example.org/x'>site</a></html>",
                b"Content-Type: text/html; charset=utf-8\n")
    c = extract(raw, message_id="x")
    assert "Hello & welcome" in c.text and "- one" in c.text
    assert "site <https://example.org/x>" in c.text
    assert "p{}" not in c.text and c.html.startswith("<html>")


def test_nested_multiparts_give_text_html_and_inline_image():
    related = _multipart("related", "REL",
                         b"Content-Type: text/html\n\n<p>rich</p>",
                         b"Content-Type: image/png\nContent-ID: <img1>\n"
                         b"Content-Transfer-Encoding: base64\n\niVBORw0KGgo=")
    alternative = _multipart("alternative", "ALT",
                             b"Content-Type: text/plain\n\nplain body", related)
    raw = _mail(b"", _multipart("mixed", "MIX", alternative,
                                b"Content-Type: text/plain\n\nfooter of the list"))
    c = extract(raw, message_id="x")
    assert "plain body" in c.text and "footer of the list" in c.text
    assert "rich" not in c.text
    assert c.html == "<p>rich</p>"
    assert [(a.filename, a.content_type, a.data) for a in c.attachments] == [
        ("part-6.png", "image/png", b"\x89PNG\r\n\x1a\n")]


def test_calendar_alternative_is_kept_as_attachment():
    raw = _mail(b"", _multipart("alternative", "ALT",
                                b"Content-Type: text/plain\n\ninvite",
                                b"Content-Type: text/calendar; method=REQUEST\n\nBEGIN:VCALENDAR"))
    c = extract(raw, message_id="x")
    assert c.text.strip() == "invite"
    assert [(a.filename, a.data) for a in c.attachments] == [("part-3.ics", b"BEGIN:VCALENDAR")]


def test_attachment_names_rfc2231_and_rfc2047():
    raw = _mail(b"", _multipart(
        "mixed", "B",
        b"Content-Type: text/plain\n\nsee attached",
        b"Content-Type: application/pdf\nContent-Disposition: attachment;\n"
        b" filename*0*=utf-8''R%C3%A9sum%C3%A9;\n filename*1=\".pdf\"\n\n%PDF",
        b"Content-Type: application/octet-stream; name=\"=?utf-8?q?na=C3=AFve=2Ebin?=\"\n"
        b"Content-Disposition: attachment\n\nbytes",
        b"Content-Type: application/zip\n\nPK"))
    names = [a.filename for a in extract(raw, message_id="x").attachments]
    assert names == ["Résumé.pdf", "naïve.bin", "part-5.zip"]


def test_hostile_attachment_names_are_sanitised_for_display():
    hostile = "../../etc/\u202epasswd\x07" + "x" * 500 + ".exe"
    msg = EmailMessage()
    msg["From"] = "a@example.org"
    msg.set_content("body")
    msg.add_attachment(b"MZ", maintype="application", subtype="octet-stream", filename=hostile)
    name = extract(msg.as_bytes(), message_id="x").attachments[0].filename
    assert "/" not in name and "\u202e" not in name and "\x07" not in name
    assert name.startswith("passwd") and name.endswith(".exe")
    assert len(name) <= content.MAX_NAME


def test_undeclared_8bit_body_is_guessed_not_mangled():
    latin = "Grüße aus Köln, schöne Straße und süße Äpfel. " * 3
    raw = _mail(latin.encode("cp1252"))
    text = extract(raw, message_id="x").text
    assert "Grüße aus Köln" in text and not any("\ud800" <= ch <= "\udfff" for ch in text)


def test_bogus_charset_falls_back_to_a_guess():
    raw = _mail("naïve café".encode("utf-8"), b"Content-Type: text/plain; charset=x-bogus-42\n")
    assert "naïve café" in extract(raw, message_id="x").text


def test_broken_base64_padding_keeps_the_whole_bytes():
    data = b"attachment payload that is long enough"
    encoded = base64.b64encode(data).rstrip(b"=")[:-1]        # padding gone, last char cut
    raw = _mail(b"", _multipart("mixed", "B", b"Content-Type: text/plain\n\nx",
                                b"Content-Type: application/octet-stream\n"
                                b"Content-Transfer-Encoding: base64\n\n" + encoded + b"!!"))
    got = extract(raw, message_id="x").attachments[0].data
    assert data.startswith(got) and len(got) >= len(data) - 2


def test_quoted_printable_and_uuencode_bodies_are_decoded():
    qp = _mail(b"caf=C3=A9 soft=\nbreak", b"Content-Type: text/plain; charset=utf-8\n"
               b"Content-Transfer-Encoding: quoted-printable\n")
    assert extract(qp, message_id="x").text.strip() == "café softbreak"
    uu = _mail(b"begin 644 f.txt\n&:&5L;&\\*\n`\nend\n",
               b"Content-Type: application/octet-stream; name=f.txt\n"
               b"Content-Transfer-Encoding: x-uuencode\n")
    assert extract(uu, message_id="x").attachments[0].data == b"hello\n"


def test_attached_message_keeps_its_original_bytes_and_subject_name():
    inner = b"From: orig@example.org\r\nSubject: =?utf-8?q?Original_=C3=BCber?=\r\n\r\nold body\r\n"
    raw = _mail(b"", _multipart("mixed", "B", b"Content-Type: text/plain\n\nFYI",
                                b"Content-Type: message/rfc822\n\n" + inner))
    att = extract(raw, message_id="x").attachments[0]
    assert (att.filename, att.content_type, att.data) == ("Original über.eml", "message/rfc822",
                                                         inner)


def test_digest_parts_default_to_messages():
    raw = _mail(b"", _multipart("digest", "D", b"\nFrom: a@b.c\nSubject: one\n\nfirst",
                                b"\nFrom: d@e.f\nSubject: two\n\nsecond"))
    atts = extract(raw, message_id="x").attachments
    assert [(a.filename, a.content_type) for a in atts] == [("one.eml", "message/rfc822"),
                                                           ("two.eml", "message/rfc822")]


def test_multipart_without_its_boundary_is_read_as_text():
    raw = _mail(b"no delimiters here at all\n",
                b"Content-Type: multipart/mixed; boundary=\"missing\"\n")
    assert extract(raw, message_id="x").text.strip() == "no delimiters here at all"


def test_missing_close_delimiter_keeps_the_last_part():
    raw = _mail(b"--B\nContent-Type: text/plain\n\nfirst\n--B\nContent-Type: text/plain\n\nlast",
                b"Content-Type: multipart/mixed; boundary=B\n")
    text = extract(raw, message_id="x").text
    assert "first" in text and "last" in text


def test_nesting_bomb_is_cut_at_max_depth_and_kept_whole():
    depth = 10_000
    raw = (b"Content-Type: multipart/mixed; boundary=b0\n\n"
           + b"".join(b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (i, i + 1)
                      for i in range(depth))
           + b"--b%d\n\ndeepest words\n" % depth)
    c = extract(raw, message_id="bomb")
    assert c.raw is raw
    [kept] = c.attachments
    assert kept.content_type == "message/rfc822"
    assert kept.data.endswith(b"deepest words\n")
    assert b"boundary=b%d\n" % content.MAX_DEPTH in kept.data[:200]


def test_part_bomb_overflow_is_kept_as_one_attachment():
    count = content.MAX_PARTS + 50
    raw = _mail(b"", _multipart("mixed", "B", *[b"Content-Type: application/x-n\n\n%d" % i
                                                 for i in range(count)]))
    atts = extract(raw, message_id="x").attachments
    kept = content.MAX_PARTS - 1                 # the message itself is the first part
    assert len(atts) == kept + 1
    *parts, overflow = atts
    assert overflow.filename == "part-1-rest.txt"
    assert [a.data for a in parts] == [b"%d" % i for i in range(kept)]
    assert overflow.data.startswith(b"Content-Type: application/x-n\n\n%d\n--B\n" % kept)
    assert overflow.data.endswith(b"%d" % (count - 1))


def test_non_text_single_part_message_is_an_attachment():
    raw = _mail(base64.b64encode(b"%PDF-1.4"), b"Content-Type: application/pdf\n"
                b"Content-Transfer-Encoding: base64\n")
    c = extract(raw, message_id="x")
    assert c.text == "" and c.attachments[0].data == b"%PDF-1.4"
    assert c.attachments[0].filename == "part-1.pdf"


def test_email_message_roundtrip_keeps_every_attachment():
    msg = EmailMessage()
    msg["From"] = "Zoë Example <zoe@example.org>"
    msg["Subject"] = "Tickets für Köln"
    msg.set_content("Hallo, anbei die Unterlagen.\n")
    msg.add_alternative("<p>Hallo, anbei die Unterlagen.</p>", subtype="html")
    msg.add_attachment(bytes(range(256)), maintype="application", subtype="octet-stream",
                       filename="Übersicht März.bin")
    msg.add_attachment("Zeile ä\n", subtype="csv", filename="liste.csv")
    c = extract(msg.as_bytes(), message_id="x")
    assert c.from_ == "Zoë Example <zoe@example.org>" and c.subject == "Tickets für Köln"
    assert c.text.strip() == "Hallo, anbei die Unterlagen."
    assert [(a.filename, a.content_type) for a in c.attachments] == [
        ("Übersicht März.bin", "application/octet-stream"), ("liste.csv", "text/csv")]
    assert c.attachments[0].data == bytes(range(256))


def test_header_block_past_its_bound_is_read_as_body(monkeypatch):
    monkeypatch.setattr(entity, "MAX_HEADER", 200)
    raw = b"From: a@example.org\n" + b"X-Junk: filler\n" * 100 + b"\nreal body\n"
    c = extract(raw, message_id="x")
    assert c.from_ == "a@example.org"
    assert "X-Junk: filler" in c.text and "real body" in c.text


def test_raw_8bit_headers_are_read_in_the_body_charset():
    subject = "Счёт"                              # too short for chardet to guess
    raw = (b"From: a@example.org\nSubject: " + subject.encode("koi8-r")
           + b"\nContent-Type: text/plain; charset=koi8-r\n\n" + subject.encode("koi8-r"))
    c = extract(raw, message_id="x")
    assert c.subject == subject and c.text.strip() == subject


def test_default_names_take_their_extension_from_the_type():
    raw = _mail(b"", _multipart("mixed", "B", b"Content-Type: text/plain\n\nsee",
                                b"Content-Type: application/msword\n\nDOC",
                                b"Content-Type: audio/basic\n\nAU",
                                b"Content-Type: application/x-never-heard-of\n\n?"))
    names = [a.filename for a in extract(raw, message_id="x").attachments]
    assert names == ["part-3.doc", "part-4.au", "part-5.bin"]


SMIME = (b"From: sender@example.net\nTo: hello@example.org\nSubject: Signed\nMIME-Version: 1.0\n"
         b'Content-Type: multipart/signed; protocol="application/x-pkcs7-signature";'
         b' micalg=sha1; boundary="SIG"\n\nThis is an S/MIME signed message\n\n--SIG\n'
         b'Content-Type: application/plain; charset="utf-8"\nContent-Transfer-Encoding: base64\n\n'
         b"YSBww7ZzdGFsIHNpZ24gb2Ygb3VyIHRpbWVz\n--SIG\n"
         b'Content-Type: application/x-pkcs7-signature; name="smime.p7s"\n'
         b"Content-Transfer-Encoding: base64\n"
         b'Content-Disposition: attachment; filename="smime.p7s"\n\nMIIGuQYJKoZIhvcNAQcCoIIGqjCC\n'
         b"--SIG--\n")


def test_the_signed_part_of_an_smime_message_is_its_body():
    """An S/MIME message (M2Crypto labels its content application/plain) showed an empty
    body, its text only in part-2.bin."""
    c = extract(SMIME, message_id="x")
    assert c.text == "a pöstal sign of our times\n"
    assert [a.filename for a in c.attachments] == ["smime.p7s"]


def test_the_signed_part_of_a_pgp_mime_message_is_its_body():
    raw = (b"From: a@example.net\nSubject: PGP\nMIME-Version: 1.0\n"
           b'Content-Type: multipart/signed; micalg=pgp-sha256;'
           b' protocol="application/pgp-signature"; boundary="B"\n\n--B\n'
           b"Content-Type: multipart/mixed; boundary=\"M\"\n\n--M\nContent-Type: text/plain\n\n"
           b"Signed words.\n--M\nContent-Type: image/png\nContent-Disposition: attachment;"
           b" filename=\"a.png\"\n\n\x89PNG\n--M--\n--B\nContent-Type: application/pgp-signature;"
           b" name=\"signature.asc\"\n\n-----BEGIN PGP SIGNATURE-----\nxyz\n--B--\n")
    c = extract(raw, message_id="x")
    assert c.text == "Signed words.\n"
    assert sorted(a.filename for a in c.attachments) == ["a.png", "signature.asc"]


def test_a_binary_signed_part_stays_an_attachment():
    raw = SMIME.replace(b'application/plain; charset="utf-8"', b"application/octet-stream") \
        .replace(b"YSBww7ZzdGFsIHNpZ24gb2Ygb3VyIHRpbWVz", b"AAECAwQFBgc=")
    c = extract(raw, message_id="x")
    assert c.text == "This is an S/MIME signed message\n" or c.text == ""
    assert any(a.data == bytes(range(8)) for a in c.attachments)


def test_a_byte_order_mark_before_the_headers_loses_nothing_in_delivery():
    """The first pass skipped the mark; delivery did not, and lost every header and part."""
    raw = (b"\xef\xbb\xbfFrom: Dana <dana@example.net>\nSubject: BOM\nMIME-Version: 1.0\n"
           b'Content-Type: multipart/mixed; boundary="X"\n\n--X\nContent-Type: text/plain\n\n'
           b"Hello\n--X\nContent-Type: application/pdf\nContent-Disposition: attachment;"
           b' filename="a.pdf"\n\n%PDF\n--X--\n')
    c = extract(raw, message_id="x")
    assert (c.from_, c.subject, c.text) == ("Dana <dana@example.net>", "BOM", "Hello\n")
    assert [a.filename for a in c.attachments] == ["a.pdf"] and c.raw == raw


def test_folding_whitespace_collapses_in_displayed_addresses():
    raw = b"From: Dana\n\tMorrow <dana@example.net>\nTo: a@example.org,\n\tb@example.org\n\nx\n"
    c = extract(raw, message_id="x")
    assert c.from_ == "Dana Morrow <dana@example.net>" and "\t" not in c.to
