"""Writes fixtures/: the project's own sample archives, their README table and expected.json.

Run `python tools/make_fixtures.py` from the repository root; it rewrites every file
byte-identically (fixed dates, fixed gzip mtime, no randomness). Every person, address
and message here is invented (example.org / example.com / example.net, documentation IPs).

This script is long because it holds the text of about ninety hand-written mails (plus a
generated 200-mail chain): the mail model first, the mail texts in the middle, then the
writers, the expectations (expected.json, README.md) and main. `--check` compares the
committed folder with what would be written (compressed files by content).
"""

from __future__ import annotations

import base64
import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import quopri
import re
import struct
import sys
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "fixtures")
STAFF_DOMAIN = "example.org"
UTC = timezone.utc


def tz(spec: str) -> timezone:
    sign = -1 if spec[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(spec[1:3]), minutes=int(spec[3:5])))


def when(stamp: str, offset: str = "+0000") -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M").replace(tzinfo=tz(offset))


def h(text: str, n: int = 12) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def asctime(dt: datetime) -> str:
    """The mbox From-line date: asctime() form, in UTC (mboxrd/mboxo convention)."""
    dt = dt.astimezone(UTC)
    return f"{dt:%a %b} {dt.day:2d} {dt:%H:%M:%S %Y}"


# --------------------------------------------------------------------------- the mail model

@dataclass
class Mail:
    """One mail as the generator knows it, with the truth the importer must find."""

    key: str
    thread: str
    sender: str                    # envelope sender, bare address
    date: datetime | None          # the true date (Date header, or what the fallback gives)
    headers: list[tuple[str, str]]
    body: bytes
    message_id: str | None
    links: tuple[str, ...] = ()    # ids this mail really replies to (cleaned), for ghosts/unions
    subject_parent: str | None = None   # key of the mail only the subject links it to
    subject: str = ""              # decoded subject as a reader should see it
    from_addr: str = ""
    date_source: str = "date"
    transport: list[tuple[str, str]] = field(default_factory=list)
    from_line_date: datetime | None = None
    chain: tuple[str, ...] = ()    # the References a reply to this mail would carry, minus it
    text: str = ""                 # the plain text, for quoting in replies
    copy_of: str | None = None     # key of the mail this is another copy of
    sent: datetime | None = None   # when it left the sender: transport times follow it
    forwarded_from: str | None = None   # original sender named in a staff forward
    from_line_text: str | None = None   # a From line written as is (a broken one)
    content: dict = field(default_factory=dict)   # what a reader of the ticket must see

    def raw(self, newline: bytes = b"\n") -> bytes:
        lines = [f"{k}: {v}" for k, v in self.transport + self.headers]
        head = "\n".join(lines).encode("utf-8", "surrogateescape") + b"\n\n"
        data = head + self.body
        if newline != b"\n":
            data = data.replace(b"\n", newline)
        return data

    def from_line(self) -> str:
        if self.from_line_text:
            return self.from_line_text
        stamp = self.from_line_date or self.received_at()
        return f"From {self.sender} {asctime(stamp)}"

    def received_at(self) -> datetime:
        base = self.sent or self.date or datetime(2020, 1, 1, tzinfo=UTC)
        return base + timedelta(seconds=3 + int(h(self.key, 4), 16) % 80)


def transport(mail: Mail, rcpt: str, mx: str = "mx.example.org") -> list[tuple[str, str]]:
    """Return-Path, Delivered-To and one Received, as Postfix + Dovecot would add them."""
    at = format_datetime(mail.received_at().astimezone(UTC))
    domain = mail.sender.rpartition("@")[2]
    qid = h(mail.key + rcpt, 10).upper()
    ip = f"192.0.2.{int(h(domain, 2), 16) % 200 + 20}"
    if domain == STAFF_DOMAIN:
        origin = f"from [198.51.100.{int(h(mail.sender, 2), 16) % 200 + 20}] (unknown)"
        how = "ESMTPSA"
    else:
        origin = f"from mail.{domain} (mail.{domain} [{ip}])"
        how = "ESMTPS"
    return [("Return-Path", f"<{mail.sender}>"), ("Delivered-To", rcpt),
            ("Received", f"{origin}\n\tby {mx} (Postfix) with {how} id {qid}\n"
                         f"\tfor <{rcpt}>; {at}")]


def mid(key: str, domain: str, dt: datetime | None, style: str = "plain") -> str:
    if dt is None:
        return f"{h(key, 16)}@mail.{domain}"
    stamp = dt.astimezone(UTC).strftime("%Y%m%d%H%M%S")
    if style == "tb":      # Thunderbird: a UUID-shaped id at the sender's domain
        x = h(key, 32)
        return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}@{domain}"
    if style == "outlook":
        return f"{h(key, 16).upper()}@exchange.{domain}"
    return f"{stamp}.{h(key, 8)}@mail.{domain}"


def qp(text: str, charset: str) -> bytes:
    return quopri.encodestring(text.encode(charset).replace(b"\n", b"\r\n")).replace(b"\r\n", b"\n")


def text_body(text: str, charset: str = "utf-8", cte: str | None = None) -> tuple[list, bytes]:
    """Headers and encoded bytes for a text/plain body."""
    raw = text.encode(charset)
    if cte is None:
        cte = "7bit" if raw.isascii() else "quoted-printable"
    data = qp(text, charset) if cte == "quoted-printable" else raw
    ctype = f"text/plain; charset={charset}" if charset != "us-ascii" else "text/plain"
    if charset == "utf-8" and raw.isascii():
        ctype = "text/plain; charset=utf-8; format=flowed"
    return [("MIME-Version", "1.0"), ("Content-Type", ctype),
            ("Content-Transfer-Encoding", cte)], data


def b64(data: bytes) -> bytes:
    enc = base64.b64encode(data)
    return b"\n".join(enc[i:i + 76] for i in range(0, len(enc), 76)) + b"\n"


def addr(spec: str) -> str:
    return spec.rpartition("<")[2].rstrip(">").lower() if "<" in spec else spec.lower()




def make(key, thread, frm, to, subject, date, text, *, cc=None, msgid="auto", style="plain",
         parent: Mail | None = None, refs=True, irt=True, prefix="Re: ", subject_raw=None,
         extra=(), charset="utf-8", cte=None, body=None, decoded_subject=None,
         date_header="auto", who=None, quote_lines=4) -> Mail:
    """A mail with the usual headers; a reply gets In-Reply-To/References from its parent
    (RFC 5322 section 3.6.4) and quotes it, unless told otherwise."""
    sender = addr(frm)
    domain = sender.rpartition("@")[2]
    message_id = mid(key, domain, date, style) if msgid == "auto" else msgid
    hdrs = [("From", frm), ("To", to)]
    if cc:
        hdrs.append(("Cc", cc))
    chain: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    if parent is not None:
        if subject is None:
            base = parent.subject
            subject = base if base.lower().startswith(prefix.lower()) else prefix + base
        chain = parent.chain + (parent.message_id,)
        if irt:
            hdrs.append(("In-Reply-To", f"<{parent.message_id}>"))
        if refs:
            hdrs.append(("References", fold_ids(chain)))
        links = chain if refs else ((parent.message_id,) if irt else ())
        if who is not None:
            text = text.rstrip("\n") + "\n\n" + quote(parent, who, quote_lines) + "\n"
    hdrs.append(("Subject", subject_raw or subject))
    if date_header == "auto":
        hdrs.append(("Date", format_datetime(date)))
    elif date_header is not None:
        hdrs.append(("Date", date_header))
    if message_id:
        hdrs.append(("Message-ID", f"<{message_id}>"))
    hdrs.extend(extra)
    if body is None:
        body_headers, data = text_body(text, charset, cte)
    else:
        body_headers, data = body
    hdrs.extend(body_headers)
    return Mail(key, thread, sender, date, hdrs, data, message_id, links=links,
                subject=decoded_subject or subject, from_addr=sender, chain=chain, text=text,
                sent=date)


def fold_ids(ids) -> str:
    """References folded after every third id, as mail clients do (RFC 5322 2.2.3)."""
    parts = [f"<{i}>" for i in ids]
    lines = [" ".join(parts[i:i + 3]) for i in range(0, len(parts), 3)]
    return "\n ".join(lines)


def quote(mail: Mail, who: str, limit: int) -> str:
    lines = mail.text.strip().splitlines()[:limit]
    stamp = mail.date.strftime("%a, %d %b %Y at %H:%M") if mail.date else "an unknown date"
    return f"On {stamp}, {who} wrote:\n" + "\n".join("> " + ln if ln else ">" for ln in lines)


def html_only(html: str) -> tuple[list, bytes]:
    return [("MIME-Version", "1.0"), ("Content-Type", 'text/html; charset="utf-8"'),
            ("Content-Transfer-Encoding", "quoted-printable")], qp(html, "utf-8")


def multipart(boundary: str, parts: list[tuple[list, bytes]], kind: str = "mixed"):
    """A multipart body (RFC 2046 section 5.1) from (headers, bytes) parts."""
    out = [b"This is a multi-part message in MIME format.\n"]
    for hdrs, data in parts:
        out.append(f"--{boundary}\n".encode())
        out.append("".join(f"{k}: {v}\n" for k, v in hdrs).encode() + b"\n")
        out.append(data if data.endswith(b"\n") else data + b"\n")
    out.append(f"--{boundary}--\n".encode())
    return ([("MIME-Version", "1.0"),
             ("Content-Type", f'multipart/{kind};\n boundary="{boundary}"')], b"".join(out))


def part_text(text: str, charset: str = "utf-8") -> tuple[list, bytes]:
    hdrs, data = text_body(text, charset)
    return [x for x in hdrs if x[0] != "MIME-Version"], data


def attachment(ctype: str, name: str, data: bytes, disposition: str = "attachment"):
    return ([("Content-Type", f'{ctype}; name="{name}"'),
             ("Content-Disposition", f'{disposition}; filename="{name}"'),
             ("Content-Transfer-Encoding", "base64")], b64(data))


