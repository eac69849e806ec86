"""Packaging: the thread engine never shadows the standard library's `threading`."""

from __future__ import annotations

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_stdlib_threading_is_not_shadowed_from_the_repository_root():
    done = _run("-c", "import threading, importer; threading.Thread; print(threading.__file__)")
    assert done.returncode == 0, done.stderr
    assert not done.stdout.strip().startswith(os.path.join(ROOT, "threading"))


def test_logging_imports_without_site_from_the_repository_root():
    done = _run("-S", "-c", "import logging")
    assert done.returncode == 0, done.stderr


def test_threading_directory_is_not_a_package():
    assert not os.path.exists(os.path.join(ROOT, "threading", "__init__.py"))
    assert os.path.exists(os.path.join(ROOT, "threading", "mailthreads", "__init__.py"))


def test_module_entry_point_runs():
    done = _run("-m", "importer", "--help")
    assert done.returncode == 0, done.stderr
    assert "dry-run" in done.stdout


def test_every_subcommand_is_documented_in_the_readme():
    # sqlite-utils' habit: an undocumented command is a failing test.
    from importer.cli import COMMANDS
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fp:
        readme = fp.read()
    for name in COMMANDS:
        assert re.search(rf"archive-import {re.escape(name)}\b", readme), name
