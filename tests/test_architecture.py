"""The tree says the architecture: every module is on ARCHITECTURE.md's page, none grows past
the size a reader takes in, and the driver stays one screen."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
MAX_LINES = 420        # "modules under about 400 lines" (STYLE.md)


def _modules():
    for top in ("importer", os.path.join("threading", "mailthreads")):
        for path in sorted((ROOT / top).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), path


def _only_a_docstring(path: Path) -> bool:
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return len(body) == 1 and isinstance(body[0], ast.Expr)


@pytest.mark.parametrize("name, path", list(_modules()), ids=lambda v: str(v))
def test_every_module_is_named_in_architecture_md(name, path):
    if path.name == "__init__.py" and _only_a_docstring(path):
        return          # a package's one-line docstring: the folder is named instead
    if name.startswith("threading/mailthreads/"):
        assert f"`{path.name}`" in PAGE or f"`{name}`" in PAGE, \
            f"{name} is missing from ARCHITECTURE.md (the thread engine's list)"
    else:
        assert f"`{name}`" in PAGE or f"`{name}:" in PAGE, f"{name} is missing from ARCHITECTURE.md"


def test_architecture_md_names_no_module_that_does_not_exist():
    import re
    for named in set(re.findall(r"`((?:importer|threading)/[\w/]+\.py)", PAGE)):
        assert (ROOT / named).exists(), f"ARCHITECTURE.md names {named}, which does not exist"


@pytest.mark.parametrize("name, path", list(_modules()), ids=lambda v: str(v))
def test_no_module_grows_past_a_readable_size(name, path):
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name}: {lines} lines; split it by what it owns"


def test_the_pipeline_driver_fits_on_one_screen():
    tree = ast.parse((ROOT / "importer" / "pipeline.py").read_text(encoding="utf-8"))
    run = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "run")
    assert run.end_lineno - run.lineno + 1 <= 30


def test_the_dry_run_is_decided_in_one_place():
    """Only open_destination chooses the dry-run backend; everything else reads `kind`."""
    deciders = []
    for name, path in _modules():
        text = path.read_text(encoding="utf-8")
        if '== "dry-run"' in text or "command ==" in text or "dry_run=" in text:
            deciders.append(name)
    assert deciders == ["importer/backends/__init__.py"]
