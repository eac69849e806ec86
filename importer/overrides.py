"""The reviewer's corrections (`--overrides review.yaml`): read, checked, applied.

A person reads the dry run's report, finds a spam thread or two conversations joined
only because their subjects matched, and writes them down; the dry run with the same
file shows the result, and `run` with it creates exactly that. The file (README
"Review, then apply"):

    exclude:
      spam_flagged: true          # X-Spam-Flag: YES, X-Spam-Status: Yes (mail/headers.py)
      threads: [THREAD, ...]      # every message of these threads
      messages: [MESSAGE, ...]    # these messages only (replies to them stay)
    split: [MESSAGE, ...]         # this message and its replies become a thread of their own
    merge:
      - {into: THREAD, threads: [THREAD, ...]}
    threads:
      THREAD: {subject: TEXT, requestor: ADDRESS}

THREAD is a thread's `id` in the report; MESSAGE a message's `ref` there: its Message-ID,
or `sha256:` and the first hex digits (12 or more) of its bytes where the id is shared
(imposters). What can be checked without the mail (shape, contradictions, merge loops)
is checked before anything is read; unknown ids once the threads are known, before
anything is written. Everything is applied after threading, so every id is the one the
report without overrides shows. Excluded messages are counted and listed like duplicates.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace

from importer.config import StaffCfg, read_yaml
from importer.errors import ConfigError
from importer.plan import is_address, regroup
from importer.records import (Excluded, Ghost, Link, MessageRecord, PlacedMessage,
                              ThreadPlan)

KEYS = ("exclude", "split", "merge", "threads")
_SHA = re.compile(r"sha256:([0-9a-f]{12,64})")


@dataclass(frozen=True)
class Overrides:
    path: str = ""
    spam_flagged: bool = False
    exclude_threads: tuple[str, ...] = ()
    exclude_messages: tuple[str, ...] = ()
    split: tuple[str, ...] = ()
    merge: tuple[tuple[str, str], ...] = ()     # (thread, the thread it goes into)
    edits: tuple[tuple[str, str | None, str | None], ...] = ()   # (thread, subject, requestor)

    def __bool__(self) -> bool:
        return any((self.spam_flagged, self.exclude_threads, self.exclude_messages, self.split,
                    self.merge, self.edits))


NONE = Overrides()


def message_ref(rec: MessageRecord, shared: set[str]) -> str:
    """How the report names a message for the overrides file: its Message-ID, unless other
    kept messages carry the same id (imposters), then a prefix of its SHA-256."""
    return f"sha256:{rec.sha256[:16]}" if rec.message_id in shared else rec.message_id


# -- reading -------------------------------------------------------------------------

def load(path: str | None) -> Overrides:
    if not path:
        return NONE
    data = read_yaml(path)
    if data is None:
        return Overrides(path)
    if not isinstance(data, dict):
        raise ConfigError(path, None, "must be a mapping with " + ", ".join(KEYS))
    for key in data:
        if key not in KEYS:
            raise ConfigError(path, str(key), "unknown key (known: " + ", ".join(KEYS) + ")")
    exclude = _mapping(path, "exclude", data.get("exclude"), ("spam_flagged", "threads",
                                                               "messages"))
    spam = exclude.get("spam_flagged", False)
    if not isinstance(spam, bool):
        raise ConfigError(path, "exclude.spam_flagged", "must be true or false")
    merges = []
    for i, item in enumerate(_list(path, "merge", data.get("merge"), dict)):
        where = f"merge[{i}]"
        item = _mapping(path, where, item, ("into", "threads"))
        into = item.get("into")
        if not isinstance(into, str) or not into.strip().strip("<>"):
            raise ConfigError(path, f"{where}.into", "must name the thread to merge into")
        into = into.strip().strip("<>")
        sources = _ids(path, f"{where}.threads", item.get("threads"))
        if not sources:
            raise ConfigError(path, f"{where}.threads", "must name at least one thread")
        merges += [(s, into) for s in sources]
    edits = []
    for thread, edit in _mapping(path, "threads", data.get("threads"), None).items():
        where = f"threads.{thread}"
        edit = _mapping(path, where, edit, ("subject", "requestor"))
        subject, requestor = edit.get("subject"), edit.get("requestor")
        if subject is not None and (not isinstance(subject, str) or not subject.strip()):
            raise ConfigError(path, f"{where}.subject", "must be a non-empty text")
        if requestor is not None and (not isinstance(requestor, str)
                                      or not is_address(requestor)):
            raise ConfigError(path, f"{where}.requestor",
                              f"{requestor!r} is not an e-mail address")
        if subject is None and requestor is None:
            raise ConfigError(path, where, "names neither a subject nor a requestor")
        edits.append((str(thread).strip().strip("<>"), subject, requestor and requestor.lower()))
    ov = Overrides(path, spam, _ids(path, "exclude.threads", exclude.get("threads")),
                   _ids(path, "exclude.messages", exclude.get("messages")),
                   _ids(path, "split", data.get("split")), tuple(merges), tuple(edits))
    _contradictions(ov)
    return ov


def _mapping(path, key, value, allowed) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(path, key, "must be a mapping")
    for k in value:
        if allowed is not None and k not in allowed:
            raise ConfigError(path, f"{key}.{k}", "unknown key (known: " + ", ".join(allowed)
                              + ")")
    return value


def _list(path, key, value, kind) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(path, key, "must be a list")
    for i, item in enumerate(value):
        if not isinstance(item, kind):
            raise ConfigError(path, f"{key}[{i}]", f"must be a {kind.__name__}: got {item!r}")
    return value


def _ids(path, key, value) -> tuple[str, ...]:
    ids = _list(path, key, value, str)
    return tuple(dict.fromkeys(i.strip().strip("<>") for i in ids if i.strip()))


def _contradictions(ov: Overrides) -> None:
    """Instructions that cannot all be carried out, found before any mail is read."""
    path = ov.path
    excluded = set(ov.exclude_threads)
    target: dict[str, str] = {}
    for source, into in ov.merge:
        if source == into:
            raise ConfigError(path, "merge", f"thread {source} is merged into itself")
        if target.get(source, into) != into:
            raise ConfigError(path, "merge", f"thread {source} is merged into both"
                              f" {target[source]} and {into}")
        target[source] = into
    for start in target:                 # follow each chain: it must end, not come back
        seen, at = [start], target[start]
        while at in target:
            if at in seen:
                cycle = " -> ".join(seen[seen.index(at):] + [at])
                raise ConfigError(path, "merge", f"the merges make a loop: {cycle}")
            seen.append(at)
            at = target[at]
    for thread in excluded & (set(target) | set(target.values())):
        raise ConfigError(path, "exclude.threads", f"thread {thread} is both excluded and"
                          " merged")
    for thread, _, _ in ov.edits:
        if thread in excluded:
            raise ConfigError(path, f"threads.{thread}", "the thread is also excluded")
        if thread in target:
            raise ConfigError(path, f"threads.{thread}", f"the thread is merged into"
                              f" {target[thread]}: change that thread instead")
    for ref in set(ov.split) & set(ov.exclude_messages):
        raise ConfigError(path, "split", f"message {ref} is both split off and excluded")


# -- applying ------------------------------------------------------------------------

def _unknown(path: str, key: str, refs, what: str) -> ConfigError:
    shown = ", ".join(sorted(refs)[:5]) + (" ..." if len(refs) > 5 else "")
    return ConfigError(path, key, f"no {what} with the id {shown} in this run (ids are those"
                       " of the report of a dry run of the same sources)")


def _resolve(ov: Overrides, key: str, refs, records: list[MessageRecord]) -> set[int]:
    """Positions in `records` of the messages named by `refs` (Message-ID or sha256:)."""
    if not refs:
        return set()
    by_id: dict[str, list[int]] = {}
    prefixes = [m.group(1) for r in refs if (m := _SHA.fullmatch(r))]
    by_sha: dict[str, list[int]] = {p: [] for p in prefixes}
    for i, rec in enumerate(records):
        by_id.setdefault(rec.message_id, []).append(i)
        for p in prefixes:
            if rec.sha256.startswith(p):
                by_sha[p].append(i)
    found, unknown = set(), []
    for ref in refs:
        m = _SHA.fullmatch(ref)
        hits = by_sha[m.group(1)] if m else by_id.get(ref, [])
        if not hits:
            unknown.append(ref)
        elif len(hits) > 1:
            raise ConfigError(ov.path, key, f"{ref} names {len(hits)} messages: use the"
                              " sha256: ref the report shows for the one you mean")
        else:
            found.add(hits[0])
    if unknown:
        raise _unknown(ov.path, key, unknown, "message")
    return found


def apply(plans: list[ThreadPlan], ov: Overrides, staff: StaffCfg
          ) -> tuple[list[ThreadPlan], list[Excluded]]:
    """After threading, so that every id is the one the report without overrides showed:
    split, merge, leave out threads, leave out messages (spam-flagged and named), then
    change subjects and requestors."""
    if not ov:
        return plans, []
    plans = _split(plans, ov, staff) if ov.split else list(plans)
    ids = {p.id for p in plans}
    for key, named in (("exclude.threads", set(ov.exclude_threads)),
                       ("merge", {t for pair in ov.merge for t in pair}),
                       ("threads", {t for t, _, _ in ov.edits})):
        if named - ids:
            raise _unknown(ov.path, key, named - ids, "thread")
    plans = _merge(plans, ov, staff) if ov.merge else plans
    records = [p.record for plan in plans for p in plan.messages]
    named = {id(records[i]) for i in _resolve(ov, "exclude.messages", ov.exclude_messages,
                                                records)}
    excluded: list[Excluded] = []
    gone = set(ov.exclude_threads)
    for plan in plans:
        if plan.id in gone:
            excluded += [Excluded(p.record.message_id, p.record.source, p.record.sha256,
                                  "excluded thread", plan.id) for p in plan.messages]
    plans = [p for p in plans if p.id not in gone]
    if named or ov.spam_flagged:
        plans = _exclude_messages(plans, named, ov.spam_flagged, staff, excluded)
    edits = {t: (s, r) for t, s, r in ov.edits}
    out = []
    for plan in plans:
        if plan.id in edits:
            subject, requestor = edits[plan.id]
            plan = replace(plan, subject=subject or plan.subject,
                           requestors=(requestor,) if requestor else plan.requestors)
        out.append(plan)
    return out, excluded


def _exclude_messages(plans: list[ThreadPlan], named: set[int], spam: bool, staff: StaffCfg,
                      excluded: list[Excluded]) -> list[ThreadPlan]:
    """Leave out single messages (`named`: their records' id()s, and with `spam` every
    spam-flagged one): replies to one stay where they were, under a placeholder (a ghost)
    with its id; a thread left with no message is left out whole."""
    out = []
    for plan in plans:
        drop = [p for p in plan.messages if id(p.record) in named or (spam and p.record.spam)]
        if not drop:
            out.append(plan)
            continue
        excluded += [Excluded(p.record.message_id, p.record.source, p.record.sha256,
                              "excluded message" if id(p.record) in named else "spam-flagged",
                              plan.id if len(drop) == len(plan.messages) else None)
                     for p in drop]
        if len(drop) < len(plan.messages):
            gone = {id(p) for p in drop}
            kept = [p for p in plan.messages if id(p) not in gone]
            holes = [Ghost(p.record.message_id, p.parent_id, excluded=True) for p in drop]
            out.append(regroup(plan.id, kept, list(plan.ghosts) + holes, staff))
    return out


def _split(plans: list[ThreadPlan], ov: Overrides, staff: StaffCfg) -> list[ThreadPlan]:
    """Each named message, with the replies below it, becomes a thread of its own, named by
    its Message-ID (or its `sha256:` ref where that id is taken: a thread id is never given
    twice). Replies first, each found where the splits before it left it."""
    plans = list(plans)
    records = [p.record for plan in plans for p in plan.messages]
    chosen = sorted(_resolve(ov, "split", ov.split, records), reverse=True)
    shared = Counter(r.message_id for r in records)
    ids = {plan.id for plan in plans}
    for i in chosen:
        rec = records[i]
        at = next(k for k, plan in enumerate(plans)
                  if any(p.record is rec for p in plan.messages))
        plan = plans[at]
        if plan.messages[0].record is rec:
            raise ConfigError(ov.path, "split", f"{rec.message_id} already starts thread"
                              f" {plan.id}: nothing to split off")
        new_id = rec.message_id if shared[rec.message_id] == 1 else f"sha256:{rec.sha256[:16]}"
        if new_id in ids:
            new_id = f"sha256:{rec.sha256[:16]}"
        if new_id in ids:
            raise ConfigError(ov.path, "split", f"{ov_ref(rec)}: its thread would take the id"
                              f" {new_id} of another thread")
        ids.add(new_id)
        placed, ghosts = list(plan.messages), list(plan.ghosts)
        sub = _subtree(rec, placed, ghosts)
        root = [PlacedMessage(p.record, None, Link.ROOT) if p.record is rec else p
                for p in placed if id(p) in sub]
        plans[at] = regroup(plan.id, [p for p in placed if id(p) not in sub],
                            [g for g in ghosts if id(g) not in sub], staff)
        plans.insert(at + 1, regroup(new_id, root, [g for g in ghosts if id(g) in sub], staff))
    return plans


def ov_ref(rec: MessageRecord) -> str:
    return f"{rec.message_id} (sha256:{rec.sha256[:16]})"


def _subtree(rec: MessageRecord, placed, ghosts) -> set[int]:
    """`id()`s of the message placed for `rec` and of every node below it."""
    nodes = [(p.record.message_id, p.parent_id, p) for p in placed]
    nodes += [(g.message_id, g.parent_id, g) for g in ghosts]
    children: dict[str, list] = {}
    for mid, parent, item in nodes:
        if parent is not None and parent != mid:
            children.setdefault(parent, []).append((mid, item))
    start = next(p for p in placed if p.record is rec)
    found, stack = {id(start)}, [rec.message_id]
    seen_ids = {rec.message_id}
    while stack:
        for mid, item in children.get(stack.pop(), ()):
            found.add(id(item))
            if mid not in seen_ids:
                seen_ids.add(mid)
                stack.append(mid)
    return found


def _merge(plans: list[ThreadPlan], ov: Overrides, staff: StaffCfg) -> list[ThreadPlan]:
    target = dict(ov.merge)

    def final(thread: str) -> str:
        while thread in target:
            thread = target[thread]
        return thread
    by_id = {p.id: p for p in plans}
    joined: dict[str, list[ThreadPlan]] = {}
    for source in target:
        joined.setdefault(final(source), []).append(by_id[source])
    out = []
    for plan in plans:
        if plan.id in target:
            continue
        if plan.id in joined:
            root = plan.messages[0].record.message_id
            placed, ghosts = list(plan.messages), list(plan.ghosts)
            for other in joined[plan.id]:
                members = {p.record.message_id for p in other.messages}
                members |= {g.message_id for g in other.ghosts}
                # Its top messages hang under this thread's first, marked as put there;
                # so do those under a missing message at its top.
                tops = {g.message_id for g in other.ghosts if g.parent_id is None}
                placed += [replace(p, parent_id=root, link=Link.OVERRIDE)
                           if p.parent_id is None or p.parent_id not in members
                           else replace(p, link=Link.OVERRIDE) if p.parent_id in tops else p
                           for p in other.messages]
                ghosts += [replace(g, parent_id=root) if g.parent_id is None else g
                           for g in other.ghosts]
            plan = regroup(plan.id, placed, ghosts, staff)
        out.append(plan)
    return out
