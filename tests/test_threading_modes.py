"""strict and archive modes: header links, ghosts, imposters, dates, and archive's subject rule."""

from __future__ import annotations

import pytest
from test_threading_support import groups, msg, parents

from mailthreads import thread

DAY = 24 * 60


def fs(*sets):
    return {frozenset(s) for s in sets}


# --- the example archive of threading/README.md ----------------------------------------

def readme_archive():
    broken = "Printer on floor 3 is broken"
    return [
        msg(1, "p1@ex", subject=broken, minutes=0),
        msg(2, "p2@ex", refs=["p1@ex"], irt=["p1@ex"], subject="Re: " + broken, minutes=DAY),
        msg(3, "p3@ex", subject="RE: " + broken, minutes=3 * DAY),          # headers lost
        msg(4, "p4@ex", subject=broken, minutes=100 * DAY),                 # new report
        msg(5, "p5@ex", subject="AW: " + broken, minutes=101 * DAY),
        msg(6, "q1@ex", subject="Question", minutes=2 * DAY),
        msg(7, "q2@ex", subject="Re: Question", minutes=4 * DAY),           # a stranger
        msg(8, "h1@ex", refs=["lost@ex"], subject="Re: Holiday plan", minutes=5 * DAY),
        msg(9, "h2@ex", refs=["lost@ex"], subject="Re: Holiday plan", minutes=6 * DAY),
    ]


@pytest.mark.parametrize("mode, expected", [
    ("strict", fs({1, 2}, {3}, {4}, {5}, {6}, {7}, {8, 9})),
    ("archive", fs({1, 2, 3}, {4, 5}, {6}, {7}, {8, 9})),
    ("rfc5256", fs({1, 2, 3, 4}, {5}, {6, 7}, {8, 9})),
])
def test_readme_example_groups_as_documented(mode, expected):
    assert groups(thread(readme_archive(), mode)) == expected


# --- links ------------------------------------------------------------------------------

def test_link_is_in_reply_to_when_it_names_the_parent():
    items = [msg(1, "a"), msg(2, "b", refs=["a"], irt=["a"], minutes=1),
             msg(3, "c", refs=["a", "b"], minutes=2), msg(4, "d", irt=["b"], minutes=3)]
    p = parents(thread(items, "strict"))
    assert p == {1: (None, "root"), 2: (1, "in-reply-to"), 3: (2, "references"),
                 4: (2, "in-reply-to")}


def test_in_reply_to_missing_from_references_becomes_the_parent():
    items = [msg(1, "a"), msg(2, "b", refs=["a"], minutes=1),
             msg(3, "c", refs=["a"], irt=["b"], minutes=2)]
    assert parents(thread(items, "strict"))[3] == (2, "in-reply-to")


def test_references_newest_first_are_put_right_by_in_reply_to():
    items = [msg(1, "a"), msg(2, "b", refs=["a"], minutes=1),
             msg(3, "c", refs=["b", "a"], irt=["b"], minutes=2)]
    p = parents(thread(items, "strict"))
    assert p[2] == (1, "references") and p[3] == (2, "in-reply-to")


def test_duplicated_and_self_references_are_ignored():
    items = [msg(1, "a"), msg(2, "b", refs=["a", "b", "a"], minutes=1)]
    assert parents(thread(items, "strict"))[2] == (1, "references")


def test_conflicting_references_still_keep_one_thread():
    # RFC 5256 keeps the first claim (z -> y) and drops x -> y: x would be a thread of its
    # own although a header ties it to the others.
    items = [msg(1, "x", minutes=0), msg(2, "y", minutes=1),
             msg(3, "m", refs=["z", "y"], minutes=2), msg(4, "a", refs=["x", "y"], minutes=3)]
    assert groups(thread(items, "strict")) == fs({1, 2, 3, 4})
    assert len(groups(thread(items, "rfc5256"))) == 2


# --- ghosts -----------------------------------------------------------------------------

def test_ghost_parent_of_a_message_is_kept_and_a_ghost_chain_is_shortened():
    items = [msg(1, "a"), msg(2, "d", refs=["a", "b", "c"], minutes=1)]
    (t,) = thread(items, "strict")
    assert [(n.message_id, n.key, n.parent_id) for n in t.nodes] == [
        ("a", 1, None), ("c", None, "a"), ("d", 2, "c")]


def test_missing_first_message_gives_the_thread_its_id():
    items = [msg(1, "b", refs=["root", "lost"], minutes=1), msg(2, "c", refs=["root", "b"], minutes=2)]
    (t,) = thread(items, "archive")
    assert t.id == "root"
    assert [(n.message_id, n.key is None) for n in t.nodes] == [
        ("root", True), ("lost", True), ("b", False), ("c", False)]


# --- imposters and copies ---------------------------------------------------------------

def test_exact_copies_share_a_thread_and_imposters_do_not():
    items = [msg(1, "same", subject="Invoice"), msg(2, "same", subject="Invoice", minutes=5),
             msg(3, "same", subject="Party photos", minutes=9)]
    result = thread(items, "strict")
    assert groups(result) == fs({1, 2}, {3})
    assert len({t.id for t in result}) == 2
    assert any(t.id.startswith("same#") for t in result)


