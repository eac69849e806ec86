"""rfc5256 mode: RFC 5256 THREAD=REFERENCES step by step, with Dovecot's answers.

Cases marked "imaptest" are Dovecot's imaptest thread tests (src/tests/thread with
thread.mbox, and thread2 over default.mbox; https://github.com/dovecot/imaptest, LGPL-2.1),
rewritten in our own form: the mailbox's headers become Items (the mbox "From " dates are
the dates, as Dovecot falls back to the arrival date when there is no Date header) and the
expected THREAD response is compared as text. The other expectations follow the RFC's
text and Dovecot's index-thread-finish.c.
"""

from __future__ import annotations

from test_threading_support import imap, msg, parents

from mailthreads import Item, thread
from datetime import datetime, timezone


def rfc(items):
    return imap(thread(items, "rfc5256"))


# --- imaptest -------------------------------------------------------------------------

def _thread_mbox():
    def d(h, m, s):
        return datetime(2008, 2, 22, h, m, s, tzinfo=timezone.utc)
    return [Item(1, "a@b", (), (), "", d(17, 6, 23)),
            Item(2, "b@b", ("c@b", "a@b"), (), "", d(15, 6, 23)),
            Item(3, "c@b", ("b@b",), (), "", d(16, 6, 25))]


def test_imaptest_thread_loop_through_references_keeps_first_links():
    assert rfc(_thread_mbox()) == "(3 1 2)"


def test_imaptest_thread_after_expunge_prunes_the_ghost():
    a, b, c = _thread_mbox()
    rest = [Item(1, b.message_id, b.references, (), "", b.date),
            Item(2, c.message_id, c.references, (), "", c.date)]
    assert rfc(rest) == "(2 1)"


def test_imaptest_thread2_messages_without_headers_stay_apart():
    same = datetime(2008, 2, 22, 17, 6, 23, tzinfo=timezone.utc)
    assert rfc([Item(1, "", (), (), "", same), Item(2, "", (), (), "", same)]) == "(1)(2)"


# --- step 1: links --------------------------------------------------------------------

def test_1a_links_references_in_order_through_ghosts():
    items = [msg(1, "a"), msg(2, "c", refs=["a", "b"], minutes=2)]
    assert rfc(items) == "(1 2)"          # b is a ghost between them, pruned in step 4


def test_1a_does_not_change_an_existing_link():
    items = [msg(1, "x", refs=["p", "q"], minutes=1), msg(2, "y", refs=["r", "q"], minutes=2),
             msg(3, "p", minutes=0), msg(4, "r", minutes=3)]
    # q's parent is p (first claim); r stays a root of its own
    assert rfc(items) == "(3 (1)(2))(4)"


def test_1b_breaks_an_earlier_parent_for_the_messages_own_last_reference():
    items = [msg(1, "a"), msg(2, "b", minutes=1), msg(3, "x", refs=["a", "c"], minutes=2),
             msg(4, "c", refs=["b"], minutes=3)]
    assert parents(thread(items, "rfc5256"))[4] == (2, "references")


def test_1b_message_without_references_is_a_root_even_if_others_name_a_parent():
    items = [msg(1, "r", refs=["a", "b"], minutes=2), msg(2, "a", minutes=0),
             msg(3, "b", minutes=1)]
    # r's References say a -> b, but b itself has no References: RFC 1B gives it no parent
    assert rfc(items) == "(2)(3 1)"


def test_1b_refuses_a_parent_that_would_close_a_loop():
    items = [msg(1, "a", refs=["b"], minutes=0), msg(2, "b", refs=["a"], minutes=1)]
    assert rfc(items) == "(2 1)"


def test_1b_breaks_the_old_parent_even_when_the_new_one_would_loop():
    # Dovecot's mail_thread_add: the conflicting parent is removed first; the new link is
    # then refused as a loop, and the message is left a root.
    items = [msg(1, "a", minutes=0), msg(2, "x", refs=["a", "b"], minutes=2),
             msg(3, "b", refs=["x"], minutes=1)]
    assert rfc(items) == "(1)(3 2)"


def test_self_reference_is_ignored():
    assert rfc([msg(1, "a", refs=["a"]), msg(2, "b", refs=["a"], minutes=1)]) == "(1 2)"


def test_in_reply_to_is_used_only_without_references():
    items = [msg(1, "a"), msg(2, "b", minutes=1), msg(3, "c", refs=["a"], irt=["b"], minutes=2),
             msg(4, "d", irt=["b", "a"], minutes=3)]
    result = thread(items, "rfc5256")
    assert imap(result) == "(1 3)(2 4)"
    assert parents(result)[4] == (2, "in-reply-to")
    assert parents(result)[3] == (1, "references")