def tiny_png(width: int = 4, height: int = 3) -> bytes:
    """A real, tiny PNG (a grey gradient), made without any image library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + bytes(40 * (x + y) % 256 for x in range(width) for _ in range(3))
                    for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    # Level 0 (stored blocks): the same bytes from every zlib build, zlib-ng included.
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 0))
            + chunk(b"IEND", b""))


FAKE_PDF = (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
            b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
            b"% Receipt 0042 - Timber & Tools Ltd - 1 x bandsaw blade 1400mm - GBP 18.50\n"
            b"trailer\n<< /Root 1 0 R >>\n%%EOF\n")


# --------------------------------------------------------------------------- the help desk

ALICE = "Alice Moreau <alice@example.org>"
BOB = "Bob Lindqvist <bob@example.org>"
HELLO = "Northfield Makerspace <hello@example.org>"
HELLO_ADDR = "hello@example.org"
SIG_A = "\nAlice\n-- \nNorthfield Makerspace - hello@example.org\n"
SIG_B = "\nCheers,\nBob\n-- \nNorthfield Makerspace - hello@example.org\n"
TB = [("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:68.0) Gecko/20100101 Thunderbird/68.12.0"),
      ("Content-Language", "en-GB")]


def helpdesk_threads_2019() -> list[Mail]:
    out: list[Mail] = []
    priya = "Priya Natarajan <priya.n@example.com>"
    m1 = make("fees-q", "membership-fees", priya, HELLO, "Membership fees for students",
              when("2019-02-04 10:12"),
              "Hello,\n\nI'm a second-year student at the college down the road. Is there a\n"
              "reduced membership rate for students, and can I pay monthly instead of\n"
              "for the whole year?\n\nThanks,\nPriya\n")
    m2 = make("fees-a1", "membership-fees", ALICE, priya, None, when("2019-02-04 14:40"),
              "Hi Priya,\n\nYes: students pay 15 pounds a month instead of 25, monthly by standing\n"
              "order. Bring your student card to your first visit and we will set it up.\n"
              + SIG_A, cc=HELLO, style="tb", parent=m1, who="Priya Natarajan", extra=TB)
    m3 = make("fees-q2", "membership-fees", priya, ALICE, None, when("2019-02-05 09:03"),
              "Brilliant, thank you! Does that include the wood workshop or is that extra?\n",
              cc=HELLO, parent=m2, who="Alice Moreau")
    out += [m1, m2, m3]

    tom = "Tom Okafor <tom.okafor@example.net>"
    t1 = make("laser-q", "laser-induction", tom, HELLO,
              "Laser cutter induction - available dates?", when("2019-04-08 19:21", "+0100"),
              "Hi there,\n\nI joined last week and would like to do the laser cutter induction.\n"
              "Which dates do you have in April? Evenings are best for me.\n\nTom\n")
    t2 = make("laser-a1", "laser-induction", BOB, tom, None, when("2019-04-09 08:55", "+0100"),
              "Hi Tom,\n\nWe have Tuesday 16th and Thursday 18th April, both at 7pm, two places\n"
              "left on each. Let me know which one suits you.\n" + SIG_B,
              cc=HELLO, style="tb", parent=t1, who="Tom Okafor", extra=TB)
    # Tom answers Bob alone (Reply, not Reply All): only bob's Maildir has this one.
    t3 = make("laser-q2-bob-only", "laser-induction", tom, BOB, None,
              when("2019-04-09 12:30", "+0100"),
              "Thursday 18th please. Could my partner Jo come along too? She is a member\n"
              "as well.\n", parent=t2, who="Bob Lindqvist")
    t4 = make("laser-a2", "laser-induction", BOB, tom, None, when("2019-04-09 17:02", "+0100"),
              "Done: you and Jo are both booked for Thursday 18th at 7pm. Wear closed shoes.\n"
              + SIG_B, cc=HELLO, style="tb", parent=t3, who="Tom Okafor", extra=TB)
    # The sender's phone sent no Date header at all; its date comes from Received.
    t5 = make("laser-thanks-no-date", "laser-induction", tom, BOB, None,
              when("2019-04-09 18:47", "+0100"), "Thanks! See you Thursday.\n\nSent from my phone\n",
              cc=HELLO, parent=t4, date_header=None)
    t5.date_source = "received"
    t5.date = t5.received_at().astimezone(UTC)
    out += [t1, t2, t3, t4, t5]

    hannah = "Hannah Berg <hannah@example.com>"
    q1 = make("question-parking", "question-parking", hannah, HELLO, "Question",
              when("2019-06-03 11:15", "+0100"),
              "Hi,\n\nis there anywhere to park near the workshop on Saturdays? I will be\n"
              "bringing a car full of offcuts for the scrap bin.\n\nHannah\n")
    q2 = make("question-parking-a", "question-parking", ALICE, hannah, None,
              when("2019-06-03 15:48", "+0100"),
              "Hi Hannah,\n\nOn Saturdays the yard behind the building is free, just ring the bell\n"
              "at the gate. Thank you for the offcuts!\n" + SIG_A,
              cc=HELLO, style="tb", parent=q1, who="Hannah Berg", extra=TB)
    out += [q1, q2]

    leo = "Leo Marchetti <leo.marchetti@example.net>"
    v1 = make("question-vouchers", "question-vouchers", leo, HELLO, "Question",
              when("2019-06-24 21:05", "+0200"),
              "Good evening,\n\ndo you sell gift vouchers? My brother's birthday is in July and he\n"
              "would love a woodturning course.\n\nLeo\n")
    v2 = make("question-vouchers-a", "question-vouchers", BOB, leo, None,
              when("2019-06-25 09:30", "+0100"),
              "Hi Leo,\n\nWe do: any amount from 20 pounds, valid for a year. I can post one or\n"
              "email a PDF. The woodturning taster is 45 pounds.\n" + SIG_B,
              cc=HELLO, style="tb", parent=v1, who="Leo Marchetti", extra=TB)
    v3 = make("question-vouchers-q2", "question-vouchers", leo, BOB, None,
              when("2019-06-25 13:12", "+0200"),
              "A PDF voucher for 45 pounds would be perfect. How do I pay?\n",
              cc=HELLO, parent=v2, who="Bob Lindqvist")
    out += [v1, v2, v3]

    elodie = "=?ISO-8859-1?Q?=C9lodie_Fournier?= <elodie.fournier@example.com>"
    r1 = make("reservation-latin1", "reservation", elodie, HELLO,
              "Réservation de la salle pour le 12 octobre", when("2019-09-16 08:41", "+0200"),
              "Bonjour,\n\nNous aimerions réserver la grande salle le samedi 12 octobre pour un\n"
              "atelier de réparation (« Repair Café »), de 10h à 17h, environ 30 personnes.\n"
              "Est-ce possible, et quel est le tarif ?\n\nBien cordialement,\nÉlodie Fournier\n",
              subject_raw="=?ISO-8859-1?Q?R=E9servation_de_la_salle_pour_le_12_octobre?=",
              charset="iso-8859-1", cte="8bit",
              extra=[("X-Mailer", "Microsoft Outlook 16.0")])
    r2 = make("reservation-a", "reservation", ALICE, "=?UTF-8?Q?=C3=89lodie_Fournier?= "
              "<elodie.fournier@example.com>", None, when("2019-09-16 11:20", "+0100"),
              "Bonjour Élodie,\n\nOui, la grande salle est libre le 12 octobre. Pour une association\n"
              "le tarif est de 120 livres pour la journée. Je vous envoie le contrat.\n" + SIG_A,
              cc=HELLO, style="tb", parent=r1, who="Élodie Fournier", extra=TB,
              subject_raw="Re: =?UTF-8?Q?R=c3=a9servation_de_la_salle_pour_le_12_octobre?=")
    r3 = make("reservation-q2", "reservation", elodie, ALICE, None,
              when("2019-09-17 10:02", "+0200"),
              "Merci beaucoup ! Le contrat signé suivra cette semaine.\n\nÉlodie\n",
              cc=HELLO, parent=r2, charset="iso-8859-1", cte="quoted-printable",
              subject_raw="RE: =?ISO-8859-1?Q?R=E9servation_de_la_salle_pour_le_12_octobre?=",
              decoded_subject="RE: Réservation de la salle pour le 12 octobre",
              extra=[("X-Mailer", "Microsoft Outlook 16.0")])
    out += [r1, r2, r3]

    juergen = "=?iso-8859-1?Q?J=FCrgen_Weber?= <j.weber@example.net>"
    ol = [("X-Mailer", "Microsoft Outlook 16.0"), ("Content-Language", "de-DE"),
          ("Thread-Topic", "Frage zur Rechnung 2019-114")]
    g1 = make("invoice-de", "invoice-de", juergen, HELLO, "Frage zur Rechnung 2019-114",
              when("2019-11-12 09:14", "+0100"),
              "Sehr geehrte Damen und Herren,\n\nin der Rechnung 2019-114 ist die Kursgebühr für "
              "den Schweißkurs\nzweimal aufgeführt. Könnten Sie das bitte prüfen?\n\n"
              "Mit freundlichen Grüßen\nJürgen Weber\n", charset="iso-8859-1", style="outlook",
              extra=ol + [("Thread-Index", "AdWZ" + h("g1", 8))])
    g2 = make("invoice-de-a", "invoice-de", BOB, juergen, None, when("2019-11-12 12:30"),
              "Dear Mr Weber,\n\nyou are right, the welding course was charged twice. A corrected\n"
              "invoice is attached to our next mail; please ignore 2019-114.\n" + SIG_B,
              cc=HELLO, style="tb", parent=g1, who="Jürgen Weber", extra=TB)
    g3 = make("invoice-de-aw", "invoice-de", juergen, BOB, "AW: Re: Frage zur Rechnung 2019-114",
              when("2019-11-12 14:05", "+0100"),
              "Hallo Herr Lindqvist,\n\nvielen Dank für die schnelle Antwort. Ich warte auf die "
              "korrigierte\nRechnung.\n\nGrüße\nJürgen Weber\n", cc=HELLO, parent=g2,
              charset="iso-8859-1",
              style="outlook", extra=ol + [("Thread-Index", "AdWZ" + h("g3", 8))])
    # Outlook sent only In-Reply-To here, no References (still a proper link).
    g4 = make("invoice-de-aw2", "invoice-de", juergen, BOB, "AW: AW: Re: Frage zur Rechnung 2019-114",
              when("2019-11-14 08:50", "+0100"),
              "Hallo nochmal,\n\ndie korrigierte Rechnung ist angekommen und bezahlt. Danke!\n\n"
              "Jürgen Weber\n", cc=HELLO, parent=g3, refs=False,
              charset="iso-8859-1",
              style="outlook", extra=ol + [("Thread-Index", "AdWZ" + h("g4", 8))])
    out += [g1, g2, g3, g4]
    return out


def helpdesk_threads_2020() -> list[Mail]:
    out: list[Mail] = []
    sam = "Sam Whitfield <sam.whitfield@example.com>"
    k1 = make("locker", "locker-rental", sam, HELLO, "Locker rental",
              when("2020-01-14 18:30"),
              "Hi,\n\nare there any lockers free to rent? I'd like to leave my tools there\n"
              "between sessions instead of carrying them on the bus.\n\nSam\n")
    k2 = make("locker-a", "locker-rental", ALICE, sam, None, when("2020-01-15 10:05"),
              "Hi Sam,\n\nTwo lockers are free: a small one (5 pounds a month) and a tall one\n"
              "(8 pounds). Tell me which and I'll put your name on it.\n" + SIG_A,
              cc=HELLO, style="tb", parent=k1, who="Sam Whitfield", extra=TB)
    # Written as a new mail from a phone with the subject typed in: no In-Reply-To, no
    # References. Only "Re: Locker rental", two days later, ties it to the thread.
    k3 = make("locker-lost-references", "locker-rental", sam, "hello@example.org",
              "Re: Locker rental", when("2020-01-17 07:58"),
              "The tall one please! I can pay on Saturday.\n\nSam\n\nSent from my phone\n")
    k3.subject_parent = "locker"
    out += [k1, k2, k3]

    marta = "Marta Kowalski <marta.k@example.net>"
    s1 = make("print-ready-staff-first", "print-ready", ALICE, marta,
              "Your 3D print is ready for collection", when("2020-02-11 16:20"),
              "Hi Marta,\n\nyour 3D print (the replacement hinge for the greenhouse door) finished\n"
              "this afternoon. It is on the shelf by the front desk with your name on it.\n"
              "The material cost is 3.40 pounds, payable when you collect.\n" + SIG_A,
              cc=HELLO, style="tb", extra=TB)
    s2 = make("print-ready-reply", "print-ready", marta, ALICE, None,
              when("2020-02-11 19:02"),
              "Wonderful, thank you Alice! I will come by on Thursday evening.\n\nMarta\n",
              cc=HELLO, parent=s1, who="Alice Moreau")
    s3 = make("print-ready-a", "print-ready", ALICE, marta, None, when("2020-02-12 09:15"),
              "Great, see you then.\n" + SIG_A, cc=HELLO, style="tb", parent=s2,
              who="Marta Kowalski", extra=TB)
    out += [s1, s2, s3]

    grace = "Grace Adeyemi <g.adeyemi@example.com>"
    fwd_text = (
        "Hi both, this came to my own address. Can one of you answer Grace? I am away\n"
        "next week.\n\nBob\n\n---------- Forwarded message ---------\n"
        "From: Grace Adeyemi <g.adeyemi@example.com>\nDate: Thu, 27 Feb 2020 at 16:41\n"
        "Subject: Workshop for our school group\nTo: Bob Lindqvist <bob@example.org>\n\n\n"
        "Dear Bob,\n\nwe met at your open day in January. I teach design and technology at\n"
        "Northfield Primary and would like to bring a group of 12 pupils (age 10-11)\n"
        "for a half-day workshop in March. Would that be possible, and what would\n"
        "it cost?\n\nKind regards,\nGrace Adeyemi\n")
    f1 = make("school-forwarded-inline", "school-workshop", BOB, HELLO,
              "Fwd: Workshop for our school group", when("2020-03-02 08:12"), fwd_text,
              extra=[("User-Agent", "Gmail")])
    f1.forwarded_from = "g.adeyemi@example.com"
    f2 = make("school-a", "school-workshop", ALICE, grace, "Re: Workshop for our school group",
              when("2020-03-02 11:47"),
              "Dear Grace,\n\nBob passed your message on to me. We would be delighted to host your\n"
              "class. Weekday mornings work best; for a school group the workshop is free,\n"
              "we only ask for 2 pounds a pupil for materials. Would 17 or 24 March suit?\n"
              + SIG_A, cc=HELLO, style="tb", parent=f1, extra=TB)
    f3 = make("school-reply", "school-workshop", grace, ALICE, None, when("2020-03-03 07:55"),
              "Dear Alice,\n\nthank you so much! 24 March would be ideal. I will send the consent\n"
              "forms next week.\n\nGrace\n", cc=HELLO, parent=f2, who="Alice Moreau")
    out += [f1, f2, f3]

    oliver = "Oliver Brandt <oliver.brandt@example.com>"
    inner = make("booking-confirmation-inner", "none", "Bookings <bookings@example.net>",
                 oliver, "Your booking confirmation #A-2231", when("2020-06-20 09:00"),
                 "Dear Oliver Brandt,\n\nthank you for your booking.\n\n"
                 "  Booking:  #A-2231\n  Course:   Introduction to welding (2 sessions)\n"
                 "  Payment:  2 x 60.00 GBP, card ending 4242\n\nBookings\n")
    inner_raw = inner.raw()
    o1 = make("booking-forwarded-as-attachment", "booking-charged-twice", oliver, HELLO,
              "Fwd: Your booking confirmation #A-2231", when("2020-06-22 13:31", "+0100"), "",
              body=multipart("------------0A1B2C3D4E5F60718293A4B5", [
                  part_text("Hello,\n\nthe booking system charged me twice for the welding course, "
                            "see the\nconfirmation attached. Could you refund one payment?\n\n"
                            "Oliver\n"),
                  ([("Content-Type", 'message/rfc822; name="Your booking confirmation.eml"'),
                    ("Content-Disposition",
                     'attachment; filename="Your booking confirmation.eml"')], inner_raw)]),
              extra=TB[:1])
    o1.text = "the booking system charged me twice for the welding course"
    # The newline before a boundary belongs to the boundary (RFC 2046 5.1.1): one byte less.
    o1.content = {"text_contains": ["charged me twice"], "attachments": [
        ["Your booking confirmation.eml", "message/rfc822", len(inner_raw) - 1]]}
    o2 = make("booking-a", "booking-charged-twice", ALICE, oliver, None,
              when("2020-06-22 16:10", "+0100"),
              "Hi Oliver,\n\nsorry about that: the second payment of 60 pounds has been refunded\n"
              "and should reach your card within five working days.\n" + SIG_A,
              cc=HELLO, style="tb", parent=o1, who="Oliver Brandt", extra=TB)
    out += [o1, o2]

    spam = make("spam-no-message-id", "spam", "Rewards Team <winner-notify@example.net>",
                "undisclosed-recipients:;",
                "Congratulations! You have been selected for a $500 gift card",
                when("2020-08-17 03:12", "-0700"),
                "Dear Customer,\n\nYou have been selected to receive a $500 gift card!!!\n"
                "Claim it within 24 hours at the link below before it expires.\n\n"
                "  http://rewards.example.net/claim?id=88412\n\n"
                "To unsubscribe reply STOP.\n", msgid=None,
                extra=[("X-Mailer", "Mass Mailer Pro 9.1"), ("X-Priority", "1")])
    out.append(spam)

    nadia = "Nadia Haddad <nadia.haddad@example.net>"
    html = ("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">"
            "</head>\n<body dir=\"ltr\">\n<div style=\"font-family: Calibri, Arial, sans-serif; "
            "font-size: 12pt;\">\n<p>Hello Northfield team,</p>\n<p>I saw the poster for your "
            "<b>open days</b> in October &amp; November. I would love to help out as a\n"
            "volunteer &ndash; I can do the welcome desk or show people the sewing machines.</p>\n"
            "<p>Is there a <a href=\"https://example.org/volunteer\">form</a> to fill in?</p>\n"
            "<p>Best wishes,<br>\nNadia</p>\n</div>\n</body></html>\n")
    n1 = make("volunteer-html-only", "volunteer-html", nadia, HELLO, "Volunteering on open days",
              when("2020-09-07 20:44", "+0100"), "", body=html_only(html),
              extra=[("X-Mailer", "Outlook for Android")])
    n1.text = "Hello Northfield team,\nI saw the poster for your open days."
    n1.content = {"text_contains": ["open days in October & November"], "html": True,
                  "attachments": []}
    n2 = make("volunteer-a", "volunteer-html", BOB, nadia, None, when("2020-09-08 09:12", "+0100"),
              "Hi Nadia,\n\nthank you, that would be a great help! No form needed: come to the\n"
              "volunteers' briefing on Thursday 1 October at 6pm.\n" + SIG_B,
              cc=HELLO, style="tb", parent=n1, who="Nadia Haddad", extra=TB)
    out += [n1, n2]

    chris = "Chris Doyle <chris.doyle@example.com>"
    c1 = make("bandsaw-attachments", "bandsaw", chris, HELLO,
              "Broken bandsaw blade - photo and receipt", when("2020-10-19 17:35", "+0100"), "",
              body=multipart("_004_bandsaw_" + h("c1", 12), [
                  part_text("Hi,\n\nthe bandsaw blade snapped while I was cutting oak this "
                            "afternoon (nobody\nhurt). Photo attached. I bought a replacement "
                            "blade, receipt attached too -\ncan I get the 18.50 back?\n\nChris\n"),
                  attachment("image/png", "bandsaw.png", tiny_png(), "inline"),
                  attachment("application/pdf", "receipt-0042.pdf", FAKE_PDF)]))
    c1.text = "the bandsaw blade snapped while I was cutting oak this afternoon"
    c1.content = {"text_contains": ["blade snapped"], "attachments": [
        ["bandsaw.png", "image/png", len(tiny_png())],
        ["receipt-0042.pdf", "application/pdf", len(FAKE_PDF)]]}
    c2 = make("bandsaw-a", "bandsaw", ALICE, chris, None, when("2020-10-20 10:02", "+0100"),
              "Hi Chris,\n\nthank you for replacing it so quickly. I have paid 18.50 into your\n"
              "account today.\n" + SIG_A, cc=HELLO, style="tb", parent=c1, who="Chris Doyle",
              extra=TB)
    c3 = make("bandsaw-thanks", "bandsaw", chris, ALICE, None, when("2020-10-20 12:40", "+0100"),
              "Received, thanks Alice.\n", cc=HELLO, parent=c2, who="Alice Moreau", quote_lines=2)
    out += [c1, c2, c3]

    fiona = "Fiona McLeod <fiona.mcleod@example.net>"
    x1 = make("christmas-hours", "christmas-hours", fiona, HELLO, "Opening hours over Christmas",
              when("2020-12-01 12:00"),
              "Hello,\n\nwill the workshop be open between Christmas and New Year? I'm hoping\n"
              "to finish a rocking horse for my niece.\n\nFiona\n")
    x2 = make("christmas-hours-a", "christmas-hours", ALICE, fiona, None,
              when("2020-12-01 15:27"),
              "Hi Fiona,\n\nwe are closed 24-27 December and 1 January, open as usual on the other\n"
              "days. Good luck with the rocking horse!\n" + SIG_A,
              cc=HELLO, style="tb", parent=x1, who="Fiona McLeod", extra=TB)
    out += [x1, x2]
    return out


def helpdesk_threads_2021() -> list[Mail]:
    out: list[Mail] = []
    dan = "Dan Ito <dan.ito@example.com>"
    d1 = make("water-bottle", "water-bottle", dan, HELLO, "Lost water bottle",
              when("2021-02-09 21:15"),
              "Hi,\n\nI think I left a green metal water bottle in the electronics corner on\n"
              "Sunday. Has anyone found it?\n\nDan\n")
    d2 = make("water-bottle-a", "water-bottle", BOB, dan, None, when("2021-02-10 08:40"),
              "Hi Dan,\n\nyes, it's in the lost property box by the door.\n" + SIG_B,
              cc=HELLO, style="tb", parent=d1, who="Dan Ito", extra=TB)
    d3 = make("water-bottle-thanks", "water-bottle", dan, BOB, None, when("2021-02-10 09:02"),
              "Phew, thank you!\n", cc=HELLO, parent=d2, who="Bob Lindqvist", quote_lines=2)
    out += [d1, d2, d3]

    ravi = "Ravi Shah <ravi.shah@example.com>"
    b2 = make("own-timber-bob-only", "own-timber", ravi, BOB, "Can I bring my own timber?",
              when("2021-03-15 13:20"),
              "Hi Bob,\n\nwe spoke at the induction. Can I bring my own timber to cut on the\n"
              "table saw, or do I have to buy it from the workshop?\n\nThanks,\nRavi\n")
    out.append(b2)

    aisha = "Aisha Rahman <aisha.rahman@example.com>"
    a1 = make("summer-camp", "summer-camp", aisha, HELLO, "Kids' summer camp 2021",
              when("2021-05-10 07:45", "+0100"),
              "Hello,\n\nare you running the kids' summer camp again this year? My twins are 9\n"
              "and loved it in 2019.\n\nAisha\n")
    a2 = make("summer-camp-a", "summer-camp", ALICE, aisha, None,
              when("2021-05-10 12:18", "+0100"),
              "Hi Aisha,\n\nyes! Two weeks this year, 2-6 and 9-13 August, ages 8-12. Booking\n"
              "opens on 1 June.\n" + SIG_A, cc=HELLO, style="tb", parent=a1,
              who="Aisha Rahman", extra=TB)
    a3 = make("summer-camp-q2", "summer-camp", aisha, ALICE, None,
              when("2021-05-10 18:30", "+0100"),
              "Lovely. Is there a discount for siblings?\n", cc=HELLO, parent=a2,
              who="Alice Moreau")
    a4 = make("summer-camp-a2", "summer-camp", ALICE, aisha, None,
              when("2021-05-11 09:05", "+0100"),
              "There is: 10% off the second child.\n" + SIG_A, cc=HELLO, style="tb", parent=a3,
              who="Aisha Rahman", extra=TB, quote_lines=2)
    out += [a1, a2, a3, a4]
    return out


COPIED_TO_BOB = ("laser-q", "laser-a2", "question-vouchers", "question-vouchers-q2", "invoice-de",
                 "school-forwarded-inline", "bandsaw-attachments", "water-bottle")
ONLY_BOB = ("laser-q2-bob-only", "own-timber-bob-only")
BOB_NEW = ("water-bottle", "own-timber-bob-only")      # not yet read: new/, no info suffix
REPLIED = ("fees-q", "fees-q2", "question-parking", "reservation-latin1", "reservation-q2",
           "locker", "print-ready-reply", "school-forwarded-inline", "booking-forwarded-as-attachment",
           "christmas-hours", "summer-camp", "summer-camp-q2", "bandsaw-attachments")
BOB_FLAGS = {"laser-q": "RS", "question-vouchers": "RS", "invoice-de": "RS",
             "laser-q2-bob-only": "RS", "bandsaw-attachments": "FS"}


def helpdesk() -> tuple[list[Mail], list[tuple[str, Mail]]]:
    """The shared inbox in delivery order, and bob's Maildir as (relative name, mail)."""
    mails = helpdesk_threads_2019() + helpdesk_threads_2020() + helpdesk_threads_2021()
    inbox = sorted((m for m in mails if m.key not in ONLY_BOB), key=lambda m: m.received_at())
    for m in inbox:
        # Exported from alice's Thunderbird: its "From - " lines and status headers on top.
        m.from_line_text = f"From - {asctime(m.received_at())}"
        status = "0003" if m.key in REPLIED else "0001"
        m.transport = [("X-Mozilla-Status", status), ("X-Mozilla-Status2", "00000000"),
                       ("X-Mozilla-Keys", " " * 80)] + transport(m, HELLO_ADDR)
    by_key = {m.key: m for m in mails}
    maildir: list[tuple[str, Mail]] = []
    for key in COPIED_TO_BOB + ONLY_BOB:
        orig = by_key[key]
        copy = Mail(**{**orig.__dict__})
        if key in COPIED_TO_BOB:
            copy.key, copy.copy_of = key + "@bob", key
        extra = [("X-Original-To", HELLO_ADDR)] if key in COPIED_TO_BOB else []
        copy.transport = (transport(orig, "bob@example.org", "mx2.example.org") + extra
                          + [("X-Spam-Status", f"No, score=-{int(h(key, 2), 16) % 30 / 10:.1f}")])
        maildir.append((maildir_name(copy, BOB_FLAGS.get(key, "S"), key in BOB_NEW), copy))
    return inbox, maildir


