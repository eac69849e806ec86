"""Bounds on hostile input (config `limits`): what passes one is quarantined with the reason,
kept without being loaded whole, and no single input blocks the rest of a run."""

from __future__ import annotations

import gzip
import hashlib
import json
import sqlite3

from importer.cli import main
from importer.read.spool import spool

FROM = b"From carol@example.net Sun Feb 16 10:00:00 2014\n"


def msg(n: int, body: bytes = b"hello\n", extra: bytes = b"") -> bytes:
    return (f"From: carol@example.net\nSubject: Case {n}\nMessage-ID: <l{n}@example.net>\n"
            f"Date: Sun, 16 Feb 2014 10:00:00 +0000\n").encode() + extra + b"\n" + body


def _run(tmp_path, *sources, limits="", command="run"):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"limits: {{{limits}}}\n")
    report = tmp_path / f"{command}.json"
    code = main([command, "--quiet", "--config", str(cfg), "--store", str(tmp_path / "s.sqlite"),
                 "--report", str(report), *map(str, sources)])
    return code, json.loads(report.read_text()) if report.exists() else None


def test_a_message_over_the_size_bound_is_kept_by_reference_and_blocks_nothing(tmp_path):
    """A file over 256 MiB was marked unreadable, read back whole, then found 'changed since
    it was read': exit 2 on every rerun, and nothing else imported."""
    big = msg(1, b"x" * 300_000 + b"\n")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "big.eml").write_bytes(big)
    (tmp_path / "in" / "box.mbox").write_bytes(FROM + msg(2) + b"\n" + FROM + msg(3, b"y" * 200_000 + b"\n")
                                               + b"\n" + FROM + msg(4))
    for attempt in range(2):                       # the rerun too
        code, rep = _run(tmp_path, tmp_path / "in", limits="max_message_bytes: 100000")
        assert code == 0, attempt
    s = rep["summary"]
    assert (s["messages_read"], s["quarantined"], s["messages_unique"]) == (4, 2, 2)
    kept = {q["source"]["path"].rsplit("/", 1)[1]: q for q in rep["quarantine"]}
    assert kept["big.eml"]["kept"] == "source" and "limit" in kept["big.eml"]["reason"]
    assert kept["big.eml"]["sha256"] == hashlib.sha256(big).hexdigest()
    assert kept["box.mbox"]["kept"] == "source" and kept["box.mbox"]["source"]["index"] == 1
    rows = sqlite3.connect(tmp_path / "s.sqlite").execute(
        "SELECT kept, length(raw), length FROM quarantine ORDER BY length").fetchall()
    assert rows[1] == ("source", 0, len(big))          # nothing copied, its length kept
    assert rows[0][:2] == ("source", 0) and 200_000 < rows[0][2] < len(big)


def test_a_header_block_over_its_bounds_is_quarantined_with_the_reason(tmp_path):
    many = b"".join(b"X-Trace-%d: hop\n" % i for i in range(50))
    box = tmp_path / "box.mbox"
    box.write_bytes(FROM + msg(1, extra=many) + b"\n" + FROM + msg(2))
    code, rep = _run(tmp_path, box, limits="max_header_fields: 20")
    assert code == 0 and rep["summary"]["quarantined"] == 1
    assert "header fields, over limits.max_header_fields (20)" in rep["quarantine"][0]["reason"]
    assert rep["quarantine"][0]["kept"] == "bytes"
    assert rep["summary"]["messages_unique"] == 1


def test_a_decompression_bomb_is_cut_at_the_expansion_bound(tmp_path):
    """360 KB of gzip expanded to 1.58 million messages."""
    bomb = tmp_path / "bomb.gz"
    bomb.write_bytes(gzip.compress((FROM + b"From: a@b.example\n\nx\n\n") * 400_000, mtime=0))
    written, why = spool(str(bomb), "gz", str(tmp_path / "out"), max_expansion=50, floor=0)
    assert why is not None and "limits.max_expansion" in why and "bomb" in why
    assert written <= (bomb.stat().st_size + (16 << 10)) * 50 + (1 << 20)
    normal = tmp_path / "normal.gz"
    normal.write_bytes(gzip.compress(b"".join(FROM + msg(i) + b"\n" for i in range(50)), mtime=0))
    assert spool(str(normal), "gz", str(tmp_path / "out2"), max_expansion=50, floor=0)[1] is None


