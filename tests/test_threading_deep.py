"""Sizes that break recursive threaders: deep chains, long loops, wide trees, long References."""

from __future__ import annotations

import pytest
from test_threading_support import msg

from mailthreads import MODES, thread

DEPTH = 100_000


def chain(n):
    return [msg(k, f"c{k}@x", refs=[f"c{k - 1}@x"] if k else [], irt=[f"c{k - 1}@x"] if k else [],
                subject="Re: deep" if k else "deep", minutes=k) for k in range(n)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True])
def test_reply_chain_100000_deep_is_one_thread_in_order(mode, reverse):
    items = chain(DEPTH)
    if reverse:
        items.reverse()
    (t,) = thread(items, mode)
    assert [n.key for n in t.nodes] == list(range(DEPTH))
    assert all(n.parent_id == f"c{n.key - 1}@x" for n in t.nodes[1:])


@pytest.mark.parametrize("mode", MODES)
def test_reference_loop_of_10000_messages_terminates_with_every_message_once(mode):
    n = 10_000
    items = [msg(k, f"l{k}@x", refs=[f"l{(k + 1) % n}@x"], minutes=k) for k in range(n)]
    threads = thread(items, mode)
    assert sorted(node.key for t in threads for node in t.nodes) == list(range(n))
    assert len(threads) == 1


@pytest.mark.parametrize("mode", MODES)
def test_loop_inside_one_references_header(mode):
    refs = [f"g{k}@x" for k in range(2000)] * 2 + ["g0@x"]
    items = [msg(1, "a@x", refs=refs), msg(2, "g1500@x", refs=["a@x"], minutes=1)]
    threads = thread(items, mode)
    assert sorted(n.key for t in threads for n in t.nodes if n.key is not None) == [1, 2]


@pytest.mark.parametrize("mode", MODES)
def test_wide_thread_of_50000_replies(mode):
    n = 50_000
    items = [msg(0, "root@x", subject="Survey")] + [
        msg(k, f"w{k}@x", refs=["root@x"], subject="Re: Survey", minutes=n - k)
        for k in range(1, n)]
    (t,) = thread(items, mode)
    assert t.nodes[0].key == 0
    assert [n.key for n in t.nodes[1:]] == list(range(n - 1, 0, -1))   # by date
