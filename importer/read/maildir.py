"""Reading a Maildir: delivered messages in cur/ and new/, in delivery order; tmp/ noted.

Names are "<time>.<unique>.<host>[:2,<flags>]" (cr.yp.to/proto/maildir.html); the flags after
the colon (":2,S" seen, "R" replied...) do not change the message. Messages are ordered by
the time prefix, then by name, across cur/ and new/ together. Files in tmp/ were never
delivered (a crash mid-delivery leaves them): they are not mail to import, but they are
not skipped silently either: each becomes an Unreadable, so it is quarantined and counted.
"""

from __future__ import annotations

import os
import re
from typing import Iterator

_TIME = re.compile(r"(\d+)[.:_]")


def order_key(name: str) -> tuple[int, int, str]:
    """Delivery order: the unique name's seconds prefix, then the name itself."""
    m = _TIME.match(name)
    return (0, int(m.group(1)), name) if m else (1, 0, name)


def messages(root: str) -> Iterator[tuple[str, bool]]:
    """(path, delivered) for every file in cur/, new/ (delivered) and then tmp/ (not)."""
    delivered = []
    for sub in ("cur", "new"):
        delivered.extend((name, os.path.join(root, sub, name)) for name in _files(root, sub))
    delivered.sort(key=lambda item: order_key(item[0]))
    for _, path in delivered:
        yield path, True
    for name in sorted(_files(root, "tmp"), key=order_key):
        yield os.path.join(root, "tmp", name), False


def _files(root: str, sub: str) -> list[str]:
    """Names of the entries of root/sub (a missing new/ or tmp/ is normal)."""
    try:
        return os.listdir(os.path.join(root, sub))
    except FileNotFoundError:
        return []
