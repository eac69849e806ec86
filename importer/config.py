"""Configuration: the YAML file, validated once into a frozen object.

Every key is declared here, once, with its type and default; an unknown key or a
wrong type is a ConfigError naming the file and the key (getmail6's habit).
Secrets are never read from this file: RT credentials come from the environment.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import mailthreads
import yaml

from importer.errors import ConfigError

BACKENDS = ("local", "rt", "dry-run")
MODES = ("archive", "rfc5256", "strict")
# Base subjects too common to link two mails by: the engine's list (threading/README.md).
GENERIC_SUBJECTS = tuple(sorted(mailthreads.DEFAULT_GENERIC_SUBJECTS))


@dataclass(frozen=True)
class BackendCfg:
    kind: str = "local"


@dataclass(frozen=True)
class LocalCfg:
    path: str = "archive.sqlite"
    retries: int = 2     # a store another program holds locked for a moment


@dataclass(frozen=True)
class ThreadingCfg:
    mode: str = "archive"
    subject_window_days: int = 30
    generic_subjects: tuple[str, ...] = GENERIC_SUBJECTS


@dataclass(frozen=True)
class DedupeCfg:
    enabled: bool = True


@dataclass(frozen=True)
class StaffCfg:
    addresses: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()

    def is_staff(self, address: str) -> bool:
        address = address.lower()
        domain = address.rpartition("@")[2]
        return address in self.addresses or (bool(domain) and domain in self.domains)


@dataclass(frozen=True)
class TicketCfg:
    queue: str = "archive"
    status: str = "resolved"


@dataclass(frozen=True)
class RTCfg:
    url: str | None = None
    queue: str = "Archive"
    workers: int = 1
    ca_bundle: str | None = None
    verify_tls: bool = True
    attach_original: bool = True
    timeout: float = 60.0
    retries: int = 5
    key_field: str = "Archive-Import-Key"
    date_field: str = "Archive-Original-Date"


@dataclass(frozen=True)
class LimitsCfg:
    """Bounds on hostile or broken input. Real mail stays far inside them; what passes one
    is quarantined with the reason (never dropped), and no single input blocks a run."""

    max_message_bytes: int = 256 << 20      # larger: quarantined, kept by reference
    max_expansion: int = 1000               # decompressed / compressed size (bombs)
    max_header_bytes: int = 1 << 20         # one message's header block
    max_header_fields: int = 10000          # header fields in one message
    max_mime_depth: int = 32                # multipart nesting followed (deeper: one file)
    max_mime_parts: int = 1000              # parts read (the rest kept together, one file)


@dataclass(frozen=True)
class Config:
    backend: BackendCfg = field(default_factory=BackendCfg)
    local: LocalCfg = field(default_factory=LocalCfg)
    threading: ThreadingCfg = field(default_factory=ThreadingCfg)
    dedupe: DedupeCfg = field(default_factory=DedupeCfg)
    staff: StaffCfg = field(default_factory=StaffCfg)
    ticket: TicketCfg = field(default_factory=TicketCfg)
    rt: RTCfg = field(default_factory=RTCfg)
    limits: LimitsCfg = field(default_factory=LimitsCfg)
    source: str = "(defaults)"


# Extra checks beyond the type: key -> (test, what it must be).
_CHOICES = {
    ("backend", "kind"): (lambda v: v in BACKENDS, "one of " + ", ".join(BACKENDS)),
    ("threading", "mode"): (lambda v: v in MODES, "one of " + ", ".join(MODES)),
    ("threading", "subject_window_days"): (lambda v: v >= 0, "a number of days >= 0"),
    ("rt", "workers"): (lambda v: 1 <= v <= 64, "between 1 and 64"),
    ("rt", "retries"): (lambda v: 0 <= v <= 20, "between 0 and 20"),
    ("local", "retries"): (lambda v: 0 <= v <= 20, "between 0 and 20"),
    ("rt", "timeout"): (lambda v: v > 0, "a number of seconds > 0"),
    ("ticket", "queue"): (lambda v: bool(v.strip()), "a non-empty name"),
    # A status is one word of a lifecycle (RT: lower case, no spaces); RT's default lifecycle
    # is checked against the queue by `check` and before an RT run reads anything.
    ("ticket", "status"): (lambda v: v == "" or re.fullmatch(r"[a-z][a-z0-9_ -]{0,63}", v)
                           is not None, "a status name such as resolved (or empty: leave it)"),
    ("rt", "queue"): (lambda v: bool(v.strip()), "a non-empty name"),
    ("rt", "key_field"): (lambda v: bool(v.strip()) and "{" not in v and "}" not in v,
                          "a non-empty custom field name without braces"),
    ("rt", "date_field"): (lambda v: "{" not in v and "}" not in v,
                           "a custom field name without braces (empty: none)"),
    ("local", "path"): (lambda v: bool(v.strip()), "a non-empty path"),
    ("limits", "max_message_bytes"): (lambda v: 1 << 10 <= v <= 1 << 40, "between 1 KiB and 1 TiB"),
    ("limits", "max_expansion"): (lambda v: v >= 10, "at least 10"),
    ("limits", "max_header_bytes"): (lambda v: v >= 1 << 10, "at least 1024"),
    ("limits", "max_header_fields"): (lambda v: v >= 10, "at least 10"),
    ("limits", "max_mime_depth"): (lambda v: 1 <= v <= 1000, "between 1 and 1000"),
    ("limits", "max_mime_parts"): (lambda v: 1 <= v <= 1000000, "between 1 and 1000000"),
}


def _coerce(path: str, key: str, value: Any, default: Any, optional: bool) -> Any:
    """Check one value against the type of its default; return it in the record's form."""
    if value is None and optional:
        return None
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise ConfigError(path, key, f"must be true or false, not {value!r}")
    if isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(path, key, f"must be a whole number, not {value!r}")
    if isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(path, key, f"must be a number, not {value!r}")
    if isinstance(default, tuple):
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(v.strip().lower() for v in value)
        raise ConfigError(path, key, "must be a list of strings")
    if isinstance(value, str):
        return value
    raise ConfigError(path, key, f"must be a string, not {value!r}")