def test_limits_are_validated_with_the_key_named(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("limits: {max_mime_depth: 0}\n")
    assert main(["status", "--config", str(cfg), "--store", str(tmp_path / "s")]) == 2
    assert "limits.max_mime_depth: must be between 1 and 1000" in capsys.readouterr().err


def _nested(n: int, depth: int) -> bytes:
    body = b"".join(b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (i - 1, i)
                    for i in range(1, depth))
    body += b"--b%d\nContent-Type: text/plain\n\ninnermost\n" % (depth - 1)
    body += b"".join(b"--b%d--\n" % i for i in reversed(range(depth)))
    return msg(n, body, extra=b"Content-Type: multipart/mixed; boundary=b0\n")


def _parts(n: int, count: int) -> bytes:
    body = b"".join(b"--B\nContent-Type: text/plain\n\npart %d\n" % i for i in range(count))
    return msg(n, body + b"--B--\n", extra=b"Content-Type: multipart/mixed; boundary=B\n")


def test_mime_nesting_and_parts_past_their_bounds_are_quarantined_with_their_bytes(tmp_path):
    """MIME depth and parts are bounds like the others: a message past one is quarantined
    with the reason and its raw bytes (it was imported with the rest kept as one attached
    file); one just inside is imported whole."""
    deep, shallow = _nested(1, 9), _nested(2, 8)
    many, enough = _parts(3, 50), _parts(4, 49)
    box = tmp_path / "box.mbox"
    box.write_bytes(b"\n".join(FROM + m for m in (deep, shallow, many, enough)))
    code, rep = _run(tmp_path, box, limits="max_mime_depth: 8, max_mime_parts: 50")
    assert code == 0
    s = rep["summary"]
    assert (s["messages_read"], s["quarantined"], s["messages_unique"]) == (4, 2, 2)
    reasons = sorted(q["reason"] for q in rep["quarantine"])
    assert reasons == ["MIME parts nested deeper than 8 levels (limits.max_mime_depth)",
                       "more than 50 MIME parts (limits.max_mime_parts)"]
    conn = sqlite3.connect(tmp_path / "s.sqlite")
    kept = {raw for (raw,) in conn.execute("SELECT raw FROM quarantine")}
    assert kept == {deep, many}                         # byte-exact
    attached = conn.execute("SELECT count(*) FROM attachments").fetchone()[0]
    assert attached == 0                                # nothing cut into a "-rest" file
    assert {m["subject"] for t in rep["threads"] for m in t["messages"]} == {"Case 2", "Case 4"}


def test_the_splitter_never_holds_much_more_than_the_bound_of_an_oversize_message(tmp_path):
    """The splitter's buffer stays near max_message_bytes whatever the oversize message is
    made of: long lines, or (2 GiB of zeros after a message held 590 MB) no line end at all;
    and the messages after it are still found."""
    import io
    from importer.read import mbox
    bound = 1 << 20
    for filler in (b"z" * 1023 + b"\n", bytes(1024)):
        data = (FROM + msg(1) + b"\n" + FROM + msg(2, filler * 6000) + b"\n" + FROM + msg(3))
        splitter = mbox.MboxSplitter(io.BytesIO(data), max_message=bound)
        biggest = [0]
        real = splitter._fill

        def fill():
            more = real()
            biggest[0] = max(biggest[0], len(splitter._buf))
            return more
        splitter._fill = fill
        pieces = list(splitter)
        assert [p.kind for p in pieces] == ["message", "oversize", "message"], filler[:1]
        assert pieces[2].data.startswith(b"From: carol@example.net\nSubject: Case 3")
        assert pieces[1].length > 6000 * 1024
        assert biggest[0] <= bound + 2 * mbox.BLOCK, (filler[:1], biggest[0])


def test_an_endless_first_line_is_junk_and_the_messages_after_it_are_found():
    import io
    from importer.read import mbox
    data = b"x" * (3 * mbox.SEPARATOR_LINE) + b"\n" + FROM + msg(1) + b"\n" + FROM + msg(2)
    pieces = list(mbox.MboxSplitter(io.BytesIO(data)))
    assert [p.kind for p in pieces] == ["junk", "message", "message"]
    assert sum(p.length for p in pieces) + 2 * len(FROM) + 1 == len(data)
