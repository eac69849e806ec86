"""fixtures/expected.json is complete and consistent, before anything is imported.

Every mail file under fixtures/ must have an expectation (a `units` row for it or for a folder
holding it), so that nothing there is silently untested; every row and entry must name a file
that exists; the whole-folder row must add up; the README's table must say the same numbers.
How to write an expectation: fixtures/README.md, "Adding a fixture".
"""

from __future__ import annotations

import os

from fixture_data import (COUNTS, FIXTURES, MESSAGES, THREADS, UNITS, fixture_files, inside,
                          readme_table, top_level_units)


def test_every_fixture_file_has_an_expectation():
    untested = [f for f in fixture_files()
                if not any(u != "." and inside(f, u) for u in UNITS)]
    assert not untested, (
        "no expectation for " + ", ".join(f"fixtures/{f}" for f in untested)
        + ': add a row for it (or for a folder holding it) to "units" in fixtures/expected.json'
        " and to the table in fixtures/README.md (see \"Adding a fixture\" there)")


def test_every_units_row_names_a_fixture_and_gives_its_counts():
    for unit, row in UNITS.items():
        where = f'fixtures/expected.json, units["{unit}"]'
        assert os.path.exists(os.path.join(FIXTURES, unit)), f"{where}: no such file or folder"
        missing = [k for k in COUNTS if k not in row]
        assert not missing, f"{where}: missing {', '.join(missing)}"
        for key in COUNTS + ("ghosts",):
            if key in row:
                assert isinstance(row[key], int) and row[key] >= 0, f"{where}: {key} {row[key]!r}"
        assert row["messages_read"] == row["unique"] + row["duplicates"] + row["quarantined"], \
            f"{where}: messages_read must be unique + duplicates + quarantined"
        if "xfail" in row:
            assert isinstance(row["xfail"], str) and row["xfail"].strip(), \
                f"{where}: xfail must be the reason (a sentence naming the bug)"


def test_every_messages_entry_names_a_fixture_file_once():
    files, seen = set(fixture_files()), set()
    for n, entry in enumerate(MESSAGES):
        where = f"fixtures/expected.json, messages[{n}]"
        assert entry.get("path") in files, f"{where}: no fixture file {entry.get('path')!r}"
        key = (entry["path"], entry.get("index", 0))
        assert key not in seen, f"{where}: a second entry for {key}"
        assert entry.get("kind", "message") in ("message", "quarantine"), where
        seen.add(key)
    for tag, thread in THREADS.items():
        assert thread.get("root_message_id") or thread.get("subject"), \
            f'fixtures/expected.json, threads["{tag}"]: give root_message_id or subject'


def test_whole_folder_row_is_the_sum_of_the_top_level_rows():
    top = top_level_units()
    for key in COUNTS + ("ghosts",):
        if key == "ghosts" and not all("ghosts" in UNITS[u] for u in top):
            continue
        total = sum(UNITS[u][key] for u in top)
        assert UNITS["."][key] == total, (
            f'fixtures/expected.json, units["."]: {key} is {UNITS["."][key]}, but the rows of '
            f"{', '.join(top)} add up to {total}: update the whole-folder row (and README.md)")


def test_readme_table_says_what_expected_json_says():
    table = readme_table()
    assert not set(UNITS) - set(table), (
        f"fixtures/README.md: no row in the Files table for {sorted(set(UNITS) - set(table))}")
    assert not set(table) - set(UNITS), (
        f"fixtures/README.md: rows with no expectation: {sorted(set(table) - set(UNITS))}")
    for unit, row in UNITS.items():
        cells = table[unit][-6:]
        numbers = dict(zip(COUNTS + ("ghosts",), cells))
        for key in COUNTS + (("ghosts",) if "ghosts" in row else ()):
            assert numbers[key] == str(row[key]), (
                f"fixtures/README.md, row {unit}: {key} says {numbers[key]}, "
                f"expected.json says {row[key]}")
