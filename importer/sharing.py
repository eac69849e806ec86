"""One object for equal values of the records that arrive from the parse workers.

Pickled apart, every record would bring its own copy of each string: an id in References is
another record's Message-ID, a correspondent writes many messages, replies repeat a subject,
most mail goes to the same few addresses, a zone is shared by thousands. While `sharing()`
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
_ZONES: dict = {}                    # one object per UTC offset met (a few hundred at most)


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
        _ZONES.clear()


def shared(held: tuple, strings_at: list[int], tuples_at: list[int], date_at: int) -> list:
    """`held` with its strings (or tuples of strings) at `strings_at`, its tuples at
    `tuples_at` and the zone of its datetime at `date_at` made the first such object."""
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
    date = held[date_at]
    if date is not None and date.tzinfo is not None:
        zone = _ZONES.setdefault(date.tzinfo, date.tzinfo)
        if zone is not date.tzinfo:
            held[date_at] = date.replace(tzinfo=zone)
    return held


def string(value: str) -> str:
    return _share(value, value)
