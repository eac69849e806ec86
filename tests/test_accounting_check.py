"""The end-of-run check of "nothing is lost" can fail: a stage that loses or doubles a
message makes the run stop with exit 2 and one line, after writing the report."""

from __future__ import annotations

import json

import pytest

from importer import pipeline
from importer.cli import main


def _mbox(tmp_path, n=4):
    box = tmp_path / "inbox.mbox"
    box.write_bytes(b"".join(
        b"From carol@example.net Sun Feb 16 10:00:00 2014\n"
        + f"From: carol@example.net\nSubject: Case {i}\nMessage-ID: <c{i}@example.net>\n"
          f"Date: Sun, 16 Feb 2014 10:0{i}:00 +0000\n\nText {i}\n\n".encode() for i in range(n)))
    return box


def _run(tmp_path, box, capsys):
    report = tmp_path / "r.json"
    code = main(["run", "--quiet", "--store", str(tmp_path / "s.sqlite"), "--report",
                 str(report), str(box)])
    return code, capsys.readouterr().err, report


def test_a_clean_run_passes_the_check(tmp_path, capsys):
    code, err, report = _run(tmp_path, _mbox(tmp_path), capsys)
    assert code == 0 and err == ""
    s = json.loads(report.read_text())["summary"]
    assert s["messages_read"] == 4 == s["messages_unique"]


def test_a_message_lost_by_dedupe_stops_the_run(tmp_path, capsys, monkeypatch):
    real = pipeline.dedupe_stage

    def losing(deduper):
        unique, duplicates, imposters = real(deduper)
        return unique[1:], duplicates, imposters        # a bug that drops one message
    monkeypatch.setattr(pipeline, "dedupe_stage", losing)
    code, err, report = _run(tmp_path, _mbox(tmp_path), capsys)
    assert code == 2
    assert "do not add up" in err and "4 messages read, but 3 unique" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert json.loads(report.read_text())["summary"]["messages_read"] == 4   # report written


def test_a_message_placed_in_two_threads_stops_the_run(tmp_path, capsys, monkeypatch):
    from dataclasses import replace
    real = pipeline.build_plans

    def doubling(unique, cfg, duplicates):
        plans = real(unique, cfg, duplicates)
        return plans + [replace(plans[0], id="again")]
    monkeypatch.setattr(pipeline, "build_plans", doubling)
    code, err, _ = _run(tmp_path, _mbox(tmp_path), capsys)
    assert code == 2 and "placed in threads" in err


def test_a_stage_that_invents_a_message_stops_the_run(tmp_path, capsys, monkeypatch):
    real = pipeline.read_stage

    def inventing(archive, dest, sources, quiet, limits, sink, **kw):
        seen = []

        def twice(rec):                          # a bug that hands on one message twice
            sink(rec)
            if not seen:
                seen.append(rec)
                sink(rec)
        return real(archive, dest, sources, quiet, limits, twice, **kw)
    monkeypatch.setattr(pipeline, "read_stage", inventing)
    code, err, _ = _run(tmp_path, _mbox(tmp_path), capsys)
    assert code == 2 and "4 messages read, but" in err


@pytest.mark.parametrize("skipped, line", [
    ({"README": b"# notes\n"}, "1 file skipped: not mail"),
    ({"README": b"# notes\n", "data.csv": b"a,b\n1,2\n"}, "2 files skipped: not mail"),
])
def test_the_summary_line_counts_skipped_files(tmp_path, capsys, skipped, line):
    _mbox(tmp_path)
    for name, data in skipped.items():
        (tmp_path / name).write_bytes(data)
    code = main(["dry-run", "--quiet", "--store", str(tmp_path / "s.sqlite"), "--report",
                 str(tmp_path / "r.json"), str(tmp_path)])
    assert code == 0 and line in capsys.readouterr().out


def test_the_files_section_agrees_with_the_quarantine(tmp_path, capsys):
    box = _mbox(tmp_path)
    with open(box, "ab") as fp:     # junk after a From_ line: quarantined by the parser
        fp.write(b"From x@example.net Sun Feb 16 10:00:00 2014\n\x00\x01\x02binary\n\n")
    (tmp_path / "junk.mbox").write_bytes(b"junk before\n\n" + box.read_bytes())
    code, _, report = _run(tmp_path, tmp_path, capsys)
    rep = json.loads(report.read_text())
    files = {f["path"]: f for f in rep["files"]}
    by_path = {}
    for q in rep["quarantine"]:
        by_path[q["source"]["path"]] = by_path.get(q["source"]["path"], 0) + 1
    assert code == 0 and by_path and all(files[p]["quarantined"] == n for p, n in by_path.items())
    assert sum(f["quarantined"] for f in rep["files"]) == rep["summary"]["quarantined"]