def maildir_name(mail: Mail, flags: str, new: bool) -> str:
    """Dovecot-style unique name with the size (S=) and, in cur/, the info after ':2,'."""
    stamp = int(mail.received_at().timestamp())
    base = f"{stamp}.M{int(h(mail.key, 5), 16)}P{1000 + int(h(mail.key, 3), 16) % 9000}" \
           f".mail.example.org,S={len(mail.raw())}"
    return f"new/{base}" if new else f"cur/{base}:2,{flags}"


# --------------------------------------------------------------------------- small fixtures

@dataclass
class Junk:
    """Bytes in a mailbox that are no mail: the importer must quarantine them, not lose them."""

    key: str
    data: bytes
    reason: str
    from_line: str | None = None   # None: stands before the first separator


def simple_thread(prefix: str, thread: str, subject: str, start: datetime, a: str, b: str,
                  texts: list[str], domain_style: str = "plain") -> list[Mail]:
    """A short back-and-forth between a and b, each mail a proper reply to the previous."""
    out: list[Mail] = []
    for n, text in enumerate(texts):
        frm, to = (a, b) if n % 2 == 0 else (b, a)
        parent = out[-1] if out else None
        m = make(f"{prefix}-{n + 1}", thread, frm, to, subject if parent is None else None,
                 start + timedelta(hours=5 * n, minutes=7 * n), text, parent=parent,
                 style=domain_style)
        m.transport = transport(m, addr(to))
        out.append(m)
    return out


