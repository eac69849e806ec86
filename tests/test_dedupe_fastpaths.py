"""The content hash is computed without copies, and is the hash the ledger already holds.

The oracle below is the first, plain version of `content_hash`: a hash is a key in every
ledger written so far, so a faster version must give it bit for bit.
"""

import hashlib
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings, strategies as st

from importer.mail.contenthash import (_date_key, _subject_key, content_hash, normalise_body,
                                       strip_list_footer)

FOOTER = (b"_______________________________________________\nsupport mailing list\n"
          b"https://lists.example.org/mailman/listinfo/support\n")


def _oracle_footer(body: bytes) -> bytes:
    import re
    separator = re.compile(rb"\n(?:-- ?|_{20,})\n")
    footer = re.compile(
        rb"(?i)https?://\S+/listinfo\b|/mailman/listinfo|mailing list\b[^\n]*\n(?:[^\n]*\n)?"
        rb"[^\n]*unsubscribe|to unsubscribe from this group|-leave@\S+\.\w+")
    last = None
    for m in separator.finditer(body, max(0, len(body) - 1500)):
        last = m
    if last is None:
        return body
    block = body[last.end():]
    if block.count(b"\n") >= 12 or not footer.search(block):
        return body
    return body[:last.start()].rstrip()


def _oracle_body(body: bytes) -> bytes:
    body = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    body = b"\n".join(line.rstrip(b" \t") for line in body.split(b"\n"))
    return _oracle_footer(body.rstrip())


def _oracle_hash(from_addrs, to, cc, subject, date, date_raw, refs, own_id, body) -> str:
    h = hashlib.sha256()
    ids = sorted(set(refs) - {own_id})
    for name, value in (("from", " ".join(from_addrs)), ("to", " ".join(to)),
                        ("cc", " ".join(cc)), ("subject", _subject_key(subject)),
                        ("date", _date_key(date, date_raw)), ("refs", " ".join(ids))):
        h.update(name.encode() + b"\0" + value.encode("utf-8", "replace") + b"\0")
    h.update(b"body\0")
    h.update(_oracle_body(body))
    return h.hexdigest()


LINES = st.sampled_from([b"hello", b"hello  ", b"x\t", b"", b" ", b"-- ", b"--",
                         b"_" * 30, b"support mailing list", b"To unsubscribe, mail x",
                         b"https://lists.example.org/mailman/listinfo/support", b"\r", b"a\rb"])
BODIES = st.lists(LINES, max_size=30).map(b"\n".join) | st.binary(max_size=300) | st.lists(
    LINES, max_size=8).map(lambda ls: b"\r\n".join(ls) + b"\r\n" + FOOTER + b"  \n\n")
WORDS = st.text(max_size=12) | st.sampled_from(["\ud800", "a\udcff", "Grüße", ""])
DATES = st.none() | st.datetimes(min_value=datetime(1970, 1, 2), timezones=st.just(
    timezone(timedelta(hours=-7))))


@settings(max_examples=500, deadline=None)
@given(BODIES)
def test_normalised_body_is_the_oracles(body):
    assert normalise_body(body) == _oracle_body(body)
    assert strip_list_footer(body) == _oracle_footer(body)


@settings(max_examples=300, deadline=None)
@given(st.lists(WORDS, max_size=3), st.lists(WORDS, max_size=3), st.lists(WORDS, max_size=2),
       WORDS, DATES, WORDS, st.lists(WORDS, max_size=4), st.none() | WORDS, BODIES)
def test_content_hash_is_the_hash_the_ledger_holds(from_addrs, to, cc, subject, date,
                                                   date_raw, refs, own_id, body):
    args = (tuple(from_addrs), tuple(to), tuple(cc), subject, date, date_raw, tuple(refs),
            own_id, body)
    assert content_hash(from_addrs=args[0], to=args[1], cc=args[2], subject=subject,
                        date=date, date_raw=date_raw, refs=args[6], own_id=own_id,
                        body=body) == _oracle_hash(*args)


def test_long_trailing_blank_run_is_cut_as_rstrip_cuts_it():
    body = b"text\n" + b" \n" * 500 + b"\t" * 100
    assert normalise_body(body) == b"text"