def test_duplicate_message_id_gets_a_container_of_its_own():
    items = [msg(1, "a", subject="x"), msg(2, "a", subject="y", minutes=1),
             msg(3, "b", refs=["a"], subject="z", minutes=2)]
    assert rfc(items) == "(1 3)(2)"


# --- step 4: pruning ------------------------------------------------------------------

def test_4_single_child_of_a_ghost_root_becomes_the_root():
    assert rfc([msg(1, "b", refs=["ghost"])]) == "(1)"
    assert thread([msg(1, "b", refs=["ghost"])], "rfc5256")[0].id == "b"


def test_4_ghost_root_with_two_children_stays_as_a_dummy():
    items = [msg(1, "b", refs=["g"], minutes=1), msg(2, "c", refs=["g"], minutes=2)]
    result = thread(items, "rfc5256")
    assert imap(result) == "((1)(2))"
    assert result[0].id == "g" and result[0].nodes[0].key is None


def test_4_inner_ghost_is_removed_and_its_children_promoted():
    items = [msg(1, "a"), msg(2, "b", refs=["a", "g"], minutes=1),
             msg(3, "c", refs=["a", "g"], minutes=2)]
    assert rfc(items) == "(1 (2)(3))"


# --- step 5: subjects -----------------------------------------------------------------

def test_5_reply_subject_joins_the_original_as_a_child():
    items = [msg(1, "a", subject="Lunch"), msg(2, "b", subject="Re: lunch", minutes=1)]
    result = thread(items, "rfc5256")
    assert imap(result) == "(1 2)"
    assert parents(result)[2] == (1, "subject")


def test_5_reply_first_in_date_still_becomes_the_child_of_the_original():
    items = [msg(1, "a", subject="Re: Lunch", minutes=0), msg(2, "b", subject="Lunch", minutes=5)]
    assert rfc(items) == "(2 1)"


def test_5_two_originals_with_one_subject_get_a_dummy_root():
    items = [msg(1, "a", subject="Lunch"), msg(2, "b", subject="lunch", minutes=1),
             msg(3, "c", subject="Re: Lunch", minutes=2)]
    result = thread(items, "rfc5256")
    assert imap(result) == "((1)(2)(3))"
    assert result[0].id == "a"                       # the dummy: its earliest message's id
    assert result[0].nodes[0].message_id == "" and result[0].nodes[0].key is None


def test_5_ghost_root_takes_a_real_root_with_its_subject():
    items = [msg(1, "a", subject="Lunch", minutes=0),
             msg(2, "b", refs=["g"], subject="Re: Lunch", minutes=1),
             msg(3, "c", refs=["g"], subject="Re: Lunch", minutes=2)]
    assert rfc(items) == "((1)(2)(3))"


def test_5_empty_base_subject_is_never_merged():
    items = [msg(1, "a", subject=""), msg(2, "b", subject="Re:", minutes=1),
             msg(3, "c", subject="[list]", minutes=2), msg(4, "d", subject="[list]", minutes=3)]
    # "[list]" alone is its own base subject (step 4 keeps a blob that is all there is)
    assert rfc(items) == "(1)(2)((3)(4))"


def test_5_localized_prefixes_are_not_rfc5256():
    items = [msg(1, "a", subject="Lunch"), msg(2, "b", subject="AW: Lunch", minutes=1)]
    assert rfc(items) == "(1)(2)"


# --- step 6: order --------------------------------------------------------------------

def test_6_siblings_and_threads_by_date_then_input_order():
    items = [msg(1, "a", minutes=0), msg(2, "c", refs=["a"], minutes=9),
             msg(3, "b", refs=["a"], minutes=5), msg(4, "d", refs=["a"], minutes=5),
             msg(5, "z", minutes=-1)]
    assert rfc(items) == "(5)(1 (3)(4)(2))"


def test_6_undated_message_sorts_at_the_date_before_it_in_the_mailbox():
    items = [msg(1, "a", minutes=0), msg(2, "b", refs=["a"], minutes=10),
             msg(3, "c", refs=["a"], minutes=None), msg(4, "d", refs=["a"], minutes=5)]
    # 3 takes message 2's date (the dated message before it) and comes after it
    assert rfc(items) == "(1 (4)(2)(3))"


def test_threads_of_rfc_mode_come_in_the_rfc_root_order():
    items = [msg(1, "a", minutes=10), msg(2, "b", refs=["a"], minutes=1), msg(3, "c", minutes=5)]
    assert rfc(items) == "(3)(1 2)"