def test_messages_without_id_get_a_reserved_synthetic_id():
    (t,) = thread([msg(1, "", subject="x")], "strict")
    assert t.id.endswith("@mailthreads.invalid") and t.nodes[0].message_id == t.id


def test_messages_without_id_group_only_with_their_own_copies():
    # Seen in the shared corpus: dozens of header-less fragments with no Message-ID and
    # no subject. Copies (same synthetic id: same date too) group; others do not.
    items = [msg(1, "", minutes=None), msg(2, "", minutes=5), msg(3, "", minutes=None),
             msg(4, "", minutes=5), msg(5, "", minutes=9)]
    for order in (items, items[::-1]):
        assert groups(thread(order, "strict")) == fs({1, 3}, {2, 4}, {5})


# --- dates ------------------------------------------------------------------------------

def test_undated_reply_sorts_with_its_parents_date_and_undated_threads_go_last():
    items = [msg(1, "a", minutes=10), msg(2, "b", refs=["a"], minutes=5),
             msg(3, "c", refs=["a"], minutes=None), msg(4, "d", refs=["a"], minutes=20),
             msg(5, "e", minutes=None), msg(6, "f", minutes=1)]
    result = thread(items, "strict")
    assert [[n.key for n in t.nodes] for t in result] == [[6], [1, 2, 3, 4], [5]]


# --- archive's subject rule -------------------------------------------------------------

def test_subject_link_needs_a_reply_prefix():
    items = [msg(1, "a", subject="Refund for order 12"),
             msg(2, "b", subject="Refund for order 12", minutes=60)]
    assert groups(thread(items, "archive")) == fs({1}, {2})


def test_subject_link_is_marked_and_hangs_under_the_root():
    items = [msg(1, "a", subject="Refund for order 12"),
             msg(2, "b", refs=["a"], subject="Re: Refund for order 12", minutes=60),
             msg(3, "c", subject="Re: refund for ORDER 12", minutes=90)]
    assert parents(thread(items, "archive"))[3] == (1, "subject")


@pytest.mark.parametrize("days, window, linked", [(29, 30, True), (31, 30, False),
                                                   (31, 40, True), (0.5, 0, False)])
def test_subject_window_counts_from_the_threads_last_message(days, window, linked):
    items = [msg(1, "a", subject="Refund for order 12"),
             msg(2, "b", refs=["a"], subject="Re: Refund for order 12", minutes=10 * DAY),
             msg(3, "c", subject="Re: Refund for order 12", minutes=(10 + days) * DAY)]
    result = groups(thread(items, "archive", subject_window_days=window))
    assert (result == fs({1, 2, 3})) == linked


def test_subject_links_chain_through_a_long_exchange():
    items = [msg(1, "a", subject="Refund for order 12")] + [
        msg(k, f"r{k}", subject="Re: Refund for order 12", minutes=(k - 1) * 20 * DAY)
        for k in range(2, 6)]
    assert groups(thread(items, "archive")) == fs({1, 2, 3, 4, 5})


def test_generic_subjects_are_never_linked_and_the_list_is_a_parameter():
    items = [msg(1, "a", subject="Hello"), msg(2, "b", subject="Re: Hello", minutes=5),
             msg(3, "c", subject="Order"), msg(4, "d", subject="Re: order", minutes=5)]
    assert groups(thread(items, "archive")) == fs({1}, {2}, {3, 4})
    custom = thread(items, "archive", generic_subjects=frozenset({"ORDER"}))
    assert groups(custom) == fs({1, 2}, {3}, {4})


def test_reply_joins_the_latest_thread_with_its_subject():
    items = [msg(1, "a", subject="Status report", minutes=0),
             msg(2, "b", subject="Status report", minutes=7 * DAY),
             msg(3, "c", subject="Re: Status report", minutes=8 * DAY)]
    assert groups(thread(items, "archive")) == fs({1}, {2, 3})


def test_undated_messages_are_never_subject_linked():
    items = [msg(1, "a", subject="Refund for order 12"),
             msg(2, "b", subject="Re: Refund for order 12", minutes=None)]
    assert groups(thread(items, "archive")) == fs({1}, {2})


def test_strict_mode_never_links_by_subject():
    items = [msg(1, "a", subject="Refund for order 12"),
             msg(2, "b", subject="Re: Refund for order 12", minutes=5)]
    assert groups(thread(items, "strict")) == fs({1}, {2})


def test_archive_adding_a_message_may_move_a_subject_linked_reply():
    # Why "adding a message never splits a thread" holds in archive mode only for header
    # groups: a new conversation with the same subject becomes the latest one, and the
    # reply that was linked by subject to the older thread now joins the newer.
    old = [msg(1, "a", subject="Status report", minutes=0),
           msg(3, "c", subject="Re: Status report", minutes=8 * DAY)]
    assert groups(thread(old, "archive")) == fs({1, 3})
    new = old + [msg(2, "b", subject="Status report", minutes=7 * DAY)]
    assert groups(thread(new, "archive")) == fs({1}, {2, 3})


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError):
        thread([], "jwz")


def test_no_items_no_threads():
    assert thread([], "archive") == [] == thread([], "rfc5256")
