"""`--report review.html`: the run as a person reviews it, in one self-contained file.

Everything shown that came from mail is escaped by Jinja2's autoescaping, never by string
concatenation; on top of that the page's Content-Security-Policy lets only its own script
and style (by nonce) run and lets nothing load, so even a mistake in escaping could neither
run a mail's script nor make a request. Text from mail is wrapped in <bdi> (an RLO in a
subject reorders only itself) and invisible format characters are shown as [U+202E].

Large runs stay usable: each list (threads, duplicates, ...) is written in pages held as
inert text (script elements of a type no browser runs) and a page is parsed only when
shown; the search and filters read a JSON index of the threads
(benchmarks/bench_review_html.py measures 50,000 threads).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import unicodedata
from collections import Counter
from datetime import datetime
from typing import IO, Iterator

import jinja2

from importer.backends.base import Kind
from importer.review.charts import month_bars, size_bars

PAGE = 50                     # threads a page (other lists: twice as many rows)
# Rows of a list other than the threads shown on the page (duplicates, quarantine, ...):
# a tiny-message bomb has millions of duplicates; the page says how many it leaves to the
# JSON report, which lists every one.
MAX_ROWS = 50_000
MAX_DEPTH_SHOWN = 40          # deeper replies are drawn at this indent, with their depth
_ENV: jinja2.Environment | None = None


def _env() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        _ENV = jinja2.Environment(
            loader=jinja2.FileSystemLoader(os.path.join(os.path.dirname(__file__), "templates")),
            autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
            lstrip_blocks=True)
        _ENV.filters["visible"] = visible
        _ENV.filters["short"] = lambda sha: (sha or "")[:12]
    return _ENV


def visible(text) -> str:
    """Invisible and direction-changing characters from mail made visible ([U+202E]);
    the result is still plain text, escaped by the template like any other."""
    if text is None:
        return ""
    text = str(text)
    if text.isascii() and text.isprintable():
        return text
    return "".join(f"[U+{ord(c):04X}]" if unicodedata.category(c) in ("Cf", "Cc", "Cs", "Co")
                   else c for c in text)


# YAML 1.1 (PyYAML) takes no raw C1 controls, surrogates or U+FFFE/FFFF, and folds
# U+0085/2028/2029 as line breaks inside a double-quoted scalar: those become \u escapes.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")


def yaml_str(text: str) -> str:
    """A YAML double-quoted scalar that reads back as exactly `text` (a JSON string is
    one, once the characters above are escaped); tests/test_review_report.py checks it."""
    return _YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}",
                            json.dumps(text, ensure_ascii=False))


def snippet(t: dict) -> str:
    """The copy-ready lines of the overrides file for one thread (the page's last section
    says what each does; `merge` and `split` are shown there). An empty subject or no
    requestor is left out: the overrides file takes neither."""
    tid = yaml_str(t["id"])
    edit = [f"subject: {yaml_str(t['subject'])}"] if t["subject"].strip() else []
    edit += [f"requestor: {yaml_str(t['requestors'][0])}"] if t["requestors"] else []
    lines = [f"threads: {{{tid}: {{{', '.join(edit)}}}}}"] if edit else []
    return "\n".join(lines + [f"exclude: {{threads: [{tid}]}}"])


def tree_rows(t: dict) -> list[tuple[str, int, dict]]:
    """(kind, depth, item) in tree order: each message under its parent, a missing message
    (ghost) shown where its replies hang. Iterative (reply chains may be thousands deep)."""
    ghosts = {g["message_id"]: g for g in t["ghosts"]}
    depth: dict[str | None, int] = {}
    rows: list[tuple[str, int, dict]] = []

    def place(gid: str) -> None:
        chain: list[str] = []
        while gid in ghosts and gid not in depth and gid not in chain:
            chain.append(gid)
            gid = ghosts[gid]["parent_id"]
        for g in reversed(chain):
            depth[g] = depth.get(ghosts[g]["parent_id"], -1) + 1
            rows.append(("ghost", depth[g], ghosts[g]))

    for m in t["messages"]:
        parent = m["parent_id"]
        if parent in ghosts and parent not in depth:
            place(parent)
        d = depth[parent] + 1 if parent in depth else 0
        depth.setdefault(m["message_id"], d)
        rows.append(("message", d, m))
    for gid in ghosts:
        if gid not in depth:
            place(gid)
    return rows


def _day(iso: str | None) -> str:
    return iso[:10] if iso else ""


def thread_pages(report, dry: bool, index: list, size: int) -> Iterator[list[dict]]:
    """The threads' views a page at a time; `index` gets each thread's search text and
    flags as its page is made (the page's script reads them to filter without parsing)."""
    page: list[dict] = []
    for view in thread_views(report, dry):
        index.append([view.pop("search"), view["flags"]])
        page.append(view)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


def thread_views(report, dry: bool) -> Iterator[dict]:
    for n, t in enumerate(report.threads(), 1):
        msgs = t["messages"]
        links = {m["link"] for m in msgs}
        flags = [flag for flag, present in (
            ("ghost", any(not g.get("excluded") for g in t["ghosts"])),
            ("imposter", any(m["imposter"] for m in msgs)),
            ("override", "override" in links),
            ("spam", any(m["spam"] for m in msgs)),
            ("subject", "subject" in links)) if present]
        words = dict.fromkeys([t["id"], t["subject"], *t["requestors"],
                               *(m["message_id"] for m in msgs), *(m["from"] for m in msgs)])
        ticket = t["ticket"]
        yield {"n": n, "t": t, "rows": tree_rows(t), "flags": " ".join(flags),
               "search": " ".join(words).lower(), "snippet": snippet(t),
               "first": _day(t["first_date"]), "last": _day(t["last_date"]),
               "ticket": (f"{ticket['backend']} #{ticket['id']}" if ticket
                          else "new ticket" if dry else "no ticket")}


def per_source(report) -> list[dict]:
    """The files' counts summed per SOURCE argument."""
    out = {s: {"source": s, "files": 0, "messages": 0, "quarantined": 0, "skipped": 0}
           for s in report.meta["sources"]}
    for f in report.files:
        owner = next((s for s in out if f["path"] == s or f["path"].startswith(
            (s.rstrip("/") + "/", s + "!"))), None)
        row = out.setdefault(owner or f["path"], {"source": owner or f["path"], "files": 0,
                                                  "messages": 0, "quarantined": 0,
                                                  "skipped": 0})
        row["files"] += 1
        row["messages"] += f["messages"] + f["unreadable"]
        row["quarantined"] += f["quarantined"]
        row["skipped"] += bool(f["skipped"])
    return list(out.values())


def write_html(fp: IO[str], report) -> None:
    dry = report.kind == Kind.DRY_RUN
    dates = [d for p in report.plans for d in (p.first_date, p.last_date) if d]
    months = Counter(p.first_date.strftime("%Y-%m") for p in report.plans if p.first_date)
    sizes = Counter(len(p.messages) for p in report.plans)
    worth = [f for f in report.files if f["skipped"] or f["notes"] or f["quarantined"]]
    worth_count, worth = len(worth), worth[:MAX_ROWS]
    nonce = secrets.token_urlsafe(18)
    index: list = []
    view = {
        "meta": report.meta, "summary": report.summary, "delivery": report.delivery,
        "dry": dry, "nonce": nonce, "threads": thread_pages(report, dry, index, PAGE),
        "index": index, "page_size": PAGE,
        "first": min(dates, key=datetime.timestamp).date().isoformat() if dates else "",
        "last": max(dates, key=datetime.timestamp).date().isoformat() if dates else "",
        "months": month_bars(months), "sizes": size_bars(sizes),
        "sources": per_source(report), "files": worth, "files_count": worth_count,
        "duplicates": itertools.islice(report.duplicates, MAX_ROWS),
        "quarantine": report.quarantine[:MAX_ROWS], "excluded": report.excluded[:MAX_ROWS],
        "max_rows": MAX_ROWS, "max_depth": MAX_DEPTH_SHOWN,
        "undated": sum(1 for p in report.plans if not p.first_date),
    }
    for chunk in _env().get_template("report.html.j2").generate(**view):
        fp.write(chunk)
