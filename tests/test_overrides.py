"""The reviewer's overrides file (`--overrides`): every mistake in it is one error naming the
file and the key, found before anything is written; every instruction does what README
"Review, then apply" says; and `run` creates exactly what the dry run with the same file
showed (the point of the feature)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sqlite3
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importer import overrides
from importer.cli import main
from mailbuild import mail, write_mbox
from importer.errors import ConfigError
from importer.review.html import snippet, yaml_str

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
CONFIG = str(FIXTURES / "helpdesk.yaml")

# Threads and messages of the shipped fixtures (see a dry run's report).
BANDSAW = "199703031712.JAA00871@shop.example.net"       # root, a subject-joined reply, its reply
BANDSAW_BY_SUBJECT = "9703031040.ZM2291@bench.example.com"
BANDSAW_REPLY = "199703032005.MAA00902@shop.example.net"
QUESTION_1 = "20190603101500.bcb9719c@mail.example.com"  # two threads both called "Question"
QUESTION_2 = "20190624190500.5f4adc8d@mail.example.net"
DUST = "20190812084000.b318ac6a@mail.example.com"         # a single message
GLUE_GUN = "20190805140100.f6a2a09e@mail.example.com"     # a single message
PRINTER = "br-m1.ca0df2@example.com"                      # br-m1 <- br-m2 <- br-m3 <- br-m4
PRINTER_3 = "br-m3.153812@example.com"
PRINTER_4 = "br-m4.2396a1@example.com"
IMPOSTER_ID = "formmail@www.example.net"                  # two different mails share it


# -- small archives ------------------------------------------------------------------

def small_archive(tmp_path: Path) -> Path:
    """a1 <- a2 <- a3 (one thread), b1 <- b2, c1 alone."""
    return write_mbox(tmp_path / "inbox.mbox", [
        mail("a1@example.net", day=1),
        mail("a2@example.net", "Re: Printer on fire", day=2, reply_to="a1@example.net",
             sender="hello@example.org"),
        mail("a3@example.net", "Re: Printer on fire", day=3, reply_to="a2@example.net"),
        mail("b1@example.net", "Invoice 42", day=4, sender="dave@example.com"),
        mail("b2@example.net", "Re: Invoice 42", day=5, reply_to="b1@example.net",
             sender="hello@example.org"),
        mail("c1@example.net", "Lunch on Friday", day=6, sender="erin@example.com"),
    ])


def write_overrides(tmp_path: Path, text: str, name: str = "review.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def import_(capsys, tmp_path: Path, sources, ov: str | None = None, *, command="dry-run",
            report="r.json", store="store.sqlite") -> tuple[int, dict | None, str]:
    path = tmp_path / report
    if path.exists():
        path.unlink()
    args = [command, "--quiet", "--config", CONFIG, "--store", str(tmp_path / store),
            "--report", str(path), *(["--overrides", ov] if ov else []),
            *[str(s) for s in sources]]
    code, _, err = cli(capsys, *args)
    rep = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    return code, rep, err


def thread(rep: dict, thread_id: str) -> dict:
    found = [t for t in rep["threads"] if t["id"] == thread_id]
    assert len(found) == 1, f"thread {thread_id} appears {len(found)} times"
    return found[0]


def ids(t: dict) -> list[str]:
    return [m["message_id"] for m in t["messages"]]


def position(entry: dict) -> tuple[str, int]:
    return entry["source"]["path"], entry["source"]["index"]


def assert_accounts(rep: dict) -> None:
    """Every message read is exactly one of: placed in a thread, excluded, a duplicate,
    quarantined; and the summary counts agree with the lists."""
    s = rep["summary"]
    assert s["messages_read"] == s["messages_unique"] + s["duplicates"] + s["quarantined"]
    placed = [position(m) for t in rep["threads"] for m in t["messages"]]
    excluded = [position(e) for e in rep["excluded"]]
    assert s["excluded"] == len(excluded)
    assert s["threads"] == len(rep["threads"])
    assert len(placed) + len(excluded) == s["messages_unique"]
    everything = (placed + excluded + [(d["dropped"]["path"], d["dropped"]["index"])
                                       for d in rep["duplicates"]]
                  + [position(q) for q in rep["quarantine"]])
    assert len(everything) == len(set(everything)) == s["messages_read"]


def assert_tree_order(t: dict) -> None:
    """Each message's parent, when it is a message of the thread, comes before it."""
    seen = set()
    own = set(ids(t))
    ghosts = {g["message_id"] for g in t["ghosts"]}
    for i, m in enumerate(t["messages"]):
        if i == 0:
            assert m["parent_id"] is None or m["parent_id"] in ghosts
        elif m["parent_id"] in own:
            assert m["parent_id"] in seen, f"{m['message_id']} comes before its parent"
        else:
            assert m["parent_id"] in ghosts, f"{m['message_id']} hangs from nothing"
        seen.add(m["message_id"])


@pytest.fixture(scope="module")
def plain_fixtures_report(tmp_path_factory) -> dict:
    """The dry run of the fixtures without overrides: where a reviewer takes ids from."""
    tmp = tmp_path_factory.mktemp("plain")
    code = main(["dry-run", "--quiet", "--config", CONFIG, "--store", str(tmp / "s.sqlite"),
                 "--report", str(tmp / "r.json"), str(FIXTURES)])
    assert code == 0
    return json.loads((tmp / "r.json").read_text(encoding="utf-8"))


