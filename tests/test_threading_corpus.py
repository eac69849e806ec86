"""The thread engine over the headers of the shared corpus of difficult real mail (skipped if absent)."""

from __future__ import annotations

from datetime import timezone
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parsedate_to_datetime

import pytest
from test_threading_properties import check_forest

from mailthreads import MODES, Item, thread
from mailthreads.ids import parse_in_reply_to, parse_message_id, parse_references
from mailthreads.subject import analyse
from corpus import FILES, MARKS

pytestmark = MARKS


def _text(value) -> str:
    try:
        return str(make_header(decode_header(str(value))))
    except Exception:            # a broken encoded word: the raw text will do here
        return str(value)


def _date(value):
    try:
        d = parsedate_to_datetime(str(value))
    except Exception:
        return None
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def _items() -> list[Item]:
    parser = BytesHeaderParser(policy=compat32)
    items = []
    for k, path in enumerate(FILES):
        with open(path, "rb") as fh:
            head = parser.parsebytes(fh.read(1 << 20))
        items.append(Item(k, parse_message_id(_text(head.get("Message-ID", ""))) or "",
                          parse_references(_text(head.get("References", ""))),
                          parse_in_reply_to(_text(head.get("In-Reply-To", ""))),
                          _text(head.get("Subject", "")),
                          _date(head.get("Date", "")) if head.get("Date") else None))
    return items


@pytest.mark.parametrize("mode", MODES)
def test_every_corpus_message_lands_once_in_a_well_formed_thread(mode):
    items = _items()
    check_forest(items, thread(items, mode))


def test_corpus_grouping_does_not_depend_on_file_order():
    items = _items()
    for mode in ("strict", "archive"):
        forward = {frozenset(n.key for n in t.nodes if n.key is not None)
                   for t in thread(items, mode)}
        backward = {frozenset(n.key for n in t.nodes if n.key is not None)
                    for t in thread(items[::-1], mode)}
        assert forward == backward


def test_corpus_subjects_reduce_to_fixed_points():
    for it in _items():
        for localized in (False, True):
            base, _ = analyse(it.subject, localized)
            assert analyse(base, localized)[0] == base
