"""Which messages are the same message: the completeness order and the Deduper.

Two copies are the same message when their content hashes agree (importer/mail/
contenthash.py says which bytes count and why); the most complete copy is kept.
"""

from __future__ import annotations

import itertools
from array import array
from collections import Counter
from collections.abc import Sequence
from typing import Iterator

from importer.records import Duplicate, MessageRecord, SourceRef

__all__ = ["completeness", "Deduper", "Duplicates"]


def completeness(*, real_id: bool, has_date: bool, header_count: int, size: int) -> tuple:
    """Larger is the copy to keep; compared in this order:

    1. a real Message-ID: replies find their parent through it (RFC 5322 3.6.4);
    2. a parseable Date header: the sender's own date beats a relay's Received date;
    3. more header fields: the delivered copy carries the Received trail and list
       headers that a Sent-folder or re-exported copy has lost;
    4. more bytes: a truncated copy (a full disk, a cut download) is shorter.
    Equal tuples keep the copy seen first, so a rerun keeps the same copy.
    """
    return (int(real_id), int(has_date), header_count, size)


class _Cluster:
    """One message's copies: the copy kept and every dropped one.

    A dropped copy is kept as little as a report needs of it. A copy that differs from the
    cluster's first copy only by its place in the same file (a tiny-message bomb: one mail
    six million times; years of the same list mail in one mbox) is three integers in an
    array (24 bytes); any other is a (message_id, source, sha256) tuple. `order` says which
    of the two lists each dropped copy went to, so they come back in the order they came.
    """

    __slots__ = ("kept", "proto", "same", "other", "order")

    def __init__(self, rec: MessageRecord):
        self.kept = rec
        # A cluster is made at a message's second copy (the Deduper holds a message seen
        # once as its bare record); the first copy is remembered through `kept`.
        self.proto = None
        self.same: array | None = None   # index, offset, length (-1: None) of each copy
        self.other: list[tuple[str, SourceRef, str]] | None = None
        self.order: bytearray | None = None   # per dropped copy: 1 in `same`, 0 in `other`

    def drop(self, rec: MessageRecord) -> None:
        if self.order is None:
            first = self.kept.source
            self.proto = (self.kept.message_id, self.kept.sha256, first.path, first.fmt,
                          first.escaping)
            self.same, self.other, self.order = array("q"), [], bytearray()
        src = rec.source
        if (rec.message_id, rec.sha256, src.path, src.fmt, src.escaping) == self.proto:
            self.same.extend((src.index, -1 if src.offset is None else src.offset,
                              -1 if src.length is None else src.length))
            self.order.append(1)
        else:
            self.other.append((rec.message_id, src, rec.sha256))
            self.order.append(0)

    def __len__(self) -> int:
        return len(self.order) if self.order is not None else 0

    def dropped(self) -> Iterator[tuple[str, SourceRef, str]]:
        if self.order is None:
            return
        mid, sha, path, fmt, escaping = self.proto
        same, other = iter(self.same), iter(self.other)
        for kind in self.order:
            if kind:
                index, offset, length = next(same), next(same), next(same)
                yield mid, SourceRef(path, index, None if offset < 0 else offset,
                                     None if length < 0 else length, fmt, escaping), sha
            else:
                yield next(other)


class Duplicates(Sequence):
    """Every dropped copy as a `Duplicate`, made when asked for: six million copies of one
    mail are counted and written to the report one at a time, never held as objects."""

    def __init__(self, clusters: list[_Cluster]):
        self._clusters = clusters
        self._len = sum(len(c) for c in clusters)

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[Duplicate]:
        for c in self._clusters:
            kept = c.kept     # read once per cluster: a record's place and digest are packed
            place, digest, mid = kept.source, kept.sha256, kept.message_id
            real = not kept.synthetic_id
            for message_id, source, sha256 in c.dropped():
                same_id = real and message_id == mid
                yield Duplicate(message_id, place, source,
                                "message-id" if same_id else "content", sha256, digest)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return list(self)[i]
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError(i)
        return next(itertools.islice(iter(self), i, None))

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, (list, Sequence)) else NotImplemented

    def __repr__(self) -> str:
        return f"Duplicates({self._len})"


class Deduper:
    """Groups records by content hash and keeps the most complete copy of each.

    Same content hash means the same message, whatever its Message-ID: reason
    "message-id" when both copies carry the same real id, "content" otherwise
    (`Duplicate.message_id` is the dropped copy's id).  Records that share a
    Message-ID but not their content ("imposters", public-inbox's word) are all kept;
    `result()` returns their ids, i.e. every id carried by more than one kept record.
    Holds records only (never bodies); the kept copy is settled when `result()` is called,
    so a more complete copy that arrives later replaces the one kept so far.
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        # A message seen once (most) is its record here; a _Cluster from its first copy on.
        self._by_hash: dict[bytes | str, MessageRecord | _Cluster] = {}
        self._order: list[MessageRecord] = []
        self._grown: dict[int, _Cluster] = {}    # id of a record in _order -> its cluster
        self._result: tuple | None = None

    def add(self, rec: MessageRecord) -> None:
        if self._result is not None:
            raise RuntimeError("the deduper has given its result: it takes no more records")
        if not self.enabled:
            self._order.append(rec)
            return
        key = rec.content_key
        cluster = self._by_hash.get(key)
        if cluster is None:
            self._by_hash[key] = rec
            self._order.append(rec)
            return
        if type(cluster) is not _Cluster:
            first, cluster = cluster, _Cluster(cluster)
            self._by_hash[key] = self._grown[id(first)] = cluster
        if rec.completeness > cluster.kept.completeness:
            cluster.drop(cluster.kept)
            cluster.kept = rec
        else:
            cluster.drop(rec)

    def result(self) -> tuple[list[MessageRecord], Duplicates, set[str]]:
        """Unique records (in order of first appearance), duplicates, imposter ids.

        The grouping is let go here (a million keys are a sixth of a large run's peak, and
        threading comes next); asked again, the same answer."""
        if self._result is None:
            grown = self._grown
            clusters = [grown[id(r)] for r in self._order if id(r) in grown] if grown else []
            unique = [grown[id(r)].kept if id(r) in grown else r for r in self._order] \
                if grown else self._order
            counts = Counter(r.message_id for r in unique)
            self._result = (unique, Duplicates(clusters),
                            {mid for mid, n in counts.items() if n > 1})
            self._by_hash, self._order, self._grown = {}, [], {}
        return self._result
