"""contrib/rt-import-dates against the real RT: RT's own history gets the original dates.

The RT that Debian ships drops `Created` over REST 2, so imported tickets and
transactions carry the import's time until the server-side step runs. Fed the
file `archive-import rt-dates` writes, it must date every ticket and every
message's transaction as the mail was dated, change nothing when run again,
refuse a ticket that is not the import's, and mail nobody.
"""

from __future__ import annotations

import os
import re
import subprocess
from datetime import datetime, timezone

import pytest

from importer.cli import main
from rthelpers import rt_datetime

pytestmark = pytest.mark.rt

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "contrib", "rt-import-dates")
HELPDESK = os.path.join(ROOT, "fixtures", "helpdesk")


def perl(rt, *args):
    return subprocess.run(["perl", SCRIPT, *args], env=rt.env(), capture_output=True,
                          text=True, timeout=600)


def history_dates(reader, tid):
    """{Message-ID: the Created of the transaction whose text holds that Message-ID line}."""
    out = {}
    for a in reader.attachments(tid):
        if a["ContentType"] != "text/plain" or a["Filename"]:
            continue
        text = reader.content(a["id"]).decode("utf-8", "replace")
        for mid in re.findall(r"^Message-ID: <(.*)>$", text, re.M):
            txn = reader.get(f"/transaction/{a['TransactionId']}")
            out[mid] = rt_datetime(txn["Created"])
    return out


def utc(iso):
    return datetime.fromisoformat(iso).astimezone(timezone.utc).replace(microsecond=0)


def test_rt_import_dates_puts_every_ticket_and_message_at_its_original_date(
        rt_run, rt, reader, tmp_path):
    code, report = rt_run(HELPDESK)
    assert code == 0
    threads = [t for t in report["threads"] if t["ticket"]]
    assert len(threads) >= 5
    first = reader.ticket(threads[0]["ticket"]["id"])
    if not rt.keeps_created:     # the reason the step exists: REST 2 dropped the date
        assert rt_datetime(first["Created"]) != utc(threads[0]["first_date"])

    dates = tmp_path / "dates.tsv"
    assert main(["rt-dates", "--quiet", "--config", str(rt_run.config), "--store",
                 str(rt_run.store), "--output", str(dates)]) == 0
    assert dates.read_text().startswith("# archive-import-rt-dates/1\n")

    done = perl(rt, str(dates))
    assert done.returncode == 0, done.stderr
    assert "0 refused" in done.stdout

    for thread in threads:
        tid = thread["ticket"]["id"]
        assert rt_datetime(reader.ticket(tid)["Created"]) == utc(thread["first_date"])
        seen = history_dates(reader, tid)
        assert seen == {m["message_id"]: utc(m["date"]) for m in thread["messages"]}

    again = perl(rt, str(dates))
    assert again.returncode == 0, again.stderr
    assert re.search(r": 0 dates set, [1-9]\d* already right, 0 refused", again.stdout)


def test_rt_import_dates_refuses_a_ticket_that_is_not_the_imports(rt_run, rt, reader,
                                                                   tmp_path):
    code, report = rt_run(os.path.join(HELPDESK, "hello-inbox.mbox"))
    assert code == 0
    r = reader.s.post(reader.base + "/ticket", json={"Queue": "General", "Subject": "not ours"})
    assert r.status_code == 201, r.text
    stranger = str(r.json()["id"])
    before = reader.ticket(stranger)["Created"]
    dates = tmp_path / "dates.tsv"
    assert main(["rt-dates", "--quiet", "--config", str(rt_run.config), "--store",
                 str(rt_run.store), "--output", str(dates)]) == 0
    with dates.open("a") as f:
        f.write(f"ticket\t{stranger}\t2001-02-03 04:05:06\n")
    done = perl(rt, str(dates))
    assert done.returncode == 1
    assert f"ticket {stranger} is not in queue" in done.stderr
    assert re.search(r"[1-9]\d* dates set, 0 already right, 1 refused", done.stdout)
    assert reader.ticket(stranger)["Created"] == before
    tid = report["threads"][0]["ticket"]["id"]
    assert rt_datetime(reader.ticket(tid)["Created"]) == utc(report["threads"][0]["first_date"])


def test_rt_import_dates_stops_on_a_malformed_file_before_touching_rt(rt, tmp_path):
    bad = tmp_path / "dates.tsv"
    bad.write_text("# archive-import-rt-dates/1\nqueue\tGeneral\nticket\t1\tyesterday\n")
    done = perl(rt, str(bad))
    assert done.returncode == 2
    assert f"{bad}: line 3: not a queue, ticket or txn record" in done.stderr