def overlapping_copies() -> tuple[list[Mail], list[Mail]]:
    noel = "Noel Carter <noel.carter@example.com>"
    ines = "Ines Duarte <ines.duarte@example.net>"
    members = "members@lists.example.net"
    texts = ["Hi all,\n\nwhich wood glue do you use for outdoor furniture? The PVA I used last\n"
             "summer gave up after one winter.\n\nNoel\n",
             "Hi Noel,\n\nfor outdoor work use a D4-rated PVA or, better, polyurethane glue.\n"
             "Clamp it well: polyurethane foams as it cures.\n\nInes\n",
             "Thanks Ines, D4 it is.\n\nNoel\n"]
    base = simple_thread("glue", "outdoor-glue", "Wood glue for outdoor furniture",
                         when("2019-07-02 18:10", "+0100"), noel, ines, texts)
    for m in base:
        m.headers[1] = ("To", members)
        m.headers.insert(2, ("Cc", ines if m.from_addr == "noel.carter@example.com" else noel))
    laptop, server = [], []
    for m in base:
        a = Mail(**{**m.__dict__, "key": m.key + "@laptop"})
        a.transport = transport(m, "noel.carter@example.com", "mx.example.com")
        laptop.append(a)
    for n, m in enumerate(base):
        b = Mail(**{**m.__dict__, "key": m.key + "@server", "headers": list(m.headers)})
        b.transport = [("Return-Path", f"<{m.sender}>"), ("X-Original-To", m.sender),
                       ("Delivered-To", "noel@backup.example.com")] + transport(
            m, "noel@backup.example.com", "imap.backup.example.com")[2:]
        b.copy_of = m.key + "@laptop"
        if n == 1:   # this copy came through the list: list headers and Mailman's footer
            b.headers += [("List-Id", "Members of Northfield <members.lists.example.net>"),
                          ("List-Unsubscribe", "<mailto:members-leave@lists.example.net>"),
                          ("Precedence", "list"),
                          ("Sender", "Members <members-bounces@lists.example.net>")]
            b.body = m.body + (b"_______________________________________________\n"
                               b"Members mailing list -- members@lists.example.net\n"
                               b"To unsubscribe send an email to members-leave@lists.example.net\n")
        server.append(b)
    return laptop, server


def broken_references() -> list[Mail]:
    carol = "Carol Jones <carol.jones@example.com>"
    dave = "Dave Kim <it-desk@example.org>"
    d0 = when("2019-03-04 09:30")
    ids = {k: f"br-{k}.{h(k, 6)}@example.com" for k in ("m1", "m2", "m3", "m4", "m5", "m6", "m7")}
    subj = "Printer on the 2nd floor keeps jamming"
    rows = [
        # key, sender, hours after d0, References, In-Reply-To, really links to
        ("m1", carol, 0, None, None, ()),
        # junk words and a comment around the one real id
        ("m2", dave, 2, f"see-previous-mail <{ids['m1']}> (sent from mobile)", None, ("m1",)),
        # doubled angle brackets, as a broken web mailer wrote them
        ("m3", carol, 20, f"<<{ids['m1']}>> <<{ids['m2']}>>", f"<<{ids['m2']}>>", ("m1", "m2")),
        # bare id, no angle brackets at all
        ("m4", dave, 26, f"{ids['m3']}", None, ("m3",)),
        # old Emacs/Gnus form: "X"'s message of "DATE", with the id after it
        ("m5", carol, 48, None,
         f"\"Dave Kim\"'s message of \"Thu, 7 Mar 2019 11:02:13 +0000\" <{ids['m4']}>", ("m4",)),
        # the same form without any id: only the subject (and two days) link it
        ("m6", dave, 96, None, "\"Carol Jones\"'s message of \"Fri, 8 Mar 2019 09:15:00 +0000\"",
         ()),
        # References and In-Reply-To name the message itself (and, first, the thread root)
        ("m7", carol, 120, f"<{ids['m1']}> <{ids['m7']}>", f"<{ids['m7']}>", ("m1",)),
    ]
    texts = {"m1": "The printer on the 2nd floor jams on every second page again.",
             "m2": "I'll have a look at it after lunch.",
             "m3": "Still jamming this morning, sorry!",
             "m4": "Replaced the pickup roller, please try again.",
             "m5": "Works now, thank you.",
             "m6": "Closing this one then.",
             "m7": "It jammed once more today, but only with the thick paper."}
    out = []
    for key, frm, hours, refs, irt, links in rows:
        hdrs = [("From", frm), ("To", dave if frm == carol else carol),
                ("Subject", subj if key == "m1" else "Re: " + subj),
                ("Date", format_datetime(d0 + timedelta(hours=hours))),
                ("Message-ID", f"<{ids[key]}>")]
        if irt:
            hdrs.append(("In-Reply-To", irt))
        if refs:
            hdrs.append(("References", refs))
        body_h, data = text_body(texts[key] + "\n")
        m = Mail(f"br-{key}", "printer", addr(frm), d0 + timedelta(hours=hours), hdrs + body_h,
                 data, ids[key], links=tuple(ids[x] for x in links), subject=hdrs[2][1],
                 from_addr=addr(frm), text=texts[key])
        if key == "m6":
            m.subject_parent = "br-m1"
        m.transport = transport(m, addr(hdrs[1][1]))
        out.append(m)
    loop_a, loop_b = "loop-a.7731@example.net", "loop-b.7732@example.net"
    nina = "Nina Petrova <nina.petrova@example.net>"
    la = make("br-loop-a", "key-cabinet", nina, dave, "Key cabinet code",
              when("2019-05-02 10:00"), "Could someone send me the new key cabinet code?\n",
              msgid=loop_a, extra=[("In-Reply-To", f"<{loop_b}>"), ("References", f"<{loop_b}>")])
    lb = make("br-loop-b", "key-cabinet", dave, nina, "Re: Key cabinet code",
              when("2019-05-02 11:00"), "It is the same as the alarm code, without the last digit.\n",
              msgid=loop_b, extra=[("In-Reply-To", f"<{loop_a}>"), ("References", f"<{loop_a}>")])
    la.links, lb.links = (loop_b,), (loop_a,)
    for m in (la, lb):
        m.transport = transport(m, "it-desk@example.org" if m is la else nina.split("<")[1][:-1])
    return out + [la, lb]


