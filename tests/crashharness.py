"""A crash harness: SIGKILL `archive-import run` at random moments, run it again, and check
every invariant against one uninterrupted run (used by tests/test_crash_harness.py and, for
any number of kills, by benchmarks/crash_harness.py)."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "fixtures")


def make_archive(folder: str, generated: int = 400) -> str:
    """The help desk, a few hard cases and a generated mbox with attachments."""
    src = os.path.join(folder, "src")
    shutil.copytree(os.path.join(FIXTURES, "helpdesk"), os.path.join(src, "helpdesk"))
    for name in ("encoded-words-many-charsets.eml", "garbage-not-mail.mbox",
                 "compressed.mbox.gz"):
        shutil.copy(os.path.join(FIXTURES, name), src)
    with open(os.path.join(src, "generated.mbox"), "wb") as fp:
        for i in range(generated):
            reply = (f"In-Reply-To: <g{i - 1}@example.net>\n" if i % 4 else "")
            fp.write((f"From c{i % 13}@example.net Sun Feb 16 10:00:00 2014\n"
                      f"From: c{i % 13}@example.net\nTo: hello@example.org\n"
                      f"Subject: {'Re: ' if i % 4 else ''}Order {i // 4}\n"
                      f"Message-ID: <g{i}@example.net>\n{reply}"
                      f"Date: Sun, 16 Feb 2014 {10 + i % 12}:{i % 60:02d}:00 +0000\n"
                      "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"B\"\n\n"
                      f"--B\nContent-Type: text/plain\n\nMessage {i}\n--B\n"
                      "Content-Type: application/octet-stream\nContent-Disposition: attachment;"
                      f" filename=\"f{i}.bin\"\nContent-Transfer-Encoding: base64\n\n"
                      "AAECAwQFBgcICQ==\n--B--\n\n").encode())
    return src


def command(src: str, store: str) -> list[str]:
    return [sys.executable, "-m", "importer", "run", "--quiet", "--config",
            os.path.join(FIXTURES, "helpdesk.yaml"), "--store", store, "--report",
            store + ".json", src]


def dump(store: str) -> dict:
    """Everything a run leaves in the store, without row ids or times."""
    c = sqlite3.connect(store)
    sha = lambda b: hashlib.sha256(b).hexdigest()      # noqa: E731
    out = {
        "tickets": sorted(c.execute("SELECT thread_id, queue, subject, status, requestors,"
                                    " created, resolved FROM tickets")),
        "entries": sorted((t, p, m, a, r, d, s, b, h, x, sha(raw)) for t, p, m, a, r, d, s, b, h, x, raw
                          in c.execute("SELECT t.thread_id, e.position, e.message_id, e.author,"
                                       " e.recipients, e.date, e.subject, e.body, e.html,"
                                       " e.sha256, e.raw FROM entries e JOIN tickets t"
                                       " ON t.id = e.ticket_id")),
        "attachments": sorted((e, p, n, t, sz, sha(d)) for e, p, n, t, sz, d in c.execute(
            "SELECT e.sha256, a.position, a.filename, a.content_type, a.size, a.data"
            " FROM attachments a JOIN entries e ON e.id = a.entry_id")),
        "threads": sorted(c.execute("SELECT thread_id, state, finished FROM ledger_threads")),
        "messages": sorted(c.execute("SELECT message_key, message_id, thread_id, state"
                                     " FROM ledger_messages")),
        "quarantine": sorted(c.execute("SELECT sha256, path, idx, reason, raw FROM quarantine")),
    }
    c.close()
    return out


def violations(got: dict, clean: dict) -> list[str]:
    """What differs from the uninterrupted run, by invariant."""
    bad = []
    for key in clean:
        if got[key] != clean[key]:
            extra = len(set(got[key]) - set(clean[key]))
            missing = len(set(clean[key]) - set(got[key]))
            bad.append(f"{key}: {missing} missing, {extra} extra")
    entries = [e[0] for e in got["entries"]]
    if len(set((e[0], e[1]) for e in got["entries"])) != len(entries):
        bad.append("a message twice in one ticket")
    return bad


@dataclass
class Outcome:
    kills: int = 0                  # runs SIGKILLed while running
    finished_first: int = 0         # runs that ended before the kill landed
    violations: list = field(default_factory=list)
    clean_seconds: float = 0.0


def run(folder: str, kills: int, seed: int = 1, max_tries: int | None = None) -> Outcome:
    """Kill `kills` runs at random moments (and some twice), rerun each, compare."""
    rng = random.Random(seed)
    src = make_archive(folder)
    clean_store = os.path.join(folder, "clean.sqlite")
    start = time.monotonic()
    subprocess.run(command(src, clean_store), check=True, cwd=ROOT, capture_output=True)
    outcome = Outcome(clean_seconds=time.monotonic() - start)
    clean = dump(clean_store)
    tries = 0
    while outcome.kills < kills and tries < (max_tries or kills * 3):
        tries += 1
        store = os.path.join(folder, f"killed-{tries}.sqlite")
        for _ in range(1 + (tries % 5 == 0)):          # every fifth store is killed twice
            child = subprocess.Popen(command(src, store), cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.05, 0.95) * outcome.clean_seconds)
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
                outcome.kills += 1
            else:
                outcome.finished_first += 1
            child.wait()
        rerun = subprocess.run(command(src, store), cwd=ROOT, capture_output=True, text=True)
        if rerun.returncode != 0:
            outcome.violations.append(f"try {tries}: rerun exit {rerun.returncode}: "
                                      f"{rerun.stderr.strip()[-300:]}")
            continue
        outcome.violations += [f"try {tries}: {v}" for v in violations(dump(store), clean)]
        for suffix in ("", "-wal", "-shm", ".json", ".lock"):
            if os.path.exists(store + suffix):
                os.unlink(store + suffix)
    return outcome