# -- mistakes found before any mail is read --------------------------------------------

INVALID = [
    # (file text, the key the error names, words of the reason)
    ("exclude_threads: [a@x.example]\n", "exclude_threads", "unknown key"),
    ("exclude: {thread: [a@x.example]}\n", "exclude.thread", "unknown key"),
    ("merge: [{into: a@x.example, threads: [b@x.example], and: c}]\n", "merge[0].and",
     "unknown key"),
    ("- a@x.example\n", None, "must be a mapping"),
    ("exclude: [a@x.example]\n", "exclude", "must be a mapping"),
    ("split: a@x.example\n", "split", "must be a list"),
    ("exclude: {threads: [a@x.example, 42]}\n", "exclude.threads[1]", "must be a str"),
    ("exclude: {messages: {a: b}}\n", "exclude.messages", "must be a list"),
    ("exclude: {spam_flagged: 'yes'}\n", "exclude.spam_flagged", "true or false"),
    ("merge: {into: a@x.example}\n", "merge", "must be a list"),
    ("merge: [a@x.example]\n", "merge[0]", "must be a dict"),
    ("merge: [{into: 7, threads: [b@x.example]}]\n", "merge[0].into", "must name the thread"),
    ("merge: [{into: a@x.example, threads: []}]\n", "merge[0].threads", "at least one"),
    ("threads: [a@x.example]\n", "threads", "must be a mapping"),
    ("threads: {a@x.example: new subject}\n", "threads.a@x.example", "must be a mapping"),
    ("threads: {a@x.example: {subject: 7}}\n", "threads.a@x.example.subject", "non-empty"),
    ("threads: {a@x.example: {subject: '  '}}\n", "threads.a@x.example.subject", "non-empty"),
    ("threads: {a@x.example: {}}\n", "threads.a@x.example", "neither a subject nor"),
    ("threads: {a@x.example: {owner: b@x.example}}\n", "threads.a@x.example.owner",
     "unknown key"),
    # a requestor that is not an address RT could write to
    ("threads: {a@x.example: {requestor: mary}}\n", "threads.a@x.example.requestor",
     "'mary' is not an e-mail address"),
    ("threads: {a@x.example: {requestor: '@sblab.att.com'}}\n",
     "threads.a@x.example.requestor", "is not an e-mail address"),
    ("threads: {a@x.example: {requestor: [b@x.example]}}\n", "threads.a@x.example.requestor",
     "is not an e-mail address"),
    # contradictions
    ("merge: [{into: a@x.example, threads: [a@x.example]}]\n", "merge", "merged into itself"),
    ("merge: [{into: b@x.example, threads: [a@x.example]},"
     " {into: c@x.example, threads: [a@x.example]}]\n", "merge", "merged into both"),
    ("exclude: {threads: [a@x.example]}\nmerge: [{into: b@x.example, threads: [a@x.example]}]\n",
     "exclude.threads", "thread a@x.example is both excluded and merged"),
    ("exclude: {threads: [b@x.example]}\nmerge: [{into: b@x.example, threads: [a@x.example]}]\n",
     "exclude.threads", "thread b@x.example is both excluded and merged"),
    ("merge: [{into: b@x.example, threads: [a@x.example]}]\n"
     "threads: {a@x.example: {subject: New}}\n", "threads.a@x.example",
     "merged into b@x.example"),
    ("exclude: {threads: [a@x.example]}\nthreads: {a@x.example: {subject: New}}\n",
     "threads.a@x.example", "also excluded"),
    ("exclude: {messages: [m@x.example]}\nsplit: [m@x.example]\n", "split",
     "m@x.example is both split off and excluded"),
    ("exclude: {messages: ['<m@x.example>']}\nsplit: [m@x.example]\n", "split",
     "both split off and excluded"),
    # a key given twice: YAML would keep the second without a word
    ("exclude: {threads: [a@x.example]}\nexclude: {messages: [m@x.example]}\n", "exclude",
     "given twice"),
    ("threads:\n  a@x.example: {subject: One}\n  a@x.example: {subject: Two}\n",
     "threads.a@x.example", "given twice"),
    ("exclude: [a@x.example\n", None, "line 2"),
]