def imposters() -> list[Mail]:
    """Two unrelated mails from a web form mailer that stamps every mail with one id."""
    same = "formmail@www.example.net"
    form = [("X-Mailer", "FormMail 1.6")]
    a = make("imposter-first", "imposter-first", "Lena Vogel <lena.vogel@example.net>", HELLO,
             "Room hire for a birthday party", when("2020-04-03 10:20", "+0100"),
             "Hello, can we hire the small room on 9 May for a children's birthday party\n"
             "(8 children, 2-5pm)? Lena\n", msgid=same, extra=form)
    b = make("imposter-second", "imposter-second", "Omar Farouk <omar.farouk@example.com>",
             HELLO, "Soldering irons for a repair evening", when("2020-04-21 17:02", "+0100"),
             "Hi, could we borrow six soldering irons for our street's repair evening on\n"
             "the 30th? We would collect and return them the same day. Omar\n",
             msgid=same, extra=form)
    for m in (a, b):
        m.transport = transport(m, HELLO_ADDR)
    return [a, b]


def date_fallbacks() -> list[Mail]:
    """The four ways to date a mail, in the order of records.DateSource."""
    paula = "Paula Grant <paula.grant@example.com>"
    out = []
    # No date anywhere: no Date, no Received, and a From line whose date does not exist.
    none = make("date-none-at-all", "date-none", paula, HELLO, "Shelf brackets left over",
                None, "There are twelve shelf brackets left over from the fit-out, free to\n"
                "anyone who wants them.\n", date_header=None,
                msgid="no-date-anywhere.3301@mail.example.com")
    none.date_source = "none"
    none.from_line_text = "From paula.grant@example.com Sun Feb 31 00:00:00 2019"
    out.append(none)
    # No Date header: the newest (topmost) Received header gives the date.
    r_new, r_old = when("2019-08-05 14:02"), when("2019-08-05 14:01")
    missing = make("date-missing-uses-received", "date-received-1", paula, HELLO,
                   "Glue gun left in room 2", r_old, "Someone left a glue gun plugged in "
                   "in room 2. I have put it in the\nlost property box.\n", date_header=None)
    missing.transport = [
        ("Received", f"from mx.example.org (localhost [127.0.0.1])\n\tby imap.example.org "
                     f"(Dovecot) with LMTP id 9Q2x\n\tfor <hello@example.org>; "
                     f"{format_datetime(r_new)}"),
        ("Received", f"from mail.example.com (mail.example.com [192.0.2.33])\n\tby "
                     f"mx.example.org (Postfix) with ESMTPS id 4F1A2B\n\tfor <hello@example.org>; "
                     f"{format_datetime(r_old)}")]
    missing.date, missing.date_source = r_new, "received"
    missing.from_line_date = r_new + timedelta(seconds=1)
    out.append(missing)
    # A Date header that cannot be a date (there is no 32 January): Received gives the date.
    r_at = when("2019-08-12 09:41", "+0100")
    garbage = make("date-garbage-uses-received", "date-received-2", paula, HELLO,
                   "Dust extractor is very loud", when("2019-08-12 09:40", "+0100"),
                   "The dust extractor in the wood shop makes a grinding noise since\n"
                   "yesterday. Probably the bearing.\n", date_header="Thu, 32 Jan 2019 10:00:00 +0100")
    garbage.transport = [("Received", f"from mail.example.com (mail.example.com [192.0.2.33])\n"
                                      f"\tby mx.example.org (Postfix) with ESMTPS id 5C3D4E\n"
                                      f"\tfor <hello@example.org>; {format_datetime(r_at)}")]
    garbage.date, garbage.date_source = r_at, "received"
    out.append(garbage)
    # Neither Date nor Received (saved by a client from its outbox): the From line's date.
    f_at = datetime(2019, 8, 20, 16, 5, 9, tzinfo=UTC)
    from_line = make("date-from-line-only", "date-from-line", paula, HELLO,
                     "Spare key for the tool store", None, "Is there a spare key for the tool "
                     "store? Mine has gone missing.\n", date_header=None)
    from_line.from_line_date, from_line.date, from_line.date_source = f_at, f_at, "from-line"
    out.append(from_line)
    return out


def escaping_mboxrd() -> list[Mail]:
    """Body lines that mboxrd must quote on writing and unquote on reading."""
    rosa = "Rosa Lind <rosa.lind@example.net>"
    m1 = make("mboxrd-from-line", "minutes", rosa, HELLO, "Minutes of the members' meeting",
              when("2019-10-07 20:10", "+0100"),
              "Hello all,\n\nthe minutes are below.\n\n"
              "From the chair: thanks to everyone who painted the hall.\n"
              "From now on the workshop closes at 9pm on weekdays.\n\nRosa\n")
    m2 = make("mboxrd-quoted-from-line", "minutes", ALICE, rosa, None,
              when("2019-10-08 09:00", "+0100"),
              "Thanks Rosa. One correction, you wrote:\n\n"
              ">From now on the workshop closes at 9pm on weekdays.\n\n"
              "It is 10pm on Fridays.\n" + SIG_A, parent=m1, style="tb")
    m3 = make("mboxrd-double-quoted", "mboxrd-forward", rosa, HELLO, "Old thread about the kiln",
              when("2019-10-09 12:00", "+0100"),
              "Found this in an old mail:\n\n>>From the kiln log: firing 14 reached 1220C.\n"
              ">From the kiln log: firing 15 failed.\n\nRosa\n")
    m1.content = {"text_contains": ["\nFrom the chair:", "\nFrom now on"]}
    m2.content = {"text_contains": ["\n>From now on"]}
    m3.content = {"text_contains": ["\n>>From the kiln log: firing 14", "\n>From the kiln log"]}
    for m in (m1, m2, m3):
        m.transport = transport(m, HELLO_ADDR)
    return [m1, m2, m3]


def unescaped_mboxo() -> list[Mail]:
    """A mailbox from a writer that did not quote a body 'From ' line (mboxo, badly written)."""
    ken = "Ken Adebayo <ken.adebayo@example.com>"
    m1 = make("mboxo-lathe-q", "lathe", ken, HELLO, "Lathe making a knocking sound",
              when("2020-11-02 19:30"),
              "Hi,\n\nthe small metal lathe makes a knocking sound at higher speeds.\n\n"
              "From 9am tomorrow I can help take it apart if you like.\n\nKen\n")
    m2 = make("mboxo-lathe-unescaped-from", "lathe", BOB, ken, None, when("2020-11-03 08:45"),
              "Hi Ken,\n\nthanks for the offer.\n\n"
              "From what I can tell, the drive belt is worn; I have ordered a new one.\n"
              + SIG_B, parent=m1, style="tb")
    m3 = make("mboxo-lathe-thanks", "lathe", ken, BOB, None, when("2020-11-03 10:02"),
              "Great, let me know when it arrives.\n", parent=m2)
    m1.content = {"text_contains": ["\nFrom 9am tomorrow"]}
    m2.content = {"text_contains": ["\nFrom what I can tell"]}
    for m in (m1, m2, m3):
        m.transport = transport(m, HELLO_ADDR)
    return [m1, m2, m3]


def content_length_mails() -> list[Mail]:
    """mboxcl2: Content-Length counts the body; body 'From ' lines are not quoted at all."""
    ivy = "Ivy Chen <ivy.chen@example.net>"
    m1 = make("cl2-q", "mail-export", ivy, HELLO, "Exporting the booking calendar",
              when("2019-03-11 10:00"), "Hi,\n\ncan the booking system export its calendar? I "
              "would like it in my own\ncalendar app.\n\nIvy\n")
    m2 = make("cl2-separator-lookalike", "mail-export", BOB, ivy, None, when("2019-03-11 15:30"),
              "Hi Ivy,\n\nnot yet. It only sends mails; here is what its log looks like:\n\n"
              "From bookings@example.net Mon Mar  4 09:00:00 2019\n"
              "Subject: booking 1123 confirmed\n\n"
              "From here the mails go out to members one by one.\n" + SIG_B,
              parent=m1, style="tb")
    m3 = make("cl2-unrelated", "paint", ivy, HELLO, "Which paint for the metal gate?",
              when("2019-03-14 11:11"), "Which paint should I use for the metal gate at the "
              "back? Ivy\n")
    m2.content = {"text_contains": ["\nFrom bookings@example.net Mon Mar  4 09:00:00 2019\n",
                                    "\nFrom here the mails go out"]}
    for m in (m1, m2, m3):
        m.transport = transport(m, HELLO_ADDR)
    return [m1, m2, m3]


def pair(prefix: str, thread: str, subject: str, start: datetime, a: str, q: str, ans: str):
    """A member's question and a staff answer: the body of most format fixtures."""
    return simple_thread(prefix, thread, subject, start, a, BOB, [q, ans + SIG_B])


def format_fixtures() -> dict[str, list[Mail]]:
    """One short distinct thread per container variant, so that none dedupes with another."""
    return {
        "crlf-line-endings.mbox": pair(
            "crlf", "crlf", "Soldering station tips", when("2019-05-13 09:00", "+0100"),
            "Wei Zhang <wei.zhang@example.com>",
            "Hi,\n\nthe soldering station tips are worn out. Can I order new ones?\n\nWei\n",
            "Hi Wei,\n\nyes, order a pack of five and hand in the receipt.\n"),
        "bom-at-start.mbox": pair(
            "bom", "bom", "Sewing machine needles", when("2019-05-20 14:00", "+0100"),
            "Mia Johansson <mia.johansson@example.net>",
            "Hello, the sewing machines are out of size 90 needles.\n\nMia\n",
            "Thanks Mia, a box is on its way.\n"),
        "compressed.mbox.gz": pair(
            "gz", "gz", "Membership card not working", when("2020-02-03 08:30"),
            "Jonas Berg <jonas.berg@example.com>",
            "My membership card no longer opens the side door.\n\nJonas\n",
            "Hi Jonas,\n\nthe card reader was reset last night; it works again now.\n"),
        "compressed.mbox.bz2": pair(
            "bz2", "bz2", "Recycling the old monitors", when("2020-03-09 12:00"),
            "Lucy Evans <lucy.evans@example.net>",
            "Can I take two of the old monitors from the electronics corner?\n\nLucy\n",
            "Hi Lucy,\n\nplease do, they are waiting for the recycling run.\n"),
        "compressed.mbox.xz": pair(
            "xz", "xz", "Sharpening service for chisels", when("2020-04-14 16:45", "+0100"),
            "Arjun Mehta <arjun.mehta@example.com>",
            "Do you offer a sharpening service for chisels?\n\nArjun\n",
            "Hi Arjun,\n\nnot as a service, but the sharpening station is free to use.\n"),
    }


