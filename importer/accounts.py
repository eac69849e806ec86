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
    # own), not by object, in a byte per message number (a tuple of the Message-ID, SHA-256
    # and place per message was a quarter of a million-message run's peak).
    placed = _Places()
    for plan in plans:
        for p in plan.messages:
            placed.add(*p.record.place)
    for e in excluded:
        placed.add(e.source.path, e.source.index)
    if placed.total != len(unique) or placed.distinct() != len(unique):
        out.append(f"{len(unique)} unique messages, but {placed.total} placed in"
                   f" threads or excluded ({placed.distinct()} distinct)")
    elif any(placed.count(*rec.place) != 1 for rec in unique):
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


class _Places:
    """How often each place (path, message number) was counted: per path a count (a file of
    one message, as in a Maildir) or a bytearray by message number (counts stop at 255)."""

    def __init__(self):
        self.files: dict[str, int | bytearray] = {}
        self.odd: Counter = Counter()
        self.total = 0

    def add(self, path: str, index: int) -> None:
        self.total += 1
        if index < 0:                   # no reader numbers so; counted apart, never aliased
            self.odd[path, index] += 1
            return
        counts = self.files.get(path, 0)
        if type(counts) is int and index == 0:
            self.files[path] = min(counts + 1, 255)
            return
        if type(counts) is int:
            counts = self.files[path] = bytearray([counts])
        if len(counts) <= index:
            counts.extend(bytes(index + 1 - len(counts)))
        counts[index] = min(counts[index] + 1, 255)

    def count(self, path: str, index: int) -> int:
        if index < 0:
            return self.odd[path, index]
        counts = self.files.get(path, 0)
        if type(counts) is int:
            return counts if index == 0 else 0
        return counts[index] if index < len(counts) else 0

    def distinct(self) -> int:
        return len(self.odd) + sum((counts > 0) if type(counts) is int
                                   else len(counts) - counts.count(0)
                                   for counts in self.files.values())


def check(found: list[str]) -> None:
    if found:
        raise AccountingError("the counts of this run do not add up (please report it; the"
                              " report is written): " + "; ".join(found))
