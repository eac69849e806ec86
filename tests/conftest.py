"""Shared test setup: the thread engine importable by its own name before installation."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ENGINE = os.path.join(ROOT, "threading")
if _ENGINE not in sys.path:
    # threading/ holds the package `mailthreads`; appended (not prepended) so it can never
    # shadow anything, and the directory itself is no package (no __init__.py).
    sys.path.append(_ENGINE)
