"""`--report threads.csv`: one row per thread, for a spreadsheet or a script.

Lines starting with `#` before the header row are the report's metadata (tool, version,
time, command, sources, configuration digest); every cell after them is quoted, so no data
row can start with `#`. Text from mail that a spreadsheet would take for a formula (`=`,
`+`, `-`, `@`, a tab or carriage return first: OWASP's "CSV injection") gets a leading `'`.
"""

from __future__ import annotations

import csv
from typing import IO

COLUMNS = ("id", "subject", "requestors", "first_date", "last_date", "messages",
           "links_by_subject", "ticket")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA) else text


def meta_lines(meta: dict) -> list[str]:
    ov = meta.get("overrides")
    lines = [f"tool: {meta['tool']} {meta['version']}", f"created: {meta['created']}",
             f"command: {meta['command']}", "sources: " + " ; ".join(meta["sources"]),
             f"config: {meta['config']['path']} sha256 {meta['config']['sha256']}",
             "overrides: " + (f"{ov['path']} sha256 {ov['sha256']}" if ov else "none")]
    return [" ".join(line.split()) for line in lines]   # no line breaks from a path


def write_csv(fp: IO[str], report) -> None:
    for line in meta_lines(report.meta):
        fp.write(f"# {line}\r\n")
    out = csv.writer(fp, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    out.writerow(COLUMNS)
    for t in report.threads():
        ticket = t["ticket"]
        out.writerow([cell(t["id"]), cell(t["subject"]), cell(" ".join(t["requestors"])),
                      t["first_date"] or "", t["last_date"] or "", len(t["messages"]),
                      sum(m["link"] == "subject" for m in t["messages"]),
                      ticket["id"] if ticket else ""])
