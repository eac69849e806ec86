"""The engine's input and output records: Item in, Thread of Nodes out (no email objects)."""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Item:
    """One message's threading facts; `key` is the caller's own handle, opaque here.

    Items may share a `message_id` ("imposters", public-inbox's word): each one still
    lands in exactly one thread, exactly once (see README "Imposters").
    """

    key: Hashable
    message_id: str                 # normalised by ids.parse_message_id (no <>)
    references: tuple[str, ...]     # oldest first, as in the header
    in_reply_to: tuple[str, ...]
    subject: str                    # decoded unicode
    date: datetime | None           # timezone-aware, or None


@dataclass(frozen=True, slots=True)
class Node:
    """One place in a thread: a message (`key` set) or a ghost (`key` None)."""

    message_id: str
    key: Hashable | None            # None for a ghost: referenced but not in the input
    parent_id: str | None
    link: str                       # "references" | "in-reply-to" | "subject" | "root"


@dataclass(frozen=True, slots=True)
class Thread:
    """A conversation: nodes in pre-order (tree order), siblings by date."""

    id: str
    nodes: tuple[Node, ...]


def content_digest(it: Item) -> str:
    """A short digest of an item's threading facts: stable across runs and input order."""
    text = "\x00".join((it.message_id, it.subject, it.date.isoformat() if it.date else "",
                        " ".join(it.references), " ".join(it.in_reply_to)))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()


def noid_id(it: Item) -> str:
    """The id an item without a Message-ID is threaded under (RFC 2606 reserves .invalid)."""
    return f"noid.{content_digest(it)}@mailthreads.invalid"
