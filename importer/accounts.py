""""Nothing is lost", checked at the end of every run rather than defined.

The readers count what they hand on (`Archive.produced`), apart from every outcome
list; the stages' results must add up to it: every message read is unique, a
duplicate or quarantined; every unique message is placed in exactly one thread;
each file's counts add up to the whole. A mismatch is a bug of ours that lost or
doubled mail: the run stops loudly (exit 2) after writing its report, so the
report can be read to find where.
"""

from __future__ import annotations

from collections import Counter

from importer.errors import ImporterError


class AccountingError(ImporterError):
    """The counts of a run do not add up: some mail was lost or counted twice."""


def problems(produced: int, unique, duplicates, quarantine, plans, files,
             excluded=()) -> list[str]:
    """Every way the counts of one run fail to add up (empty when they do)."""
    out = []
    outcome = len(unique) + len(duplicates) + len(quarantine)
    if produced != outcome:
        out.append(f"{produced} messages read, but {len(unique)} unique + {len(duplicates)}"
                   f" duplicates + {len(quarantine)} quarantined = {outcome}")
    # Every unique message in exactly one thread, or left out by the reviewer (overrides.py),
    # never both: counted by place (file and message number: each message read has its
    # own), not by object. A place is one int here: a tuple of the Message-ID, SHA-256 and
    # place for each of a million messages was a quarter of a large run's peak.
    numbers: dict[str, int] = {}

    def where(path: str, index: int):
        n = numbers.setdefault(path, len(numbers))
        return index << 24 | n if n < 1 << 24 else (n, index)
    placed = Counter(where(*p.record.place) for plan in plans for p in plan.messages)
    placed.update(where(e.source.path, e.source.index) for e in excluded)
    if len(placed) != len(unique) or sum(placed.values()) != len(unique):
        out.append(f"{len(unique)} unique messages, but {sum(placed.values())} placed in"
                   f" threads or excluded ({len(placed)} distinct)")
    elif any(where(*rec.place) not in placed for rec in unique):
        out.append("a unique message is in no thread")
    by_files = sum(f.messages + f.unreadable for f in files)
    if by_files != produced:
        out.append(f"{produced} messages read, but the files' counts add up to {by_files}")
    held = Counter(q.source.path for q in quarantine)
    listed = {f.path: f for f in files}
    strays = [p for p in held if p not in listed]
    short = [f.path for f in files if held[f.path] < f.unreadable]
    if strays or short:
        out.append(f"the quarantine and the files disagree ({len(strays)} quarantined from no"
                   f" listed file, {len(short)} files with stretches not quarantined)")
    return out


def check(found: list[str]) -> None:
    if found:
        raise AccountingError("the counts of this run do not add up (please report it; the"
                              " report is written): " + "; ".join(found))