@pytest.mark.parametrize("text,key,reason", INVALID, ids=[c[1] or c[2] for c in INVALID])
def test_invalid_overrides_are_one_error_naming_the_file_and_the_key(tmp_path, capsys, text, key,
                                                                     reason):
    path = write_overrides(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        overrides.load(path)
    assert caught.value.path == path
    assert caught.value.key == key
    assert reason in caught.value.reason
    # Through the command line: exit 2, one line, before any mail is read or any store made.
    mbox = small_archive(tmp_path)
    code, out, err = cli(capsys, "dry-run", "--quiet", "--store", str(tmp_path / "s.sqlite"),
                         "--report", str(tmp_path / "r.json"), "--overrides", path, str(mbox))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("archive-import: error: ")
    assert path in err and reason in err
    if key:
        assert f"{path}: {key}:" in err
    assert out == ""
    assert not (tmp_path / "r.json").exists()
    assert not (tmp_path / "s.sqlite").exists()


@pytest.mark.parametrize("pairs", [
    [("a@x.example", "b@x.example"), ("b@x.example", "a@x.example")],
    [("a@x.example", "b@x.example"), ("b@x.example", "c@x.example"),
     ("c@x.example", "a@x.example")],
    # a loop that a chain leads into: d -> a -> b -> c -> a
    [("d@x.example", "a@x.example"), ("a@x.example", "b@x.example"),
     ("b@x.example", "c@x.example"), ("c@x.example", "a@x.example")],
], ids=["two", "three", "chain-into-loop"])
def test_merge_loops_are_refused_and_named(tmp_path, pairs):
    text = "merge:\n" + "".join(f"  - {{into: {into}, threads: [{source}]}}\n"
                                for source, into in pairs)
    path = write_overrides(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        overrides.load(path)
    assert caught.value.key == "merge"
    m = re.search(r"the merges make a loop: (.*)$", caught.value.reason)
    assert m, caught.value.reason
    cycle = m.group(1).split(" -> ")
    assert cycle[0] == cycle[-1]
    looping = {s for s, _ in pairs if s != "d@x.example"}
    assert set(cycle) == looping and len(cycle) == len(looping) + 1
    for step, nxt in zip(cycle, cycle[1:]):      # each arrow is one of the file's merges
        assert (step, nxt) in pairs


def test_merge_chains_without_a_loop_are_accepted(tmp_path):
    path = write_overrides(tmp_path, "merge:\n  - {into: b@x.example, threads: [a@x.example]}\n"
                                     "  - {into: c@x.example, threads: [b@x.example]}\n")
    ov = overrides.load(path)
    assert set(ov.merge) == {("a@x.example", "b@x.example"), ("b@x.example", "c@x.example")}


def test_an_empty_overrides_file_changes_nothing(tmp_path, capsys):
    mbox = small_archive(tmp_path)
    _, plain, _ = import_(capsys, tmp_path, [mbox])
    code, rep, err = import_(capsys, tmp_path, [mbox], write_overrides(tmp_path, "# nothing\n"))
    assert code == 0, err
    assert rep["threads"] == plain["threads"] and rep["excluded"] == []


# -- mistakes found once the threads are known ------------------------------------------

@pytest.mark.parametrize("text,key,named", [
    ("exclude: {threads: [nobody@x.example]}\n", "exclude.threads", "nobody@x.example"),
    ("merge: [{into: a1@example.net, threads: [nobody@x.example]}]\n", "merge",
     "nobody@x.example"),
    ("merge: [{into: nobody@x.example, threads: [a1@example.net]}]\n", "merge",
     "nobody@x.example"),
    ("threads: {nobody@x.example: {subject: New}}\n", "threads", "nobody@x.example"),
    ("exclude: {messages: [nobody@x.example]}\n", "exclude.messages", "nobody@x.example"),
    ("split: [nobody@x.example]\n", "split", "nobody@x.example"),
    ("split: ['sha256:0123456789abcdef']\n", "split", "sha256:0123456789abcdef"),
    # a message's id is no thread's id
    ("exclude: {threads: [a2@example.net]}\n", "exclude.threads", "a2@example.net"),
])
def test_unknown_ids_stop_the_dry_run_with_one_line_naming_them(tmp_path, capsys, text, key,
                                                                  named):
    mbox = small_archive(tmp_path)
    path = write_overrides(tmp_path, text)
    code, rep, err = import_(capsys, tmp_path, [mbox], path)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("archive-import: error: ")
    assert f"{path}: {key}: " in err
    assert named in err
    assert "no thread with the id" in err or "no message with the id" in err


@pytest.mark.parametrize("text", [
    "exclude: {threads: [nobody@x.example]}\n",
    "exclude: {messages: [nobody@x.example]}\n",
    "split: [nobody@x.example]\n",
    "threads: {a1@example.net: {subject: New}, nobody@x.example: {subject: New}}\n",
])
def test_unknown_ids_stop_a_run_before_any_ticket_or_ledger_row(tmp_path, capsys, text):
    mbox = small_archive(tmp_path)
    store = tmp_path / "store.sqlite"
    code, _, err = import_(capsys, tmp_path, [mbox], write_overrides(tmp_path, text),
                           command="run")
    assert code == 2 and "nobody@x.example" in err and err.count("\n") == 1
    conn = sqlite3.connect(store)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    for table in ("tickets", "entries", "ledger_threads", "ledger_messages", "ledger_sources"):
        if table in tables:
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    # The same command with the mistake mended then imports everything.
    code, rep, err = import_(capsys, tmp_path, [mbox], command="run")
    assert code == 0, err
    assert conn.execute("SELECT count(*) FROM tickets").fetchone()[0] == rep["summary"]["threads"]


def test_an_imposters_shared_message_id_is_ambiguous_and_the_reports_sha256_ref_is_not(
        tmp_path, capsys):
    mbox = FIXTURES / "imposter-same-message-id.mbox"
    code, plain, err = import_(capsys, tmp_path, [mbox])
    assert code == 0, err
    imposters = [m for t in plain["threads"] for m in t["messages"]
                 if m["message_id"] == IMPOSTER_ID]
    assert len(imposters) == 2 and len({m["sha256"] for m in imposters}) == 2
    for m in imposters:
        assert m["imposter"] and m["ref"].startswith("sha256:")
        assert m["sha256"].startswith(m["ref"][len("sha256:"):])

    code, rep, err = import_(capsys, tmp_path, [mbox], write_overrides(
        tmp_path, f"exclude: {{messages: [{IMPOSTER_ID}]}}\n"))
    assert code == 2 and err.count("\n") == 1
    assert "exclude.messages" in err and IMPOSTER_ID in err and "sha256:" in err

    chosen, other = imposters
    code, rep, err = import_(capsys, tmp_path, [mbox], write_overrides(
        tmp_path, f"exclude: {{messages: ['{chosen['ref']}']}}\n"))
    assert code == 0, err
    assert [(e["sha256"], e["reason"]) for e in rep["excluded"]] == [
        (chosen["sha256"], "excluded message")]
    left = [m for t in rep["threads"] for m in t["messages"]]
    assert [m["sha256"] for m in left] == [other["sha256"]]
    assert_accounts(rep)


def test_splitting_a_message_that_starts_its_thread_is_an_error(tmp_path, capsys):
    mbox = small_archive(tmp_path)
    path = write_overrides(tmp_path, "split: [a1@example.net]\n")
    code, _, err = import_(capsys, tmp_path, [mbox], path)
    assert code == 2 and err.count("\n") == 1
    assert f"{path}: split: " in err and "a1@example.net already starts thread" in err


# -- what each instruction does ------------------------------------------------------

def test_exclude_threads_leaves_out_the_thread_and_lists_its_messages(tmp_path, capsys):
    mbox = small_archive(tmp_path)
    _, plain, _ = import_(capsys, tmp_path, [mbox])
    code, rep, err = import_(capsys, tmp_path, [mbox], write_overrides(
        tmp_path, "exclude:\n  threads: [a1@example.net]\n"))
    assert code == 0, err
    assert [t["id"] for t in rep["threads"]] == [t["id"] for t in plain["threads"]
                                                 if t["id"] != "a1@example.net"]
    assert sorted((e["message_id"], e["reason"], e["thread"]) for e in rep["excluded"]) == [
        (f"a{i}@example.net", "excluded thread", "a1@example.net") for i in (1, 2, 3)]
    by_id = {m["message_id"]: m for m in thread(plain, "a1@example.net")["messages"]}
    for e in rep["excluded"]:
        assert e["sha256"] == by_id[e["message_id"]]["sha256"]
        assert e["source"] == by_id[e["message_id"]]["source"]
    assert rep["summary"]["excluded"] == 3
    assert rep["summary"]["threads"] == plain["summary"]["threads"] - 1
    assert_accounts(rep)
    assert rep["meta"]["overrides"]["sha256"]


def test_exclude_messages_leaves_out_one_message_and_its_replies_hang_from_a_ghost(
        tmp_path, capsys):
    mbox = small_archive(tmp_path)
    code, rep, err = import_(capsys, tmp_path, [mbox], write_overrides(
        tmp_path, "exclude:\n  messages: ['<a2@example.net>']\n"))
    assert code == 0, err
    assert [(e["message_id"], e["reason"], e["thread"]) for e in rep["excluded"]] == [
        ("a2@example.net", "excluded message", None)]
    t = thread(rep, "a1@example.net")
    assert ids(t) == ["a1@example.net", "a3@example.net"]
    a3 = t["messages"][1]
    assert a3["parent_id"] == "a2@example.net"
    # a placeholder for the excluded message (not a missing one): marked "excluded"
    assert {"message_id": "a2@example.net", "parent_id": "a1@example.net",
            "excluded": True} in t["ghosts"]
    assert "a2@example.net" not in {m["message_id"] for t in rep["threads"]
                                    for m in t["messages"]}
    assert_accounts(rep)


def test_exclude_messages_on_the_fixtures_keeps_the_rest_of_the_chain(tmp_path, capsys):
    code, rep, err = import_(capsys, tmp_path, [FIXTURES / "broken-references.mbox"],
                             write_overrides(tmp_path, f"exclude: {{messages: [{PRINTER_3}]}}\n"))
    assert code == 0, err
    t = thread(rep, PRINTER)
    assert PRINTER_3 not in ids(t) and PRINTER_4 in ids(t)
    assert next(m for m in t["messages"] if m["message_id"] == PRINTER_4)["parent_id"] == PRINTER_3
    assert [g["message_id"] for g in t["ghosts"]] == [PRINTER_3]
    assert_tree_order(t)
    assert_accounts(rep)


SPAM_HEADERS = {
    "flag@example.net": "X-Spam-Flag: YES\n",
    "status@example.net": "X-Spam-Status: Yes, score=7.1 required=5.0 tests=BAYES_99\n",
    "lower@example.net": "X-Spam-Flag: yes\n",
    "ham@example.net": "X-Spam-Status: No, score=-0.1 required=5.0 tests=ALL_TRUSTED\n",
    "clean@example.net": "",
    "mentions@example.net": "X-Spam-Report: the word Yes, score=7 appears here\n",
}


def spam_archive(tmp_path: Path) -> Path:
    return write_mbox(tmp_path / "spam.mbox", [
        mail(mid, f"Offer {i}", day=i + 1, sender=f"s{i}@example.com", headers=headers)
        for i, (mid, headers) in enumerate(SPAM_HEADERS.items())])


def test_exclude_spam_flagged_leaves_out_only_what_a_filter_marked_yes(tmp_path, capsys):
    mbox = spam_archive(tmp_path)
    code, plain, err = import_(capsys, tmp_path, [mbox])
    assert code == 0, err
    flagged = {m["message_id"] for t in plain["threads"] for m in t["messages"] if m["spam"]}
    assert flagged == {"flag@example.net", "status@example.net", "lower@example.net"}
    assert plain["excluded"] == []            # flagged is shown, not excluded, until asked

    code, rep, err = import_(capsys, tmp_path, [mbox], write_overrides(
        tmp_path, "exclude: {spam_flagged: true}\n"))
    assert code == 0, err
    assert sorted((e["message_id"], e["reason"]) for e in rep["excluded"]) == sorted(
        (mid, "spam-flagged") for mid in flagged)
    kept = {m["message_id"] for t in rep["threads"] for m in t["messages"]}
    assert kept == {"ham@example.net", "clean@example.net", "mentions@example.net"}
    assert rep["summary"]["excluded"] == 3
    assert_accounts(rep)

    code, rep, err = import_(capsys, tmp_path, [mbox], write_overrides(
        tmp_path, "exclude: {spam_flagged: false}\n"))
    assert code == 0 and rep["excluded"] == []


def test_split_makes_a_subject_joined_message_and_its_replies_a_thread_of_their_own(
        plain_fixtures_report, tmp_path, capsys):
    before = thread(plain_fixtures_report, BANDSAW)
    joined = next(m for m in before["messages"] if m["message_id"] == BANDSAW_BY_SUBJECT)
    assert joined["link"] == "subject"
    code, rep, err = import_(capsys, tmp_path, [FIXTURES], write_overrides(
        tmp_path, f"split: [{BANDSAW_BY_SUBJECT}]\n"))
    assert code == 0, err
    assert ids(thread(rep, BANDSAW)) == [BANDSAW]
    new = thread(rep, BANDSAW_BY_SUBJECT)
    assert ids(new) == [BANDSAW_BY_SUBJECT, BANDSAW_REPLY]
    assert new["messages"][0]["parent_id"] is None and new["messages"][0]["link"] == "root"
    assert new["messages"][1]["parent_id"] == BANDSAW_BY_SUBJECT
    assert new["subject"] == joined["subject"]
    assert new["requestors"] and new["requestors"] != [] and new["first_date"]
    assert rep["summary"]["threads"] == plain_fixtures_report["summary"]["threads"] + 1
    assert rep["excluded"] == []
    assert_accounts(rep)


def test_split_of_a_message_and_of_its_reply_makes_a_thread_of_each(plain_fixtures_report,
                                                                     tmp_path, capsys):
    code, rep, err = import_(capsys, tmp_path, [FIXTURES], write_overrides(
        tmp_path, f"split: [{BANDSAW_REPLY}, {BANDSAW_BY_SUBJECT}]\n"))
    assert code == 0, err
    assert ids(thread(rep, BANDSAW)) == [BANDSAW]
    assert ids(thread(rep, BANDSAW_BY_SUBJECT)) == [BANDSAW_BY_SUBJECT]
    reply = thread(rep, BANDSAW_REPLY)
    assert ids(reply) == [BANDSAW_REPLY] and reply["messages"][0]["parent_id"] is None
    assert rep["summary"]["threads"] == plain_fixtures_report["summary"]["threads"] + 2
    assert_accounts(rep)


def test_merge_joins_threads_under_the_targets_id_in_tree_order(plain_fixtures_report,
                                                                tmp_path, capsys):
    into, source = thread(plain_fixtures_report, QUESTION_1), thread(plain_fixtures_report,
                                                                     QUESTION_2)
    code, rep, err = import_(capsys, tmp_path, [FIXTURES], write_overrides(
        tmp_path, f"merge:\n  - into: {QUESTION_1}\n    threads: [{QUESTION_2}]\n"))
    assert code == 0, err
    assert QUESTION_2 not in {t["id"] for t in rep["threads"]}
    merged = thread(rep, QUESTION_1)
    assert sorted(ids(merged)) == sorted(ids(into) + ids(source))
    assert ids(merged)[0] == QUESTION_1
    moved_root = next(m for m in merged["messages"] if m["message_id"] == QUESTION_2)
    assert moved_root["link"] == "override" and moved_root["parent_id"] == QUESTION_1
    # the other messages keep their links and parents
    for m in source["messages"][1:] + into["messages"]:
        again = next(x for x in merged["messages"] if x["message_id"] == m["message_id"])
        assert (again["link"], again["parent_id"]) == (m["link"], m["parent_id"])
    assert_tree_order(merged)
    assert merged["subject"] == into["subject"]
    assert merged["first_date"] == into["first_date"] and merged["last_date"] == source["last_date"]
    assert rep["summary"]["threads"] == plain_fixtures_report["summary"]["threads"] - 1
    assert_accounts(rep)


def test_merge_chain_ends_in_the_last_target(plain_fixtures_report, tmp_path, capsys):
    code, rep, err = import_(capsys, tmp_path, [FIXTURES], write_overrides(tmp_path, (
        f"merge:\n  - {{into: {QUESTION_1}, threads: [{QUESTION_2}]}}\n"
        f"  - {{into: {QUESTION_2}, threads: [{DUST}]}}\n")))
    assert code == 0, err
    merged = thread(rep, QUESTION_1)
    assert {QUESTION_2, DUST} <= set(ids(merged))
    assert next(m for m in merged["messages"] if m["message_id"] == DUST)["link"] == "override"
    assert_tree_order(merged)
    assert rep["summary"]["threads"] == plain_fixtures_report["summary"]["threads"] - 2
    assert_accounts(rep)


def test_thread_edits_change_subject_and_requestor(tmp_path, capsys):
    mbox = small_archive(tmp_path)
    _, plain, _ = import_(capsys, tmp_path, [mbox])
    assert thread(plain, "b1@example.net")["requestors"] == ["dave@example.com"]
    code, rep, err = import_(capsys, tmp_path, [mbox], write_overrides(tmp_path, (
        "threads:\n"
        "  a1@example.net: {subject: 'The printer, again'}\n"
        "  b1@example.net: {requestor: Accounts@Example.COM}\n"
        "  c1@example.net: {subject: 'Lunch', requestor: frank@example.com}\n")))
    assert code == 0, err
    a, b, c = (thread(rep, f"{x}1@example.net") for x in "abc")
    assert (a["subject"], a["requestors"]) == ("The printer, again",
                                                thread(plain, "a1@example.net")["requestors"])
    assert (b["subject"], b["requestors"]) == ("Invoice 42", ["accounts@example.com"])
    assert (c["subject"], c["requestors"]) == ("Lunch", ["frank@example.com"])
    for t in (a, b, c):     # the messages themselves are untouched
        assert t["messages"] == thread(plain, t["id"])["messages"]


def test_a_split_off_thread_can_be_edited_by_its_new_id(tmp_path, capsys):
    code, rep, err = import_(capsys, tmp_path, [FIXTURES / "zmail-replies-to-one-person.mbox"],
                             write_overrides(tmp_path, (
                                 f"split: [{BANDSAW_BY_SUBJECT}]\n"
                                 f"threads: {{{BANDSAW_BY_SUBJECT}: {{subject: Split off}}}}\n")))
    assert code == 0, err
    assert thread(rep, BANDSAW_BY_SUBJECT)["subject"] == "Split off"


# -- the point: the dry run shows exactly what `run` then creates ----------------------

def every_instruction(tmp_path: Path, plain: dict) -> str:
    """An overrides file using every kind of instruction at once on the fixtures (and on a
    few spam-flagged messages next to them)."""
    imposter = next(m for t in plain["threads"] for m in t["messages"]
                    if m["message_id"] == IMPOSTER_ID)
    return write_overrides(tmp_path, f"""\
exclude:
  spam_flagged: true
  threads: [{GLUE_GUN}]
  messages: [{PRINTER_3}, "{imposter['ref']}"]
split: [{BANDSAW_BY_SUBJECT}]
merge:
  - {{into: {QUESTION_1}, threads: [{QUESTION_2}]}}
  - {{into: {QUESTION_2}, threads: [{DUST}]}}
threads:
  {QUESTION_1}: {{subject: "Two questions, one ticket", requestor: Someone@Example.com}}
  {BANDSAW_BY_SUBJECT}: {{subject: "Blade tension (split off)"}}
  {PRINTER}: {{requestor: printers@example.com}}
""")


def shown(rep: dict) -> list[tuple]:
    return [(t["id"], t["subject"], t["requestors"],
             [(m["message_id"], m["parent_id"], m["link"], m["sha256"]) for m in t["messages"]])
            for t in rep["threads"]]


def test_run_creates_exactly_what_the_dry_run_with_the_same_overrides_showed(
        plain_fixtures_report, tmp_path, capsys):
    spam = spam_archive(tmp_path)
    sources = [FIXTURES, spam]
    ov = every_instruction(tmp_path, plain_fixtures_report)
    code, dry, err = import_(capsys, tmp_path, sources, ov, report="dry.json")
    assert code == 0, err
    # Every instruction took effect (else the comparison below proves little).
    reasons = sorted(e["reason"] for e in dry["excluded"])
    assert reasons == ["excluded message"] * 2 + ["excluded thread"] + ["spam-flagged"] * 3
    assert thread(dry, BANDSAW_BY_SUBJECT)["subject"] == "Blade tension (split off)"
    q = thread(dry, QUESTION_1)
    assert (q["subject"], q["requestors"]) == ("Two questions, one ticket", ["someone@example.com"])
    assert {QUESTION_2, DUST} <= set(ids(q))
    assert thread(dry, PRINTER)["requestors"] == ["printers@example.com"]
    assert PRINTER_3 not in ids(thread(dry, PRINTER))
    assert all(t["ticket"] is None for t in dry["threads"])
    assert_accounts(dry)

    store = tmp_path / "store.sqlite"
    code, ran, err = import_(capsys, tmp_path, sources, ov, command="run", report="run.json")
    assert code == 0, err
    assert shown(ran) == shown(dry)
    assert ran["summary"] == dry["summary"]
    assert ran["excluded"] == dry["excluded"]
    assert ran["meta"]["overrides"] == dry["meta"]["overrides"]
    assert ran["meta"]["config"] == dry["meta"]["config"]

    conn = sqlite3.connect(store)
    tickets = {tid: (num, subject, json.loads(req)) for num, tid, subject, req in conn.execute(
        "SELECT id, thread_id, subject, requestors FROM tickets")}
    entries: dict[int, list] = {}
    for num, mid, sha in conn.execute(
            "SELECT ticket_id, message_id, sha256 FROM entries ORDER BY ticket_id, position"):
        entries.setdefault(num, []).append((mid, sha))
    in_store = {tid: (subject, req, entries.get(num, []))
                for tid, (num, subject, req) in tickets.items()}
    in_dry = {t["id"]: (t["subject"], t["requestors"],
                        [(m["message_id"], m["sha256"]) for m in t["messages"]])
              for t in dry["threads"]}
    assert in_store == in_dry
    for t in ran["threads"]:
        assert t["ticket"] == {"backend": "local", "id": str(tickets[t["id"]][0])}
    gone = {e["sha256"] for e in dry["excluded"]}
    assert not gone & {sha for rows in entries.values() for _, sha in rows}

    # Running it again changes nothing.
    code, again, err = import_(capsys, tmp_path, sources, ov, command="run", report="again.json")
    assert code == 0, err
    assert shown(again) == shown(dry)
    assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == sum(
        len(t["messages"]) for t in dry["threads"])


def test_thread_ids_from_the_plain_report_stay_valid_when_messages_are_excluded(
        plain_fixtures_report, tmp_path, capsys):
    first, second = [t for t in plain_fixtures_report["threads"]
                     if t["messages"][0]["message_id"] == IMPOSTER_ID]
    code, rep, err = import_(capsys, tmp_path, [FIXTURES], write_overrides(tmp_path, (
        f"exclude: {{messages: ['{first['messages'][0]['ref']}']}}\n"
        f"threads: {{'{second['id']}': {{subject: Soldering irons}}}}\n")))
    assert code == 0, err


@pytest.mark.parametrize("how", ["exclude: {spam_flagged: true, threads: [s1@example.net]}\n",
                                 "exclude: {messages: [s1@example.net],"
                                 " threads: [s1@example.net]}\n"])
def test_excluding_a_thread_that_is_also_excluded_message_by_message_is_no_error(
        tmp_path, capsys, how):
    mbox = write_mbox(tmp_path / "a.mbox", [
        mail("s1@example.net", "You won", headers="X-Spam-Flag: YES\n"),
        mail("h1@example.net", "Printer on fire", day=2)])
    code, rep, err = import_(capsys, tmp_path, [mbox], write_overrides(tmp_path, how))
    assert code == 0, err
    assert [e["message_id"] for e in rep["excluded"]] == ["s1@example.net"]
    assert_accounts(rep)


# -- property: whatever is excluded, everything is accounted for ------------------------

@st.composite
def archives(draw):
    n = draw(st.integers(2, 9))
    parents = [None] + [draw(st.none() | st.integers(0, i - 1)) for i in range(1, n)]
    spam = [draw(st.booleans()) for _ in range(n)]
    msgs = []
    for i, parent in enumerate(parents):
        root = i
        while parents[root] is not None:
            root = parents[root]
        msgs.append(mail(f"p{i}@example.net", ("Re: " if parent is not None else "")
                         + f"Topic {root}", day=i + 1, sender=f"u{i % 3}@example.com",
                         reply_to=f"p{parent}@example.net" if parent is not None else None,
                         headers="X-Spam-Flag: YES\n" if spam[i] else ""))
    copies = draw(st.lists(st.integers(0, n - 1), max_size=2))   # duplicates, too
    return msgs + [msgs[i] for i in copies]


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(msgs=archives(), data=st.data())
def test_any_exclusions_keep_the_accounts_balanced_and_the_run_succeeds(msgs, data):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        mbox = write_mbox(tmp / "a.mbox", msgs)

        def go(command: str, ov: str | None, report: str):
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = main([command, "--quiet", "--config", CONFIG, "--store",
                             str(tmp / "s.sqlite"), "--report", str(tmp / report),
                             *(["--overrides", ov] if ov else []), str(mbox)])
            assert code == 0, err.getvalue()
            return json.loads((tmp / report).read_text(encoding="utf-8"))

        plain = go("dry-run", None, "plain.json")
        spam = data.draw(st.booleans(), "spam_flagged")
        refs = [m["ref"] for t in plain["threads"] for m in t["messages"]]
        gone_msgs = data.draw(st.lists(st.sampled_from(refs), unique=True), "messages")
        # Any thread of the plain report may be named: ids do not depend on the overrides.
        threads = [t["id"] for t in plain["threads"]]
        gone_threads = data.draw(st.lists(st.sampled_from(threads), unique=True) if threads
                                 else st.just([]), "threads")
        ov = tmp / "review.yaml"
        ov.write_text(yaml.safe_dump({"exclude": {"threads": gone_threads,
                                                  "messages": gone_msgs,
                                                  "spam_flagged": spam}}), encoding="utf-8")
        dry = go("dry-run", str(ov), "dry.json")
        ran = go("run", str(ov), "run.json")
        assert shown(ran) == shown(dry)
        for rep in (dry, ran):
            assert_accounts(rep)
            excluded = {(e["reason"], e["message_id"]) for e in rep["excluded"]}
            for tid in gone_threads:
                assert tid not in {t["id"] for t in rep["threads"]}
            named = {m["message_id"] for t in plain["threads"] for m in t["messages"]
                     if m["ref"] in gone_msgs}
            # A named message in an excluded thread goes with its thread.
            in_gone = {m["message_id"] for t in plain["threads"] if t["id"] in gone_threads
                       for m in t["messages"]}
            assert {("excluded message", mid) for mid in named - in_gone} <= excluded
            assert {("excluded thread", mid) for mid in in_gone} <= excluded
            placed = [m for t in rep["threads"] for m in t["messages"]]
            assert not {m["message_id"] for m in placed} & named
            if spam:
                assert not any(m["spam"] for m in placed)
        conn = sqlite3.connect(tmp / "s.sqlite")
        try:
            assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == len(
                [m for t in ran["threads"] for m in t["messages"]])
        finally:
            conn.close()


# -- the report's copy-ready YAML -----------------------------------------------------------

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)))


