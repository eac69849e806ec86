"""Records set aside on disk while a large archive is threaded.

Threading holds, for each message, its ids, subject and date, and the engine's own tables:
about as much again as the records themselves. Over a million messages the two together
were the run's peak, so above `SPILL_RECORDS` the records are pickled to an unnamed
temporary file (next to the store) for the length of threading and read back after it,
equal and in order. Below it nothing is written: a small run never touches the disk here.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
from typing import Iterator

from importer.errors import local_error

SPILL_RECORDS = 200_000    # the records of 200,000 messages are about 120 MB
_CHUNK = 2_000             # records per pickle: shared strings are written once per chunk


@contextlib.contextmanager
def set_aside(records: list, directory: str | None) -> Iterator[bool]:
    """Empty `records` for the block when it is large, and fill it again afterwards.

    Yields whether it did. The list object stays the same, so every holder of it sees
    the records come back. If the block fails, the records are not read back: the run is
    ending. A full disk is a LocalError naming the folder.
    """
    if len(records) < SPILL_RECORDS:
        yield False
        return
    where = directory if directory and os.access(directory, os.W_OK) else None
    try:
        fp = tempfile.TemporaryFile(dir=where)
    except OSError as exc:
        raise local_error(where or tempfile.gettempdir(), exc, "set records aside") from exc
    with fp:
        count = len(records)
        try:
            for start in range(0, count, _CHUNK):
                pickle.dump(records[start:start + _CHUNK], fp, pickle.HIGHEST_PROTOCOL)
            fp.flush()
        except OSError as exc:
            raise local_error(where or tempfile.gettempdir(), exc,
                              "set records aside") from exc
        records.clear()
        yield True
        fp.seek(0)
        while len(records) < count:
            records.extend(pickle.load(fp))
