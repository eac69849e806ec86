"""One object for equal values of the records that arrive from the parse workers.

Pickled apart, every record would bring its own copy of each string: an id in References is
another record's Message-ID, a correspondent writes many messages, replies repeat a subject,
most mail goes to the same few addresses. While `sharing()`
is on (the first pass), records.py's unpickling hands back the first copy of each instead.
Not sys.intern: its table lasts as long as the strings do (40 MB over a million messages);
these tables go when the block ends, and the records keep what they share. Elsewhere (a
content worker, which unpickles every record once) nothing is kept between records.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

on = False
_STRINGS: dict[str, str] = {}
_share = _STRINGS.setdefault
_TUPLES: dict[tuple, tuple] = {}     # recipient lists: one per distinct list met


@contextlib.contextmanager
def sharing() -> Iterator[None]:
    global on
    on = True
    try:
        yield
    finally:
        on = False
        _STRINGS.clear()
        _TUPLES.clear()


def shared(held: tuple, strings_at: list[int], tuples_at: list[int]) -> list:
    """`held` with its strings (or tuples of strings) at `strings_at` and its tuples at
    `tuples_at` made the first such object."""
    held = list(held)
    for at in strings_at:
        value = held[at]
        if value:
            held[at] = _share(value, value) if type(value) is str else \
                tuple(map(_share, value, value))
    for at in tuples_at:
        value = held[at]
        if value:
            held[at] = _TUPLES.setdefault(value, value)
    return held


def string(value: str) -> str:
    return _share(value, value)
