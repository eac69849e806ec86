"""Configuration: every key documented in config.example.yaml, bad input named."""

from __future__ import annotations

import os

import pytest
import yaml

from importer.config import Config, load_config, parse_config
from importer.errors import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "config.example.yaml")


def test_example_config_loads_and_equals_the_defaults():
    cfg = load_config(EXAMPLE)
    assert cfg == Config(source=EXAMPLE)


def test_example_config_documents_every_key():
    with open(EXAMPLE, encoding="utf-8") as fp:
        data = yaml.safe_load(fp)
    defaults = Config()
    for section in ("backend", "local", "threading", "dedupe", "staff", "ticket", "rt"):
        fields = set(getattr(defaults, section).__dataclass_fields__)
        assert set(data[section]) == fields, section


@pytest.mark.parametrize("doc, key", [
    ({"rt": {"wrokers": 2}}, "rt.wrokers"),
    ({"rt": {"workers": "two"}}, "rt.workers"),
    ({"rt": {"workers": 0}}, "rt.workers"),
    ({"backend": {"kind": "jira"}}, "backend.kind"),
    ({"threading": {"mode": "fuzzy"}}, "threading.mode"),
    ({"dedupe": {"enabled": "yes please"}}, "dedupe.enabled"),
    ({"staff": {"domains": "example.org"}}, "staff.domains"),
    ({"staff": ["a"]}, "staff"),
    ({"tickets": {}}, "tickets"),
])
def test_bad_key_or_type_names_the_file_and_key(doc, key):
    with pytest.raises(ConfigError) as err:
        parse_config(doc, "site.yaml")
    assert err.value.key == key
    assert str(err.value).startswith(f"site.yaml: {key}: ")


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("backend:\n  kind: [local\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    assert str(path) in str(err.value) and "line" in str(err.value)


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(tmp_path / "absent.yaml"))


def test_yaml_is_loaded_safely(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("backend: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError):
        load_config(str(path))


def test_staff_matches_addresses_and_domains_case_insensitively():
    cfg = parse_config({"staff": {"addresses": ["Hello@Example.org"], "domains": ["staff.test"]}}, "x")
    assert cfg.staff.is_staff("hello@example.org")
    assert cfg.staff.is_staff("Bob@STAFF.test")
    assert not cfg.staff.is_staff("carol@example.net")
