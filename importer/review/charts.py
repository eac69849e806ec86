"""The review report's two small charts, as geometry for inline SVG (no script, no assets):
threads started per month (per year when the archive spans more than 15 years) and
threads by size. Only numbers and labels made here reach the SVG."""

from __future__ import annotations

from collections import Counter

WIDTH, HEIGHT = 640, 120
SIZE_BUCKETS = ((1, 1), (2, 2), (3, 3), (4, 5), (6, 10), (11, 20), (21, 50), (51, 100),
                (101, None))


def _bars(pairs: list[tuple[str, int]], unit: str) -> dict:
    top = max((v for _, v in pairs), default=0) or 1
    step = WIDTH / max(len(pairs), 1)
    bars = []
    for i, (label, value) in enumerate(pairs):
        h = round(value / top * (HEIGHT - 20), 1)
        bars.append({"x": round(i * step, 1), "w": max(round(step * 0.85, 1), 0.5),
                     "y": round(HEIGHT - 16 - h, 1), "h": h, "label": label, "value": value,
                     "title": f"{label}: {value} {unit}"})
    every = max(1, len(pairs) // 8)            # at most ~8 labels under the bars
    ticks = [{"x": b["x"], "label": b["label"]} for i, b in enumerate(bars) if i % every == 0]
    return {"width": WIDTH, "height": HEIGHT, "bars": bars, "ticks": ticks, "top": top}


def month_bars(months: Counter) -> dict:
    """Threads started per month, every month of the span shown (empty ones too)."""
    if not months:
        return _bars([], "threads")
    first, last = min(months), max(months)
    y, m = int(first[:4]), int(first[5:7])
    ly, lm = int(last[:4]), int(last[5:7])
    if (ly - y) * 12 + lm - m > 180:
        years = Counter()
        for key, n in months.items():
            years[key[:4]] += n
        return _bars([(str(k), years.get(str(k), 0)) for k in range(y, ly + 1)], "threads")
    pairs = []
    while (y, m) <= (ly, lm):
        key = f"{y:04d}-{m:02d}"
        pairs.append((key, months.get(key, 0)))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return _bars(pairs, "threads")


def size_bars(sizes: Counter) -> dict:
    """Threads by number of messages, in buckets (1, 2, 3, 4-5, ..., over 100)."""
    pairs = []
    for lo, hi in SIZE_BUCKETS:
        n = sum(v for k, v in sizes.items() if k >= lo and (hi is None or k <= hi))
        label = str(lo) if lo == hi else f"{lo}+" if hi is None else f"{lo}-{hi}"
        pairs.append((label, n))
    return _bars(pairs, "threads")
