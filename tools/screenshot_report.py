"""Take docs/review-report.png: the review page of the shipped fixtures, as the README shows it.

Usage: python tools/screenshot_report.py [--chromium PATH]

A dry run of fixtures/ with docs/review-example.yaml, opened in headless Chromium with the
thread the overrides merged expanded.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "threading")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    ap.add_argument("--output", default=os.path.join(ROOT, "docs", "review-report.png"))
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    from importer.cli import main as archive_import
    os.chdir(ROOT)
    os.makedirs("build", exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="review-", dir="build") as tmp:
        tmp = os.path.relpath(tmp)       # the page shows the command: keep it short
        html = os.path.join(tmp, "review.html")
        assert archive_import(["dry-run", "--quiet", "--config", "fixtures/helpdesk.yaml",
                               "--store", os.path.join(tmp, "s.sqlite"), "--report", html,
                               "--overrides", "docs/review-example.yaml", "fixtures/"]) == 0
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1100, "height": 1500})
            page.goto("file://" + os.path.abspath(html))
            page.wait_for_selector("body[data-ready='1']")
            page.fill("#search", "bench")
            page.locator("#threads .count", has_text="matching").wait_for()
            page.click("#threads .view > details.thread >> nth=0 >> summary")
            page.locator("#threads").scroll_into_view_if_needed()
            page.screenshot(path=args.output, full_page=False,
                            clip={"x": 0, "y": 0, "width": 1100, "height": 1500})
            browser.close()
    print(args.output)


if __name__ == "__main__":
    main()
