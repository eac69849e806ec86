"""Messages per second of the first pass (parse_record) against a plain mailbox+email loop.

    python benchmarks/bench_parse.py [--messages N] [--seed S]

Generates a mailbox of mixed mail (plain, encoded-word and raw 8-bit headers, replies,
list copies with footers, inline forwards, base64 attachments), then times:
  baseline   mailbox.mbox iteration with a full email parse and the same header reads
  parse      parse_record over the same messages (already split, as the readers hand them)
  + dedupe   parse_record and Deduper.add
Prints numbers only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import base64
import email
import mailbox
import os
import random
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.append(os.path.join(ROOT, "threading"))

from importer.dedupe import Deduper  # noqa: E402
from importer.parse import parse_record  # noqa: E402
from importer.records import MessageRecord, RawMessage, SourceRef  # noqa: E402

WORDS = ("the server is down again please check the logs and restart the service "
         "invoice attached thanks regards meeting tomorrow at noon").split()
NAMES = ["Alice Example", "=?utf-8?q?J=C3=B6rg_M=C3=BCller?=", "=?koi8-r?b?8NLJ18XU?=",
         "Bob", "=?iso-8859-1?q?Doe=2C_Jos=E9?=", "M\xfcller Hans"]
FOOTER = ("_______________________________________________\nsupport mailing list\n"
          "support@lists.example.org\nhttps://lists.example.org/mailman/listinfo/support\n")


def _text(rng: random.Random, lines: int) -> str:
    return "\n".join(" ".join(rng.choices(WORDS, k=12)) for _ in range(lines))


def _message(rng: random.Random, i: int) -> bytes:
    name = rng.choice(NAMES)
    subject = rng.choice(["Server down", "=?utf-8?b?0J/RgNC40LLQtdGC?=", "Invoice %d" % i,
                          "Gr\xfc\xdfe"])
    head = [f"Received: from mx{i % 7}.example.net by mail.example.org; "
            f"Tue, {1 + i % 28} Mar 2011 10:{i % 60:02d}:00 +0000",
            f"From: {name} <user{i % 50}@example.com>", "To: support@example.org",
            f"Subject: {'Re: ' if i % 3 else ''}{subject}",
            f"Date: Tue, {1 + i % 28} Mar 2011 09:{i % 60:02d}:00 +0100",
            f"Message-ID: <{i}.{rng.getrandbits(32)}@example.com>"]
    if i % 3:
        head.append(f"In-Reply-To: <{i - 1}@example.com>")
        head.append("References: " + " ".join(f"<{j}@example.com>" for j in range(i - 3, i)))
    body = _text(rng, rng.randint(5, 60))
    if i % 10 == 0:
        head.append("List-Id: <support.lists.example.org>")
        body += "\n" + FOOTER
    if i % 25 == 0:
        body = "FYI\n\n---------- Forwarded message ---------\nFrom: Carol <c@x.org>\n\n" + body
    if i % 50 == 0:
        blob = base64.encodebytes(rng.randbytes(60000)).decode()
        head.append('Content-Type: multipart/mixed; boundary="b1"')
        body = (f"--b1\nContent-Type: text/plain\n\n{body}\n--b1\nContent-Type: "
                f"application/octet-stream\nContent-Transfer-Encoding: base64\n\n{blob}--b1--\n")
    return ("\n".join(head) + "\n\n" + body + "\n").encode("latin-1")


def _baseline(path: str) -> int:
    n = 0
    for msg in mailbox.mbox(path, factory=lambda f: email.message_from_binary_file(f)):
        for name in ("message-id", "references", "in-reply-to", "subject", "from", "to",
                     "cc", "date"):
            str(msg.get(name, ""))
        n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    raws = [_message(rng, i) for i in range(args.messages)]
    size = sum(map(len, raws))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.mbox")
        with open(path, "wb") as f:
            for raw in raws:
                f.write(b"From bench@example.com Tue Mar  1 10:00:00 2011\n" + raw + b"\n")
        t0 = time.perf_counter()
        n = _baseline(path)
        base = time.perf_counter() - t0
    msgs = [RawMessage(SourceRef("bench.mbox", i), raw) for i, raw in enumerate(raws)]
    t0 = time.perf_counter()
    records = [parse_record(m) for m in msgs]
    parse = time.perf_counter() - t0
    t0 = time.perf_counter()
    dd = Deduper()
    for rec in (parse_record(m) for m in msgs):
        if isinstance(rec, MessageRecord):
            dd.add(rec)
    dd.result()
    both = time.perf_counter() - t0
    ok = sum(isinstance(r, MessageRecord) for r in records)
    print(f"{len(msgs)} messages, {size / 1e6:.1f} MB, {ok} records")
    print(f"baseline mailbox+email : {n / base:8.0f} msg/s")
    print(f"parse_record           : {len(msgs) / parse:8.0f} msg/s "
          f"({base / parse * len(msgs) / n:.1f}x baseline)")
    print(f"parse_record + dedupe  : {len(msgs) / both:8.0f} msg/s")


if __name__ == "__main__":
    main()