@settings(max_examples=500, deadline=None)
@given(TEXT)
def test_yaml_str_reads_back_as_exactly_the_text(text):
    scalar = yaml_str(text)
    assert yaml.safe_load(scalar) == text
    assert yaml.safe_load(f"key: {scalar}\n") == {"key": text}
    assert yaml.safe_load(f"{{{scalar}: [{scalar}]}}") == {text: [text]}


HOSTILE = ['a}: {b: [c, "d\'#', "x\n  threads: {evil: {}}", "# not a comment", "&anchor *alias",
           "\u2028\u2029\x85\x9f\x7f", "\\\"'\\", "- list\n- item", "!!python/object:os.system",
           "  spaced  ", "\ufeffbom", "tab\there", "\x00\x1b", "Ω≈ç√∫ 😀", "", "null", "~",
           "yes", "0x1F", "1e3"]
ADDRESS = st.from_regex(r"[a-z0-9._%+-]{1,20}@[a-z0-9]{1,10}\.(com|org|net)", fullmatch=True)


def check_snippet(tid: str, subject: str, requestor: str | None) -> None:
    t = {"id": tid, "subject": subject, "requestors": [requestor] if requestor else []}
    parsed = yaml.safe_load(snippet(t))
    # An empty subject and no requestor are left out: the overrides file takes neither.
    edit = {**({"subject": subject} if subject.strip() else {}),
            **({"requestor": requestor} if requestor else {})}
    assert parsed.get("threads") == ({tid: edit} if edit else None)
    assert parsed["exclude"] == {"threads": [tid]}
    if "merge" in parsed:
        assert [m["threads"] for m in parsed["merge"]] == [[tid]]