def single_eml_fixtures() -> dict[str, Mail]:
    out = {}
    pat = make("no-message-id", "no-message-id", "Pat Reyes <pat.reyes@example.com>", HELLO,
               "Keys left at reception", when("2019-12-02 17:25"),
               "Hi,\n\nI left a bunch of keys with a blue tag at reception on Saturday.\n"
               "Could you keep them until Wednesday?\n\nPat\n", msgid=None)
    pat.transport = transport(pat, HELLO_ADDR)
    out["no-message-id.eml"] = pat
    # Latin-1 bytes, no charset declared anywhere (the habit of some 1990s mailers).
    body = ("Grüße aus Köln,\n\nich möchte nächste Woche den Töpferkurs besuchen. Ist "
            "noch ein Platz frei?\nIch bringe auch Crème brûlée für die Pause mit.\n\nRené\n")
    rene = make("undeclared-8bit-body", "undeclared-8bit", "Rene Schäfer <rene@example.net>",
                HELLO, "Topferkurs naechste Woche", when("2019-10-21 08:05", "+0200"), "",
                body=([("MIME-Version", "1.0"), ("Content-Type", "text/plain"),
                       ("Content-Transfer-Encoding", "8bit")], body.encode("latin-1")))
    rene.headers[0] = ("From", "Rene Schaefer <rene@example.net>")
    rene.text = body
    rene.content = {"text_contains": ["Grüße aus Köln", "Crème brûlée"], "attachments": []}
    rene.transport = transport(rene, HELLO_ADDR)
    out["undeclared-8bit-body.eml"] = rene
    # UTF-8 straight in the headers, without RFC 2047 (RFC 6532 allows it; old mail did it).
    renee = make("raw-8bit-headers", "raw-8bit", "Renée Østergård <renee.ostergaard@example.net>",
                 HELLO, "Déjà vu: the café’s Wi-Fi password?", when("2021-01-18 12:34", "+0100"),
                 "Hi! The Wi-Fi password on the café noticeboard doesn’t work any more.\n\nRenée\n")
    renee.transport = transport(renee, HELLO_ADDR)
    renee.content = {"from_display": "Renée Østergård <renee.ostergaard@example.net>",
                     "text_contains": ["café noticeboard"]}
    out["raw-8bit-headers.eml"] = renee
    out["encoded-words-many-charsets.eml"] = many_charsets()
    return out


ENCODED_SUBJECT = ("=?UTF-8?B?" + base64.b64encode("Grüße / ".encode()).decode() + "?=\n "
                   "=?ISO-8859-1?Q?caf=E9_/_?=\n "
                   "=?windows-1252?Q?=93quotes=94_/_?=\n "
                   "=?KOI8-R?B?" + base64.b64encode("Привет / ".encode("koi8-r")).decode() + "?=\n "
                   "=?ISO-2022-JP?B?" + base64.b64encode("こんにちは".encode("iso-2022-jp")).decode()
                   + "?=\n =?us-ascii?q?_/_?= "
                   "=?GB2312?B?" + base64.b64encode("你好".encode("gb2312")).decode() + "?=")
DECODED_SUBJECT = "Grüße / café / “quotes” / Привет / こんにちは / 你好"


def many_charsets() -> Mail:
    m = make("encoded-words-many-charsets", "many-charsets",
             "=?ISO-8859-2?Q?=A3ukasz_Nowak?= <lukasz.nowak@example.com>",
             "=?utf-8?q?Zo=C3=AB?= <zoe@example.com>, =?UTF-8?B?0JDQvdC90LA=?= <anna@example.net>",
             DECODED_SUBJECT, when("2020-05-05 10:05", "+0200"),
             "Greetings in six charsets, see the subject line.\n\nŁukasz\n",
             subject_raw=ENCODED_SUBJECT)
    m.transport = transport(m, HELLO_ADDR)
    m.content = {"from_display": "Łukasz Nowak <lukasz.nowak@example.com>",
                 "to_display": "Zoë <zoe@example.com>, Анна <anna@example.net>"}
    return m


def binary_blob(size: int = 600) -> bytes:
    """Deterministic bytes that look like a stray zip file: no header lines, no separators."""
    out, n = b"PK\x03\x04\x14\x00\x00\x00\x08\x00", 0
    while len(out) < size:
        out += hashlib.sha256(b"blob %d" % n).digest()
        n += 1
    out = out[:size].replace(b"\nFrom ", b"\nFrxm ").replace(b"\r", b"\x00") + b"\n"
    assert b"\nFrom " not in out and b"\n\n" not in out
    return out


def garbage_not_mail() -> list:
    """A mailbox cut off at its start, with a binary file pasted into it (quarantine both)."""
    preamble = Junk("garbage-before-first-separator",
                    b"and that is why the order has to be confirmed before Friday, otherwise\n"
                    b"the timber merchant cannot deliver until the week after.\n\nRegards,\n"
                    b"Carla\n\n", "junk before the first From line (a cut-off message)")
    carla = "Carla Ruiz <carla.ruiz@example.com>"
    m1 = make("garbage-survivor-1", "timber-order", carla, HELLO, "Timber order for the benches",
              when("2019-01-21 11:00"), "Hello again,\n\nthe timber merchant confirmed the "
              "order for the benches: delivery on\nTuesday morning.\n\nCarla\n")
    blob = Junk("garbage-binary-blob", binary_blob(), "not a mail message (binary data)",
                from_line="From MAILER-DAEMON Mon Jan 21 12:00:00 2019")
    m2 = make("garbage-survivor-2", "bench-paint", carla, HELLO, "Paint for the new benches",
              when("2019-01-23 09:30"), "Which colour should the new benches be? I vote for "
              "green.\n\nCarla\n")
    for m in (m1, m2):
        m.transport = transport(m, HELLO_ADDR)
    return [preamble, m1, blob, m2]


def maildir_only_cur() -> list[tuple[str, Mail]]:
    """A Maildir whose new/ and tmp/ were lost in a copy: only cur/, flags in the names."""
    eva = "Eva Novak <eva.novak@example.net>"
    q = make("cur-only-q", "band-rehearsal", eva, HELLO, "Band rehearsal in the big hall",
             when("2020-01-06 18:00"), "Hi, can our band rehearse in the big hall on Sunday "
             "afternoons?\n\nEva\n")
    a = make("cur-only-a", "band-rehearsal", ALICE, eva, None, when("2020-01-07 09:10"),
             "Hi Eva,\n\nSundays 2-5pm are free from February. 20 pounds per afternoon.\n"
             + SIG_A, parent=q, style="tb", who="Eva Novak")
    x = make("cur-only-flagged", "bike-rack", "Finn Walsh <finn.walsh@example.com>", HELLO,
             "Bike rack is full", when("2020-01-09 08:20"), "The bike rack is full every "
             "morning now. Could we get a second one?\n\nFinn\n")
    out = []
    for m, flags in ((q, "RS"), (a, "S"), (x, "FS")):
        m.transport = transport(m, HELLO_ADDR)
        out.append((maildir_name(m, flags, False), m))
    return out


def deep_chain(length: int = 200) -> list[Mail]:
    """Two members logging a CNC build, each mail a reply to the one before (no recursion!)."""
    a = "Hugo Lambert <hugo.lambert@example.com>"
    b = "Kira Sato <kira.sato@example.net>"
    out: list[Mail] = []
    start = when("2020-07-01 08:00", "+0100")
    for n in range(length):
        frm, to = (a, b) if n % 2 == 0 else (b, a)
        m = make(f"cnc-{n:03d}", "cnc-build", frm, to,
                 "CNC router build log" if n == 0 else "Re: CNC router build log",
                 start + timedelta(minutes=10 * n), f"Step {n + 1}: "
                 + ("frame squared and bolted." if n == 0 else "done, next one is yours.") + "\n")
        if out:
            parent = out[-1]
            # Clients shorten long References: the root and the last nine (RFC 5322 3.6.4).
            chain = parent.chain + (parent.message_id,)
            written = chain if len(chain) <= 10 else (chain[0],) + chain[-9:]
            m.headers.insert(3, ("In-Reply-To", f"<{parent.message_id}>"))
            m.headers.insert(4, ("References", fold_ids(written)))
            m.chain, m.links = chain, written
        m.transport = transport(m, addr(to))[:1]
        out.append(m)
    return out


# --------------------------------------------------------------------------- writers

MBOX_QUOTE = {
    # mboxrd quotes every line matching ^>*From ; mboxo only ^From (and cannot be undone).
    "mboxrd": (b"^(>*From )", b">\\1"),
    "mboxo": (b"^(From )", b">\\1"),
}


@dataclass
class Stored:
    """Where one item landed, as the expectations describe it."""

    path: str
    index: int             # 0-based, messages and junk alike, in file order (0 in a one-mail file)
    offset: int | None     # first byte of the stored (still quoted) message, after its From line
    length: int | None     # stored bytes up to, not including, the blank separator line
    from_offset: int | None   # first byte of its From line (None: no From line)
    item: object           # Mail or Junk
    raw: bytes             # the bytes a reader must hand on (quoting undone)


def escape(raw: bytes, how: str) -> bytes:
    if how == "none":
        return raw
    pattern, repl = MBOX_QUOTE[how]
    return re.sub(pattern, repl, raw, flags=re.M)


def mbox_bytes(path: str, items: list, *, quoting: str = "mboxrd", newline: bytes = b"\n",
               prefix: bytes = b"", unquoted: tuple[str, ...] = (),
               content_length: bool = False) -> tuple[bytes, list[Stored]]:
    """An mbox: each item after its From line, a blank line after each message."""
    out, stored = bytearray(prefix), []
    for index, item in enumerate(items):
        from_offset = len(out)
        if isinstance(item, Junk):
            if item.from_line:
                out += item.from_line.encode() + newline
            data = item.data.replace(b"\n", newline)
            # Junk keeps every byte, blank lines included: nothing else owns them.
            raw = data
            stored.append(Stored(path, index, len(out), len(raw),
                                 from_offset if item.from_line else None, item, raw))
            out += data + (newline if item.from_line else b"")
            continue
        if content_length:
            item.headers.append(("Content-Length", str(len(item.body.replace(b"\n", newline)))))
        raw = item.raw(newline)
        out += item.from_line().encode() + newline
        body = raw if content_length or item.key in unquoted else escape(raw, quoting)
        stored.append(Stored(path, index, len(out), len(body), from_offset, item, raw))
        out += body + newline
    return bytes(out), stored


