"""Progress bars (tqdm) on a terminal; silent when quiet or not a terminal."""

from __future__ import annotations

import os
import sys

from tqdm import tqdm


def _enabled(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


def bar(total: int | None, unit: str, quiet: bool) -> tqdm:
    """A bar showing count, rate and (with a total) ETA, on stderr."""
    return tqdm(total=total, unit=" " + unit, unit_scale=False, disable=not _enabled(quiet),
                file=sys.stderr, dynamic_ncols=True, leave=False, desc="writing")


def input_bytes(sources) -> int:
    """The size on disk of everything under the SOURCE arguments (for the reading bar)."""
    total = 0
    for source in sources:
        if os.path.isfile(source):
            total += os.path.getsize(source)
        for folder, _dirs, files in os.walk(source):
            for name in files:
                try:
                    total += os.path.getsize(os.path.join(folder, name))
                except OSError:
                    pass
    return total


class ReadingBar:
    """Bytes read of the input's size on disk: count, rate and ETA. Compressed inputs are
    read larger than they are stored, so the bar stops at its total rather than pass it."""

    def __init__(self, sources, quiet: bool):
        on = _enabled(quiet)
        self.tqdm = tqdm(total=input_bytes(sources) if on else None, unit="B", unit_scale=True,
                         disable=not on, file=sys.stderr, dynamic_ncols=True, leave=False,
                         desc="reading")
        self.messages = 0

    def __enter__(self) -> "ReadingBar":
        return self

    def __exit__(self, *exc) -> None:
        self.tqdm.close()

    def update(self, size: int) -> None:
        self.messages += 1
        if self.tqdm.disable:
            return
        self.tqdm.update(max(0, min(size, self.tqdm.total - self.tqdm.n)))
        if self.messages % 1000 == 0:
            self.tqdm.set_postfix_str(f"{self.messages} messages", refresh=False)
