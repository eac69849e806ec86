"""fixtures/expected.json as the fixture tests read it: the rows, their defaults and their files.

The format is documented in fixtures/README.md ("Adding a fixture"). In short: `units` maps a
file or folder under fixtures/ (and `.` for the whole folder) to its counts; `messages` lists
per-message facts, of which only `path` is required; every other field is checked when given.
"""

from __future__ import annotations

import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "fixtures")
with open(os.path.join(FIXTURES, "expected.json"), encoding="utf-8") as _fp:
    EXPECTED = json.load(_fp)
UNITS: dict[str, dict] = EXPECTED["units"]
MESSAGES: list[dict] = EXPECTED.get("messages", [])
THREADS: dict[str, dict] = EXPECTED.get("threads", {})
CONFIG = os.path.join(FIXTURES, "helpdesk.yaml")

# A units row must give these; `ghosts`, `thread_tags` and `xfail` are optional.
COUNTS = ("messages_read", "unique", "duplicates", "quarantined", "threads")
# The report's summary keys for the same counts.
SUMMARY = {"messages_read": "messages_read", "unique": "messages_unique",
           "duplicates": "duplicates", "quarantined": "quarantined", "threads": "threads"}

# Files under fixtures/ that are no fixture: documentation, expectations, the demo config
# (the importer lists them as skipped when pointed at the whole folder).
NOT_FIXTURES = (".md", ".json", ".yaml", ".yml")


def fixture_files() -> list[str]:
    """Every file under fixtures/ that the importer reads as mail, relative, with '/'."""
    out = []
    for dirpath, _, names in os.walk(FIXTURES):
        for name in names:
            if not name.lower().endswith(NOT_FIXTURES):
                out.append(os.path.relpath(os.path.join(dirpath, name), FIXTURES)
                           .replace(os.sep, "/"))
    return sorted(out)


def inside(path: str, unit: str) -> bool:
    """`path` is the unit itself or lies in the folder `unit` ('.' holds everything)."""
    return unit == "." or path == unit or path.startswith(unit.rstrip("/") + "/")


def top_level_units() -> list[str]:
    """The rows no other row (but '.') holds: together they make up the whole folder."""
    return sorted(u for u in UNITS if u != "." and not any(
        v not in (".", u) and inside(u, v) for v in UNITS))


def known_wrong_inside(unit: str) -> list[str]:
    """Rows marked `xfail` strictly inside `unit` (the outermost ones): fixtures the importer is
    known to get wrong today, whose share an enclosing row's test takes out of its counts."""
    marked = [u for u in UNITS if u != unit and UNITS[u].get("xfail") and inside(u, unit)]
    return [u for u in marked if not any(v != u and inside(u, v) for v in marked)]


def unit_params() -> list:
    """One pytest parameter per units row; a row with `"xfail": "reason"` is a strict xfail."""
    out = []
    for unit in sorted(UNITS):
        reason = UNITS[unit].get("xfail")
        marks = [pytest.mark.xfail(strict=True, reason=f"expected.json: {reason}")] \
            if reason else []
        out.append(pytest.param(unit, marks=marks, id=unit))
    return out


def compared(row: dict) -> tuple[str, ...]:
    """The count fields a row gives (ghosts only where written)."""
    return COUNTS + (("ghosts",) if "ghosts" in row else ())


def readme_table() -> dict[str, list[str]]:
    """The 'Files' table of fixtures/README.md: first cell's name -> the cells after it."""
    with open(os.path.join(FIXTURES, "README.md"), encoding="utf-8") as fp:
        text = fp.read()
    section = text.split("\n## Files\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if not line.startswith("|") or line.startswith("| ---") or line.startswith("| file |"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        name = cells[0]
        if "`" in name:
            name = name.split("`")[1]
        rows[name] = cells[1:]
    return rows
