"""A large archive's records wait on disk while it is threaded, and come back the same."""

from __future__ import annotations

import errno
import json
import os
import pickle

import pytest

from importer import spill
from importer.cli import main
from importer.errors import LocalError
from importer.parse import parse_record
from importer.read.archive import Archive

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")


def _records():
    with Archive([os.path.join(FIXTURES, "helpdesk")]) as archive:
        return [r for r in map(parse_record, archive.scan()) if hasattr(r, "message_id")]


def _report(tmp_path, name, command="dry-run"):
    path = tmp_path / f"{name}.json"
    assert main([command, "--quiet", "--config", os.path.join(FIXTURES, "helpdesk.yaml"),
                 "--store", str(tmp_path / f"{name}.sqlite"), "--report", str(path),
                 FIXTURES]) == 0
    rep = json.loads(path.read_text())
    rep.pop("meta")          # the time and the command line (its paths) differ by design
    return rep


@pytest.mark.parametrize("command", ["dry-run", "run"])
def test_threading_with_the_records_set_aside_gives_the_same_report(tmp_path, monkeypatch,
                                                                    command):
    kept = _report(tmp_path, "kept", command)
    monkeypatch.setattr(spill, "SPILL_RECORDS", 0)
    seen = []
    real = spill.set_aside

    def watched(records, directory):
        seen.append((len(records), directory))
        return real(records, directory)
    monkeypatch.setattr(spill, "set_aside", watched)
    aside = _report(tmp_path, "aside", command)
    assert seen == [(kept["summary"]["messages_unique"], str(tmp_path))]
    assert aside == kept and len(kept["threads"]) > 20


def test_the_list_is_empty_meanwhile_and_the_same_list_after(tmp_path, monkeypatch):
    monkeypatch.setattr(spill, "SPILL_RECORDS", 10)
    records = _records()
    before, same = list(records), records
    with spill.set_aside(records, str(tmp_path)) as aside:
        assert aside and records == []
    assert records is same and records == before
    assert [r.message_id for r in records] == [r.message_id for r in before]
    assert os.listdir(tmp_path) == []          # an unnamed file, gone with the block


def test_a_small_list_is_left_alone(tmp_path):
    records = _records()
    with spill.set_aside(records, str(tmp_path)) as aside:
        assert not aside and len(records) > 10


def test_a_failed_block_does_not_read_them_back(tmp_path, monkeypatch):
    monkeypatch.setattr(spill, "SPILL_RECORDS", 1)
    records = _records()
    with pytest.raises(KeyboardInterrupt):
        with spill.set_aside(records, str(tmp_path)):
            raise KeyboardInterrupt
    assert records == []


def test_a_full_disk_is_a_local_error_naming_the_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(spill, "SPILL_RECORDS", 1)
    records = _records()

    def full(obj, fp, protocol=None):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(pickle, "dump", full)
    with pytest.raises(LocalError) as err:
        with spill.set_aside(records, str(tmp_path)):
            pass
    assert str(tmp_path) in str(err.value) and "free some space" in str(err.value)
    assert len(records) > 10                   # nothing was taken away
