"""forwarded_sender() on the forward formats of common mail clients, and may_be_forward()."""

from __future__ import annotations

from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import compat32

import pytest
from hypothesis import assume, given, settings, strategies as st

from importer.mail.forwards import forwarded_sender, may_be_forward


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


# The raw pre-check against the reader it stands in for: whatever forwarded_sender finds in
# text a mail client wrote (any marker, charset, transfer encoding, case, spacing), the
# pre-check must not have ruled out.
from importer.mail.forwards import _BEGIN, _FORWARDED, _FROM_LABELS, _ORIGINAL  # noqa: E402

import quopri  # noqa: E402


def _encoded(body: str, charset: str, cte: str, subject: str = "help") -> bytes | None:
    try:
        data = body.encode(charset)
    except UnicodeEncodeError:
        return None
    if cte == "quoted-printable":
        data = quopri.encodestring(data)
    head = (f"From: staff@ours.example\nTo: archive@ours.example\nSubject: {subject}\n"
            f"Content-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: {cte}\n\n")
    return head.encode("ascii") + data


def _recase(text: str, flips: list[bool]) -> str:
    return "".join(c.swapcase() if c.isascii() and flip else c
                   for c, flip in zip(text, flips + [False] * len(text)))


@settings(max_examples=300, deadline=None)
@given(phrase=st.sampled_from(_FORWARDED + _ORIGINAL + _BEGIN),
       label=st.sampled_from(_FROM_LABELS), dashes=st.integers(2, 12),
       blank=st.sampled_from([" ", "  ", "\t", " \t "]), flips=st.lists(st.booleans()),
       charset=st.sampled_from(["utf-8", "iso-8859-1", "koi8-r", "cp1251", "gb18030", "big5",
                                       "shift_jis", "euc_jp", "iso2022_jp", "euc_kr"]),
       cte=st.sampled_from(["8bit", "quoted-printable"]),
       before=st.sampled_from(["", "FYI\n\n", "See below.\n-- \nsig\n\n"]))
def test_precheck_sees_every_inline_marker_the_reader_finds(
        phrase, label, dashes, blank, flips, charset, cte, before):
    assume(not (charset == "iso2022_jp" and cte != "8bit"))   # 7-bit as is (RFC 1468)
    words = _recase(phrase, flips).split(" ")
    marker = (f"{blank.join(words)}:" if phrase in _BEGIN
              else f"{'-' * dashes}{blank}{blank.join(words)}{blank}{'-' * dashes}")
    raw = _encoded(f"{before}{marker}\n{label}: Zoe <zoe@example.org>\nDate: x\n\nhi\n",
                   charset, cte)
    assume(raw is not None)               # the phrase has no characters in this charset
    assert _sender(raw) == "zoe@example.org"
    assert may_be_forward(raw)


@settings(max_examples=100, deadline=None)
@given(label=st.sampled_from(_FROM_LABELS), rule=st.integers(20, 60),
       gap=st.integers(0, 8), charset=st.sampled_from(["utf-8", "iso-8859-1", "cp1251"]),
       cte=st.sampled_from(["8bit", "quoted-printable"]), flips=st.lists(st.booleans()))
def test_precheck_sees_an_underscore_rule_over_any_from_label(label, rule, gap, charset, cte,
                                                             flips):
    body = ("FYI\n\n" + "_" * rule + "\n" + "\n" * gap + _recase(label, flips)
            + ": Zoe <zoe@example.org>\nSent: Monday\n")
    raw = _encoded(body, charset, cte)
    assume(raw is not None)
    assert _sender(raw) == "zoe@example.org"
    assert may_be_forward(raw)


def test_mailing_list_footer_rule_is_no_forward():
    footer = ("Thanks, it works now.\n\n_______________________________________________\n"
              "Members mailing list -- members@lists.example.net\n"
              "https://lists.example.net/mailman/listinfo/members\n")
    raw = _mail(footer, subject="Re: glue")
    assert _sender(raw) is None
    assert not may_be_forward(raw)


def test_words_of_a_marker_in_prose_are_no_forward():
    raw = _mail("I forwarded the message to Bob; the original message is lost.\n",
                subject="printer")
    assert not may_be_forward(raw)


def test_attached_message_global_passes_the_precheck():
    # RFC 6532 3.7: an attached message with UTF-8 headers is message/global.
    raw = _forward_as_attachment().as_bytes().replace(b"message/rfc822", b"message/global")
    assert _sender(raw) == "zoe@example.org"
    assert may_be_forward(raw)


def test_precheck_window_bounds_the_marker_search_but_not_the_attachment_type():
    far = _mail("x" * 70000 + "\n---------- Forwarded message ---------\nFrom: z@e.org\n",
                subject="printer")
    assert may_be_forward(far)
    assert not may_be_forward(far, window=65536)
    attached = _forward_as_attachment().as_bytes()
    assert may_be_forward(b"x" * 70000 + attached, window=65536)


def test_forward_subject_after_a_byte_order_mark_passes_the_precheck():
    assert may_be_forward(b"\xef\xbb\xbfSubject: Fwd: printer\n\nsee below\n")
    assert not may_be_forward(b"\xef\xbb\xbfSubject: printer\n\nsee below\n")
