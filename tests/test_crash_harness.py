"""SIGKILL at random moments of a local import, then the same command again: the store ends
exactly as after one uninterrupted run (tickets, entries, attachments, ledger, quarantine)."""

from __future__ import annotations

import crashharness


def test_ten_random_kills_each_end_like_an_uninterrupted_run(tmp_path):
    outcome = crashharness.run(str(tmp_path), kills=10, seed=7)
    assert outcome.kills >= 10, outcome
    assert outcome.violations == []


def test_the_harness_sees_a_difference_when_there_is_one(tmp_path):
    clean = {"tickets": [("t", "q", "s", "resolved", "[]", None, None)], "entries": [],
             "attachments": [], "threads": [], "messages": [], "quarantine": []}
    broken = {**clean, "tickets": [("t", "q", "s", "open", "[]", None, None)]}
    assert crashharness.violations(broken, clean) == ["tickets: 1 missing, 1 extra"]
