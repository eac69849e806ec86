"""Progress bars (tqdm) on a terminal; silent when quiet or not a terminal."""

from __future__ import annotations

import sys

from tqdm import tqdm


def bar(total: int | None, unit: str, quiet: bool) -> tqdm:
    """A bar showing count, rate and (with a total) ETA, on stderr."""
    disable = quiet or not sys.stderr.isatty()
    return tqdm(total=total, unit=" " + unit, unit_scale=False, disable=disable,
                file=sys.stderr, dynamic_ncols=True, leave=False)
