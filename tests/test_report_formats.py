"""`--report` in the format its extension names (.json, .html, .csv), repeatable; every report
carries the run's metadata; reports get the mode the user's umask gives a new file; the CSV
cannot smuggle a formula into a spreadsheet."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

import importer
from importer.cli import main
from mailbuild import mail, write_mbox
from importer.review.table import COLUMNS

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
CONFIG = FIXTURES / "helpdesk.yaml"


def cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def dry_run(capsys, tmp_path: Path, *reports: str, sources=(FIXTURES,), config=CONFIG,
            command="dry-run", store="store.sqlite") -> None:
    code, _, err = cli(capsys, command, "--quiet", "--config", config, "--store",
                       tmp_path / store, *[a for r in reports for a in ("--report", tmp_path / r)],
                       *sources)
    assert code == 0, err


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def read_csv(path: Path) -> tuple[list[str], list[str], list[dict], list[str]]:
    """(metadata lines without '# ', header, rows, the physical lines after the metadata)."""
    with open(path, encoding="utf-8", newline="") as fp:
        text = fp.read()
    lines = text.split("\r\n")
    assert lines[-1] == ""                # every line ends in CRLF, the last one too
    lines = lines[:-1]
    meta = [line for line in lines if line.startswith("#")]
    assert lines[:len(meta)] == meta      # metadata only first
    rest = lines[len(meta):]
    reader = csv.reader(io.StringIO("\r\n".join(rest) + "\r\n", newline=""))
    header, *data = list(reader)
    return ([m[2:] for m in meta], header,
            [dict(zip(header, row)) for row in data], rest[1:])


# -- CSV -------------------------------------------------------------------------------

def test_csv_report_has_metadata_lines_a_header_and_a_row_per_thread(tmp_path, capsys):
    dry_run(capsys, tmp_path, "threads.csv", "r.json")
    rep = read_json(tmp_path / "r.json")
    meta, header, rows, data_lines = read_csv(tmp_path / "threads.csv")

    fields = dict(line.split(": ", 1) for line in meta)
    assert list(fields) == ["tool", "created", "command", "sources", "config", "overrides"]
    assert fields["tool"] == f"archive-import {importer.__version__}"
    assert datetime.fromisoformat(fields["created"]).tzinfo is not None
    assert fields["created"] == rep["meta"]["created"]
    assert fields["command"].startswith("archive-import dry-run ")
    assert str(FIXTURES) in fields["sources"].split(" ; ")
    assert fields["config"] == f"{CONFIG} sha256 {rep['meta']['config']['sha256']}"
    assert fields["overrides"] == "none"

    assert header == list(COLUMNS) == ["id", "subject", "requestors", "first_date", "last_date",
                                       "messages", "links_by_subject", "ticket"]
    assert len(rows) == rep["summary"]["threads"] == 53
    assert all(line.startswith('"') for line in data_lines)
    for row, t in zip(rows, rep["threads"]):
        assert row["id"] == t["id"] and row["subject"] == t["subject"]
        assert row["requestors"] == " ".join(t["requestors"])
        assert row["first_date"] == (t["first_date"] or "")
        assert row["last_date"] == (t["last_date"] or "")
        assert int(row["messages"]) == len(t["messages"])
        assert int(row["links_by_subject"]) == sum(m["link"] == "subject" for m in t["messages"])
        assert row["ticket"] == ""            # a dry run's tickets are only planned
    assert sum(int(r["links_by_subject"]) for r in rows) > 0


def test_csv_report_of_a_run_names_the_tickets(tmp_path, capsys):
    mbox = write_mbox(tmp_path / "a.mbox", [
        mail("m1@example.net", "Printer on fire"),
        mail("m2@example.net", "Re: Printer on fire", day=2, reply_to="m1@example.net"),
        mail("m3@example.net", "Invoice 42", day=3)])
    dry_run(capsys, tmp_path, "t.csv", "r.json", sources=(mbox,), command="run")
    rep = read_json(tmp_path / "r.json")
    meta, _, rows, _ = read_csv(tmp_path / "t.csv")
    assert any(line.startswith("command: archive-import run ") for line in meta)
    conn = sqlite3.connect(tmp_path / "store.sqlite")
    tickets = {thread: str(num)
               for num, thread in conn.execute("SELECT id, thread_id FROM tickets")}
    assert {r["id"]: r["ticket"] for r in rows} == tickets
    assert [r["ticket"] for r in rows] == [t["ticket"]["id"] for t in rep["threads"]]


FORMULAS = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1:A9)", "=1+1 ; =2"]


def test_csv_cells_a_spreadsheet_would_take_for_a_formula_get_a_quote(tmp_path, capsys):
    msgs = [mail(f"f{i}@example.net", s, day=i + 1, sender=f"p{i}@example.com")
            for i, s in enumerate(FORMULAS)]
    msgs.append(mail("=cmd@example.net", "Plain subject", day=9, sender="-dash@example.com"))
    # an encoded line break and formula in the subject: no line of the file may start with it
    msgs.append(mail("nl@example.net", "=?utf-8?q?first=0A=3DHYPERLINK=28=22http://x=22=29?=",
                     day=10, sender="q@example.com"))
    mbox = write_mbox(tmp_path / "a.mbox", msgs)
    dry_run(capsys, tmp_path, "t.csv", "r.json", sources=(mbox,))
    rep = read_json(tmp_path / "r.json")
    _, _, rows, data_lines = read_csv(tmp_path / "t.csv")
    assert len(rows) == rep["summary"]["threads"] == len(msgs)
    by_id = {t["id"]: t for t in rep["threads"]}
    for row in rows:
        # the report's own values come back once the quote is taken off
        t = by_id[row["id"][1:] if row["id"].startswith("'") else row["id"]]
        for column, value in (("id", t["id"]), ("subject", t["subject"]),
                              ("requestors", " ".join(t["requestors"]))):
            cell = row[column]
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
            assert cell == ("'" + value if value.startswith(("=", "+", "-", "@")) else value)
    subjects = {r["subject"] for r in rows}
    assert "'" + '=HYPERLINK("http://x")' in subjects
    assert {"'" + s for s in FORMULAS} <= subjects
    assert {r["id"] for r in rows} >= {"'=cmd@example.net"}
    assert {r["requestors"] for r in rows} >= {"'-dash@example.com"}
    assert all(line.startswith('"') for line in data_lines)


# -- metadata --------------------------------------------------------------------------

def test_json_report_meta_names_version_command_sources_and_config_digest(tmp_path, capsys):
    other = tmp_path / "elsewhere.yaml"
    shutil.copy(CONFIG, other)
    changed = tmp_path / "changed.yaml"
    changed.write_text(CONFIG.read_text(encoding="utf-8").replace("mode: archive", "mode: strict"),
                       encoding="utf-8")
    assert changed.read_text() != CONFIG.read_text()
    mbox = write_mbox(tmp_path / "a.mbox", [mail("m1@example.net", "Hello")])
    dry_run(capsys, tmp_path, "one.json", sources=(mbox,))
    dry_run(capsys, tmp_path, "two.json", sources=(mbox,))
    dry_run(capsys, tmp_path, "moved.json", sources=(mbox,), config=other)
    dry_run(capsys, tmp_path, "changed.json", sources=(mbox,), config=changed)
    one, two, moved, diff = (read_json(tmp_path / f"{n}.json")["meta"]
                             for n in ("one", "two", "moved", "changed"))
    assert one["tool"] == "archive-import" and one["version"] == importer.__version__
    assert one["command"].startswith("archive-import dry-run ")
    assert str(tmp_path / "one.json") in one["command"]
    assert one["sources"] == [str(mbox)]
    assert one["config"]["path"] == str(CONFIG) and len(one["config"]["sha256"]) == 64
    assert one["overrides"] is None
    assert datetime.fromisoformat(one["created"]).tzinfo is not None
    assert two["config"] == one["config"]
    assert moved["config"]["sha256"] == one["config"]["sha256"]     # the same settings
    assert moved["config"]["path"] == str(other)
    assert diff["config"]["sha256"] != one["config"]["sha256"]


def test_meta_names_the_overrides_file_by_its_digest(tmp_path, capsys):
    mbox = write_mbox(tmp_path / "a.mbox", [mail("m1@example.net", "Hello")])
    ov = tmp_path / "review.yaml"
    ov.write_text("exclude: {spam_flagged: true}\n")
    code, _, err = cli(capsys, "dry-run", "--quiet", "--store", tmp_path / "s.sqlite",
                       "--report", tmp_path / "r.json", "--report", tmp_path / "r.csv",
                       "--overrides", ov, mbox)
    assert code == 0, err
    digest = hashlib.sha256(ov.read_bytes()).hexdigest()
    meta = read_json(tmp_path / "r.json")["meta"]
    assert meta["overrides"] == {"path": str(ov), "sha256": digest}
    assert f"overrides: {ov} sha256 {digest}" in read_csv(tmp_path / "r.csv")[0]


def test_a_run_with_several_sources_lists_them_all(tmp_path, capsys):
    a = write_mbox(tmp_path / "a.mbox", [mail("m1@example.net", "One")])
    b = write_mbox(tmp_path / "b.mbox", [mail("m2@example.net", "Two")])
    dry_run(capsys, tmp_path, "r.json", "r.csv", sources=(a, b))
    assert read_json(tmp_path / "r.json")["meta"]["sources"] == [str(a), str(b)]
    assert f"sources: {a} ; {b}" in read_csv(tmp_path / "r.csv")[0]


# -- files -----------------------------------------------------------------------------

@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_reports_get_the_mode_the_umask_gives_a_new_file(tmp_path, capsys, umask, mode):
    mbox = write_mbox(tmp_path / "a.mbox", [mail("m1@example.net", "Hello")])
    old = os.umask(umask)
    try:
        dry_run(capsys, tmp_path, "r.json", "r.html", "r.csv", sources=(mbox,))
        # replacing an existing report: the new file's mode, whatever the old one had
        os.chmod(tmp_path / "r.json", 0o640)
        dry_run(capsys, tmp_path, "r.json", sources=(mbox,))
    finally:
        os.umask(old)
    for name in ("r.json", "r.html", "r.csv"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode, name
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".report-")]


@pytest.mark.parametrize("name", ["r.txt", "report", "r.json.bak", "r.xml"])
def test_a_report_path_without_a_known_extension_is_one_error_before_reading(tmp_path, capsys,
                                                                            name):
    mbox = write_mbox(tmp_path / "a.mbox", [mail("m1@example.net", "Hello")])
    code, out, err = cli(capsys, "run", "--quiet", "--store", tmp_path / "s.sqlite",
                         "--report", tmp_path / "ok.json", "--report", tmp_path / name, mbox)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("archive-import: error: ")
    assert name in err and ".json" in err and ".csv" in err and ".html" in err
    assert not (tmp_path / name).exists() and not (tmp_path / "ok.json").exists()
    assert not (tmp_path / "s.sqlite").exists()


def test_report_given_three_times_writes_three_files_in_their_formats(tmp_path, capsys):
    mbox = write_mbox(tmp_path / "a.mbox", [mail("m1@example.net", "Hello"),
                                            mail("m2@example.net", "Other", day=2)])
    code, out, err = cli(capsys, "dry-run", "--quiet", "--store", tmp_path / "s.sqlite",
                         "--report", tmp_path / "r.json", "--report", tmp_path / "R.HTML",
                         "--report", tmp_path / "r.csv", mbox)
    assert code == 0, err
    assert f"report {tmp_path / 'r.json'}, {tmp_path / 'R.HTML'}, {tmp_path / 'r.csv'}" in out
    rep = read_json(tmp_path / "r.json")
    assert rep["format"] == "archive-import-report/1" and rep["summary"]["threads"] == 2
    html = (tmp_path / "R.HTML").read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html") and "m1@example.net" in html
    _, header, rows, _ = read_csv(tmp_path / "r.csv")
    assert header == list(COLUMNS) and len(rows) == 2


def test_without_report_the_json_report_goes_to_report_json(tmp_path, capsys, monkeypatch):
    mbox = write_mbox(tmp_path / "a.mbox", [mail("m1@example.net", "Hello")])
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, "dry-run", "--quiet", "--store", "s.sqlite", mbox)
    assert code == 0, err
    assert read_json(tmp_path / "report.json")["summary"]["messages_read"] == 1


def test_files_skipped_as_not_mail_carry_their_sha256(tmp_path, capsys):
    dry_run(capsys, tmp_path, "r.json")
    rep = read_json(tmp_path / "r.json")
    skipped = {f["path"]: f for f in rep["files"] if f["skipped"]}
    readme = skipped[os.path.join(str(FIXTURES), "README.md")]
    assert readme["skipped"] == "not mail"
    assert readme["sha256"] == hashlib.sha256((FIXTURES / "README.md").read_bytes()).hexdigest()
    for path, f in skipped.items():
        assert f["sha256"] == hashlib.sha256(Path(path).read_bytes()).hexdigest(), path
    assert len(skipped) == rep["summary"]["files_skipped"]


def test_the_html_page_lists_at_most_max_rows_of_duplicates_and_says_so(tmp_path, capsys,
                                                                        monkeypatch):
    """A bomb of copies of one mail has millions of duplicates: the page lists the first
    MAX_ROWS and names the JSON report, which lists every one."""
    from importer.review import html
    monkeypatch.setattr(html, "MAX_ROWS", 3)
    one = mail("same@example.net", "The same mail")
    mbox = write_mbox(tmp_path / "copies.mbox", [one] * 8)
    dry_run(capsys, tmp_path, "r.html", "r.json", sources=(mbox,))
    data = read_json(tmp_path / "r.json")
    assert data["summary"]["duplicates"] == 7 and len(data["duplicates"]) == 7
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "The first 3 are listed here; the JSON report lists all 7." in page
    section = page[page.index('<section id="duplicates"'):page.index('<section id="excluded"')]
    assert section.count("<tr><td>") == 3 and 'data-total="3"' in section


def test_the_html_report_records_version_time_command_sources_and_config_digest(tmp_path,
                                                                                capsys):
    dry_run(capsys, tmp_path, "r.html", "r.json")
    meta = read_json(tmp_path / "r.json")["meta"]
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    head = page[page.index("<header>"):page.index("</header>")]
    assert f"{meta['tool']} {meta['version']}" in head and meta["created"] in head
    assert "archive-import dry-run" in head and "r.html" in head          # the command
    assert meta["config"]["sha256"] in head                              # in full, as a title
    section = page[page.index('<table class="sources">'):page.index("</table>")]
    assert all(s in section for s in meta["sources"])
