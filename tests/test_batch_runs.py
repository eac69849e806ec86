"""Long batch runs: signals, full or unwritable temporary folders, stale spools, and the
mistakes a user can act on before hours of work (each a one-line error naming what)."""

from __future__ import annotations

import gzip
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from importer.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _mbox(n: int) -> bytes:
    return b"".join(
        b"From carol@example.net Sun Feb 16 10:00:00 2014\n"
        + (f"From: carol{i % 50}@example.net\nSubject: Case {i // 3}\n"
           f"Message-ID: <b{i}@example.net>\nDate: Sun, 16 Feb 2014 10:00:00 +0000\n\n"
           + "a line of the body\n" * 20 + "\n").encode() for i in range(n))


def _importer(*args, env=None, **kw):
    return subprocess.Popen([sys.executable, "-m", "importer", *args], cwd=ROOT,
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_ends_the_run_cleanly_and_says_how_to_resume(tmp_path, sig):
    """SIGTERM and SIGHUP ended the run with no message and left the spool copy behind."""
    box = tmp_path / "big.mbox.gz"
    box.write_bytes(gzip.compress(_mbox(30000), mtime=0))
    spools = tmp_path / "tmp"
    spools.mkdir()
    store = tmp_path / "s.sqlite"
    child = _importer("run", "--quiet", "--store", str(store), "--report",
                      str(tmp_path / "r.json"), str(box), env={"TMPDIR": str(spools)})
    deadline = time.monotonic() + 60
    while not os.listdir(spools) and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.02)
    assert os.listdir(spools), "the run never made its spool copy"
    time.sleep(0.3)
    child.send_signal(sig)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 128 + sig, err
    assert err.strip().splitlines() == [
        f"archive-import: interrupted ({signal.Signals(sig).name}); nothing half-done is kept:"
        " run the same command again to finish the job"]
    assert os.listdir(spools) == []                      # the spool copy is gone
    outcome = sqlite3.connect(store).execute("SELECT outcome FROM runs").fetchall()
    assert outcome == [("interrupted",)]
    assert main(["run", "--quiet", "--store", str(store), "--report", str(tmp_path / "r.json"),
                 str(box)]) == 0


def test_a_killed_runs_stale_spool_is_removed_by_the_next_run(tmp_path, monkeypatch):
    spools = tmp_path / "tmp"
    stale = spools / "archive-import-spool-99999999-abc"   # no such process
    stale.mkdir(parents=True)
    (stale / "1.spool").write_bytes(b"x" * 1000)
    mine = spools / f"archive-import-spool-{os.getppid()}-def"     # a live process: kept
    mine.mkdir()
    monkeypatch.setenv("TMPDIR", str(spools))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    box = tmp_path / "a.mbox.gz"
    box.write_bytes(gzip.compress(_mbox(3), mtime=0))
    assert main(["run", "--quiet", "--store", str(tmp_path / "s.sqlite"), "--report",
                 str(tmp_path / "r.json"), str(box)]) == 0
    assert not stale.exists() and mine.exists()
    assert sorted(os.listdir(spools)) == [mine.name]


