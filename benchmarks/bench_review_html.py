"""The HTML review report at scale, measured (never asserted in tests).

Usage: python benchmarks/bench_review_html.py [--threads 50000] [--chromium /usr/bin/chromium]

Writes a seeded mbox of that many threads (sizes as in a help desk's archive: most threads
one or two messages, a few long ones; some replies joined only by subject, some parents
missing), runs `archive-import dry-run --report x.html --report x.json` on it, then opens
the page in headless Chromium: the time to the first page shown, a search over every
thread, a page turn and the opening of a thread, the JS heap, and the file's size.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = [1] * 55 + [2] * 20 + [3] * 10 + [4] * 5 + [5] * 3 + [8] * 4 + [15] * 2 + [60]


def write_archive(path: str, threads: int, seed: int = 7) -> int:
    rnd = random.Random(seed)
    n = 0
    with open(path, "w", encoding="utf-8") as fp:
        for t in range(threads):
            size = rnd.choice(SIZES)
            subject = f"Question {t} about order {rnd.randrange(10**6)}"
            ids = []
            for i in range(size):
                mid = f"t{t}.m{i}@bench.example.com"
                day = 1 + (t * 7 + i) % 27
                month = 1 + (t // 400) % 12
                year = 2005 + (t // 4800)
                who = f"person{rnd.randrange(5000)}@example.net" if i % 2 == 0 else "alice@example.org"
                head = [f"From {who} Mon Jan  1 00:00:00 2001", f"From: Person {t} <{who}>",
                        "To: hello@example.org",
                        f"Subject: {'Re: ' if i else ''}{subject}",
                        f"Date: {day:02d} {['Jan','Feb','Mar','Apr','May','Jun','Jul','Aug','Sep','Oct','Nov','Dec'][month-1]} {year} 10:{i % 60:02d}:00 +0000",
                        f"Message-ID: <{mid}>"]
                if i and rnd.random() < 0.9:         # else joined by subject only
                    parent = ids[rnd.randrange(len(ids))]
                    if rnd.random() < 0.03:
                        parent = f"missing.{t}.{i}@bench.example.com"   # a ghost
                    head.append(f"In-Reply-To: <{parent}>")
                fp.write("\n".join(head) + f"\n\nMessage {i} of thread {t}.\n\n")
                ids.append(mid)
                n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=50000)
    ap.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    tmp = tempfile.mkdtemp(prefix="bench-review-")
    try:
        mbox = os.path.join(tmp, "archive.mbox")
        messages = write_archive(mbox, args.threads)
        html = os.path.join(tmp, "review.html")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "importer", "dry-run", "--quiet", "--store",
                        os.path.join(tmp, "s.sqlite"), "--report", html, "--report",
                        os.path.join(tmp, "r.json"), mbox], check=True, cwd=ROOT)
        run_s = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "importer", "dry-run", "--quiet", "--store",
                        os.path.join(tmp, "s.sqlite"), "--report", os.path.join(tmp, "r2.json"),
                        mbox], check=True, cwd=ROOT)
        json_only_s = time.perf_counter() - start
        size = os.path.getsize(html)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            start = time.perf_counter()
            page.goto("file://" + html, timeout=300_000)
            page.wait_for_selector("body[data-ready='1']", timeout=300_000)
            load_s = time.perf_counter() - start
            shown = page.locator("#threads .info").inner_text()
            start = time.perf_counter()
            page.fill("#search", "order 12")
            page.locator("#threads .count", has_text=re.compile("matching")).wait_for()
            search_s = time.perf_counter() - start - 0.12      # less the input debounce
            matching = page.locator("#threads .count").inner_text()
            page.fill("#search", "")
            page.locator("#threads .count", has_text="matching").wait_for(state="detached")
            start = time.perf_counter()
            page.click("#threads .next")
            page.locator("#threads .info", has_text="51–100").wait_for()
            turn_s = time.perf_counter() - start
            start = time.perf_counter()
            page.click("#threads .view > details.thread >> nth=0 >> summary")
            page.locator("#threads .view > details.thread[open] ol.tree").first.wait_for()
            open_s = time.perf_counter() - start
            heap = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : 0")
            metrics = page.context.new_cdp_session(page).send("Performance.getMetrics")
            nodes = next((m["value"] for m in metrics["metrics"] if m["name"] == "Nodes"), 0)
            browser.close()
        print(f"{args.threads} threads, {messages} messages; dry run with HTML+JSON {run_s:.1f} s"
              f" (JSON only {json_only_s:.1f} s)")
        print(f"HTML report {size / 1e6:.1f} MB; Chromium: first page shown after {load_s:.2f} s"
              f" ({shown}); search {search_s:.2f} s ({matching}); page turn {turn_s:.2f} s;"
              f" thread opened {open_s:.2f} s; JS heap {heap / 1e6:.0f} MB; DOM nodes"
              f" {nodes:.0f}; page errors {len(errors)}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
