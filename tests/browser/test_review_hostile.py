"""Mail is hostile: a report of mail full of markup runs none of it and loads nothing.

tests/browser/data/hostile-markup-in-headers.mbox puts <script>, <img onerror>,
javascript: links, stylesheets, remote images, an attribute breakout, an attempt to close
the inert <template>, and right-to-left override / zero-width characters into the From,
Subject, Message-ID and In-Reply-To fields (and junk before the first From line, which is
quarantined). Every payload would set window.__pwned; its file is copied under a file name
that is itself markup.
"""

import json
import shutil
from pathlib import Path

import pytest

from importer.cli import main
from pagewatch import Watched

pytestmark = pytest.mark.browser
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("hostile")
    src = out / "<img src=x onerror=window.__pwned='path'>"
    src.mkdir()
    shutil.copy(DATA / "hostile-markup-in-headers.mbox", src / "inbox.mbox")
    assert main(["dry-run", "--quiet", "--store", str(out / "s.sqlite"),
                 "--report", str(out / "r.html"), "--report", str(out / "r.json"),
                 str(src)]) == 0
    return out / "r.html", json.loads((out / "r.json").read_text(encoding="utf-8"))


def test_no_script_from_the_mail_runs_and_no_request_leaves_the_page(watched, hostile_report):
    html, data = hostile_report
    watched.open(html)
    page = watched.page
    assert data["summary"]["threads"] == 4 and data["summary"]["quarantined"] == 1
    # Open every thread, hover every row, walk every page and filter: payloads get their
    # chances (onerror, onmouseover, a click on a link).
    for details in page.locator("#threads .view > details.thread").all():
        details.locator("summary").click()
    for row in page.locator("#threads ol.tree > li").all():
        row.hover()
    page.fill("#search", "<script>")
    page.locator("#threads .count", has_text="matching").wait_for()
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#threads a, iframe, img, link[rel=stylesheet]").count() == 0
    scripts = page.evaluate("Array.from(document.scripts, s => [s.type, s.hasAttribute('nonce')])")
    assert [s for s in scripts if s[1]] == [["", True]]           # the report's own, one
    assert {s[0] for s in scripts if not s[1]} <= {"text/x-archive-page", "application/json"}
    assert page.locator("style").count() == 1
    assert watched.requests == [html.resolve().as_uri()]
    assert watched.dialogs == [] and watched.errors == []
    # No Content-Security-Policy violation either: nothing was even tried.
    assert [c for c in watched.console if c[0] in ("error", "warning")] == []
    assert page.locator("body").is_visible()                     # the <style> in a subject is text


def test_hostile_text_is_shown_as_text(watched, hostile_report):
    html, data = hostile_report
    watched.open(html)
    page = watched.page
    for details in page.locator("#threads .view > details.thread").all():
        details.locator("summary").click()
    text = page.locator("#threads .view").inner_text()
    for t in data["threads"]:
        if "\u202e" not in t["subject"]:
            assert t["subject"] in text, t["subject"]
    # Right-to-left override and zero-width characters are shown, not obeyed.
    assert "Invoice [U+202E]gpj.exe paid" in text
    assert "pay[U+200B]pal [U+2067]security[U+2069] notice [U+FEFF]" in text
    assert page.locator("#threads summary bdi.subj").count() == 4
    # The quarantined junk is listed, its reason as text; the path made of markup too.
    page_text = page.locator("body").inner_text()
    assert "text before the first From_ line" in page_text
    assert "<img src=x onerror=window.__pwned='path'>" in page_text


def test_escaping_alone_holds_with_the_content_security_policy_switched_off(chromium,
                                                                             hostile_report):
    """The policy is the second wall; with it bypassed the escaping must still stop
    everything: no payload runs, no element from the mail exists, nothing is requested."""
    html, _ = hostile_report
    context = chromium.new_context(bypass_csp=True)
    try:
        watched = Watched(context.new_page())
        watched.open(html)
        page = watched.page
        for details in page.locator("#threads .view > details.thread").all():
            details.locator("summary").click()
        for row in page.locator("#threads ol.tree > li").all():
            row.hover()
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator("a, iframe, img, link").count() == 0
        scripts = page.evaluate("Array.from(document.scripts, s => s.type)")
        assert scripts.count("") == 1                             # the report's own
        assert watched.requests == [html.resolve().as_uri()]
        assert watched.errors == [] and watched.dialogs == []
    finally:
        context.close()
