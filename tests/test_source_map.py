"""`archive-import map`: after a run, every source message read, once, with the ticket and
entry it became in the local store (or why it has none); the same rows as CSV and JSON; a
dry run records nothing."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from importer.cli import main
from mailbuild import mail, write_mbox
from test_local_store_interrupts import Interrupting
from importer.store import schema
from importer.store.sourcemap import COLUMNS

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
CONFIG = str(FIXTURES / "helpdesk.yaml")
KEYS = {"path", "index", "message_id", "sha256", "ticket", "entry", "status"}


JUNK = b"\x00\x01\x02 not a header at all\n"


def cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def import_(capsys, store: Path, report: Path, *sources, command="run", overrides=None) -> dict:
    code, _, err = cli(capsys, command, "--quiet", "--config", CONFIG, "--store", store,
                       "--report", report, *(["--overrides", overrides] if overrides else []),
                       *sources)
    assert code == 0, err
    return json.loads(report.read_text(encoding="utf-8"))


def source_map(capsys, store: Path, fmt: str = "json") -> tuple[list[dict], str]:
    code, out, err = cli(capsys, "map", "--config", CONFIG, "--store", store, "--format", fmt)
    assert code == 0, err
    if fmt == "json":
        return json.loads(out), err
    return list(csv.DictReader(io.StringIO(out))), err


def at(entry: dict) -> tuple[str, int]:
    return entry["path"], entry["index"]


def src(source: dict) -> tuple[str, int]:
    return source["path"], source["index"]


@pytest.fixture(scope="module")
def fixtures_run(tmp_path_factory):
    """A run of the shipped fixtures into a local store, its report and its map."""
    tmp = tmp_path_factory.mktemp("map")
    store, report = tmp / "store.sqlite", tmp / "r.json"
    assert main(["run", "--quiet", "--config", CONFIG, "--store", str(store), "--report",
                 str(report), str(FIXTURES)]) == 0
    rep = json.loads(report.read_text(encoding="utf-8"))
    return store, rep


def test_map_lists_every_message_read_exactly_once_with_what_it_became(fixtures_run, capsys):
    store, rep = fixtures_run
    rows, err = source_map(capsys, store)
    assert err == ""
    assert rows and all(KEYS <= set(r) for r in rows)
    assert len(rows) == rep["summary"]["messages_read"] == 325
    assert len({at(r) for r in rows}) == len(rows)

    by_place = {at(r): r for r in rows}
    ticket_of = {}                 # source position of a placed message -> its ticket
    for t in rep["threads"]:
        for m in t["messages"]:
            row = by_place[src(m["source"])]
            assert row["status"] == "imported"
            assert (row["message_id"], row["sha256"]) == (m["message_id"], m["sha256"])
            assert row["ticket"] == t["ticket"]["id"]
            ticket_of[src(m["source"])] = (row["ticket"], row["entry"])
    assert len(ticket_of) == rep["summary"]["messages_unique"]
    for d in rep["duplicates"]:
        row = by_place[src(d["dropped"])]
        assert row["status"] == "duplicate"
        assert (row["message_id"], row["sha256"]) == (d["message_id"], d["sha256"])
        assert (row["ticket"], row["entry"]) == ticket_of[src(d["kept"])]
    for q in rep["quarantine"]:
        row = by_place[src(q["source"])]
        assert row["status"] == "quarantined"
        assert row["ticket"] is None and row["entry"] is None and row["message_id"] is None
        assert row["sha256"] == q["sha256"]
    statuses = [r["status"] for r in rows]
    assert statuses.count("duplicate") == rep["summary"]["duplicates"] == 11
    assert statuses.count("quarantined") == rep["summary"]["quarantined"] == 2
    assert statuses.count("imported") == rep["summary"]["messages_unique"]


def test_map_tickets_and_entries_are_those_of_the_local_store(fixtures_run, capsys):
    store, rep = fixtures_run
    rows, _ = source_map(capsys, store)
    conn = sqlite3.connect(store)
    entries = {eid: (ticket, mid, sha) for eid, ticket, mid, sha in conn.execute(
        "SELECT id, ticket_id, message_id, sha256 FROM entries")}
    threads = dict(conn.execute("SELECT id, thread_id FROM tickets"))
    thread_of = {m["sha256"]: t["id"] for t in rep["threads"] for m in t["messages"]}
    kept_sha = {src(d["dropped"]): d["kept_sha256"] for d in rep["duplicates"]}
    used = set()
    for r in rows:
        if r["status"] == "imported":
            ticket, mid, sha = entries[int(r["entry"])]
            assert (str(ticket), mid, sha) == (r["ticket"], r["message_id"], r["sha256"])
            assert threads[ticket] == thread_of[sha]
            used.add(int(r["entry"]))
        elif r["status"] == "duplicate":
            ticket, _, sha = entries[int(r["entry"])]
            assert str(ticket) == r["ticket"] and sha == kept_sha[at(r)]
    assert used == set(entries)           # every entry is some source message's


def test_map_as_csv_has_the_same_rows_and_columns(fixtures_run, capsys):
    store, _ = fixtures_run
    code, out, _ = cli(capsys, "map", "--config", CONFIG, "--store", store, "--format", "csv")
    assert code == 0
    reader = csv.DictReader(io.StringIO(out))
    as_csv = list(reader)
    assert tuple(reader.fieldnames) == COLUMNS and set(COLUMNS) == KEYS
    as_json, _ = source_map(capsys, store)
    assert as_csv == [{k: "" if v is None else str(v) for k, v in r.items()} for r in as_json]
    # the default format is CSV, and --output writes the same to a file
    code, default, _ = cli(capsys, "map", "--config", CONFIG, "--store", store)
    assert code == 0 and default == out
    path = store.parent / "map.csv"
    code, nothing, _ = cli(capsys, "map", "--config", CONFIG, "--store", store, "--output", path)
    assert code == 0 and nothing == ""
    assert path.read_text(encoding="utf-8") == out


def test_map_without_a_store_is_one_error_and_makes_none(tmp_path, capsys):
    code, out, err = cli(capsys, "map", "--store", tmp_path / "none.sqlite")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("archive-import: error: ")
    assert "none.sqlite" in err
    assert not (tmp_path / "none.sqlite").exists()


def test_a_dry_run_records_nothing_to_map(tmp_path, capsys):
    mbox = write_mbox(tmp_path / "a.mbox", [mail("m1@example.net"), mail("m2@example.net")])
    store = tmp_path / "store.sqlite"
    import_(capsys, store, tmp_path / "d.json", mbox, command="dry-run")
    assert not store.exists()                     # a dry run makes no store at all
    code, _, err = cli(capsys, "map", "--store", store)
    assert code == 2

    # A store that exists (a run that found no mail) and a dry run into it: still empty.
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no mail here\n")
    import_(capsys, store, tmp_path / "e.json", tmp_path / "empty")
    import_(capsys, store, tmp_path / "d.json", mbox, command="dry-run")
    rows, err = source_map(capsys, store)
    assert rows == []
    assert err.startswith("archive-import: warning: ") and "no source messages" in err
    code, out, _ = cli(capsys, "map", "--store", store, "--format", "csv")
    assert code == 0 and out.splitlines() == [",".join(COLUMNS)]


def test_a_dry_run_after_a_run_leaves_the_map_as_it_was(tmp_path, capsys):
    mbox = write_mbox(tmp_path / "a.mbox", [mail("m1@example.net"),
                                            mail("m2@example.net", "Re: Printer on fire", day=2,
                                                 reply_to="m1@example.net")])
    store = tmp_path / "store.sqlite"
    import_(capsys, store, tmp_path / "r.json", mbox)
    before, _ = source_map(capsys, store)
    ov = tmp_path / "review.yaml"
    ov.write_text("exclude: {threads: [m1@example.net]}\n")
    other = write_mbox(tmp_path / "b.mbox", [mail("m3@example.net", "Other")])
    import_(capsys, store, tmp_path / "d.json", mbox, other, command="dry-run", overrides=ov)
    after, _ = source_map(capsys, store)
    assert after == before and {r["status"] for r in after} == {"imported"}


def test_messages_of_an_excluded_thread_map_as_excluded_with_no_ticket(tmp_path, capsys):
    inbox = write_mbox(tmp_path / "inbox.mbox", [
        mail("m1@example.net"),
        mail("m2@example.net", "Re: Printer on fire", day=2, reply_to="m1@example.net"),
        mail("m3@example.net", "Invoice", day=3)])
    copy = write_mbox(tmp_path / "copy.mbox", [mail("m2@example.net", "Re: Printer on fire",
                                                    day=2, reply_to="m1@example.net")])
    ov = tmp_path / "review.yaml"
    ov.write_text("exclude: {threads: [m1@example.net]}\n")
    store = tmp_path / "store.sqlite"
    rep = import_(capsys, store, tmp_path / "r.json", inbox, copy, overrides=ov)
    assert rep["summary"]["excluded"] == 2 and rep["summary"]["duplicates"] == 1
    rows, _ = source_map(capsys, store)
    assert len(rows) == rep["summary"]["messages_read"] == 4
    got = {(Path(r["path"]).name, r["index"]): (r["message_id"], r["status"], r["ticket"],
                                                 r["entry"]) for r in rows}
    (ticket,) = {t["ticket"]["id"] for t in rep["threads"]}
    assert got == {
        ("inbox.mbox", 0): ("m1@example.net", "excluded", None, None),
        ("inbox.mbox", 1): ("m2@example.net", "excluded", None, None),
        ("inbox.mbox", 2): ("m3@example.net", "imported", ticket, got[("inbox.mbox", 2)][3]),
        # the copy of an excluded message is left out with it: it will never be "imported"
        ("copy.mbox", 0): ("m2@example.net", "excluded", None, None),
    }
    assert got[("inbox.mbox", 2)][3] is not None


def test_the_same_unreadable_stretch_in_two_files_maps_twice(tmp_path, capsys):
    a = write_mbox(tmp_path / "a.mbox", [mail("m1@example.net"), JUNK])
    b = write_mbox(tmp_path / "b.mbox", [JUNK])
    store = tmp_path / "store.sqlite"
    rep = import_(capsys, store, tmp_path / "r.json", a, b)
    assert rep["summary"]["quarantined"] == 2
    rows, _ = source_map(capsys, store)
    assert len(rows) == rep["summary"]["messages_read"] == 3


def test_running_again_maps_each_message_once(tmp_path, capsys):
    mbox = write_mbox(tmp_path / "a.mbox", [mail("m1@example.net"), JUNK,
                                            mail("m2@example.net", "Other", day=2)])
    store = tmp_path / "store.sqlite"
    rep = import_(capsys, store, tmp_path / "r.json", mbox)
    first, _ = source_map(capsys, store)
    import_(capsys, store, tmp_path / "r.json", mbox)
    again, _ = source_map(capsys, store)
    assert len(first) == rep["summary"]["messages_read"] == 3
    assert again == first


def test_an_interrupted_run_resumed_maps_each_message_once(tmp_path, capsys, monkeypatch):
    real = sqlite3.connect
    monkeypatch.setattr(schema.sqlite3, "connect",
                        lambda *a, **k: real(*a, factory=Interrupting, **k))
    source = FIXTURES / "helpdesk"
    Interrupting.seen, Interrupting.stop = 0, None
    clean_store = tmp_path / "clean.sqlite"
    rep = import_(capsys, clean_store, tmp_path / "clean.json", source)
    writes = Interrupting.seen
    clean, _ = source_map(capsys, clean_store)
    assert len(clean) == rep["summary"]["messages_read"]

    store = tmp_path / "store.sqlite"
    Interrupting.seen, Interrupting.stop = 0, writes - 20       # in the last threads' delivery
    code, _, err = cli(capsys, "run", "--quiet", "--config", CONFIG, "--store", store,
                       "--report", tmp_path / "r.json", source)
    Interrupting.stop = None
    assert code == 130, err
    cut, _ = source_map(capsys, store)
    assert len(cut) == len(clean) and len({at(r) for r in cut}) == len(cut)
    pending = [r for r in cut if r["status"] == "pending"]
    assert pending and all(r["ticket"] is None and r["entry"] is None for r in pending)

    import_(capsys, store, tmp_path / "r.json", source)
    resumed, _ = source_map(capsys, store)
    assert len(resumed) == len(clean)
    def shape(rows):
        return [(r["path"], r["index"], r["message_id"], r["sha256"], r["status"]) for r in rows]
    assert shape(resumed) == shape(clean)
    conn = sqlite3.connect(store)
    entries = {str(e): str(t) for e, t in conn.execute("SELECT id, ticket_id FROM entries")}
    for r in resumed:
        if r["status"] in ("imported", "duplicate"):
            assert entries[r["entry"]] == r["ticket"]
