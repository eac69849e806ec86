"""The command line end to end on small archives written here and on the shipped fixtures."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys

import pytest

from importer.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "fixtures")


def mail(n: int, *, subject="Printer on fire", reply_to: int | None = None, sender="carol@example.net",
         body="Hello") -> bytes:
    refs = f"In-Reply-To: <m{reply_to}@example.net>\nReferences: <m{reply_to}@example.net>\n" \
        if reply_to is not None else ""
    return (f"From: Carol <{sender}>\nTo: hello@example.org\nSubject: {subject}\n"
            f"Date: Sun, 16 Feb 2014 1{n % 10}:00:00 +0000\nMessage-ID: <m{n}@example.net>\n{refs}"
            f"\n{body} {n}\n").encode()


def write_mbox(path, messages: list[bytes]) -> None:
    with open(path, "wb") as fp:
        for m in messages:
            fp.write(b"From carol@example.net Sun Feb 16 10:00:00 2014\n" + m + b"\n")


@pytest.fixture
def archive(tmp_path):
    write_mbox(tmp_path / "inbox.mbox", [mail(1), mail(2, subject="Re: Printer on fire", reply_to=1),
                                         mail(3, subject="Invoice 42")])
    write_mbox(tmp_path / "copy.mbox", [mail(2, subject="Re: Printer on fire", reply_to=1)])
    return tmp_path


def load_report(path):
    with open(path, encoding="utf-8") as fp:
        return json.load(fp)


def test_run_imports_one_ticket_per_thread_and_accounts_for_everything(archive, capsys):
    store, report = archive / "a.sqlite", archive / "r.json"
    code = main(["run", "--quiet", "--store", str(store), "--report", str(report),
                 str(archive / "inbox.mbox"), str(archive / "copy.mbox")])
    assert code == 0, capsys.readouterr().err
    rep = load_report(report)
    s = rep["summary"]
    assert s == {"messages_read": 4, "messages_unique": 3, "duplicates": 1, "quarantined": 0,
                 "excluded": 0, "files_read": 2, "files_skipped": 0,
                 "threads": 2}
    assert s["messages_read"] == s["messages_unique"] + s["duplicates"] + s["quarantined"]
    conn = sqlite3.connect(store)
    assert conn.execute("SELECT count(*) FROM tickets").fetchone()[0] == 2
    stored = dict(conn.execute("SELECT message_id, sha256 FROM entries").fetchall())
    for t in rep["threads"]:
        assert t["ticket"]["backend"] == "local"
        for m in t["messages"]:
            (raw,) = conn.execute("SELECT raw FROM entries WHERE message_id=?",
                                  (m["message_id"],)).fetchone()
            assert hashlib.sha256(raw).hexdigest() == m["sha256"] == stored[m["message_id"]]
    assert "created 2" in capsys.readouterr().out


def test_second_identical_run_creates_nothing(archive, capsys):
    args = ["run", "--quiet", "--store", str(archive / "a.sqlite"), "--report",
            str(archive / "r.json"), str(archive)]
    assert main(args) == 0
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert "tickets created 0, already present 2" in out[-1]
    conn = sqlite3.connect(archive / "a.sqlite")
    assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == 3


def test_dry_run_writes_only_the_report(archive, capsys):
    report = archive / "dry.json"
    assert main(["dry-run", "--quiet", "--store", str(archive / "none.sqlite"), "--report",
                 str(report), str(archive)]) == 0
    assert not (archive / "none.sqlite").exists()
    rep = load_report(report)
    assert rep["summary"]["threads"] == 2
    assert all(t["ticket"] is None for t in rep["threads"])


def test_dry_run_after_a_run_names_the_existing_tickets(archive, capsys):
    store = str(archive / "a.sqlite")
    assert main(["run", "--quiet", "--store", store, "--report", str(archive / "r.json"),
                 str(archive)]) == 0
    assert main(["dry-run", "--quiet", "--store", store, "--report", str(archive / "d.json"),
                 str(archive)]) == 0
    rep = load_report(archive / "d.json")
    assert {t["ticket"]["backend"] for t in rep["threads"]} == {"local"}
    assert "would create 0, already present 2" in capsys.readouterr().out


def test_show_prints_the_ticket_and_raw_bytes_exactly(archive, capsysbinary):
    store = str(archive / "a.sqlite")
    assert main(["run", "--quiet", "--store", store, "--report", str(archive / "r.json"),
                 str(archive / "inbox.mbox")]) == 0
    capsysbinary.readouterr()
    assert main(["show", "--store", store, "1"]) == 0
    shown = capsysbinary.readouterr().out.decode()
    assert "Printer on fire" in shown and "Requestors: carol@example.net" in shown
    assert main(["show", "--store", store, "1", "--raw", "2"]) == 0
    assert capsysbinary.readouterr().out == mail(2, subject="Re: Printer on fire", reply_to=1)


def test_status_reports_runs_and_threads(archive, capsys):
    store = str(archive / "a.sqlite")
    main(["run", "--quiet", "--store", store, "--report", str(archive / "r.json"), str(archive)])
    capsys.readouterr()
    assert main(["status", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "threads done 2, pending 0, failed 0" in out and "run 1: run" in out


@pytest.mark.parametrize("argv, needle", [
    (["run", "/nonexistent/archive.mbox"], "/nonexistent/archive.mbox"),
    (["run", "--config", "/nonexistent.yaml", "x"], "/nonexistent.yaml"),
    (["show", "--store", "/nonexistent.sqlite", "1"], "/nonexistent.sqlite"),
    (["run", "--report", "out.txt", "x"], ".json"),
    (["run", "--report", "/nonexistent/dir/r.json", "x"], "/nonexistent/dir"),
    (["run", "--store", "/nonexistent/dir/s.sqlite", "x"], "/nonexistent/dir"),
])
def test_user_mistakes_are_one_line_errors(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_bad_config_key_is_named(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("rt:\n  wrokers: 3\n")
    assert main(["dry-run", "--config", str(cfg), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "rt.wrokers" in err and str(cfg) in err


def test_console_script_runs_as_a_subprocess(archive):
    done = subprocess.run([sys.executable, "-m", "importer", "dry-run", "--quiet", "--report",
                           str(archive / "p.json"), str(archive)], capture_output=True, text=True,
                          cwd=archive, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "4 messages read" in done.stdout


class Interrupt(BaseException):
    pass


def test_interrupted_run_resumes_to_the_same_state(archive, monkeypatch, capsys):
    from importer.backends.local import LocalBackend
    calls = {"n": 0}
    real = LocalBackend.add_message

    def dying(self, *a, **kw):
        calls["n"] += 1
        if calls["n"] == 1:
            raise Interrupt()          # like a kill -9 half way through a thread
        return real(self, *a, **kw)

    store = str(archive / "a.sqlite")
    args = ["run", "--quiet", "--store", store, "--report", str(archive / "r.json"), str(archive)]
    monkeypatch.setattr(LocalBackend, "add_message", dying)
    with pytest.raises(Interrupt):
        main(args)
    monkeypatch.setattr(LocalBackend, "add_message", real)
    assert main(args) == 0
    clean = archive / "clean.sqlite"
    assert main(["run", "--quiet", "--store", str(clean), "--report", str(archive / "c.json"),
                 str(archive)]) == 0

    def state(path):
        c = sqlite3.connect(path)
        return sorted(c.execute("SELECT t.subject, e.position, e.message_id, e.sha256 FROM entries e"
                                " JOIN tickets t ON t.id = e.ticket_id").fetchall())
    assert state(store) == state(clean)


def test_a_store_that_is_not_ours_is_refused_in_one_line(archive, capsys):
    store = archive / "notes.sqlite"
    store.write_text("shopping list, not a database\n")
    assert main(["run", "--quiet", "--store", str(store), "--report", str(archive / "r.json"),
                 str(archive)]) == 2
    err = capsys.readouterr().err
    assert str(store) in err and err.count("\n") == 1
    assert store.read_text() == "shopping list, not a database\n"


def test_a_refused_thread_is_recorded_failed_and_retried_by_the_next_run(archive, monkeypatch,
                                                                         capsys):
    from importer.backends.local import LocalBackend
    from importer.errors import BackendError
    real = LocalBackend.create_ticket

    def refuse_invoices(self, plan, first):
        if plan.subject == "Invoice 42":
            raise BackendError("refused by the destination", message_id=first.message_id)
        return real(self, plan, first)

    store = str(archive / "a.sqlite")
    args = ["run", "--quiet", "--store", store, "--report", str(archive / "r.json"), str(archive)]
    monkeypatch.setattr(LocalBackend, "create_ticket", refuse_invoices)
    assert main(args) == 3
    rep = load_report(archive / "r.json")
    assert rep["delivery"]["threads_failed"] == 1
    assert "refused by the destination" in rep["delivery"]["failures"][0]["error"]
    capsys.readouterr()
    assert main(["status", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "failed 1" in out and "refused by the destination" in out
    monkeypatch.setattr(LocalBackend, "create_ticket", real)
    assert main(args) == 0
    assert "created 1, already present 1" in capsys.readouterr().out


def test_a_destination_that_stays_down_stops_the_run_in_one_line(archive, monkeypatch, capsys):
    from importer import deliver
    from importer.backends.local import LocalBackend
    from importer.errors import BackendError

    def down(self, plan, first):
        raise BackendError("connection refused", transient=True)

    monkeypatch.setattr(LocalBackend, "create_ticket", down)
    monkeypatch.setattr(deliver.RetryPolicy, "sleep", lambda self, *attempt: None)
    store = str(archive / "a.sqlite")
    assert main(["run", "--quiet", "--store", store, "--report", str(archive / "r.json"),
                 str(archive)]) == 2
    err = capsys.readouterr().err
    assert "giving up: connection refused" in err and "Traceback" not in err
    assert sqlite3.connect(store).execute("SELECT count(*) FROM tickets").fetchone()[0] == 0


def test_credentials_in_an_rt_url_never_reach_the_ledger(tmp_path):
    from importer.backends import destination_for
    from importer.config import parse_config
    cfg = parse_config({"backend": {"kind": "rt"}}, "c.yaml",
                       env={"RTSERVER": "https://importer:s3cret@rt.example.org/REST/2.0/"})
    dest = destination_for(cfg)
    assert dest == "rt:https://rt.example.org:Archive"
    assert "s3cret" not in dest


def test_changing_dedupe_on_a_filled_store_is_refused(archive, capsys):
    store = str(archive / "a.sqlite")
    args = ["--quiet", "--store", store, "--report", str(archive / "r.json"), str(archive)]
    assert main(["run", *args]) == 0
    cfg = archive / "nodedupe.yaml"
    cfg.write_text("dedupe: {enabled: false}\n")
    assert main(["run", "--config", str(cfg), *args]) == 2
    err = capsys.readouterr().err
    assert "dedupe.enabled" in err and "another --store" in err
    conn = sqlite3.connect(store)
    assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == 3


@pytest.mark.parametrize("command", ["run", "dry-run"])
def test_a_second_run_on_a_store_in_use_is_refused_with_the_owners_pid(archive, capsys, command):
    """One run per store at a time, whatever the backend: two at once made every ticket twice."""
    from importer.lock import store_lock
    store = str(archive / "store.sqlite")
    assert main(["run", "--quiet", "--store", store, "--report", str(archive / "r1.json"),
                 str(archive)]) == 0
    capsys.readouterr()
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, time; from importer.lock import store_lock;"
                               " store_lock(sys.argv[1]).acquire(); print('held', flush=True);"
                               " time.sleep(60)", store],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        code = main([command, "--quiet", "--store", store, "--report",
                     str(archive / "r2.json"), str(archive)])
        err = capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    assert code == 2
    assert f"another import is using {store} (pid {holder.pid})" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (archive / "r2.json").exists()
    with store_lock(store).acquire():      # the kernel dropped the dead holder's lock
        pass
