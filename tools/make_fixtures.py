"""Writes the few fixtures that must be generated, and checks that they still are what it writes.

Everything else under fixtures/ is written by hand and committed (fixtures/README.md says how to
add one). This script owns only:

- fixtures/deep-reply-chain.mbox: 200 mails, each replying to the one before, References
  shortened to the root and the last nine (too long and too regular to write by hand);
- fixtures/compressed.mbox.gz, .bz2, .xz: the plain mboxes in tools/fixture-sources/ (edit
  those) compressed, byte-identical on every run (gzip mtime 0 and no file name);
- in fixtures/expected.json, the `messages` entries of those four files: the mechanical fields
  (offsets, sizes, sha256) of each, and for the reply chain every field. Other fields of an
  entry, and every other entry, are left as written by hand.

`python tools/make_fixtures.py` rewrites what differs; `--check` writes nothing and exits 1
naming every generated file or entry that differs. Every person and address is invented
(example.com / example.net).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import sys
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

TOOLS = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.normpath(os.path.join(TOOLS, os.pardir, "fixtures"))
SOURCES = os.path.join(TOOLS, "fixture-sources")
UTC = timezone.utc

# fixtures/<name> is tools/fixture-sources/<source> compressed.
COMPRESSED = {"compressed.mbox.gz": "compressed-gz.mbox",
              "compressed.mbox.bz2": "compressed-bz2.mbox",
              "compressed.mbox.xz": "compressed-xz.mbox"}


def gzip_bytes(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as f:
        f.write(data)
    return buf.getvalue()


COMPRESSORS = {".gz": gzip_bytes, ".bz2": lambda d: bz2.compress(d, 9),
               ".xz": lambda d: lzma.compress(d, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64,
                                              preset=6)}
DECOMPRESSORS = {".gz": gzip.decompress, ".bz2": bz2.decompress, ".xz": lzma.decompress}


# --------------------------------------------------------------------------- the reply chain

CHAIN = "deep-reply-chain.mbox"
HUGO = "Hugo Lambert <hugo.lambert@example.com>"
KIRA = "Kira Sato <kira.sato@example.net>"
CHAIN_SUBJECT = "CNC router build log"


def _h(text: str, n: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def _addr(spec: str) -> str:
    return spec.rpartition("<")[2].rstrip(">").lower()


def _asctime(dt: datetime) -> str:
    """The mbox From-line date: asctime() form, in UTC (mboxrd/mboxo convention)."""
    dt = dt.astimezone(UTC)
    return f"{dt:%a %b} {dt.day:2d} {dt:%H:%M:%S %Y}"


def _fold_ids(ids) -> str:
    """References folded after every third id, as mail clients do (RFC 5322 2.2.3)."""
    parts = [f"<{i}>" for i in ids]
    return "\n ".join(" ".join(parts[i:i + 3]) for i in range(0, len(parts), 3))


def deep_chain(length: int = 200) -> tuple[bytes, list[dict]]:
    """Two members logging a CNC build, each mail a reply to the one before (no recursion!).

    Returns the mbox and, per message, the fields expected.json gives beyond the mechanical ones.
    """
    start = datetime(2020, 7, 1, 8, 0, tzinfo=timezone(timedelta(hours=1)))
    out, facts, chain = bytearray(), [], []
    for n in range(length):
        frm, to = (HUGO, KIRA) if n % 2 == 0 else (KIRA, HUGO)
        key, sender, date = f"cnc-{n:03d}", _addr(frm), start + timedelta(minutes=10 * n)
        stamp = date.astimezone(UTC).strftime("%Y%m%d%H%M%S")
        message_id = f"{stamp}.{_h(key, 8)}@mail.{sender.rpartition('@')[2]}"
        subject = CHAIN_SUBJECT if n == 0 else "Re: " + CHAIN_SUBJECT
        head = [("Return-Path", f"<{sender}>"), ("From", frm), ("To", to), ("Subject", subject)]
        if chain:
            # Clients shorten long References: the root and the last nine (RFC 5322 3.6.4).
            written = chain if len(chain) <= 10 else [chain[0]] + chain[-9:]
            head += [("In-Reply-To", f"<{chain[-1]}>"), ("References", _fold_ids(written))]
        head += [("Date", format_datetime(date)), ("Message-ID", f"<{message_id}>"),
                 ("MIME-Version", "1.0"),
                 ("Content-Type", "text/plain; charset=utf-8; format=flowed"),
                 ("Content-Transfer-Encoding", "7bit")]
        text = f"Step {n + 1}: " + ("frame squared and bolted." if n == 0
                                    else "done, next one is yours.")
        received = date + timedelta(seconds=3 + int(_h(key, 4), 16) % 80)
        out += f"From {sender} {_asctime(received)}\n".encode()
        out += "".join(f"{k}: {v}\n" for k, v in head).encode() + f"\n{text}\n\n".encode()
        facts.append({"kind": "message", "key": key, "copy_of": None, "message_id": message_id,
                      "thread": "cnc-build", "subject": subject, "from": sender,
                      "date": date.isoformat(), "date_source": "date"})
        chain.append(message_id)
    return bytes(out), facts


# --------------------------------------------------------------------------- derived fields

_SEPARATOR = re.compile(rb"(?:\A|(?<=\n\n))From [^\n]*\n")
_MBOXRD_QUOTED = re.compile(rb"(?m)^>(>*From )")


def mbox_entries(path: str, data: bytes) -> list[dict]:
    """The mechanical fields of each message of a plain mboxrd file with LF line endings (what
    this script writes and reads): a From line starts the file or follows a blank line."""
    starts = list(_SEPARATOR.finditer(data))
    entries = []
    for index, m in enumerate(starts):
        end = starts[index + 1].start() - 1 if index + 1 < len(starts) else len(data) - 1
        raw = _MBOXRD_QUOTED.sub(rb"\1", data[m.end():end])
        entries.append({"path": path, "index": index, "offset": m.end(), "length": end - m.end(),
                        "from_line_offset": m.start(),
                        "raw_sha256": hashlib.sha256(raw).hexdigest(), "raw_size": len(raw)})
    return entries


def generated() -> tuple[dict[str, bytes], dict[str, list[dict]]]:
    """(the generated files' bytes, their expected.json entries), by path under fixtures/."""
    chain, facts = deep_chain()
    files = {CHAIN: chain}
    entries = {CHAIN: [{**e, **f} for e, f in zip(mbox_entries(CHAIN, chain), facts)]}
    for name, source in COMPRESSED.items():
        with open(os.path.join(SOURCES, source), "rb") as fp:
            plain = fp.read()
        files[name] = COMPRESSORS[os.path.splitext(name)[1]](plain)
        entries[name] = mbox_entries(name, plain)
    return files, entries


# --------------------------------------------------------------------------- expected.json

def load_expected(root: str) -> dict:
    with open(os.path.join(root, "expected.json"), encoding="utf-8") as fp:
        return json.load(fp)


def dump_expected(exp: dict) -> bytes:
    """Indented, but one line per message: the file stays small and diffs stay readable."""
    head = {k: v for k, v in exp.items() if k != "messages"}
    text = json.dumps(head, indent=1, ensure_ascii=False)[:-2]
    rows = ",\n  ".join(json.dumps(m, ensure_ascii=False) for m in exp["messages"])
    return (text + ',\n "messages": [\n  ' + rows + "\n ]\n}\n").encode()


def with_generated(messages: list[dict], fresh: dict[str, list[dict]]) -> list[dict]:
    """`messages` with the entries of each generated path replaced by the fresh ones, in place
    of the first old one; fields only a person wrote into an old entry are kept."""
    def merged(path: str) -> list[dict]:
        old = {m.get("index", 0): m for m in messages if m.get("path") == path}
        return [{**old.get(f["index"], {}), **f} for f in fresh[path]]

    out, done = [], set()
    for m in messages:
        path = m.get("path")
        if path not in fresh:
            out.append(m)
        elif path not in done:
            out.extend(merged(path))
            done.add(path)
    for path in fresh:
        if path not in done:
            out.extend(merged(path))
    return out


# --------------------------------------------------------------------------- check and write

def same(rel: str, a: bytes | None, b: bytes) -> bool:
    """Compressed files are compared by content: another zlib/bzip2/liblzma build may
    compress the same bytes differently, and that is no change to the fixture."""
    ext = os.path.splitext(rel)[1]
    if a is not None and ext in DECOMPRESSORS and a != b:
        try:
            return DECOMPRESSORS[ext](a) == DECOMPRESSORS[ext](b)
        except (OSError, EOFError, lzma.LZMAError, ValueError):
            return False
    return a == b


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fp:
            return fp.read()
    except FileNotFoundError:
        return None


def differences(root: str) -> tuple[list[str], dict[str, bytes], dict]:
    """(what differs, the files to write, expected.json as it should be)."""
    files, fresh = generated()
    diff = [rel for rel, data in files.items()
            if not same(rel, _read(os.path.join(root, rel)), data)]
    exp = load_expected(root)
    want = with_generated(exp["messages"], fresh)
    for path in fresh:
        have = [m for m in exp["messages"] if m.get("path") == path]
        if have != [m for m in want if m.get("path") == path]:
            diff.append(f"expected.json: the messages entries of {path}")
    return diff, files, {**exp, "messages": want}


def check(root: str) -> int:
    """Exit status 1 and a list when a generated fixture differs from what this script writes."""
    diff, _, _ = differences(root)
    for what in diff:
        print(f"differs: {what}")
    return 1 if diff else 0


def write(root: str) -> int:
    """Write the generated files and entries that differ; leave everything else alone."""
    diff, files, exp = differences(root)
    for rel, data in files.items():
        if rel in diff:
            with open(os.path.join(root, rel), "wb") as fp:
                fp.write(data)
    if any(d.startswith("expected.json") for d in diff):
        with open(os.path.join(root, "expected.json"), "wb") as fp:
            fp.write(dump_expected(exp))
    for what in diff:
        print(f"wrote: {what}")
    print(f"{len(diff)} generated fixture(s) rewritten under {os.path.relpath(root)}")
    return 0


def main(argv: list[str]) -> int:
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if a generated fixture differs")
    p.add_argument("--out", metavar="DIR", default=FIXTURES,
                   help="the fixtures folder (default: the repository's fixtures/)")
    args = p.parse_args(argv)
    return check(args.out) if args.check else write(args.out)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
