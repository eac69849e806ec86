"""Which messages are the same message: the completeness order and the Deduper.

Two copies are the same message when their content hashes agree (importer/mail/
contenthash.py says which bytes count and why); the most complete copy is kept.
"""

from __future__ import annotations

from collections import Counter

from importer.records import Duplicate, MessageRecord

__all__ = ["completeness", "Deduper"]


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
    __slots__ = ("kept", "dropped")

    def __init__(self, rec: MessageRecord):
        self.kept = rec
        # Only what a Duplicate needs of a dropped copy, not its record: an archive of a
        # million copies of one mail (a bomb, or years of cc'd list traffic) stays small.
        self.dropped: list[tuple[str, object, str]] = []


def _slim(rec: MessageRecord) -> tuple[str, object, str]:
    return rec.message_id, rec.source, rec.sha256


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
        self._by_hash: dict[str, _Cluster] = {}
        self._order: list[_Cluster] = []

    def add(self, rec: MessageRecord) -> None:
        cluster = self._by_hash.get(rec.content_hash) if self.enabled else None
        if cluster is None:
            cluster = _Cluster(rec)
            self._order.append(cluster)
            if self.enabled:
                self._by_hash[rec.content_hash] = cluster
        elif rec.completeness > cluster.kept.completeness:
            cluster.dropped.append(_slim(cluster.kept))
            cluster.kept = rec
        else:
            cluster.dropped.append(_slim(rec))

    def result(self) -> tuple[list[MessageRecord], list[Duplicate], set[str]]:
        """Unique records (in order of first appearance), duplicates, imposter ids."""
        unique = [c.kept for c in self._order]
        duplicates = []
        for c in self._order:
            for message_id, source, sha256 in c.dropped:
                same_id = message_id == c.kept.message_id and not c.kept.synthetic_id
                duplicates.append(Duplicate(message_id, c.kept.source, source,
                                            "message-id" if same_id else "content",
                                            sha256, c.kept.sha256))
        counts = Counter(r.message_id for r in unique)
        return unique, duplicates, {mid for mid, n in counts.items() if n > 1}
