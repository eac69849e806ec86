"""The README's report schema and the reports the code writes are held together.

The README block is parsed (objects of key names, `?` for keys there only sometimes,
`{source}` for a source position) and compared key by key with a real report of the shipped
fixtures and with the RT backend's facts."""

from __future__ import annotations

import json
import re
from pathlib import Path

from importer.cli import main

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
_TOKEN = re.compile(r'\s*(?:(\{[a-z]+\})|("[^"]*")|([{}\[\]:,|?])|(null))')


def readme_schema():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Report")
    block = text[text.index("```", start) + 3:]
    block = block[block.index("\n"):block.index("```")]
    shapes = dict(re.findall(r"`(\{[a-z]+\})` is `(\{[^`]*\})`", text[start:]))
    tokens = []
    for raw in (block,):
        pos = 0
        while pos < len(raw.rstrip()):
            m = _TOKEN.match(raw, pos)
            assert m, f"README report schema: cannot read {raw[pos:pos + 30]!r}"
            ref, string, punct, null = m.groups()
            if ref:
                tokens.extend(_tokens(shapes[ref]))
            else:
                tokens.append(string or punct or null)
            pos = m.end()
    value, rest = _value(tokens)
    assert not rest
    return value


def _tokens(text):
    return [next(g for g in m.groups() if g) for m in _TOKEN.finditer(text)]


def _value(tokens):
    """An object -> {key: (optional, shape)}; a list -> [shape]; anything else -> None."""
    head = tokens[0]
    if head == "null" and tokens[1] == "|":
        return _value(tokens[2:])
    if head == "[":
        inner, rest = _value(tokens[1:])
        assert rest[0] == "]"
        return [inner], rest[1:]
    if head == "{":
        obj, rest = {}, tokens[1:]
        while rest[0] != "}":
            key = json.loads(rest[0])
            optional, rest = (True, rest[2:]) if rest[1] == "?" else (False, rest[1:])
            shape = None
            if rest[0] == ":":
                shape, rest = _value(rest[1:])
            obj[key] = (optional, shape)
            if rest[0] == ",":
                rest = rest[1:]
        return obj, rest[1:]
    return None, tokens[1:]      # a literal: "archive-import-report/1", "message-id|content"


def compare(schema, value, where="report"):
    if isinstance(schema, list):
        assert isinstance(value, list), where
        for i, item in enumerate(value):
            compare(schema[0], item, f"{where}[{i}]")
        return
    if isinstance(schema, dict):
        if value is None:
            return                       # "null | {...}"
        assert isinstance(value, dict), where
        documented = set(schema)
        required = {k for k, (optional, _) in schema.items() if not optional}
        assert set(value) <= documented, f"{where}: undocumented {sorted(set(value) - documented)}"
        assert required <= set(value), f"{where}: documented but missing {sorted(required - set(value))}"
        for key, (_, shape) in schema.items():
            if key in value and shape is not None:
                compare(shape, value[key], f"{where}.{key}")


def test_a_real_report_has_exactly_the_documented_keys(tmp_path):
    report = tmp_path / "r.json"
    assert main(["run", "--quiet", "--config", str(FIXTURES / "helpdesk.yaml"),
                 "--store", str(tmp_path / "s.sqlite"), "--report", str(report),
                 str(FIXTURES)]) == 0
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["duplicates"] and data["quarantine"] and data["files"]   # every section shown
    compare(readme_schema(), data)


def test_a_dry_run_report_has_the_documented_keys_and_null_tickets(tmp_path):
    report = tmp_path / "r.json"
    assert main(["dry-run", "--quiet", "--store", str(tmp_path / "s.sqlite"),
                 "--report", str(report), str(FIXTURES / "helpdesk")]) == 0
    data = json.loads(report.read_text(encoding="utf-8"))
    compare(readme_schema(), data)
    assert {t["ticket"] is None for t in data["threads"]} == {True}


def test_the_rt_facts_are_the_documented_ones():
    from importer.backends.rt.backend import RTBackend
    from importer.backends.rt.client import RTClient
    optional, shape = readme_schema()["delivery"][1]["rt"]
    facts = RTBackend(RTClient("https://rt.example.org", None)).facts()
    assert optional and set(facts) == set(shape)


def test_the_schema_reader_notices_drift():
    schema = readme_schema()
    bad = {"format": "x", "summary": {"messages_read": 1}}
    try:
        compare(schema, bad)
    except AssertionError as exc:
        assert "missing" in str(exc)
    else:
        raise AssertionError("a report missing documented keys passed")
