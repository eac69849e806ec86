"""Where the time goes on realistic mail: archive-import against the floor and a plain loop.

Usage: python benchmarks/bench_realistic.py --messages 10000 --repeat 3
       [--format mbox|maildir] [--seed 1] [--dir DIR] [--generate-only] [--profile]
       [--skip-slow-paths]

bench_pipeline.py times the dry run on small plain messages (ASCII, no MIME, no transport
headers, clean References): that is bookkeeping, not where the time goes on real mail, whose
bytes are mostly a few attachments and whose parsing meets long header blocks, legacy charsets
and broken replies. So this writes, seeded and streamed to disk (1,000,000 messages is ~21 GB:
--dir on a disk with room), a shared inbox with list traffic: median ~5 KB, mean ~21 KB; one
message in 50 with a base64 attachment of 50 KB-2 MB (log-uniform) holding ~70% of the bytes;
~20% multipart/alternative; ~12% non-UTF-8 bodies (ISO-8859-1/2/15, windows-1252/1251, KOI8-R,
Shift_JIS, ISO-2022-JP, EUC-JP, GB2312, or 8-bit undeclared; 8bit, QP or base64) and encoded
words (raw 8-bit beside undeclared bodies) in From, Cc, Subject; 2-6 Received hops, DKIM; 40%
list mail (List-*, [tag], most with a Mailman footer); mboxrd escaping of body "From " lines;
conversations of 1 to 500 messages (Pareto), interleaved, quoting their parent; of replies 8%
lost References and In-Reply-To, 10% keep In-Reply-To only, 4% References only; 3% answer mail
not archived; ~1% copies (later, other transport headers); 0.5% without Message-ID. Every
person, host and address is invented (example.org, .com, .net).

Then, round-robin (each contender once per round, --repeat rounds, the median shown; who goes
first rotates), each in a child process whose peak RSS comes from os.wait4's rusage:
  floor     split the mbox on "From " lines in 4 MiB blocks, counting (Maildir: read each file);
  loop      mailbox.mbox (mailbox.Maildir) + email compat32 reading Message-ID, In-Reply-To,
            References, Subject, From, and parsing Date: what a user writes;
  dry-run   python -m importer dry-run --quiet --store FRESH --report R ARCHIVE;
  run       python -m importer run into a fresh local store (a new path each round).
It prints messages/s (wall, CPU), peak RSS, ratios and what each counted (archive-import: its
report's summary), then how many messages left a fast path for the general code, by path; --profile adds the project's functions by cumulative time in one more dry
run and run under cProfile. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import array
import base64
import heapq
import json
import math
import os
import quopri
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from email import base64mime, quoprimime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRST = ("Alice Bob Carol Dave Erin Frank Grace Heidi Ivan Judy Niaj Olivia Peggy Rupert Sybil "
         "Trent Victor Yuki Chen Priya Omar Fatima Ingrid Pablo Mei José Zoë Björn Łukasz Søren "
         "François Renée").split()
LAST = ("Example Sample Tester Quill Fernwood Marsh Holloway Brandt Okafor Lindqvist Moreau "
        "Tanaka Novak Rossi Kowalski Ivanova Müller García Nowak Dvořák Åström").split()
WORDS = ("the printer invoice order server disk backup password account access meeting report "
         "please could you check again today error log attached screenshot still not working "
         "after update restart network vpn mail queue ticket license contract price quote laptop "
         "thanks regards we i it is was will be have has had can should would this that with for "
         "on in at to of and or but if when because about customer team budget database").split()
SPECIAL = ["From the log it looks like the disk filled up around midnight.",
           "From what I can tell the export never finished.", ">From the vendor's notes:"]
EN8 = ["We’ll send the “final” invoice – €120 – by Friday.", "Thanks — that’s fixed, café Wi-Fi.",
       "See the attached résumé and the naïve draft…", "Zürich: the laptop is still “pending”."]
LANGS = {  # language: (charsets its clients declare, body lines, subjects)
    "latin": (("iso-8859-1", "windows-1252", "iso-8859-15"), [
        "Bonjour, l'imprimante du troisième étage ne marche plus.", "Mit freundlichen Grüßen",
        "Können Sie die Rechnung Nr. 4512 noch einmal prüfen?", "¿Cuándo estará arreglado?"],
        ["Problème d'impression", "Rechnung überfällig"]),
    "pl": (("iso-8859-2",), ["Drukarka znów nie drukuje.", "Dziękuję, pozdrawiam"], ["Faktura"]),
    "ru": (("koi8-r", "windows-1251"), ["Принтер на третьем этаже снова не печатает.",
                                        "Спасибо, всё работает."], ["Счёт просрочен"]),
    "ja": (("shift_jis", "iso-2022-jp", "euc-jp"), ["お世話になっております。",
                                                    "三階のプリンターが動きません。"], ["請求書の件"]),
    "zh": (("gb2312",), ["您好，三楼的打印机又坏了。", "附件是昨天的错误日志。"], ["打印机问题"]),
}
SUBJECTS = ["Printer on floor {} is broken", "Invoice {} overdue", "VPN drops every {} minutes",
            "Access request for share {}", "Backup job {} failed", "Laptop {} will not boot",
            "Question", "Help", "Status report", "Meeting notes", "Password reset"]
AGENTS = ["User-Agent: Mutt/1.5.23 (2014-03-12)", "X-Mailer: Microsoft Outlook 16.0",
          "User-Agent: Mozilla/5.0 Thunderbird/102.0", "X-Mailer: iPhone Mail (14E304)"]
ATTACH = [(b"application/pdf", "report-{}.pdf"), (b"image/jpeg", "IMG_{}.jpg"),
          (b"application/zip", "logs-{}.zip"), (b"application/vnd.ms-excel", "budget-{}.xls")]
RECEIVED = ("Received: from relay{}.example.net (relay.example.net [198.51.100.{}])\n\tby "
            "mx{}.example.org (Postfix) with ESMTPS id {:X}\n\tfor <support@example.org>; {}\n")
TRANSPORT = ("Return-Path: <{0}>\nDelivered-To: support@example.org\n{1}Authentication-Results: "
             "mx0.example.org; dkim=pass header.d={2}; spf=pass smtp.mailfrom={0}\n"
             "X-Spam-Status: No, score={3:.1f}\n")
DKIM = ("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={}; s=sel1;\n\t"
        "h=from:to:subject:date:message-id; bh={};\n\tb={}")
LIST = ("List-Id: {1} list <{0}.lists.example.org>\nList-Unsubscribe: <https://lists.example.org/"
        "mailman/options/{0}>,\n <mailto:{0}-request@lists.example.org?subject=unsubscribe>\n"
        "List-Archive: <https://lists.example.org/pipermail/{0}/>\nList-Post: <mailto:{0}@lists."
        "example.org>\nPrecedence: list\nSender: {0}-bounces@lists.example.org\n"
        "X-Mailman-Version: 2.1.29")
FOOTER = ("_______________________________________________\n{0} mailing list\n"
          "{0}@lists.example.org\nhttps://lists.example.org/mailman/listinfo/{0}\n")
MIXED = (b'Content-Type: multipart/mixed; boundary="%(b)s"\n\nThis is a multi-part message in '
         b'MIME format.\n\n--%(b)s\n%(text)s\n--%(b)s\nContent-Type: %(kind)s; name="%(name)s"\n'
         b'Content-Disposition: attachment; filename="%(name)s"\nContent-Transfer-Encoding: '
         b'base64\n\n%(data)s--%(b)s--\n')
ALTERNATIVE = b'Content-Type: multipart/alternative; boundary="%(b)s"\n\n--%(b)s\n%(text)s\n' \
    b'--%(b)s\n%(html)s\n--%(b)s--\n'
HTML = ("<html><head><style>p {{margin: 0; font-family: Calibri, sans-serif}}</style></head>"
        "<body>\n{}</body></html>\n")
DAYS, MONTHS = "Mon Tue Wed Thu Fri Sat Sun".split(), "Jan Feb Mar Apr May Jun Jul Aug Sep " \
    "Oct Nov Dec".split()
QUOTE = re.compile(rb"(?m)^(>*From )")


def rfcdate(t: float, zone: int) -> str:
    g = time.gmtime(t + math.copysign(abs(zone) // 100 * 3600 + abs(zone) % 100 * 60, zone))
    return "%s, %02d %s %d %02d:%02d:%02d %+05d" % (DAYS[g.tm_wday], g.tm_mday, MONTHS[
        g.tm_mon - 1], g.tm_year, g.tm_hour, g.tm_min, g.tm_sec, zone)


def encodes(s: str, charset: str) -> bool:
    return s.encode(charset, "replace").decode(charset) == s


def words(s: str, charset: str) -> str:
    """`s` as RFC 2047 encoded words (B or Q, 12 characters each) unless it is ASCII."""
    cs = charset if encodes(s, charset) else "utf-8"
    enc = base64mime.header_encode if len(s) % 2 else quoprimime.header_encode
    return s if s.isascii() else "\n ".join(
        enc(s[i:i + 12].encode(cs), cs) for i in range(0, len(s), 12))


class Thread:
    __slots__ = ("size", "done", "lang", "lst", "subject", "people", "gap", "msgs", "text")


class Generator:
    """Messages in time order, as (time, envelope sender, transport headers, the rest)."""

    def __init__(self, count: int, seed: int):
        self.rnd = rnd = random.Random(seed)
        self.count = count
        self.people = [(f"{rnd.choice(FIRST)} {rnd.choice(LAST)}", f"user{i}@" + rnd.choice(
            ("example.com", "example.net", "mail.example.com"))) for i in range(3000)]
        self.pool = [" ".join(rnd.choices(WORDS, k=rnd.randint(7, 13))).capitalize() + "."
                     for _ in range(4000)] + SPECIAL
        self.sizes = array.array("q")
        self.attach_bytes = self.non_utf8 = self.dups = self.no_id = self.threads = self.big = 0
        self.composed, self.attach_at, self.u = 0, rnd.randrange(50), rnd.random()
        self.start = 1136073600 if count > 100_000 else 1420070400     # 2006 or 2015
        self.span = max(365, min(count / 30, 7300)) * 86400             # 1 to 20 years

    def messages(self):
        rnd, heap, pending, seq = self.rnd, [], [], 0
        allocated, emitted, t_next = 0, 0, self.start
        while emitted < self.count:
            seq += 1
            if pending and pending[0][0] <= emitted:    # a copy of an earlier message
                _, _, t, sender, rest = heapq.heappop(pending)
                t += rnd.uniform(60, 86400)
                self.dups += 1
            elif allocated < self.count and (not heap or t_next <= heap[0][0]):
                th = self.new_thread(min(self.count - allocated, 500))
                allocated += th.size
                heapq.heappush(heap, (t_next, seq, th))
                t_next += rnd.expovariate(3.5 * self.count / self.span)
                continue
            elif heap:
                t, _, th = heapq.heappop(heap)
                sender, rest = self.compose(th, t)
                if th.done < th.size:
                    heapq.heappush(heap, (t + rnd.expovariate(1 / th.gap), seq, th))
                if rnd.random() < 0.01:
                    heapq.heappush(pending, (emitted + rnd.randint(1, 400), seq, t, sender, rest))
            else:
                break
            hops = [RECEIVED.format(rnd.randint(1, 40), rnd.randint(1, 254), h, rnd.getrandbits(
                40), rfcdate(t + 60 * h + rnd.uniform(1, 60), 0)) for h in range(rnd.randint(2, 6))]
            transport = TRANSPORT.format(sender, "".join(reversed(hops)), sender.split("@")[1],
                                         rnd.uniform(-3, 4)).encode()
            self.sizes.append(len(transport) + len(rest))
            emitted += 1
            yield t, sender, transport, rest

    def new_thread(self, cap: int) -> Thread:
        rnd, th = self.rnd, Thread()
        th.size = max(1, min(cap, int(rnd.paretovariate(1.3))))
        th.done, th.msgs, th.text, th.gap = 0, [], "", rnd.choice((1, 4, 12, 48)) * 3600
        th.lang = "en" if th.size > 30 or rnd.random() < 0.88 else \
            rnd.choices(list(LANGS), (40, 15, 20, 15, 10))[0]
        th.lst = rnd.choice(("users", "dev", "announce")) if rnd.random() < 0.4 else None
        th.people = rnd.sample(self.people, min(8, 1 + th.size)) + [("Helpdesk",
                                                                     "support@example.org")]
        th.subject = (rnd.choice(SUBJECTS).format(rnd.randint(1, 9999)) if th.lang == "en" else
                      rnd.choice(LANGS[th.lang][2]) + f" {rnd.randint(1, 999)}")
        if rnd.random() < 0.03:     # the conversation started before the archive did
            th.msgs.append((f"<lost.{rnd.getrandbits(48):x}@example.net>", ()))
        self.threads += 1
        self.big = max(self.big, th.size)
        return th

    def compose(self, th: Thread, t: float) -> tuple[str, bytes]:
        rnd = self.rnd
        (name, addr), r = rnd.choice(th.people), rnd.random()
        domain = addr.split("@")[1]
        if th.lang == "en":     # None: 8-bit, undeclared
            charset = "windows-1252" if r < 0.035 else "iso-8859-1" if r < 0.05 else \
                None if r < 0.065 else "us-ascii" if r < 0.3 else "utf-8"
        else:
            charset = rnd.choice(LANGS[th.lang][0]) if r < 0.8 else "utf-8"
        cs = charset or "windows-1252"

        def field(s: str) -> str:   # next to an undeclared body, raw 8-bit where it fits
            return s if charset is None and encodes(s, "latin-1") else words(s, cs)
        parent = th.msgs and (th.msgs[-1] if rnd.random() < 0.7 else rnd.choice(th.msgs))
        subject = rnd.choices(("Re: ", "RE: ", "AW: ", "Antw: ", "Re[2]: "), (85, 8, 3, 2, 2))[
            0] + th.subject if parent else th.subject
        h = [f"From: {field(name)} <{addr}>", "To: " + (
            f"{th.lst}@lists.example.org" if th.lst else "Helpdesk <support@example.org>")]
        if rnd.random() < 0.2:
            h.append(f"Cc: {field(rnd.choice(self.people)[0])} <{rnd.choice(self.people)[1]}>")
        h.append("Subject: " + field(f"[{th.lst}] {subject}" if th.lst else subject))
        r, zone = rnd.random(), rnd.choice((0, 100, 200, -500, -800, 900, 530))
        if r > 0.003:       # a few have no Date, some no weekday
            h.append("Date: " + rfcdate(t, zone)[5 if r < 0.02 else 0:])
        mid, bits = None, rnd.getrandbits(80)
        if rnd.random() < 0.005:
            self.no_id += 1
        else:
            mid = (f"<CA+{base64.b64encode(bits.to_bytes(10, 'big')).decode()}@mail.example.com>"
                   if bits % 2 else f"<{time.strftime('%Y%m%d%H%M%S', time.gmtime(t))}.GA"
                   f"{bits % 99999}@{domain}>")
            h.append("Message-ID: " + mid)
        refs, r = (), rnd.random()
        if parent and parent[0]:    # r < 0.08: both lost; < 0.18 In-Reply-To only; < 0.22 Refs
            refs = parent[1] + (parent[0],)
            refs = refs if len(refs) <= 12 else refs[:1] + refs[-11:]
            h += (["In-Reply-To: " + parent[0]] if 0.08 <= r < 0.18 or r >= 0.22 else []) + (
                ["References: " + "\n ".join(refs)] if r >= 0.18 else [])
        th.msgs.append((mid, refs) if mid else (None, ()))
        th.done += 1
        b64 = base64.b64encode(rnd.randbytes(224)).decode()
        h += [rnd.choice(AGENTS), DKIM.format(domain, b64[:44], "\n\t".join(
            b64[i:i + 64] for i in range(44, 300, 64)))] + ([LIST.format(
                th.lst, th.lst.capitalize())] if th.lst else []) + ["MIME-Version: 1.0"]
        text = self.text(th, t, name, cs, rnd.lognormvariate(math.log(2200), 0.85))
        text += FOOTER.format(th.lst) if th.lst and rnd.random() < 0.6 else ""
        # Outlook labels its windows-1252 text iso-8859-1.
        part = self.part(text.encode("windows-1252" if cs == "iso-8859-1" else cs, "replace"),
                         charset, "7bit" if charset in ("us-ascii", "iso-2022-jp") else
                         rnd.choices(("8bit", "quoted-printable", "base64"), (60, 32, 8))[0])
        self.non_utf8 += charset not in ("utf-8", "us-ascii")
        b = b"=_part_%x" % rnd.getrandbits(48)
        if self.composed % 50 == self.attach_at:
            self.u = (self.u + 0.6180339887) % 1    # quasi-random: log-uniform, little noise
            kind, fname = rnd.choice(ATTACH)
            data = base64.encodebytes(rnd.randbytes(int(50e3 * 40 ** self.u)))
            self.attach_bytes += len(data)
            part = MIXED % {b"b": b, b"text": part, b"kind": kind, b"data": data,
                            b"name": fname.format(rnd.randint(1, 999)).encode()}
        elif charset == "utf-8" and rnd.random() < 0.3:
            html = "".join(f"<p>{line}</p>\n" for line in text.replace("&", "&amp;").replace(
                "<", "&lt;").replace(">", "&gt;").split("\n"))
            part = ALTERNATIVE % {b"b": b, b"text": part, b"html": self.part(
                HTML.format(html).encode(), "utf-8", "quoted-printable")}
        self.composed += 1
        if self.composed % 50 == 0:
            self.attach_at = rnd.randrange(50)
        return addr, "\n".join(h).encode("latin-1" if charset is None else "ascii") + b"\n" + part

    def text(self, th: Thread, t: float, name: str, cs: str, size: float) -> str:
        rnd, lines = self.rnd, [f"Hi {th.people[0][0].split()[0]},", ""]
        own = LANGS[th.lang][1] if th.lang != "en" else None
        fancy = cs != "us-ascii" and rnd.random() < 0.3
        quote = th.text.split("\n")[:int(size / 120)] if th.text and rnd.random() < 0.8 else []
        n, budget = 0, size - 60 * len(quote)
        while n < budget:
            line = rnd.choice(own) if own and rnd.random() < 0.7 else \
                rnd.choice(EN8) if fancy and rnd.random() < 0.1 else rnd.choice(self.pool)
            lines.append(line)
            n += len(line.encode()) + 1
        th.text = "\n".join(lines + ["", "-- ", name, "Example Org, floor 3"])
        return th.text + "\n" + (f"\nOn {rfcdate(t - th.gap, 0)}, someone wrote:\n" + "".join(
            f"> {q}\n" for q in quote) if quote else "")

    def part(self, body: bytes, charset: str | None, cte: str) -> bytes:
        if charset is None:     # undeclared 8-bit: no charset, or no Content-Type at all
            return (b"Content-Type: text/plain\n" if self.rnd.random() < 0.5 else b"") + b"\n" + \
                body
        body = quopri.encodestring(body) if cte == "quoted-printable" else \
            base64.encodebytes(body) if cte == "base64" else body
        return b'Content-Type: text/plain; charset="%s"\nContent-Transfer-Encoding: %s\n\n%s' % (
            charset.encode(), cte.encode(), body)


def generate(path: str, fmt: str, count: int, seed: int) -> Generator:
    """Write the archive message by message; only the conversations under way are held."""
    gen = Generator(count, seed)
    for sub in ("cur", "new", "tmp") if fmt == "maildir" else ():
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    with open(path if fmt == "mbox" else os.devnull, "wb", buffering=1 << 20) as fp:  # the mbox
        for n, (t, sender, transport, rest) in enumerate(gen.messages()):
            if fmt == "maildir":
                with open(os.path.join(path, *(("new", f"{int(t)}.M{n}P1.bench") if n % 10 == 0
                          else ("cur", f"{int(t)}.M{n}P1.bench:2,S"))), "wb") as one:
                    one.write(transport + rest)
                continue
            g = time.gmtime(t)
            fp.write(b"From %s %s %s %2d %02d:%02d:%02d %d\n" % (
                sender.encode(), DAYS[g.tm_wday].encode(), MONTHS[g.tm_mon - 1].encode(),
                g.tm_mday, g.tm_hour, g.tm_min, g.tm_sec, g.tm_year))
            fp.write(QUOTE.sub(rb">\1", transport + rest) + b"\n")
    return gen


FLOOR = r"""
import os, sys
n, carry = 0, b""
if sys.argv[2] == "mbox":
    with open(sys.argv[1], "rb") as fp:
        for block in iter(lambda: fp.read(1 << 22), b""):
            parts = (carry + block).split(b"\nFrom ")
            carry = parts.pop()
            n += len(parts)
    n += carry.strip() != b""
