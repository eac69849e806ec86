"""Delivery reading ahead on the other core (importer/contentpool.py) gives exactly what reading
in place gives: the same store after a run, the right message for every call in any order,
a source error only for the message it belongs to, and a lost worker costs nothing."""

from __future__ import annotations

import os
import signal

import pytest

from importer import contentpool
from importer.config import LimitsCfg
from importer.parse import parse_record
from importer.read.archive import Archive
from mailbuild import mail, write_mbox
from test_local_store_interrupts import _archive, _run, dump


def test_a_local_run_reading_ahead_fills_the_store_as_one_reading_in_place(tmp_path,
                                                                          monkeypatch):
    src = _archive(tmp_path)
    assert _run(src, tmp_path / "in-place.sqlite") == 0
    calls = []
    real = contentpool.ContentPool._result
    monkeypatch.setattr(contentpool, "MIN_BYTES", 0)
    monkeypatch.setattr(contentpool.ContentPool, "_result",
                        lambda self, *a: calls.append(1) or real(self, *a))
    assert _run(src, tmp_path / "ahead.sqlite") == 0
    assert len(calls) > 40                         # the messages did come from the worker
    assert dump(tmp_path / "ahead.sqlite") == dump(tmp_path / "in-place.sqlite")


@pytest.fixture
def records(tmp_path):
    box = write_mbox(tmp_path / "box.mbox", [
        mail(f"m{i}@example.org", f"Subject {i}", headers="Content-Type: text/plain\n")
        for i in range(12)])
    with Archive([str(box)]) as archive:
        recs = [parse_record(item) for item in archive.scan()]
        yield recs, archive


def _pool(recs, archive, checked):
    return contentpool.ContentPool(recs, lambda rec: archive.read(rec.source), LimitsCfg(),
                                   lambda rec, digest: checked.append((rec, digest)))


def test_every_call_gets_its_own_message_whatever_the_order(records, monkeypatch):
    recs, archive = records
    monkeypatch.setattr(contentpool, "WINDOW_MESSAGES", 4)
    checked = []
    # A resumed run skips what is imported (2, 3, 7), and may ask for one it passed (0).
    asked = [recs[0], recs[1], recs[4], recs[5], recs[6], recs[0], recs[8], recs[11], recs[9]]
    with _pool(recs, archive, checked) as load:
        got = [load(rec) for rec in asked]
    assert [c.message_id for c in got] == [r.message_id for r in asked]
    assert all(c.raw == archive.read(r.source) for c, r in zip(got, asked))
    assert all(c.text.strip() == f"Body of {r.message_id}" for c, r in zip(got, asked))
    assert [(r, d) for r, d in checked] == [(r, r.sha256) for r in asked]


def test_a_source_read_error_belongs_to_its_message_only(records):
    recs, archive = records

    def read(rec):
        if rec is recs[2]:
            raise OSError("gone")
        return archive.read(rec.source)
    pool = contentpool.ContentPool(recs, read, LimitsCfg(), lambda rec, digest: None)
    with pool as load:
        assert load(recs[0]).message_id == recs[0].message_id
        assert load(recs[3]).message_id == recs[3].message_id    # 2 read ahead, skipped
    with contentpool.ContentPool(recs, read, LimitsCfg(), lambda rec, digest: None) as load:
        load(recs[1])
        with pytest.raises(OSError, match="gone"):
            load(recs[2])


def test_a_killed_worker_costs_only_the_reading_ahead(records):
    recs, archive = records
    checked = []
    with _pool(recs, archive, checked) as load:
        first = load(recs[0])
        for pid in list(load.executor._processes):
            os.kill(pid, signal.SIGKILL)
        rest = [load(rec) for rec in recs[1:]]
    assert [c.message_id for c in [first, *rest]] == [r.message_id for r in recs]
    assert all(c.text.strip() == f"Body of {r.message_id}" for c, r in zip([first, *rest], recs))


def test_small_imports_and_threaded_delivery_read_in_place(records):
    recs, archive = records

    class Plan:
        messages = [type("P", (), {"record": r})() for r in recs]
    read = lambda rec: archive.read(rec.source)     # noqa: E731
    check = lambda rec, digest: None                 # noqa: E731
    assert not isinstance(contentpool.loader([Plan], read, LimitsCfg(), check, 1),
                          contentpool.ContentPool)                 # under MIN_BYTES
    with contentpool.loader([Plan], read, LimitsCfg(), check, 4) as load:
        assert load(recs[3]).message_id == recs[3].message_id


def _big_mbox(path, count=260):
    """Over contentpool.MIN_BYTES (and parsepool's): both pools run, as on a real archive."""
    import base64
    import random
    rnd = random.Random(7)
    with open(path, "wb") as fp:
        for i in range(count):
            blob = base64.encodebytes(rnd.randbytes(100_000))
            fp.write(b"From carol@example.net Sun Feb 16 10:00:00 2014\n" + (
                f"From: carol{i % 40}@example.net\nTo: hello@example.org\n"
                f"Subject: Case {i // 4}\nMessage-ID: <p{i}@example.net>\n"
                f"Date: Sun, 16 Feb 2014 10:{i % 60:02d}:00 +0000\nMIME-Version: 1.0\n"
                "Content-Type: multipart/mixed; boundary=zz\n\n--zz\n"
                "Content-Type: text/plain\n\nsee the log\n--zz\n"
                "Content-Type: application/octet-stream; name=log.bin\n"
                "Content-Transfer-Encoding: base64\n\n").encode() + blob + b"--zz--\n\n")
    assert path.stat().st_size > contentpool.MIN_BYTES
    return path


def _group_gone(pgid: int, timeout: float = 10.0) -> bool:
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("sig, group", [(signal.SIGINT, True), (signal.SIGTERM, False)],
                         ids=["ctrl-c-to-the-group", "sigterm-to-the-main-process"])
def test_a_signal_while_reading_ahead_ends_cleanly_and_the_rerun_ends_as_a_clean_run(
        tmp_path, sig, group):
    """Ctrl-C (to the whole process group, workers included) or SIGTERM (to the main process
    only) during delivery: exit 128+n with the resume line, no worker left running, and
    the rerun's store is a clean run's."""
    import sqlite3
    import subprocess
    import sys
    import time
    from test_batch_runs import ROOT
    box = _big_mbox(tmp_path / "big.mbox")
    assert _run(box, tmp_path / "clean.sqlite") == 0
    store = tmp_path / "cut.sqlite"
    child = subprocess.Popen(
        [sys.executable, "-m", "importer", "run", "--quiet", "--config",
         os.path.join(ROOT, "fixtures", "helpdesk.yaml"), "--store", str(store),
         "--report", str(store) + ".json", str(box)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    deadline = time.monotonic() + 120
    tickets = 0
    while tickets < 3 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
        try:
            tickets = sqlite3.connect(f"file:{store}?mode=ro", uri=True).execute(
                "SELECT count(*) FROM tickets").fetchone()[0]
        except sqlite3.Error:
            pass
    assert child.poll() is None and tickets >= 3, "the run ended before it could be stopped"
    (os.killpg if group else os.kill)(child.pid, sig)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 128 + sig, err
    assert err.strip().splitlines()[-1].startswith(
        f"archive-import: interrupted ({signal.Signals(sig).name}); nothing half-done is kept")
    assert _group_gone(child.pid), "a worker outlived the run"
    assert _run(box, store) == 0
    assert dump(store) == dump(tmp_path / "clean.sqlite")
