"""Message-ID, References and In-Reply-To parsing against the damage real mail carries."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, strategies as st

from mailthreads.ids import (MAX_REFERENCES, normalise_id, parse_in_reply_to, parse_message_id,
                             parse_references)


@pytest.mark.parametrize("value, expected", [
    ("<abc@Example.COM>", "abc@example.com"),             # domain case folded
    ("<ABC@example.com>", "ABC@example.com"),             # local part kept
    ("  <<abc@example.com>>  ", "abc@example.com"),       # doubled brackets (gateways)
    ("<abc@exa\r\n mple.com>", "abc@example.com"),        # folded inside the brackets
    ("abc@example.com", "abc@example.com"),               # brackets missing
    ("<abc@example.com> (added by mailer)", "abc@example.com"),
    ("(comment <x@y>) <abc@example.com>", "abc@example.com"),
    ("no-angle-brackets.or.at-symbol", "no-angle-brackets.or.at-symbol"),
    ("<20020101.abcdef>", "20020101.abcdef"),             # no @: kept when bracketed
    ("<>", None), ("", None), (None, None), ("   ", None),
    ("<undefined>", None),                                # JavaScript clients
    ("<x@protonmail.internalid>", None),                  # not a real id
    ("<@example.com>", None), ("<abc@>", None),
    ("<" + "a" * 2000 + "@example.com>", None),           # hostile length
])
def test_parse_message_id_normalises_or_refuses(value, expected):
    assert parse_message_id(value) == expected


def test_references_keep_order_and_the_last_place_of_a_repeated_id():
    assert parse_references("<a@x> <b@x> <a@x> <c@x>") == ("b@x", "a@x", "c@x")


def test_references_survive_comments_junk_and_missing_brackets():
    value = "<a@x> (Joe's note <j@x>)\r\n\t<b@x>, c@x; junk words <<d@x>>"
    assert parse_references(value) == ("a@x", "b@x", "c@x", "d@x")


def test_references_drop_fake_protonmail_ids():
    assert parse_references("<a@x> <b@protonmail.internalid>") == ("a@x",)


def test_references_are_trimmed_keeping_the_first_and_the_newest():
    ids = [f"<{k}@x>" for k in range(MAX_REFERENCES + 50)]
    refs = parse_references(" ".join(ids))
    assert len(refs) == MAX_REFERENCES
    assert refs[0] == "0@x" and refs[-1] == f"{MAX_REFERENCES + 49}@x"


def test_unterminated_bracket_runs_to_the_end():
    assert parse_references("<a@x> <b@x") == ("a@x", "b@x")


@pytest.mark.parametrize("value, expected", [
    ("<id@host>", ("id@host",)),
    ("<id@host>; from Joe Bloggs on Mon, 1 Jan 1999", ("id@host",)),           # Elm
    ('"Joe Bloggs"\'s message of "Mon, 1 Jan 1999 10:00"', ()),               # no id at all
    ('Message from Joe <joe@host> of "Mon, 1 Jan" <id@host>', ("id@host",)),  # MH
    ("Joe <joe@host>'s message of Mon, 1 Jan", ()),
    ("Your message of Mon, 1 Jan; from joe@host", ()),
    ("id@host", ("id@host",)),
    ("<a@x> <b@x> <a@x>", ("a@x", "b@x")),
    ("<A@HOST>", ("A@host",)),
])
def test_in_reply_to_ids_without_prose_or_sender_addresses(value, expected):
    assert parse_in_reply_to(value) == expected


@pytest.mark.parametrize("value", [
    # Z-Mail: the display name, the address of the person answered, the subject, the date
    '"Dana K. Morrow" <dana.morrow@example.net>\r\n        "favor" (Sep  8, 10:03)',
    '"Morrow, Dana" <dana.morrow@example.net> "Re: favor" (Sep  8, 10:03)',
    'Dana Morrow <dana.morrow@example.net>\r\n\t"favor" (Sep  8, 10:03)',   # name unquoted
    '"Dana K. Morrow" <dana.morrow@example.net> (Sep  8, 10:03)',          # no subject
    '"Dana K. Morrow" <dana.morrow@example.net> "favor"',                  # no date
    '"Dana K. Morrow" <<dana.morrow@example.net>> "favor" (Sep  8, 10:03)',
    'dana.morrow@example.net (Dana Morrow) "favor" (Sep  8, 10:03)',     # RFC 822 From
    'dana.morrow@example.net "favor" (Sep  8, 10:03)',
])
def test_zmail_in_reply_to_names_an_address_not_a_message_id(value):
    assert parse_in_reply_to(value) == ()


@pytest.mark.parametrize("value, expected", [
    ('<id@host> (Joe Bloggs\'s message of "Mon, 1 Jan 1999 10:00")', ("id@host",)),  # Emacs
    ('<id@host> "favor"', ("id@host",)),                       # no name before it
    ('Your message of "Mon, 01 Jan 1999 10:00:00 PST." <id@host>', ("id@host",)),    # MH
    ('"Joe"\'s message of "Mon, 1 Jan" <id@host> (comment)', ("id@host",)),
    ("Joe 2 <id@host> (Sep  8)", ("id@host",)),                # digits: a date, not a name
    ('"Dana" <dana@example.net> "favor" (Sep  8, 10:03) <id@host>', ("id@host",)),
    ("<a@x> <id@host> (Sep  8)", ("a@x", "id@host")),          # an id is no display name
])
def test_in_reply_to_ids_near_phrases_that_are_not_zmail_stay_ids(value, expected):
    assert parse_in_reply_to(value) == expected


@pytest.mark.parametrize("answer", ["y", "n", "yes", "no", "YES", "No", "Y"])
def test_git_send_email_prompt_answers_are_no_ids_anywhere(answer):
    # git-send-email writes what was typed at "Message-ID to be used as In-Reply-To ...?"
    assert parse_message_id(f"<{answer}>") is None
    assert parse_message_id(answer) is None
    assert parse_in_reply_to(f"<{answer}>") == ()
    assert parse_references(f"<{answer}>\r\n <cover@example.com>") == ("cover@example.com",)


def test_prompt_answer_with_a_domain_is_still_an_id():
    assert parse_in_reply_to("<yes@example.com>") == ("yes@example.com",)
    assert parse_references("<no@example.com>") == ("no@example.com",)


def test_zmail_shape_check_stays_fast_on_hostile_headers():
    for value in (" " * 60000 + "<a@b>", "@" * 60000 + '"', "a@" * 30000 + '"',
                  '"' + "\\" * 30000, "Joe " * 15000 + "<a@b>", "<" * 60000):
        start = time.perf_counter()
        parse_in_reply_to(value)
        assert time.perf_counter() - start < 1.0


@given(st.text(max_size=300))
def test_parsers_never_raise_and_return_clean_ids(value):
    ids = [parse_message_id(value), *parse_references(value), *parse_in_reply_to(value)]
    for mid in ids:
        if mid is not None:
            assert mid and not any(ch.isspace() or ch in "<>" for ch in mid)
            assert normalise_id(mid) == mid          # normal form is a fixed point


@given(st.lists(st.from_regex(r"[A-Za-z0-9.$%]{1,12}@[A-Za-z0-9.]{1,12}", fullmatch=True),
                max_size=20))
def test_references_round_trip_through_a_header(ids):
    header = "\r\n\t".join(f"<{i}>" for i in ids)
    expected = [normalise_id(i) for i in ids]
    expected = [i for k, i in enumerate(expected) if i not in expected[k + 1:]]
    assert list(parse_references(header)) == [i for i in expected if i]
