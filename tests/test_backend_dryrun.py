"""The backend contract on the dry run: it remembers what it would do, writes nothing."""

from __future__ import annotations

import pytest

from backend_contract import BackendContract, EntryView, TicketView
from importer.backends.dryrun import DryRunBackend
from importer.store.ledger import Ledger
from importer.store.schema import open_store


def read_dry(backend, ticket) -> TicketView:
    t = backend.tickets[ticket.id]
    return TicketView(t.subject, t.status, frozenset(t.requestors), t.created, t.resolved,
                      tuple(EntryView(mid, sha, None) for mid, sha in t.messages()))


class TestDryRun(BackendContract):
    keeps_content = False

    @pytest.fixture
    def backend(self):
        return DryRunBackend()

    @pytest.fixture
    def view(self):
        return read_dry

    @pytest.fixture
    def ledger(self, tmp_path):
        # The dry run's own ledger is in memory; a real one shows it records what it is told.
        return Ledger(open_store(str(tmp_path / "dry.sqlite")), "dry-run")


def test_dry_run_ledger_writes_nothing(tmp_path):
    path = tmp_path / "never.sqlite"
    ledger = Ledger(open_store(str(path), readonly=True), "local:archive", readonly=True)
    ledger.set_thread("t", "1", "done")
    assert ledger.thread_state("t") == (None, None, False)
    assert not path.exists()