def gzip_bytes(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as f:
        f.write(data)
    return buf.getvalue()


COMPRESSORS = {".gz": gzip_bytes, ".bz2": lambda d: bz2.compress(d, 9),
               ".xz": lambda d: lzma.compress(d, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64,
                                              preset=6)}


# --------------------------------------------------------------------------- building

@dataclass
class Unit:
    """What a user may point the importer at: one file or one folder."""

    name: str                        # path relative to fixtures/
    exercises: str
    must: str
    stored: list[Stored] = field(default_factory=list)
    parts: tuple[str, ...] = ()      # for a folder made of other units


def build() -> tuple[dict[str, bytes], list[Unit]]:
    files: dict[str, bytes] = {}
    units: list[Unit] = []

    def mbox(name, items, exercises, must, compress=None, **kw):
        data, stored = mbox_bytes(name, items, **kw)
        files[name] = COMPRESSORS[compress](data) if compress else data
        units.append(Unit(name, exercises, must, stored))
        return units[-1]

    def maildir(name, entries, exercises, must):
        unit = Unit(name, exercises, must)
        for rel, mail in sorted(entries, key=lambda e: e[0]):
            path = f"{name}/{rel}"
            files[path] = mail.raw()
            unit.stored.append(Stored(path, 0, None, None, None, mail, files[path]))
        units.append(unit)
        return unit

    inbox, bob = helpdesk()
    a = mbox("helpdesk/hello-inbox.mbox", inbox,
             "the shared inbox alone: 16 conversations 2019-2021, every hard case of a real "
             "help desk (see the thread table)",
             "thread as listed; one ghost: Tom's reply that only bob received")
    b = maildir("helpdesk/bob-maildir", bob,
                "bob's Maildir alone (cur/ and new/, no tmp/): 8 copies of inbox mails with "
                "his own Received/Delivered-To/X-Spam-Status, and 2 mails only he got",
                "read cur/ and new/; thread the copies even where their roots are absent (ghosts)")
    units.append(Unit("helpdesk", "both together: the demo archive",
                      "the 8 copies are duplicates by Message-ID; bob's reply fills the inbox's "
                      "ghost; requestors are the customers, never staff",
                      a.stored + b.stored, parts=(a.name, b.name)))

    laptop, server = overlapping_copies()
    c = mbox("overlapping-copies/laptop-export.mbox", laptop, "the first copy of a list thread",
             "3 messages, 1 thread")
    d = mbox("overlapping-copies/server-backup.mbox", server,
             "the same 3 mails with other transport headers; one arrived through the list "
             "(List-Id, Mailman footer appended to the body)",
             "3 messages, 1 thread")
    units.append(Unit("overlapping-copies", "the two copies together",
                      "3 duplicates, counted, none imported twice; the list copy is a duplicate "
                      "by Message-ID although its body differs (footer)",
                      c.stored + d.stored, parts=(c.name, d.name)))
    mbox("broken-references.mbox", broken_references(),
         "junk words and comments in References, `<<id>>`, a bare id without `<>`, "
         "In-Reply-To in the Emacs form `\"X\"'s message of \"DATE\"` with and without an id, a "
         "self-reference, and two mails that reply to each other (a loop)",
         "no crash, no hang; junk is not an id; the 7 printer mails make 1 thread (the one "
         "without any id joins by its Re: subject, 4 days after the root); the loop is 1 thread")
    mbox("imposter-same-message-id.mbox", imposters(),
         "two different mails (other sender, subject, date, body) with the same Message-ID",
         "both imported, 0 duplicates, 2 threads; the second is an imposter, not a copy")
    mbox("date-fallbacks.mbox", date_fallbacks(),
         "a From line with an impossible date and no Date/Received; no Date; a Date of 32 "
         "January; neither Date nor Received",
         "dates from: none, the topmost Received, the topmost Received, the From line (UTC)")
    mbox("mboxrd-escaped-from.mbox", escaping_mboxrd(),
         "mboxrd quoting: body lines stored as `>From`, `>>From` and `>>>From`",
         "read as mboxrd (the default): remove exactly one `>` from each")
    mbox("mboxo-unescaped-from-in-body.mbox", unescaped_mboxo(),
         "a body line 'From what I can tell, ...' after a blank line, never quoted; "
         "another body line quoted the mboxo way (`>From 9am`)",
         "3 messages, not 4: a From line is a separator only if it reads "
         "`From <sender> <date>`",
         quoting="mboxo", unquoted=("mboxo-lathe-unescaped-from",))
    mbox("content-length.mboxcl2", content_length_mails(),
         "mboxcl2: Content-Length headers, unquoted bodies, one body holding a line that is a "
         "perfect separator ('From bookings@example.net Mon Mar  4 09:00:00 2019')",
         "3 messages, not 4: trust Content-Length where it lands on a From line or the end",
         content_length=True)
    fmts = format_fixtures()
    mbox("crlf-line-endings.mbox", fmts["crlf-line-endings.mbox"],
         "every line ends in CRLF, From lines included", "2 messages, 1 thread; raw keeps CRLF",
         newline=b"\r\n")
    mbox("bom-at-start.mbox", fmts["bom-at-start.mbox"], "a UTF-8 byte-order mark before the "
         "first From line", "2 messages, 1 thread; the BOM is no junk and no part of a message",
         prefix=b"\xef\xbb\xbf")
    for ext in (".gz", ".bz2", ".xz"):
        name = "compressed.mbox" + ext
        mbox(name, fmts[name], f"an mbox compressed with {ext[1:]}", "2 messages, 1 thread; "
             "offsets are in the decompressed stream", compress=ext)
    for name, mail in single_eml_fixtures().items():
        files[name] = mail.raw()
        what = {"no-message-id.eml": ("a mail without Message-ID",
                                      "a synthetic id, the same on every run"),
                "undeclared-8bit-body.eml": ("Latin-1 body bytes, no charset declared anywhere",
                                             "text decoded (Grüße, Crème brûlée), not lost"),
                "raw-8bit-headers.eml": ("UTF-8 bytes straight in From and Subject",
                                         "decoded as UTF-8, no \\udcXX escapes"),
                "encoded-words-many-charsets.eml": (
                    "RFC 2047 words in UTF-8, ISO-8859-1/-2, windows-1252, KOI8-R, ISO-2022-JP, "
                    "GB2312, B and Q, folded, adjacent", f"subject '{DECODED_SUBJECT}'")}[name]
        units.append(Unit(name, what[0], what[1], [Stored(name, 0, None, None, None, mail,
                                                          files[name])]))
    mbox("garbage-not-mail.mbox", garbage_not_mail(),
         "a mailbox cut off at its start (text before the first From line) and a binary file "
         "pasted after a From line", "quarantine both with their bytes and a reason; import "
         "the 2 mails")
    maildir("maildir-missing-new", maildir_only_cur(),
            "a Maildir with only cur/ (no new/, no tmp/), flags RS/S/FS after ':2,'",
            "recognised as a Maildir; 3 messages, 2 threads")
    mbox("deep-reply-chain.mbox", deep_chain(), "200 mails, each replying to the one before; "
         "References shortened to the root and the last nine",
         "1 thread 200 deep (no recursion limit hit)")
    return files, units


# --------------------------------------------------------------------------- expectations

def canonical(mail: Mail, by_key: dict[str, Mail]) -> str:
    while mail.copy_of:
        mail = by_key[mail.copy_of]
    return mail.key


def split(stored: list[Stored], by_key: dict[str, Mail]):
    """(unique mails, duplicate mails, junk) of one unit, first copy in reading order kept."""
    unique, dups, junk, seen = [], [], [], set()
    for s in stored:
        if isinstance(s.item, Junk):
            junk.append(s.item)
            continue
        root = canonical(s.item, by_key)
        (dups if root in seen else unique).append(s.item)
        seen.add(root)
    return unique, dups, junk


def components(mails: list[Mail], by_key: dict[str, Mail]) -> tuple[list[list[Mail]], dict]:
    """Threads as the importer must find them: linked by ids (through ghosts too) and by the
    subject links declared above; never by a shared Message-ID (imposters) alone."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    node = {canonical(m, by_key): m.key for m in mails}
    owner: dict[str, str] = {}
    for m in mails:
        if m.message_id and m.message_id not in owner:
            owner[m.message_id] = m.key
    ghosts: dict[str, set[str]] = {}
    for m in mails:
        find(m.key)
        for link in m.links:
            if link == m.message_id:
                continue
            target = owner.get(link)
            if target is None:
                ghosts.setdefault(m.key, set()).add(link)
            parent[find(m.key)] = find(target or "ghost:" + link)
        if m.subject_parent in node:
            parent[find(m.key)] = find(node[m.subject_parent])
    groups: dict[str, list[Mail]] = {}
    for m in mails:
        groups.setdefault(find(m.key), []).append(m)
    out = sorted(groups.values(), key=lambda g: min(mails.index(m) for m in g))
    return out, ghosts


def non_staff(mail: Mail) -> set[str]:
    from email.utils import getaddresses
    values = [v for k, v in mail.headers if k in ("From", "To", "Cc")]
    found = {a.lower() for _, a in getaddresses(values) if "@" in a}
    if mail.forwarded_from:
        found.add(mail.forwarded_from)
    return {a for a in found if not a.endswith("@" + STAFF_DOMAIN)}


def thread_facts(group: list[Mail], ghosts: dict) -> dict:
    dated = sorted(group, key=lambda m: (m.date is None, m.date or 0, group.index(m)))
    root = dated[0]
    people: set[str] = set()
    for m in group:
        people |= non_staff(m)
    first = root.forwarded_from or next(
        (m.from_addr for m in dated if not m.from_addr.endswith("@" + STAFF_DOMAIN)), None) \
        or next(iter(sorted(non_staff(root))), None)
    missing = sorted({g for m in group for g in ghosts.get(m.key, ())})
    tags = {m.thread for m in group}
    assert len(tags) == 1, f"thread split or merged wrongly: {tags}"
    return {"thread": root.thread, "root_key": root.key, "root_message_id": root.message_id,
            "subject": root.subject, "messages": len(group),
            "first_date": iso(dated[0].date), "requestors": sorted(people) if len(people) == 1
            else None, "first_requestor": first, "non_staff_correspondents": sorted(people),
            "ghosts": missing, "depth": chain_depth(group)}


def chain_depth(group: list[Mail]) -> int | None:
    """Deepest level below the root when every mail names its parent by id (else None)."""
    ids = {m.message_id: m for m in group if m.message_id}
    depth: dict[str, int] = {}
    for m in sorted(group, key=lambda m: m.date or datetime.max.replace(tzinfo=UTC)):
        if m.subject_parent or any(i == m.message_id for i in m.links):
            return None
        up = [i for i in m.links if i in ids]
        if not up:
            depth[m.key] = 0
            continue
        p = ids[up[-1]]
        if p.key not in depth:
            return None
        depth[m.key] = depth[p.key] + 1
    return max(depth.values())


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def unit_facts(unit: Unit, by_key: dict[str, Mail]) -> dict:
    unique, dups, junk = split(unit.stored, by_key)
    groups, ghosts = components(unique, by_key)
    return {"messages_read": len(unit.stored), "unique": len(unique), "duplicates": len(dups),
            "quarantined": len(junk), "threads": len(groups),
            "ghosts": len({g for v in ghosts.values() for g in v}),
            "thread_list": [thread_facts(g, ghosts) for g in groups]}


def message_facts(s: Stored) -> dict:
    base = {"path": s.path, "index": s.index, "offset": s.offset, "length": s.length,
            "from_line_offset": s.from_offset,
            "raw_sha256": None if s.raw is None else hashlib.sha256(s.raw).hexdigest(),
            "raw_size": None if s.raw is None else len(s.raw)}
    if isinstance(s.item, Junk):
        return {**base, "kind": "quarantine", "key": s.item.key, "reason": s.item.reason}
    m: Mail = s.item
    return {**base, "kind": "message", "key": m.key, "copy_of": m.copy_of,
            "message_id": m.message_id, "thread": m.thread, "subject": m.subject,
            "from": m.from_addr, "date": iso(m.date), "date_source": m.date_source,
            **({"content": m.content} if m.content else {})}


COUNTING = (
    "Every stretch of an input is read once: a message, or a piece of junk. "
    "messages_read = unique + duplicates + quarantined. A message is the bytes after one "
    "From line up to the blank line before the next (mbox), or one file (.eml, Maildir). "
    "Junk before the first From line is one quarantined item; so is a stretch after a From "
    "line whose bytes are no mail (no header fields). A message/rfc822 attachment is part of "
    "its message, not a message. A duplicate is a second copy of a message already read "
    "(same Message-ID and the same mail: transport headers and a list footer may differ); "
    "which copy is kept is the importer's choice and changes no count. "
    "Two different mails that share a Message-ID are both unique (an imposter). "
    "threads = tickets: conversations linked by References/In-Reply-To (also through a "
    "missing parent, a ghost), or by a 'Re:' subject within days when a reply lost its ids; "
    "never by a generic subject like 'Question'. A file that is no mail archive at all is "
    "one quarantined item ('not a mail archive'). Pointed at the whole folder, the importer "
    "lists README.md, expected.json and the demo configuration as skipped (not mail): they "
    "count in no row.")
NOT_MAIL = ()   # README.md and expected.json are listed as skipped: not mail


def expectations(units: list[Unit]) -> dict:
    by_key: dict[str, Mail] = {}
    for unit in units:
        for s in unit.stored:
            if isinstance(s.item, Mail):
                by_key.setdefault(s.item.key, s.item)
    inner = {p for u in units for p in u.parts}
    top = [u for u in units if u.name not in inner]
    docs = [Stored(name, 0, None, None, None, Junk(name, b"", "not a mail archive"), None)
            for name in NOT_MAIL]
    everything = Unit(".", "the whole folder: the quick start", "the sum of the rows below",
                      [s for u in top for s in u.stored] + docs)
    facts = {u.name: unit_facts(u, by_key) for u in [everything] + units}
    assert facts["."]["threads"] == sum(facts[u.name]["threads"] for u in top), \
        "a thread links two fixtures: keep every fixture's ids and subjects its own"
    threads = {t["thread"]: {**t, "unit": next(u.name for u in top if any(
        isinstance(s.item, Mail) and s.item.key == t["root_key"] for s in u.stored))}
        for t in facts["."]["thread_list"]}
    assert len(threads) == facts["."]["threads"], "two threads carry one tag"
    for f in facts.values():
        f["thread_tags"] = sorted(t["thread"] for t in f.pop("thread_list"))
    messages = [message_facts(s) for s in everything.stored]
    return {"about": "Expected results of importing each fixture: written by "
                     "tools/make_fixtures.py, do not edit by hand.",
            "counting": COUNTING, "staff_domains": [STAFF_DOMAIN],
            "not_mail_files": list(NOT_MAIL),
            "units": facts, "threads": threads, "messages": messages}


# --------------------------------------------------------------------------- README and main

HELPDESK_NOTES = {
    "membership-fees": "a plain customer question, staff answer, follow-up",
    "laser-induction": "the customer once answered bob alone (only in bob-maildir); the last "
                       "mail has no Date header (date from Received)",
    "question-parking": "generic subject 'Question' (1 of 2)",
    "question-vouchers": "generic subject 'Question' (2 of 2), three weeks later: not merged",
    "reservation": "ISO-8859-1 body, RFC 2047 subject 'Réservation ...', Outlook's 'RE:'",
    "invoice-de": "German, Outlook 'AW:' prefixes, one reply with In-Reply-To only",
    "locker-rental": "the last reply lost In-Reply-To and References: linked by 'Re:' "
                     "subject, 2 days later",
    "print-ready": "started by staff: the requestor is the customer, not alice",
    "school-workshop": "staff forwarded the customer's mail inline (Gmail's '---------- "
                       "Forwarded message ---------'): the requestor is the customer named in it",
    "booking-charged-twice": "the customer forwarded a mail as a message/rfc822 attachment: "
                             "one message, and its inner From is nobody's requestor",
    "spam": "spam without a Message-ID (a synthetic id, stable across runs)",
    "volunteer-html": "HTML-only message (text/html, quoted-printable)",
    "bandsaw": "a PNG image and a PDF attachment (base64)",
    "christmas-hours": "plain question and answer",
    "water-bottle": "plain; copied in bob-maildir/new/ (unread)",
    "own-timber": "only in bob-maildir: a customer wrote to bob directly",
    "summer-camp": "four mails, two rounds",
}


def table_row(name: str, unit: Unit, f: dict) -> str:
    link = name if name == "." else f"[`{name}`]({name})"
    return (f"| {link} | {unit.exercises} | {unit.must} | {f['messages_read']} | "
            f"{f['unique']} | {f['duplicates']} | {f['quarantined']} | {f['threads']} | "
            f"{f['ghosts']} |")


def readme(units: list[Unit], exp: dict) -> str:
    facts = exp["units"]
    whole = Unit(".", "the whole folder (the quick start)", "the sum of the top-level rows, "
                 "while README.md, expected.json and helpdesk.yaml are listed as skipped (not mail)")
    lines = [
        "# Sample archives", "",
        "Small, invented archives (example.org / example.com / example.net; nobody real) for "
        "the quick start and the tests. The folder as a whole is the demo: a small help desk "
        "(`helpdesk/`, shared address hello@example.org, staff alice@ and bob@, staff domain "
        "example.org) plus one file or folder for each hard case.", "",
        "    archive-import dry-run fixtures/          # with staff domain example.org", "",
        "Everything here is written by `python tools/make_fixtures.py` (byte-identical on "
        "every run; gzip mtime 0) and committed. Do not edit by hand: change the generator. "
        "`expected.json` holds the numbers below, every thread (subject, messages, requestors, "
        "ghosts) and every message and junk stretch (path, index, byte offsets, Message-ID, "
        "date and its source, sha256 of the bytes a reader must hand on).", "",
        "## How things are counted", "", COUNTING, "",
        "Offsets are into the (decompressed) file: `offset` is the first byte of a message "
        "after its From line, `length` runs to the blank line the mbox writer added (not "
        "included), `index` counts messages and junk alike from 0; for Maildir and .eml the "
        "whole file is the message (index 0, no offset). `raw_sha256` is of those bytes with mbox quoting undone "
        "(mboxrd; none for mboxcl2 bodies) and line endings kept.", "",
        "## expected.json", "",
        "- `units`: for each row below (a file, a folder, and `.` for the whole folder): "
        "`messages_read`, `unique`, `duplicates`, `quarantined`, `threads`, `ghosts` (ids "
        "referenced but absent) and the `thread_tags` found there.",
        "- `threads`: for each conversation of the whole folder, by tag: `unit`, the root "
        "(`root_key`, `root_message_id`, `subject`, `first_date`), `messages`, `requestors` "
        "(the one outside correspondent, or null when there are several), `first_requestor` "
        "(who a ticket would name first), `non_staff_correspondents`, `ghosts`, `depth` "
        "(null where a subject link or a loop makes the shape a choice).",
        "- `messages`: one entry per message or quarantined stretch of the whole folder: "
        "`path`, `index`, `offset`, `length`, `from_line_offset`, `raw_sha256`, `raw_size`, "
        "`kind`, `key`, `copy_of`, `message_id` (null: none in the mail), `thread`, `subject` "
        "(decoded), `from`, `date`, `date_source` (as records.DateSource), and for some a "
        "`content` block: text the ticket must show, attachments (name, type, size), decoded "
        "From/To.", "",
        "## Files", "",
        "| file | what it exercises | what the importer must do | read | unique | duplicates "
        "| quarantined | threads | ghosts |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        table_row(".", whole, facts["."])]
    lines += [table_row(u.name, u, facts[u.name]) for u in units]
    lines += ["", "## The help desk's conversations", "",
              "Staff are everyone at example.org. `requestor` is the one customer in each "
              "conversation (every help-desk thread has exactly one).", "",
              "| thread | first mail | subject | mails | requestor | what it shows |",
              "| --- | --- | --- | ---: | --- | --- |"]
    for tag, t in sorted(exp["threads"].items(), key=lambda kv: kv[1]["first_date"] or ""):
        if t["unit"] != "helpdesk":
            continue
        who = ", ".join(t["requestors"] or []) or "?"
        lines.append(f"| `{tag}` | {t['first_date'][:10]} | {t['subject']} | {t['messages']} "
                     f"| {who} | {HELPDESK_NOTES[tag]} |")
    lines += ["", "## Open questions", "",
              "- Which copy of a duplicate is kept (the inbox's or bob's, the plain one or the "
              "list copy with its footer) is the importer's choice; only the counts are fixed.",
              "- The From line's asctime date has no zone: it is taken as UTC.",
              "- `maildir` file names contain ':' (the Maildir standard); such a checkout "
              "fails on Windows file systems.", ""]
    return "\n".join(lines)


def expected_json(exp: dict) -> bytes:
    """Indented, but one line per message: the file stays small and diffs stay readable."""
    head = {k: v for k, v in exp.items() if k != "messages"}
    text = json.dumps(head, indent=1, ensure_ascii=False)[:-2]
    rows = ",\n  ".join(json.dumps(m, ensure_ascii=False) for m in exp["messages"])
    return (text + ',\n "messages": [\n  ' + rows + "\n ]\n}\n").encode()


def render() -> dict[str, bytes]:
    """Every file of fixtures/, by relative path."""
    files, units = build()
    exp = expectations(units)
    files["expected.json"] = expected_json(exp)
    files["README.md"] = readme(units, exp).encode()
    files["helpdesk.yaml"] = DEMO_CONFIG.encode()
    return files


# The configuration the README's quick start passes: the help desk's people are staff.
DEMO_CONFIG = f"""\
# The configuration for the shipped sample archives (README quick start). The help desk's
# shared address and its people are all @{STAFF_DOMAIN}.
staff:
  domains: [{STAFF_DOMAIN}]
threading:
  mode: archive
"""


def on_disk(root: str) -> dict[str, bytes]:
    out = {}
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as fp:
                out[os.path.relpath(path, root).replace(os.sep, "/")] = fp.read()
    return out


def same(rel: str, a: bytes, b: bytes) -> bool:
    """Compressed files are compared by content: another zlib/bzip2/liblzma build may
    compress the same bytes differently, and that is no change to the fixture."""
    ext = os.path.splitext(rel)[1]
    if ext in COMPRESSORS and a != b:
        opener = {".gz": gzip.decompress, ".bz2": bz2.decompress, ".xz": lzma.decompress}[ext]
        return opener(a) == opener(b)
    return a == b


def check(root: str) -> int:
    """Exit status 1 and a list when the committed fixtures differ from what this script writes."""
    want, have = render(), on_disk(root)
    diff = sorted(set(want) ^ set(have)) + sorted(
        rel for rel in set(want) & set(have) if not same(rel, want[rel], have[rel]))
    for rel in diff:
        print(f"differs: {rel}")
    return 1 if diff else 0


def write(root: str) -> int:
    """Replace the folder's contents; refuse a non-empty folder that is not ours."""
    files = render()
    mark = os.path.join(root, "README.md")
    if os.path.isdir(root) and os.listdir(root) and not (
            os.path.isfile(mark) and open(mark, "rb").read(17) == b"# Sample archives"):
        print(f"{root}: not empty and not a fixtures folder: nothing written", file=sys.stderr)
        return 2
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames:
            os.remove(os.path.join(dirpath, name))
        for name in dirnames:
            os.rmdir(os.path.join(dirpath, name))
    for rel, data in sorted(files.items()):
        path = os.path.join(root, *rel.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fp:
            fp.write(data)
    total = sum(len(d) for d in files.values())
    print(f"wrote {len(files)} files, {total} bytes, under {os.path.relpath(root)}")
    return 0


def main(argv: list[str]) -> int:
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if fixtures/ differs from what would be written")
    p.add_argument("--out", metavar="DIR", default=os.path.normpath(ROOT),
                   help="folder to write (default: the repository's fixtures/)")
    args = p.parse_args(argv)
    return check(args.out) if args.check else write(args.out)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