else:
    for entry in [*os.scandir(sys.argv[1] + "/cur"), *os.scandir(sys.argv[1] + "/new")]:
        with open(entry.path, "rb") as fp:
            n += fp.read() is not None
print(n)
"""
LOOP = """
import email.utils, mailbox, sys
n = 0
for msg in (mailbox.mbox if sys.argv[2] == "mbox" else mailbox.Maildir)(sys.argv[1], create=False):
    for h in ("Message-ID", "In-Reply-To", "References", "Subject", "From"):
        msg.get(h)
    d = msg.get("Date")
    if d:
        email.utils.parsedate_tz(d)
    n += 1
print(n)
"""


def child(argv: list[str]) -> tuple[float, float, float, str]:
    """Wall s, CPU s (user + system), peak RSS in MB (os.wait4) and stdout of one child."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.path.join(ROOT, "threading")])}
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, cwd=ROOT, env=env)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall, proc.returncode = time.perf_counter() - start, os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv[:4])} failed with exit status {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.decode().strip()


def counted(report: str) -> str:
    """What the report's summary says (read from its start: it precedes the threads)."""
    with open(report, encoding="utf-8") as fp:
        head = fp.read(1 << 16)
    s = json.JSONDecoder().raw_decode(head, re.search(r'"summary":\s*', head).end())[0]
    return ("read {messages_read}, unique {messages_unique}, duplicates {duplicates}, "
            "quarantined {quarantined}, threads {threads}").format(**s)


def bench(args, tmp: str) -> None:
    archive, started = os.path.join(tmp, "archive." + args.format), time.perf_counter()
    gen = generate(archive, args.format, args.messages, args.seed)
    n, total = len(gen.sizes), sum(gen.sizes)
    print(f"archive: {n:,} messages ({args.format}, seed {args.seed}), {total / 1e6:,.0f} MB in "
          f"{time.perf_counter() - started:.0f} s: median {statistics.median(gen.sizes) / 1e3:.1f}"
          f" KB, mean {total / n / 1e3:.1f} KB; attachments hold {gen.attach_bytes / total:.0%} "
          f"of the bytes; {gen.non_utf8 / n:.1%} non-UTF-8 bodies; {gen.dups} copies; "
          f"{gen.no_id} without Message-ID; {gen.threads:,} conversations (largest {gen.big})")
    if args.generate_only:
        return
    py, load, names = sys.executable, os.getloadavg()[0], ("floor", "loop", "dry-run", "run")
    runs: dict[str, list] = {k: [] for k in names}
    for rnd in range(args.repeat):
        for name in names[rnd % 4:] + names[:rnd % 4]:
            store, report = (os.path.join(tmp, f"{name}-{rnd}.{ext}") for ext in ("sqlite", "json"))
            own = name in ("floor", "loop")
            wall, cpu, peak, out = child([py, "-c", FLOOR if name == "floor" else LOOP, archive,
                                          args.format] if own else [py, "-m", "importer", name,
                                          "--quiet", "--store", store, "--report", report, archive])
            runs[name].append((wall, cpu, peak, out if own else counted(report)))
            for path in (store, store + "-wal", store + "-shm", store + ".lock", report):
                if os.path.exists(path) and not args.dir:
                    os.remove(path)
    mbox = args.format == "mbox"
    label = dict(zip(names, ("floor: split on From_ lines" if mbox else "floor: read every file",
                             f"mailbox.{'mbox' if mbox else 'Maildir'} + email loop",
                             "archive-import dry-run", "archive-import run (local)")))
    print(f"{args.repeat} round(s), round-robin: median wall and CPU (user+sys) of each child, "
          f"largest peak RSS; load average (1 min) {load:.2f} before, {os.getloadavg()[0]:.2f} "
          f"after\n{'contender':34s} {'wall s':>7s} {'msg/s':>7s} {'cpu s':>7s} {'msg/s':>7s} "
          f"{'peak MB':>7s}  messages counted")
    w, c = ({k: statistics.median(r[i] for r in rows) for k, rows in runs.items()} for i in (0, 1))
    for k, rows in runs.items():
        print(f"{label[k]:34s} {w[k]:7.2f} {n / w[k]:7.0f} {c[k]:7.2f} {n / c[k]:7.0f} "
              f"{max(r[2] for r in rows):7.0f}  {rows[-1][3]}")
    print(f"speed, dry-run / loop: {w['loop'] / w['dry-run']:.2f}x wall "
          f"({c['loop'] / c['dry-run']:.2f}x cpu); run / loop: {w['loop'] / w['run']:.2f}x "
          f"({c['loop'] / c['run']:.2f}x cpu); time, dry-run / floor: "
          f"{w['dry-run'] / w['floor']:.1f}x ({c['dry-run'] / c['floor']:.1f}x cpu)")
    if not args.skip_slow_paths:
        print(slow_paths(archive))
    for name in ("dry-run", "run") if args.profile else ():
        import pstats
        prof = os.path.join(tmp, f"{name}.prof")
        child([py, "-m", "cProfile", "-o", prof, "-m", "importer", name, "--quiet", "--store",
               os.path.join(tmp, f"p-{name}.sqlite"), "--report", os.path.join(tmp, "p.json"),
               archive])
        print(f"{name} under cProfile, the project's functions by cumulative time:")
        pstats.Stats(prof).sort_stats("cumulative").print_stats(r"/(importer|mailthreads)/", 20)


def slow_paths(archive: str) -> str:
    """How many messages left a fast path for the general code it stands in for, by path:
    each general function is wrapped with a counter, and every message is parsed as the first
    pass does and walked as delivery does, in this process (the fast paths are held equal
    to these by tests/test_*_fastpaths.py, so a message on the slow path is never lost)."""
    sys.path[:0] = [ROOT, os.path.join(ROOT, "threading")]
    from importer import parse
    from importer.mail import content, decode, entity, headers
    from importer.read.archive import Archive
    hits: dict[str, set] = {}
    current = [0]

    def counted(module, name: str, label: str) -> None:
        real = getattr(module, name)

        def wrapper(*a, **k):
            hits.setdefault(label, set()).add(current[0])
            return real(*a, **k)
        setattr(module, name, wrapper)
    for module, name, label in (
            (headers, "_split_fields", "header lines split one by one"),
            (parse, "parse_message_id", "Message-ID by mailthreads.ids"),
            (parse, "parse_references", "References by mailthreads.ids"),
            (parse, "parse_in_reply_to", "In-Reply-To by mailthreads.ids"),
            (decode, "_getaddresses", "addresses by email.utils.getaddresses"),
            (parse, "forwarded_sender", "parsed in full for a forward (BytesParser)"),
            (entity, "header_end_by_lines", "delivery: header block ended line by line"),
            (entity, "parse_headers_by_parser", "delivery: headers by compat32's parser")):
        counted(module, name, label)
    n = 0
    with Archive([archive]) as arc:
        for item in arc.scan():
            n = current[0] = n + 1
            if item.raw:
                parse.parse_record(item)
                content.extract(item.raw, message_id="x", headers=dict.fromkeys(
                    ("from_", "to", "cc", "subject"), ""))
    first = set().union(*(v for k, v in hits.items() if not k.startswith("delivery")))
    walk = set().union(*(v for k, v in hits.items() if k.startswith("delivery")))
    lines = [f"slow paths: {len(first):,} of {n:,} messages left a fast path in the first pass,"
             f" {len(walk):,} in delivery's MIME walk"]
    lines += [f"  {len(v):7,}  {k}" for k, v in sorted(hits.items(), key=lambda kv: -len(kv[1]))]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=10_000, help="messages, copies included")
    ap.add_argument("--format", choices=("mbox", "maildir"), default="mbox")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the median is shown")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dir", help="write the archive and stores here, and keep them")
    ap.add_argument("--generate-only", action="store_true", help="write the archive, time nothing")
    ap.add_argument("--profile", action="store_true", help="then profile a dry run and a run")
    ap.add_argument("--skip-slow-paths", action="store_true",
                    help="do not count the messages that took a slow path (one more pass)")
    args = ap.parse_args()
    tmp = args.dir or tempfile.mkdtemp(prefix="bench-realistic-")
    os.makedirs(tmp, exist_ok=True)
    try:
        bench(args, tmp)
    finally:
        if not args.dir:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
