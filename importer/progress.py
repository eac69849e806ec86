"""Progress: bars (tqdm) on a terminal; in a batch log (nohup, cron, `2>log`, where stderr
is no terminal) one line every `INTERVAL` seconds; nothing with --quiet."""

from __future__ import annotations

import os
import sys
import time

from tqdm import tqdm

INTERVAL = 30.0      # seconds between two progress lines in a log


def _mode(quiet: bool) -> str:
    if quiet:
        return "off"
    return "bar" if sys.stderr.isatty() else "lines"


def bar(total: int | None, unit: str, quiet: bool):
    """Count, rate and (with a total) ETA of the writing stage, on stderr."""
    mode = _mode(quiet)
    if mode == "lines":
        return LineProgress("writing", total, unit)
    return tqdm(total=total, unit=" " + unit, unit_scale=False, disable=mode == "off",
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


class LineProgress:
    """A progress line every INTERVAL seconds for the logs of long runs:
    `archive-import: reading: 120,000 messages, 1.2 GB of 4.0 GB (30%), 14 MB/s, about 3 min left`."""

    def __init__(self, stage: str, total: int | None, unit: str, *, sizes: bool = False):
        self.stage, self.total, self.unit, self.sizes = stage, total, unit, sizes
        self.done = self.count = 0
        self.start = self.last = time.monotonic()

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc) -> None:
        pass       # the summary line follows; a run shorter than INTERVAL prints nothing

    def update(self, n: int = 1, *, items: int = 0) -> None:
        self.done += n
        self.count += items or n
        now = time.monotonic()
        if now - self.last >= INTERVAL:
            self._print(now)

    def _print(self, now: float) -> None:
        self.last = now
        rate = self.done / max(now - self.start, 1e-9)
        amount = (f"{self.count:,} messages, {_size(self.done)}" if self.sizes
                  else f"{self.done:,} {self.unit}")
        parts = [amount + (f" of {_size(self.total) if self.sizes else f'{self.total:,}'}"
                           f" ({min(self.done / self.total, 1):.0%})" if self.total else "")]
        parts.append(f"{_size(rate)}/s" if self.sizes else f"{rate:.1f} {self.unit}/s")
        if self.total and rate > 0 and self.done < self.total:
            parts.append(f"about {_duration((self.total - self.done) / rate)} left")
        print(f"archive-import: {self.stage}: " + ", ".join(parts), file=sys.stderr,
              flush=True)


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class ReadingBar:
    """Bytes read of the input's size on disk: count, rate and ETA. Compressed inputs are
    read larger than they are stored, so the bar stops at its total rather than pass it."""

    def __init__(self, total: int, quiet: bool):
        mode = _mode(quiet)
        self.lines = LineProgress("reading", total, "B", sizes=True) if mode == "lines" else None
        self.tqdm = tqdm(total=total, unit="B", unit_scale=True,
                         disable=mode != "bar", file=sys.stderr, dynamic_ncols=True,
                         leave=False, desc="reading")
        self.messages = 0

    def __enter__(self) -> "ReadingBar":
        return self

    def __exit__(self, *exc) -> None:
        self.tqdm.close()
        if self.lines is not None:
            self.lines.__exit__(*exc)

    def update(self, size: int) -> None:
        self.messages += 1
        if self.lines is not None:
            total = self.lines.total or 0
            self.lines.update(max(0, min(size, total - self.lines.done)), items=1)
            return
        if self.tqdm.disable:
            return
        self.tqdm.update(max(0, min(size, self.tqdm.total - self.tqdm.n)))
        if self.messages % 1000 == 0:
            self.tqdm.set_postfix_str(f"{self.messages} messages", refresh=False)
