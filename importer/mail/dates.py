"""Dates in mail: RFC 5322 dates (Date, Received) and the asctime date of an mbox From_ line."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

__all__ = ["parse_date", "from_line_date", "iso"]

_ASCTIME = re.compile(r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s+(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug"
                      r"|Sep|Oct|Nov|Dec)\s+(\d{1,2})\s+(\d{1,2}):(\d\d)(?::(\d\d))?"
                      r"(?:\s+[A-Za-z]{3,5}|\s+[-+]\d{4})?\s+(\d{4})")
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec"
                                      .split(), 1)}


def iso(when: datetime | None) -> str | None:
    """ISO 8601 text of a date, or None: how the report and the store write dates."""
    return when.isoformat() if when is not None else None


def parse_date(text: str | None) -> tuple[datetime | None, bool]:
    """An RFC 5322 date as (aware datetime, had_zone), or (None, False) if unparseable.

    A date without a zone is made UTC and reported with had_zone False; "-0000" means
    UTC with no local zone known (RFC 5322 3.3), which is no fault.
    """
    if not text or not text.strip():
        return None, False
    m = _RFC5322_DATE.fullmatch(text)
    if m:                  # nearly all mail: _parse_date gives the same value
        try:
            return _real_zone(_fast_date(*m.groups()), True)
        except (ValueError, OverflowError):
            pass
    return _parse_date(text)


# Real zones run from -12:00 to +14:00 (Kiribati). A mailer that wrote "-2200" had no idea
# of its zone: the zone is ignored (the time taken as UTC) and the date flagged as zoneless.
_MAX_OFFSET = 14 * 3600


def _real_zone(dt: datetime | None, zoned: bool) -> tuple[datetime | None, bool]:
    if dt is not None and abs(dt.utcoffset().total_seconds()) > _MAX_OFFSET:
        return dt.replace(tzinfo=timezone.utc), False
    return dt, zoned


# A year written with a leading zero ("0000", "0099"): parsedate reads it as a two-digit
# year and makes it 2000 or 2099. No mail was sent then: the Date is unparseable.
# ("Mon, 5 Mar 2001 10:00:00 0000" has a year: its "0000" is a zone without its sign.)
_ZERO_YEAR = re.compile(r"(?<![+\-\d:])0\d{3}(?![\d:])")
_YEAR = re.compile(r"(?<![+\-\d:])[1-9]\d{3}(?![\d:])")


def _parse_date(text: str) -> tuple[datetime | None, bool]:
    if _ZERO_YEAR.search(text) and not _YEAR.search(text):
        return None, False
    try:
        dt = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        try:
            dt = datetime.fromisoformat(text.strip())   # "2003-04-05 10:00:00" from scripts
        except ValueError:
            return None, False
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc), "-0000" in text
    return _real_zone(dt, True)


# "[Day,] D Mon YYYY HH:MM[:SS] +HHMM [anything]" (RFC 5322 3.3), read as
# parsedate_to_datetime reads it: what follows the zone is ignored, and "-0000" (RFC 5322
# 3.3: no local zone known) is UTC, as parse_date makes of the naive datetime it gives.
_RFC5322_DATE = re.compile(
    r"[ \t]*(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),[ \t]*)?([0-9]{1,2})[ \t]+(%s)[ \t]+"
    r"([1-9][0-9]{3})[ \t]+([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?[ \t]+"
    r"([+-][01][0-9]|[+-]2[0-3])([0-5][0-9])(?:[ \t].*)?" % "|".join(_MONTHS), re.DOTALL)
_MONTH_DIGITS = {m: f"{i:02d}" for m, i in _MONTHS.items()}


def _fast_date(day, mon, year, hh, mm, ss, zh, zm) -> datetime:
    """The datetime of a matched date, built by the C ISO parser (a third of the time)."""
    return datetime.fromisoformat(f"{year}-{_MONTH_DIGITS[mon]}-{day:0>2}T{hh:0>2}:{mm}:"
                                  f"{ss or '00'}{zh}:{zm}")


def from_line_date(line: bytes | None) -> datetime | None:
    """The asctime date of an mbox "From " line, taken as UTC (asctime has no zone)."""
    m = _ASCTIME.search(line.decode("latin-1")) if line else None
    if not m:
        return None
    mon, day, hh, mm, ss, year = m.groups()
    try:
        return datetime(int(year), _MONTHS[mon], int(day), int(hh), int(mm), int(ss or 0),
                        tzinfo=timezone.utc)
    except ValueError:
        return None