def section(text: str, key: str) -> str:
    """The lines of one top-level key of a YAML text (what a reviewer copies of it)."""
    out, inside = [], False
    for line in text.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            inside = line.startswith(key + ":")
        if inside:
            out.append(line)
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("hostile", HOSTILE)
def test_snippet_of_a_hostile_thread_parses_into_the_intended_structure(hostile):
    check_snippet(hostile, hostile, "carol@example.net")
    check_snippet("ok@example.net", hostile, None)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=150),
       TEXT, ADDRESS)
def test_snippet_parses_into_the_intended_structure(tid, subject, requestor):
    check_snippet(tid, subject, requestor)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.from_regex(r"[!-~]{1,40}@[a-z]{1,10}\.example", fullmatch=True).filter(
           lambda s: s.strip() == s and "<" not in s and ">" not in s),
       TEXT.filter(lambda s: s.strip()), ADDRESS)
def test_the_snippets_threads_line_is_an_overrides_file_the_loader_takes(tid, subject, requestor):
    text = section(snippet({"id": tid, "subject": subject, "requestors": [requestor]}),
                   "threads")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, encoding="utf-8") as fp:
        fp.write(text)
    try:
        ov = overrides.load(fp.name)
    finally:
        os.unlink(fp.name)
    assert ov.edits == ((tid, subject, requestor.lower()),)


