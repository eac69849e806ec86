"""The backend contract suite on a real RT 5 server; every test also proves nobody was mailed."""

from __future__ import annotations

import pytest

from backend_contract import BackendContract, EntryView, TicketView
from conftest import BOTH_RTS, both_rts
from rthelpers import make_rt_backend, rt_datetime
from importer.store.ledger import Ledger
from importer.store.schema import open_store

pytestmark = pytest.mark.rt


def read_rt(reader):
    def view(backend, ticket) -> TicketView:
        t = reader.ticket(ticket.id)
        atts = reader.attachments(ticket.id)
        entries = []
        for txn in reader.transactions(ticket.id):
            mine = [a for a in atts if a["TransactionId"] == txn["id"]]
            text = next((reader.content(a["id"]).decode("utf-8") for a in mine
                         if a["ContentType"] == "text/plain" and not a["Filename"]), "")
            header = text.split("\n\n", 1)[0].split("\n")
            mid = header[-1][len("Message-ID: <"):-1] if header[-1].startswith("Message-ID: <") else ""
            sha, _ = reader.original_sha256(ticket.id, txn["id"])
            files = tuple((a["Filename"], a["ContentType"]) for a in mine
                          if a["Filename"] and a["Filename"] != "original.eml")
            entries.append(EntryView(mid, sha, text, files))
        requestors = frozenset(r["id"] for r in t.get("Requestor") or [])
        # The first date is Started on every RT; Created only where RT keeps it (the same on
        # the keeps-created flavour, checked in test_rt_dates.py).
        return TicketView(t["Subject"], t["Status"], requestors, rt_datetime(t["Started"]),
                          rt_datetime(t["Resolved"]), tuple(entries))
    return view


@pytest.fixture(params=BOTH_RTS)
def rt(request):
    """The contract holds on Debian's RT (drops Created) and on one that keeps it."""
    return both_rts(request)


class TestRealRT(BackendContract):
    keeps_content = True

    @pytest.fixture
    def backend(self, rt_env, rt_queue, no_mail):
        b = make_rt_backend(rt_env, rt_queue)
        b.open()
        yield b
        b.close()

    @pytest.fixture
    def view(self, reader):
        return read_rt(reader)

    @pytest.fixture
    def ledger(self, tmp_path, rt_queue):
        conn = open_store(str(tmp_path / "ledger.sqlite"))
        yield Ledger(conn, f"rt:{rt_queue}")
        conn.close()
