"""Whether a message's MIME tree passes `limits.max_mime_depth` or `limits.max_mime_parts`.

Checked in the first pass, so that such a message is quarantined with the reason and its
raw bytes (like one over any other bound), never half-imported. Real mail is far inside
the defaults (32 levels, 1,000 parts); a mail bomb nests thousands deep or holds a hundred
thousand parts. Only a body that could pass a bound is walked (one C-speed count of its
delimiter lines and of "multipart/" decides), with the delivery walk itself
(content._Walk, iterative), told to record the bounds it meets instead of reading parts.
"""

from __future__ import annotations

import itertools
import re

from importer.mail.content import _Part, _Walk

_MULTIPART = re.compile(rb"(?i)multipart/")


class _Shape(_Walk):
    """The delivery walk that only notes where the tree passes a bound."""

    def __init__(self, max_depth: int, max_parts: int) -> None:
        super().__init__(max_depth, max_parts)
        self.too_deep = False

    def _leaf(self, part: _Part) -> None:
        return None

    def _attach(self, part: _Part) -> None:
        if part.ctype.startswith("multipart/"):     # _children met max_depth
            self.too_deep = True


def over_bounds(raw: bytes, body: bytes, content_type: bytes | None, max_depth: int,
                max_parts: int) -> str | None:
    """The reason `raw` passes a MIME bound, or None (`body`: its bytes after the headers,
    `content_type`: its Content-Type field). Only a multipart has parts to count."""
    if content_type is None or b"multipart" not in content_type[:256].lower():
        return None    # A part needs a delimiter line (the first may open the body), and so does each level
    # below the top one; a level also needs a multipart Content-Type in the body (the top
    # one is in the header). Counting delimiters is C speed even through a 2 MB attachment.
    delimiters = body.count(b"\n--") + 1
    if delimiters < max_depth and delimiters < max_parts - 1:
        return None                       # cannot pass either bound: nearly all mail
    if delimiters < max_parts - 1 and sum(
            1 for _ in itertools.islice(_MULTIPART.finditer(body), max_depth)) < max_depth:
        return None
    walk = _Shape(max_depth, max_parts)
    walk.run(raw)
    if walk.too_deep:
        return (f"MIME parts nested deeper than {max_depth} levels (limits.max_mime_depth)")
    if walk.count > max_parts or any(a.filename.endswith("-rest.txt") for a in walk.attachments):
        return f"more than {max_parts} MIME parts (limits.max_mime_parts)"
    return None
