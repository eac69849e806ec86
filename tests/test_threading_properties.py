"""Invariants of the thread engine over arbitrary (often absurd) header combinations."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from test_threading_support import at, groups

from mailthreads import MODES, Item, thread

IDS = [f"m{k}@x" for k in range(8)]            # few ids: collisions, loops, imposters
SUBJECTS = ["Lunch", "Re: Lunch", "AW: lunch", "Hello", "Re: Hello", "", "[l] Re: Lunch"]

ids = st.sampled_from(IDS + [""])
headers = st.tuples(ids, st.lists(st.sampled_from(IDS), max_size=4).map(tuple),
                    st.lists(st.sampled_from(IDS), max_size=2).map(tuple),
                    st.sampled_from(SUBJECTS),
                    st.one_of(st.none(), st.integers(0, 90 * 24 * 60)))
archives = st.lists(headers, max_size=12)


def build(rows, keys=None):
    keys = range(len(rows)) if keys is None else keys
    return [Item(k, mid, refs, irt, subj, at(m)) for k, (mid, refs, irt, subj, m) in zip(keys, rows)]


def check_forest(items, threads):
    keys = [n.key for t in threads for n in t.nodes if n.key is not None]
    assert sorted(keys) == sorted(it.key for it in items)          # each exactly once
    assert len({t.id for t in threads}) == len(threads)            # distinct thread ids
    for t in threads:
        assert t.nodes and t.nodes[0].parent_id is None and t.nodes[0].link == "root"
        seen: set[str] = set()
        for n in t.nodes[1:]:
            # pre-order: a parent comes before its children, in the same thread; so the
            # parent links form no cycle and end at the one root
            assert n.parent_id in seen or n.parent_id == t.nodes[0].message_id
            assert n.link in ("references", "in-reply-to", "subject")
            seen.add(n.message_id)
        assert sum(n.parent_id is None for n in t.nodes) == 1
        assert any(n.key is not None for n in t.nodes)


@settings(max_examples=300, deadline=None)
@given(archives, st.sampled_from(MODES))
def test_every_item_lands_once_in_a_well_formed_tree(rows, mode):
    items = build(rows)
    check_forest(items, thread(items, mode))


@settings(max_examples=200, deadline=None)
@given(archives, st.randoms(use_true_random=False))
def test_strict_and_archive_do_not_depend_on_input_order(rows, rnd):
    items = build(rows)
    shuffled = items[:]
    rnd.shuffle(shuffled)
    for mode in ("strict", "archive"):
        assert groups(thread(items, mode)) == groups(thread(shuffled, mode))


@settings(max_examples=200, deadline=None)
@given(archives, st.randoms(use_true_random=False))
def test_strict_output_is_identical_for_any_input_order_of_distinct_items(rows, rnd):
    rows = list(dict.fromkeys(rows))                  # exact duplicates may swap keys
    items = build(rows)
    shuffled = items[:]
    rnd.shuffle(shuffled)
    assert thread(items, "strict") == thread(shuffled, "strict")


@settings(max_examples=300, deadline=None)
@given(archives, headers)
def test_adding_a_message_never_splits_a_strict_thread(rows, extra):
    # A new message whose id some earlier message already holds may take the id over
    # (the earliest copy holds it), so the added message gets an id of its own here.
    extra = (f"new-{len(rows)}@x",) + extra[1:]
    before = groups(thread(build(rows), "strict"))
    after = groups(thread(build(rows + [extra]), "strict"))
    for g in before:
        assert any(g <= h for h in after)


@settings(max_examples=300, deadline=None)
@given(archives, headers)
def test_adding_a_message_never_splits_a_header_group_in_archive_mode(rows, extra):
    extra = (f"new-{len(rows)}@x",) + extra[1:]
    before = groups(thread(build(rows), "strict"))
    after = groups(thread(build(rows + [extra]), "archive"))
    for g in before:
        assert any(g <= h for h in after)


@settings(max_examples=300, deadline=None)
@given(archives)
def test_archive_groups_are_unions_of_strict_groups(rows):
    items = build(rows)
    archive = groups(thread(items, "archive"))
    for g in groups(thread(items, "strict")):
        assert any(g <= h for h in archive)


@settings(max_examples=200, deadline=None)
@given(archives, st.lists(st.integers(0, 11), max_size=6))
def test_exact_duplicates_group_like_the_deduplicated_input(rows, dup_positions):
    rows = list(dict.fromkeys(rows))
    items = build(rows)
    dups = [Item(("dup", k), *[getattr(items[k], f) for f in
                               ("message_id", "references", "in_reply_to", "subject", "date")])
            for k in dup_positions if k < len(items)]
    for mode in ("strict", "archive"):
        plain = groups(thread(items, mode))
        with_dups = groups(thread(items + dups, mode))
        as_original = {frozenset(k[1] if isinstance(k, tuple) else k for k in g)
                       for g in with_dups}
        assert as_original == plain


@settings(max_examples=100, deadline=None)
@given(archives, st.sampled_from(MODES))
def test_threading_is_deterministic(rows, mode):
    assert thread(build(rows), mode) == thread(build(rows), mode)


@settings(max_examples=200, deadline=None)
@given(archives, st.sampled_from(MODES))
def test_without_a_key_each_node_names_its_items_position(rows, mode):
    """thread(key=None) answers with positions in the input: the same threads as keys do."""
    items = build(rows, keys=[f"k{i}" for i in range(len(rows))])
    by_key = thread(items, mode)
    by_position = thread(items, mode, key=None)
    assert [[(n.message_id, None if n.key is None else items[n.key].key, n.parent_id, n.link)
             for n in t.nodes] for t in by_position] == \
        [[(n.message_id, n.key, n.parent_id, n.link) for n in t.nodes] for t in by_key]
    assert [t.id for t in by_position] == [t.id for t in by_key]
