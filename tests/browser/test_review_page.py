"""The review report in a real headless Chromium: it loads clean, filters, expands, pages.

The page under test is the HTML report of a dry run of the shipped fixtures (53 threads,
11 duplicates, 2 quarantined, 3 files skipped as not mail); a screenshot of it is kept in
the test artifacts (build/test-artifacts/ or $ARCHIVE_IMPORT_ARTIFACTS).
"""

import json
import re
from pathlib import Path

import pytest

from importer.cli import main

pytestmark = pytest.mark.browser
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture(scope="module")
def fixture_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("review")
    code = main(["dry-run", "--quiet", "--config", str(FIXTURES / "helpdesk.yaml"),
                 "--store", str(out / "s.sqlite"), "--report", str(out / "review.html"),
                 "--report", str(out / "review.json"), str(FIXTURES)])
    assert code == 0
    return out / "review.html", json.loads((out / "review.json").read_text(encoding="utf-8"))


def _shown(page) -> int:
    return page.locator("#threads .view > details.thread").count()


def test_the_report_loads_without_errors_or_requests(watched, fixture_report, artifacts):
    html, data = fixture_report
    watched.open(html)
    page = watched.page
    assert watched.errors == [] and watched.dialogs == []
    assert [c for c in watched.console if c[0] in ("error", "warning")] == []
    assert watched.requests == [html.resolve().as_uri()]       # nothing but the file itself
    figures = page.locator("#summary .figures").inner_text()
    for key in ("messages_read", "duplicates", "quarantined", "threads"):
        assert str(data["summary"][key]) in figures
    assert page.locator("#summary svg rect").count() > 0        # both charts drew bars
    # 53 threads, 50 a page: the first page shows 50, the next the other 3.
    assert _shown(page) == min(50, data["summary"]["threads"])
    page.click("#threads .next")
    assert _shown(page) == data["summary"]["threads"] - 50
    assert "51–53 of 53" in page.locator("#threads .info").inner_text()
    page.click("#threads .prev")
    page.click("#threads .view > details.thread >> nth=0 >> summary")
    page.screenshot(path=str(artifacts / "review-report.png"))
    assert (artifacts / "review-report.png").stat().st_size > 10_000


def test_the_search_box_filters_threads_by_subject_address_and_message_id(watched, fixture_report):
    html, data = fixture_report
    watched.open(html)
    page = watched.page
    total = data["summary"]["threads"]
    for query, want in (("BANDSAW", "Bandsaw blade tension"),
                        ("paul.okonkwo@example.com", None),
                        ("9703031040.ZM2291@bench.example.com", "Bandsaw blade tension")):
        expected = sum(1 for t in data["threads"] if query.lower() in json.dumps(
            [t["id"], t["subject"], t["requestors"], [m["message_id"] for m in t["messages"]],
             [m["from"] for m in t["messages"]]], ensure_ascii=False).lower())
        page.fill("#search", query)
        page.locator("#threads .count", has_text=re.compile(f"^{expected} matching$")).wait_for()
        assert 0 < expected < total
        assert _shown(page) == expected, query
        if want:
            assert want in page.locator("#threads .view").inner_text()
    page.fill("#search", "")
    page.locator("#threads .count", has_text="matching").wait_for(state="detached")
    assert _shown(page) == min(50, total)
    assert watched.errors == []


def test_a_thread_expands_into_its_tree_with_ids_and_a_snippet(watched, fixture_report):
    html, data = fixture_report
    watched.open(html)
    page = watched.page
    page.fill("#search", "199703031712.JAA00871@shop.example.net")       # a thread id
    page.locator("#threads .count", has_text=re.compile("^1 matching$")).wait_for()
    thread = page.locator("#threads .view > details.thread").first
    assert not thread.locator("ol.tree").is_visible()
    thread.locator("summary").click()
    assert thread.evaluate("el => el.open") is True
    rows = thread.locator("ol.tree > li")
    want = next(t for t in data["threads"] if t["subject"] == "Bandsaw blade tension")
    assert rows.count() == len(want["messages"]) + len(want["ghosts"])
    assert rows.first.is_visible()
    # The reply joined by subject is marked for review, and indented under its parent.
    marked = thread.locator("li.msg", has=page.locator(".badge.subject"))
    assert marked.count() == sum(m["link"] == "subject" for m in want["messages"])
    assert marked.first.evaluate("el => parseFloat(getComputedStyle(el).marginLeft)") > 0
    assert want["id"] in thread.locator(".tid").inner_text()
    assert f'exclude: {{threads: ["{want["id"]}"]}}' in thread.locator("pre.snip").inner_text()
    # The flag filter: only threads with a link by subject.
    page.fill("#search", "")
    joined = sum(1 for t in data["threads"] if any(m["link"] == "subject" for m in t["messages"]))
    page.select_option("#flag", "subject")
    page.locator("#threads .count", has_text=re.compile(f"^{joined} matching$")).wait_for()
    assert _shown(page) == joined > 0