def _small_files(limit: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)       # a write past it fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_full_temporary_folder_stops_the_run_and_is_not_taken_for_damage(tmp_path):
    """With $TMPDIR full, a run exited 0 having imported half, reporting "gz data damaged"."""
    box = tmp_path / "big.mbox.gz"
    plain = _mbox(8000)
    box.write_bytes(gzip.compress(plain, mtime=0))
    spools = tmp_path / "tmp"
    spools.mkdir()
    store = tmp_path / "s.sqlite"
    child = _importer("run", "--quiet", "--store", str(store), "--report",
                      str(tmp_path / "r.json"), str(box), env={"TMPDIR": str(spools)},
                      preexec_fn=_small_files(len(plain) // 2))
    out, err = child.communicate(timeout=120)
    assert child.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "cannot write the decompressed copy" in lines[0]
    assert str(spools) in lines[0] and "damaged" not in lines[0] and "Traceback" not in err
    assert os.listdir(spools) == []
    assert not (tmp_path / "r.json").exists()
    tickets = sqlite3.connect(store).execute("SELECT count(*) FROM tickets").fetchone()[0]
    assert tickets == 0      # nothing read from the cut spool was delivered


@pytest.mark.parametrize("args, words", [
    (["--report", "{tmp}"], "is a folder"),
    (["--report", "{tmp}/no/such/r.json"], "cannot write a report"),
    (["--store", "{tmp}/no/such/s.sqlite"], "no such folder"),
])
def test_mistakes_are_found_before_any_reading(tmp_path, capsys, args, words):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    base = {"--report": str(tmp_path / "r.json"), "--store": str(tmp_path / "s.sqlite")}
    base[args[0]] = args[1]
    box = tmp_path / "m.mbox"
    box.write_bytes(_mbox(1))
    code = main(["run", "--quiet", *[x for kv in base.items() for x in kv], str(box)])
    err = capsys.readouterr().err
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1


def test_an_empty_source_is_a_warning(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = main(["dry-run", "--quiet", "--store", str(tmp_path / "s.sqlite"), "--report",
                 str(tmp_path / "r.json"), str(tmp_path / "empty")])
    out, err = capsys.readouterr()
    assert code == 0 and "0 messages read" in out
    assert "warning: no mail found in" in err


def test_a_tilde_in_the_store_path_means_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "cfg.yaml").write_text("local: {path: ~/archive.sqlite}\n")
    box = tmp_path / "m.mbox"
    box.write_bytes(_mbox(2))
    assert main(["run", "--quiet", "--config", str(tmp_path / "cfg.yaml"), "--report",
                 str(tmp_path / "r.json"), str(box)]) == 0
    assert (tmp_path / "archive.sqlite").exists() and not (tmp_path / "~").exists()


def test_a_key_given_twice_in_the_config_is_an_error(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("ticket:\n  status: open\nlocal: {path: x.sqlite}\nticket:\n  queue: q\n")
    assert main(["status", "--config", str(cfg), "--store", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "c.yaml: ticket: line 4: given twice" in err


@pytest.mark.parametrize("command", ["run", "dry-run", "status", "show", "check", "rt-dates"])
def test_every_command_has_version_and_verbose(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--version"])
    assert done.value.code == 0 and "archive-import" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "--verbose" in capsys.readouterr().out


def test_report_of_a_run_names_every_run_outcome(tmp_path):
    box = tmp_path / "m.mbox"
    box.write_bytes(_mbox(2))
    store = tmp_path / "s.sqlite"
    assert main(["run", "--quiet", "--store", str(store), "--report", str(tmp_path / "r.json"),
                 str(box)]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["messages_read"] == 2
    assert sqlite3.connect(store).execute("SELECT outcome FROM runs").fetchall() == [("finished",)]


def test_a_full_store_disk_is_one_line_naming_the_store(tmp_path):
    """It printed 'internal error: OperationalError: database or disk is full' naming no file."""
    box = tmp_path / "m.mbox"
    box.write_bytes(_mbox(3000))
    store = tmp_path / "s.sqlite"
    child = _importer("run", "--quiet", "--store", str(store), "--report",
                      str(tmp_path / "r.json"), str(box), preexec_fn=_small_files(400_000))
    out, err = child.communicate(timeout=120)
    assert child.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(store) in lines[0] and "the store failed" in lines[0]
    assert "internal error" not in err and "Traceback" not in err


def test_a_store_in_a_read_only_folder_is_read_without_writing(tmp_path, capsys):
    """status, show and dry-run failed on a store in a read-only folder (and left -wal/-shm)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    box = tmp_path / "m.mbox"
    box.write_bytes(_mbox(4))
    store = folder / "s.sqlite"
    assert main(["run", "--quiet", "--store", str(store), "--report", str(tmp_path / "r.json"),
                 str(box)]) == 0
    before = sorted(os.listdir(folder))
    locked = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
    if locked.returncode != 0:
        pytest.skip("this filesystem cannot make a folder read-only for root (chattr +i)")
    try:
        capsys.readouterr()
        assert main(["status", "--store", str(store)]) == 0
        assert "threads done 4" in capsys.readouterr().out
        assert main(["show", "--store", str(store), "1"]) == 0
        assert "Case 0" in capsys.readouterr().out
        assert main(["dry-run", "--quiet", "--store", str(store), "--report",
                     str(tmp_path / "d.json"), str(box)]) == 0
        assert "already present 4" in capsys.readouterr().out
        assert sorted(os.listdir(folder)) == before          # no -wal, -shm or lock left
    finally:
        subprocess.run(["chattr", "-i", str(folder)])


def test_an_unreachable_rt_is_found_before_any_reading(tmp_path, capsys, monkeypatch):
    """`run` against an unreachable RT read the whole archive first, then gave up."""
    monkeypatch.setenv("RTUSER", "importer")
    monkeypatch.setenv("RTPASSWD", "s3cr3t-pw")
    cfg = tmp_path / "rt.yaml"
    cfg.write_text("backend: {kind: rt}\nrt: {url: 'http://127.0.0.1:9', retries: 1}\n")
    box = tmp_path / "m.mbox"
    box.write_bytes(_mbox(2))
    from importer import pipeline
    monkeypatch.setattr(pipeline, "read_stage", lambda *a, **k: pytest.fail("read first"))
    from importer.retry import RetryPolicy
    monkeypatch.setattr(RetryPolicy, "sleep", lambda self, *a: None)
    code = main(["run", "--quiet", "--config", str(cfg), "--store", str(tmp_path / "s.sqlite"),
                 "--report", str(tmp_path / "r.json"), str(box)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "RT at http://127.0.0.1:9 does not answer" in err[0] and "after 2 tries" in err[0]
    assert "s3cr3t" not in err[0]


@pytest.mark.parametrize("retries, code", [(1, 0), (0, 2)])
def test_the_local_store_retries_with_its_own_key(tmp_path, monkeypatch, capsys, retries, code):
    """Retries live in one layer, each backend with its own budget: local.retries."""
    from importer.backends.local import LocalBackend
    from importer.errors import BackendError
    from importer.retry import RetryPolicy
    real, failed = LocalBackend.create_ticket, []

    def busy_once(self, plan, first):
        if not failed:
            failed.append(1)
            raise BackendError("the store is busy", transient=True, sent=False)
        return real(self, plan, first)
    monkeypatch.setattr(LocalBackend, "create_ticket", busy_once)
    monkeypatch.setattr(RetryPolicy, "sleep", lambda self, *a: None)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"local: {{retries: {retries}}}\nrt: {{retries: 5}}\n")
    box = tmp_path / "m.mbox"
    box.write_bytes(_mbox(1))
    assert main(["run", "--quiet", "--config", str(cfg), "--store", str(tmp_path / "s.sqlite"),
                 "--report", str(tmp_path / "r.json"), str(box)]) == code