def test_the_readmes_review_walkthrough_applies_exactly_what_its_dry_run_showed(tmp_path, capsys):
    """README "Review, then apply", on the shipped fixtures with docs/review-example.yaml:
    the figures it quotes, and the run creates what the dry run showed, ticket by ticket."""
    example = Path(__file__).resolve().parents[1] / "docs" / "review-example.yaml"
    store = tmp_path / "review.sqlite"

    def go(command: str, report: str) -> dict:
        code = main([command, "--quiet", "--config", CONFIG, "--store", str(store), "--report",
                     str(tmp_path / report), "--overrides", str(example), str(FIXTURES)])
        assert code == 0, capsys.readouterr().err
        return json.loads((tmp_path / report).read_text(encoding="utf-8"))

    dry, ran = go("dry-run", "dry.json"), go("run", "run.json")
    s = dry["summary"]
    assert (s["messages_read"], s["duplicates"], s["quarantined"], s["excluded"],
            s["threads"]) == (325, 11, 2, 1, 52)
    shape = lambda rep: [(t["id"], t["subject"], t["requestors"], [  # noqa: E731
        (m["message_id"], m["parent_id"], m["link"]) for m in t["messages"]])
        for t in rep["threads"]]
    assert shape(ran) == shape(dry)
    conn = sqlite3.connect(store)
    tickets = {tid: (subject, requestors) for tid, subject, requestors in conn.execute(
        "SELECT thread_id, subject, requestors FROM tickets")}
    conn.close()
    assert len(tickets) == 52
    for t in dry["threads"]:
        assert tickets[t["id"]][0] == t["subject"]
    assert tickets["20190603101500.bcb9719c@mail.example.com"][0] == \
        "Parking near the workshop on Saturdays"
