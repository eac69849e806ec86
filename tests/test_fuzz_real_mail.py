"""Mailboxes built from pieces of real mail (the shipped fixtures) with the damage real
archives carry: truncated MIME, wrong boundaries, NUL bytes, huge headers, deep nesting,
broken base64, bad charsets, body `From ` lines. Property: no exception escapes a run
into a real local store, the counts add up (the run checks them), and every message's raw
bytes survive byte-exact, in a ticket entry or in the quarantine."""

from __future__ import annotations

import collections
import io
import os
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from importer.cli import main
from importer.read.archive import Archive
from importer.read.mbox import write_mboxrd
from importer.records import RawMessage

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def _pieces() -> list[bytes]:
    with Archive([str(FIXTURES / "helpdesk"), str(FIXTURES / "encoded-words-many-charsets.eml"),
                  str(FIXTURES / "undeclared-8bit-body.eml")]) as archive:
        return [i.raw for i in archive.scan() if isinstance(i, RawMessage)]


PIECES = _pieces()


def _mime(depth: int, leaf: bytes) -> bytes:
    """`leaf` inside `depth` nested multiparts, built without recursion."""
    out = leaf
    for level in range(depth):
        b = f"b{level}".encode()
        out = (b"Content-Type: multipart/mixed; boundary=\"" + b + b"\"\n\n--" + b + b"\n"
               + out + b"\n--" + b + b"--\n")
    return b"From: deep@example.net\nSubject: deep\nMIME-Version: 1.0\n" + out


MUTATIONS = st.sampled_from(["none", "truncate", "boundary", "nul", "huge-header", "deep",
                             "base64", "charset", "from-lines", "no-blank-line"])


@st.composite
def mutated(draw):
    raw = draw(st.sampled_from(PIECES))
    kind = draw(MUTATIONS)
    at = draw(st.integers(0, max(len(raw) - 1, 0)))
    if kind == "truncate":
        raw = raw[:at]
    elif kind == "boundary":
        raw = raw.replace(b"boundary=", b"boundary=x", 1) + b"\n--x\nContent-Type: text/plain\n\nhalf"
    elif kind == "nul":
        raw = raw[:at] + b"\0" * draw(st.integers(1, 5)) + raw[at:]
    elif kind == "huge-header":
        raw = b"X-Huge: " + b"a" * draw(st.sampled_from([5_000, 70_000])) + b"\n" + raw
    elif kind == "deep":
        raw = _mime(draw(st.integers(1, 40)), b"Content-Type: text/plain\n\ndeep text\n")
    elif kind == "base64":
        raw = (b"From: b@example.net\nSubject: b64\nMIME-Version: 1.0\nContent-Type: multipart/mixed;"
               b" boundary=\"Z\"\n\n--Z\nContent-Type: application/pdf\nContent-Transfer-Encoding:"
               b" base64\n\n" + draw(st.binary(max_size=60)).hex().encode() + b"!!==\n--Z--\n")
    elif kind == "charset":
        raw = raw.replace(b"charset=", b"charset=" + draw(st.sampled_from(
            [b"x-bogus-", b"utf-7", b"unicode-escape", b"\xff", b"\"\""])), 1)
    elif kind == "from-lines":
        raw = raw[:at] + b"\nFrom me@example.net Sun Feb 16 10:00:00 2014\n>From x\nFrom \n" + raw[at:]
    elif kind == "no-blank-line":
        raw = raw.replace(b"\n\n", b"\n", 1)
    raw = raw if raw.endswith(b"\n") else raw + b"\n"      # mbox stores whole lines
    return raw


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.data_too_large])
@given(st.lists(mutated(), min_size=1, max_size=8))
def test_damaged_real_mail_never_escapes_and_its_bytes_survive(messages):
    with tempfile.TemporaryDirectory() as tmp:
        box = Path(tmp) / "damaged.mbox"
        buf = io.BytesIO()
        write_mboxrd(messages, buf)
        box.write_bytes(buf.getvalue())
        cfg = Path(tmp) / "c.yaml"
        cfg.write_text("dedupe: {enabled: false}\n"
                       "limits: {max_header_bytes: 65536, max_mime_depth: 8, max_mime_parts: 50}\n")
        store = Path(tmp) / "s.sqlite"
        code = main(["run", "--quiet", "--config", str(cfg), "--store", str(store), "--report",
                     os.path.join(tmp, "r.json"), str(box)])
        assert code == 0                     # no internal error, and the counts added up
        c = sqlite3.connect(store)
        kept = [r for (r,) in c.execute("SELECT raw FROM entries")]
        kept += [r for (r,) in c.execute("SELECT raw FROM quarantine WHERE kept='bytes'")]
        c.close()
    # Every message once (quarantine keeps one row per content: identical copies share it).
    assert collections.Counter(kept) <= collections.Counter(messages)
    assert set(kept) == set(messages)
