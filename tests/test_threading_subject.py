"""Base subjects: RFC 5256 section 2.1 exactly, and the localized prefixes of real clients."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from mailthreads import DEFAULT_GENERIC_SUBJECTS
from mailthreads.subject import analyse, base_subject, has_reply_prefix, is_generic, subject_key


@pytest.mark.parametrize("subject, base, refwd", [
    ("Lunch", "Lunch", False),
    ("Re: Lunch", "Lunch", True),
    ("RE: re: Fwd: Lunch", "Lunch", True),              # repeated, any case
    ("Fw: Lunch", "Lunch", True),
    ("Re[2]: Lunch", "Lunch", True),                     # subj-refwd's optional blob
    ("Re [2] : Lunch", "Lunch", True),
    ("[list] Re: Lunch", "Lunch", True),                 # blobs before Re:
    ("Re: [list] Lunch", "Lunch", True),                 # step 4: a leading blob
    ("[list]", "[list]", False),                         # ...unless it is all there is
    ("Lunch (fwd)", "Lunch", True),                      # subj-trailer
    ("Lunch (FWD) (fwd)  ", "Lunch", True),
    ("[Fwd: Lunch]", "Lunch", True),                     # step 6: subj-fwd
    ("[fwd: Re: [list] Lunch] (fwd)", "Lunch", True),
    ("Re:   Lunch\t\tat  noon", "Lunch at noon", True),  # step 1: white space packed
    ("Re:", "", True),
    ("", "", False),
    ("Rework: the plan", "Rework: the plan", False),     # "Re" must be followed by ":"
    ("AW: Lunch", "AW: Lunch", False),                   # not RFC 5256
])
def test_rfc5256_base_subject(subject, base, refwd):
    assert analyse(subject, localized=False) == (base, refwd)


@pytest.mark.parametrize("subject", [
    "AW: Lunch", "WG: Lunch", "SV: Lunch", "VS: Lunch", "Antw: Lunch", "R: Lunch",
    "RIF: Lunch", "I: Lunch", "TR: Lunch", "Réf: Lunch", "RES: Lunch", "ENC: Lunch",
    "RV: Lunch", "Odp: Lunch", "PD: Lunch", "ΑΠ: Lunch", "Ynt: Lunch", "İLT: Lunch",
    "回复: Lunch", "回复：Lunch", "转发: Lunch", "答复: Lunch", "RE : Lunch", "Re^2: Lunch",
    "Re(3): Lunch", "AW: SV: Re[4]: [team] Lunch", "Sv: aw: Lunch",
])
def test_localized_prefixes_reduce_to_the_same_base(subject):
    assert base_subject(subject) == "Lunch"
    assert has_reply_prefix(subject)


@pytest.mark.parametrize("subject", ["Lunch", "[team] Lunch", "Rework: x", "Invoice 12: paid",
                                     "Time: 10:00", "Re minder"])
def test_subjects_without_reply_markers(subject):
    assert not has_reply_prefix(subject)


def test_subject_keys_compare_case_insensitively():
    assert subject_key(base_subject("RE: LUNCH")) == subject_key(base_subject("lunch"))


@pytest.mark.parametrize("subject", ["", "Hello", "Re: hello!", "HELP", "(no subject)",
                                     "Re: Question?", "test", "Fwd: Hi", "Re:"])
def test_generic_subjects(subject):
    assert is_generic(subject_key(base_subject(subject)), DEFAULT_GENERIC_SUBJECTS)


def test_specific_subject_is_not_generic():
    assert not is_generic(subject_key("Refund for order 1234"), DEFAULT_GENERIC_SUBJECTS)


@given(st.text(max_size=80))
def test_base_subject_is_a_fixed_point_without_outer_spaces(subject):
    for localized in (False, True):
        base, _ = analyse(subject, localized)
        assert analyse(base, localized)[0] == base
        assert base == base.strip(" ")


@given(st.sampled_from(["Re: ", "Fwd: ", "AW: ", "SV: ", "[x] Re: "]), st.text(
    alphabet=st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=30))
def test_a_prefix_never_changes_the_base_subject(prefix, text):
    assert base_subject(prefix + text) == base_subject(text)
    assert has_reply_prefix(prefix + text)