def _section(path: str, name: str, cls: type, data: Any) -> Any:
    if data is None:
        return cls()
    if not isinstance(data, dict):
        raise ConfigError(path, name, "must be a mapping of keys to values")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in data.items():
        dotted = f"{name}.{key}"
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(path, dotted, f"unknown key (known keys: {known})")
        default = fields[key].default
        optional = default is None
        if optional:  # str | None fields
            default = ""
        value = _coerce(path, dotted, value, default, optional)
        check = _CHOICES.get((name, key))
        if check and value is not None and not check[0](value):
            raise ConfigError(path, dotted, f"must be {check[1]}, not {value!r}")
        values[key] = value
    return cls(**values)


def parse_config(data: Any, path: str, env: Mapping[str, str] = os.environ) -> Config:
    """Validate an already-loaded YAML document. The environment is read here, once:
    `RTSERVER` stands in for a missing `rt.url` (as in RT's own command-line client)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(path, None, "the top level must be a mapping of sections")
    sections = {f.name: f.default_factory for f in dataclasses.fields(Config)
                if f.name != "source"}
    for name in data:
        if name not in sections:
            known = ", ".join(sorted(sections))
            raise ConfigError(path, str(name), f"unknown section (known sections: {known})")
    built = {name: _section(path, name, factory().__class__, data.get(name))
             for name, factory in sections.items()}
    # "~/archive.sqlite" and "~/certs/ca.pem" as a shell would read them.
    built["local"] = dataclasses.replace(built["local"],
                                         path=os.path.expanduser(built["local"].path))
    if built["rt"].ca_bundle:
        built["rt"] = dataclasses.replace(built["rt"],
                                          ca_bundle=os.path.expanduser(built["rt"].ca_bundle))
    if built["rt"].url or built["backend"].kind == "rt":
        built["rt"] = dataclasses.replace(built["rt"], url=_rt_url(path, built["rt"].url, env))
    return Config(**built, source=path)


def _rt_url(path: str, url: str | None, env: Mapping[str, str]) -> str | None:
    """The RT URL from rt.url or RTSERVER, checked here. Where it is used it loses any
    user:password (credentials come from RTUSER/RTPASSWD/RTTOKEN only; `check` warns)."""
    key = "rt.url" if url else "RTSERVER"
    url = url or env.get("RTSERVER") or None
    if url is None:
        return None
    from importer.backends.rt.client import clean_base_url
    try:
        clean_base_url(url)
    except ValueError as exc:
        raise ConfigError(path, key, str(exc)) from exc
    return url


class DuplicateKey(Exception):
    def __init__(self, key: str, line: int):
        self.key, self.line = key, line


def _check_unique(node) -> None:
    """A key given twice in one mapping is an error: YAML keeps the last one without a
    word, so a `ticket: {status: open}` further down would silently undo a review."""
    stack = [(node, "")]
    while stack:
        node, prefix = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, value_node in node.value:
                key = f"{prefix}{key_node.value}"
                if key in seen:
                    raise DuplicateKey(key, key_node.start_mark.line + 1)
                seen.add(key)
                stack.append((value_node, key + "."))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, prefix) for item in node.value)


def load_config(path: str | None, env: Mapping[str, str] = os.environ) -> Config:
    """Read and validate the YAML file at `path`; None gives the defaults."""
    if path is None:
        return parse_config({}, "(defaults)", env)
    return parse_config(read_yaml(path), path, env)


def read_yaml(path: str) -> Any:
    """A YAML file's data; every problem with it is one ConfigError naming file and line
    (the configuration, and the reviewer's overrides file)."""
    try:
        with open(path, encoding="utf-8") as fp:
            text = fp.read()
        _check_unique(yaml.compose(text, Loader=yaml.SafeLoader))
        return yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(path, None, f"not UTF-8 text (byte {exc.start})") from exc
    except DuplicateKey as exc:
        raise ConfigError(path, exc.key, f"line {exc.line}: given twice (the second would"
                          " silently win)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(path, None, f"{where}{problem}") from exc
