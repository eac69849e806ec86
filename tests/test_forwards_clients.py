"""forwarded_sender() on the forward formats of common mail clients, and may_be_forward()."""

from __future__ import annotations

from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import compat32

import pytest
from hypothesis import given, settings, strategies as st

from importer.forwards import forwarded_sender, may_be_forward


def _mail(body: str, subject: str = "Fwd: help", ctype: str = "text/plain") -> bytes:
    return (f"From: staff@ours.example\r\nTo: archive@ours.example\r\nSubject: {subject}\r\n"
            f"Content-Type: {ctype}; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            f"{body}").encode("utf-8")


def _sender(raw: bytes) -> str | None:
    return forwarded_sender(BytesParser(policy=compat32).parsebytes(raw))


CLIENTS = {
    "gmail": "Please look.\n\n---------- Forwarded message ---------\n"
             "From: Zoë Example <Zoe@Example.org>\nDate: Mon, 2 Feb 2004\nSubject: help\n"
             "To: <staff@ours.example>\n\nmy printer\n",
    "gmail-bold": "---------- Forwarded message ----------\n*From:* *Zoë* <zoe@example.org>\n",
    "outlook": "FYI\n\n-----Original Message-----\nFrom: Smith, John [mailto:zoe@example.org]\n"
               "Sent: Monday, February 02, 2004 10:00 AM\nTo: Staff\nSubject: help\n",
    "outlook-2010": "FYI\n\n________________________________\nFrom: Zoë <zoe@example.org>\n"
                    "Sent: Monday\nTo: Staff\n",
    "apple-mail": "Begin forwarded message:\n\nFrom: Zoë Example <zoe@example.org>\n"
                  "Subject: help\nDate: 2 February 2004\n",
    "thunderbird-original": "-------- Original Message --------\nSubject: help\n"
                            "Date: Mon, 2 Feb 2004\nFrom: Zoë <zoe@example.org>\nTo: staff\n",
    "thunderbird-forwarded": "-------- Forwarded Message --------\nSubject:\thelp\n"
                             "Date:\tMon, 2 Feb 2004\nFrom:\tZoë <zoe@example.org>\n",
    "german-gmail": "---------- Weitergeleitete Nachricht ----------\n"
                    "Von: Zoë Beispiel <zoe@example.org>\nDatum: 2. Februar 2004\n",
    "german-outlook": "-----Ursprüngliche Nachricht-----\nVon: Zoë [mailto:zoe@example.org]\n"
                      "Gesendet: Montag\n",
    "french-thunderbird": "-------- Message transféré --------\nSujet : aide\n"
                          "De : Zoé <zoe@example.org>\n",
    "french-apple": "Début du message réexpédié :\n\nDe : Zoé <zoe@example.org>\n",
    "spanish-gmail": "---------- Mensaje reenviado ---------\nDe: Zoe <zoe@example.org>\n",
    "wrapped-from": "---------- Forwarded message ---------\nFrom: A Very Long Display Name\n"
                    " <zoe@example.org>\nDate: x\n",
}


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_inline_forward_of_each_client_names_the_original_sender(client):
    raw = _mail(CLIENTS[client])
    assert _sender(raw) == "zoe@example.org"
    assert may_be_forward(raw)


def test_html_only_forward_is_read_through_its_text():
    html = ("<div>see below</div><div>---------- Forwarded message ---------<br>"
            "From: <b>Zoë</b> &lt;<a href=\"mailto:zoe@example.org\">zoe@example.org</a>&gt;"
            "<br>Date: x</div>")
    assert _sender(_mail(html, ctype="text/html")) == "zoe@example.org"


def test_quoted_printable_body_is_decoded_before_searching():
    raw = (b"From: staff@ours.example\nSubject: WG: x\nContent-Type: text/plain; charset=utf-8\n"
           b"Content-Transfer-Encoding: quoted-printable\n\n"
           b"---------- Weitergeleitete Nachricht ----------\nVon: J=C3=B6rg <joerg@example.de>\n")
    assert _sender(raw) == "joerg@example.de"


def test_first_block_wins_over_older_nested_forwards():
    body = ("---------- Forwarded message ---------\nFrom: first@example.org\n\n"
            "---------- Forwarded message ---------\nFrom: older@example.org\n")
    assert _sender(_mail(body)) == "first@example.org"


def test_original_message_in_a_reply_is_no_forward():
    for subject in ("RE: help", "AW: Hilfe", "Re: [list] help", "SV: hjälp"):
        assert _sender(_mail(CLIENTS["outlook"], subject=subject)) is None


def test_unambiguous_forward_marker_counts_even_in_a_reply():
    assert _sender(_mail(CLIENTS["gmail"], subject="Re: help")) == "zoe@example.org"


def test_quoted_marker_is_ignored():
    body = "> ---------- Forwarded message ---------\n> From: zoe@example.org\n"
    assert _sender(_mail(body)) is None


def test_marker_without_an_address_gives_none():
    body = "-----Original Message-----\nFrom: Smith, John\nSent: Monday\n"
    assert _sender(_mail(body, subject="FW: x")) is None


def test_marker_far_from_its_from_line_is_not_taken():
    body = "---------- Forwarded message ---------\n" + "filler line\n" * 40 + "From: z@e.org\n"
    assert _sender(_mail(body)) is None


def test_plain_mail_is_no_forward():
    raw = _mail("Hello,\nFrom: the desk of Zoe <zoe@example.org>\n", subject="Hello")
    assert _sender(raw) is None
    assert not may_be_forward(raw)


def _forward_as_attachment(container: str = "mixed") -> EmailMessage:
    inner = EmailMessage()
    inner["From"] = "=?utf-8?q?Zo=C3=AB?= <Zoe@Example.org>"
    inner["Subject"] = "help"
    inner.set_content("my printer")
    outer = EmailMessage()
    outer["From"] = "staff@ours.example"
    outer["Subject"] = "FW: help"
    outer.set_content("see attached")
    outer.add_attachment(inner)
    if container != "mixed":
        outer.replace_header("Content-Type", f"multipart/{container}; boundary=\"{outer.get_boundary()}\"")
    return outer


def test_attached_message_names_its_sender():
    raw = _forward_as_attachment().as_bytes()
    assert _sender(raw) == "zoe@example.org"
    assert may_be_forward(raw)


def test_bounce_carrying_our_own_message_is_no_forward():
    assert _sender(_forward_as_attachment("report").as_bytes()) is None


def test_forwarded_sender_never_raises_on_a_deeply_nested_message():
    raw = (b"Subject: Fwd: x\nContent-Type: multipart/mixed; boundary=b0\n\n"
           + b"".join(b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (i, i + 1)
                      for i in range(500)) + b"--b500\n\nleaf\n")
    assert _sender(raw) is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=1500))
def test_forwarded_sender_never_raises_on_arbitrary_bytes(raw):
    result = _sender(b"Subject: Fwd: x\n\n---------- Forwarded message ---------\n" + raw)
    assert result is None or (result == result.lower() and "@" in result)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(CLIENTS)), st.text(max_size=300), st.sampled_from(
    ["Fwd: x", "FW: x", "x", "WG: x", "[list] x"]))
def test_every_forward_found_is_seen_by_the_raw_precheck(client, prefix, subject):
    prefix = prefix.replace("\r", " ").replace("\n", " ") + "\n\n"
    raw = _mail(prefix + CLIENTS[client], subject=subject)
    if _sender(raw) is not None:
        assert may_be_forward(raw)
