"""Finding the inputs under the SOURCE arguments and telling their format from their content."""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from typing import Iterator, Sequence

from importer.mail.headers import MESSAGE_FIELDS, header_bounds, header_fields
from importer.read.mbox import BOM, is_bare_from, is_dated_from, looks_like_field

SNIFF = 64 << 10           # bytes read to tell a format
NOT_MAIL = "not mail"      # why a file that holds no mail at all is skipped
JUNK_WINDOW = 1 << 20      # how far past leading junk we look for a first From_ line
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"   # Outlook .msg and other compound documents

# Nothing is skipped by its name: an mbox called `Authors`, `README` or `msg.json` and a
# mail saved as `readme.eml` were all found in real folders. Every regular file is read
# by content (archive.py); what holds no mail is listed as skipped, with the reason, and
# counted. Mail servers' own files inside a Maildir (Dovecot, Courier, Maildir++ quota
# files) are named here only to say so in that reason.
STORE_METADATA = re.compile(
    r"(dovecot[-.].*|courierimap.*|maildirfolder|maildirsize|subscriptions|"
    r"\.customflags|\.uidvalidity|\.mh_sequences|\.nfs.*)")


@dataclass(frozen=True, slots=True)
class Found:
    """One thing found under a SOURCE: a file to read, a Maildir, or something not read."""

    path: str
    kind: str          # "file" | "maildir" | "skip" (not read: listed and counted, with `note`)
    note: str = ""


def is_maildir(path: str) -> bool:
    """A Maildir is known by its structure: a cur/ or new/ subdirectory (tmp/ is optional)."""
    return os.path.isdir(os.path.join(path, "cur")) or os.path.isdir(os.path.join(path, "new"))


class Walker:
    """Walks SOURCE arguments depth-first in sorted order with an explicit stack.

    Symbolic links are followed, but every directory and file is read once: a second
    way to the same inode (a link loop, a path given twice) is reported as "skip".
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[int, int], str] = {}

    def walk(self, paths: Sequence[str]) -> Iterator[Found]:
        for top in paths:
            stack = [top]
            while stack:
                path = stack.pop()
                children = yield from self._visit(path)
                stack.extend(reversed(children))

    def _visit(self, path: str):
        """Yield what `path` is; return the children to walk next (sorted)."""
        try:
            st = os.stat(path)
        except OSError as exc:
            yield Found(path, "skip", _stat_error(path, exc))
            return []
        key = (st.st_dev, st.st_ino)
        if key in self._seen:
            yield Found(path, "skip", f"already read (the same file as {self._seen[key]})")
            return []
        self._seen[key] = path
        if stat.S_ISREG(st.st_mode):
            yield Found(path, "file")
            return []
        if not stat.S_ISDIR(st.st_mode):
            yield Found(path, "skip", f"not a regular file ({_special(st.st_mode)}): not read")
            return []
        try:
            names = sorted(os.listdir(path))
        except OSError as exc:
            yield Found(path, "skip", f"cannot list directory: {exc.strerror}")
            return []
        if not is_maildir(path):
            return [os.path.join(path, n) for n in names]
        yield Found(path, "maildir")
        children = []
        for name in names:
            if name not in ("cur", "new", "tmp"):
                children.append(os.path.join(path, name))
        return children


def _special(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a file"


def _stat_error(path: str, exc: OSError) -> str:
    if os.path.islink(path):
        return "symbolic link loop" if exc.errno == errno.ELOOP else "broken symbolic link"
    return exc.strerror or str(exc)


def sniff(head: bytes, name: str) -> tuple[str, str]:
    """(format, why) from a file's first bytes: "mbox", "eml", "mbox-junk", "unknown" (mail
    we cannot read: quarantined) or "not-mail" (no mail at all: skipped and counted)."""
    if not head:
        return "mbox", "empty file"
    if head.startswith(BOM):
        head = head[3:]
    first = head.split(b"\n", 1)[0] + b"\n"
    if first.startswith(b"From ") and (is_dated_from(first) or is_bare_from(first)):
        return "mbox", ""
    if head.startswith(OLE2):
        # Outlook keeps one mail per .msg file: mail we cannot read, kept in the quarantine.
        return "unknown", "not a mail archive (an Outlook .msg or other OLE2 file)"
    if looks_like_message(head):
        if not _names_a_message_field(head):
            # "Source: flanker" or "Title: notes": a text file that begins like a header
            # block but names none of a message's fields is no mail.
            return "not-mail", NOT_MAIL + " (no message header)"
        return "eml", ""
    if _has_separator(head):
        return "mbox-junk", "text before the first From_ line"
    if name.lower().endswith(".eml") and b"\0" not in head:
        return "eml", "named .eml but has no header fields"
    return "not-mail", NOT_MAIL


def looks_like_message(head: bytes) -> bool:
    """First non-blank line is a header field (a few blank/space lines before it happen:
    flanker's fixtures start with a line of spaces) or a From_ line."""
    if head.startswith(BOM):
        head = head[3:]
    for line in head.split(b"\n", 16)[:16]:
        if line.strip(b" \t\r"):
            return looks_like_field(line) or line.startswith(b"From ") and (
                is_dated_from(line + b"\n") or is_bare_from(line + b"\n"))
    return False


def _names_a_message_field(head: bytes) -> bool:
    if head.startswith(BOM):
        head = head[3:]
    start, end, _, defects = header_bounds(head)
    fields, _, _ = header_fields(head[start:end], defects)
    return bool(MESSAGE_FIELDS.intersection(fields))


def _has_separator(window: bytes) -> bool:
    pos = window.find(b"\nFrom ")
    while pos >= 0:
        end = window.find(b"\n", pos + 1)
        if is_dated_from(window[pos + 1:end + 1 if end >= 0 else len(window)]):
            return True
        pos = window.find(b"\nFrom ", pos + 1)
    return False
