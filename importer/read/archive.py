"""The archive readers' front: every SOURCE argument scanned into RawMessage/Unreadable records.

Formats are told by content, not by name (read/walk.py, sniff): a file that begins with a From_
line is an mbox, even one named .eml (its From_ line then goes to `from_line`, as a mail
client storing it in an mbox would have it); one that begins with header fields is a single
message (.eml); a directory with cur/ or new/ is a Maildir. Compressed files are told by
their magic bytes and decompressed once into a spool file that `read()` uses again.

Everything found is accounted for in `Archive.files`: each message, each stretch that is not
a message (junk before the first From_ line, a file that is not mail, a Maildir tmp/ file, a
message over the size bound) becomes an `Unreadable` with a reason, and things that hold no
mail (a directory reached twice through a link, a mail server's index file) get a note.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from typing import Iterator, Sequence

from importer.errors import SourceError, local_error
from importer.read import maildir
from importer.read.containers import MAX_DEPTH, container_kind, members
from importer.read.mbox import MAX_MESSAGE, MboxSplitter, unescape
from importer.records import RawMessage, SourceRef, Unreadable
from importer.read.spool import (SPOOL_PREFIX, compression_of, decompress_bounded, spool,
                                 sweep_stale_spools)
from importer.read.walk import JUNK_WINDOW, NOT_MAIL, Walker, looks_like_message, sniff

Item = RawMessage | Unreadable
MAX_OPEN = 32      # mbox files kept open for read()


@dataclass(frozen=True, slots=True)
class FileSummary:
    """One input as the report shows it: every file found, and what came of it."""

    path: str
    fmt: str                      # "mbox" | "maildir" | "eml" | "unknown"
    compression: str | None       # None | "gz" | "bz2" | "xz"
    messages: int
    unreadable: int
    notes: tuple[str, ...] = ()   # e.g. "empty file", "utf-8 byte-order mark skipped"
    skipped: str | None = None    # why nothing of it was read ("not mail", "a FIFO", ...)
    sha256: str | None = None     # of a file skipped as not mail: the reviewer can check it


class _Tally:
    """Counts what one input produced, for its FileSummary."""

    def __init__(self, path: str, fmt: str = "unknown", compression: str | None = None):
        self.path, self.fmt, self.compression = path, fmt, compression
        self.messages = self.unreadable = 0
        self.notes: list[str] = []
        self.skipped: str | None = None
        self.sha256: str | None = None

    def add(self, item: Item) -> Item:
        if isinstance(item, RawMessage):
            self.messages += 1
        else:
            self.unreadable += 1
        return item

    def summary(self) -> FileSummary:
        return FileSummary(self.path, self.fmt, self.compression, self.messages,
                           self.unreadable, tuple(self.notes), self.skipped, self.sha256)


class Archive:
    """Context manager over the user's SOURCE arguments (files and directories)."""

    def __init__(self, paths: Sequence[str], *, escaping: str = "mboxrd",
                 max_message: int = MAX_MESSAGE, max_expansion: int = 1000):
        self.paths = list(paths)
        self.files: list[FileSummary] = []
        self.produced = 0      # items scan() handed on, counted apart from every outcome list
        self._escaping, self._max, self._expansion = escaping, max_message, max_expansion
        self._spools: dict[str, str] = {}     # a path in the report -> the file with its bytes
        self._spool_dir: str | None = None
        self._spooled = 0
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the files read() keeps open and remove the spool files."""
        with self._lock:
            for fd in self._open.values():
                os.close(fd)
            self._open.clear()
        if self._spool_dir:
            shutil.rmtree(self._spool_dir, ignore_errors=True)
            self._spool_dir = None
            self._spools.clear()

    # -- scanning -------------------------------------------------------------------
    def scan(self) -> Iterator[Item]:
        """Every message and unreadable stretch of every input, streaming, in file order."""
        self.files, self.produced = [], 0
        for found in Walker().walk(self.paths):
            tally = _Tally(found.path)
            if found.kind == "file":
                items = self._scan_file(found.path, tally)
            elif found.kind == "maildir":
                tally.fmt = "maildir"
                items = self._scan_maildir(found.path, tally)
            else:
                tally.skipped, items = found.note, iter(())
            for item in items:
                self.produced += 1
                yield item
            self.files.append(tally.summary())

    def _scan_file(self, path: str, tally: _Tally, source: str | None = None,
                   depth: int = 0) -> Iterator[Item]:
        """One file: `path` is its name in the report; `source` the file holding its bytes
        (a container's member lives in a spool file)."""
        source = source or path
        try:
            with open(source, "rb") as fp:
                tally.compression = compression_of(fp.read(16))
        except OSError as exc:
            tally.skipped = f"cannot read: {exc.strerror or exc}"
            return
        work, damage = source, None
        if tally.compression:
            work, damage = self._decompress(path, source, tally.compression)
            if damage:
                tally.notes.append(damage)
        elif source != path:
            self._spools[path] = source
        kind = container_kind(work) if depth < MAX_DEPTH else None
        if kind is not None:
            yield from self._scan_container(path, work, kind, tally, depth)
            return
        with open(work, "rb") as fp:
            fmt, why = sniff(fp.read(JUNK_WINDOW), path)
        if why:
            tally.notes.append(why)
        tally.fmt = "mbox" if fmt == "mbox-junk" else fmt
        if fmt == "not-mail" and not damage:
            tally.fmt, tally.skipped = "unknown", NOT_MAIL
            tally.notes.remove(why)
            with open(source, "rb") as fp:
                tally.sha256 = hashlib.file_digest(fp, "sha256").hexdigest()
        elif tally.fmt == "mbox":
            yield from _cut_at_damage(self._scan_mbox(path, work, tally), damage, tally)
        elif fmt == "eml":
            yield from _cut_at_damage(iter([tally.add(self._whole(path, work, 0, "eml", None))]),
                                      damage, tally)
        else:
            yield tally.add(self._whole(path, work, 0, "unknown", why))

    def _decompress(self, path: str, source: str, kind: str) -> tuple[str, str | None]:
        dest = self._spool_file()
        _, damage = spool(source, kind, dest, self._expansion)
        self._spools[path] = dest
        return dest, damage

    def _spool_file(self) -> str:
        """A new file in this run's own spool folder, named by a number, never by input."""
        if self._spool_dir is None:
            sweep_stale_spools()
            try:
                self._spool_dir = tempfile.mkdtemp(prefix=f"{SPOOL_PREFIX}{os.getpid()}-")
            except OSError as exc:
                raise local_error(tempfile.gettempdir(), exc, "make a spool folder") from exc
        self._spooled += 1
        return os.path.join(self._spool_dir, f"{self._spooled}.spool")

    def _scan_container(self, path: str, work: str, kind: str, tally: _Tally,
                        depth: int) -> Iterator[Item]:
        """A tar or zip: each member read as a source of its own, `ARCHIVE!member`."""
        tally.fmt = kind
        count, held, maildirs = 0, [], set()
        for member in members(work, kind, self._spool_file):
            if member.spooled is None and not member.name:
                tally.notes.append(member.skipped)
                continue
            count += 1
            folder, sub = _maildir_place(member.name)
            if sub in ("cur", "new"):
                maildirs.add(folder)
            elif sub == "tmp" and not member.skipped:
                held.append((member, folder))      # a Maildir's tmp/ only if cur/ or new/ is
                continue                           # beside it, which a later member may show
            yield from self._scan_member(path, member, depth, False)
        for member, folder in held:
            yield from self._scan_member(path, member, depth, folder in maildirs)
        if any(folder in maildirs for _, folder in held):
            tally.notes.append("files in tmp/ were never delivered: quarantined, not imported")
        tally.notes.append(f"{kind} archive of {count} files, each listed as {path}!NAME")

    def _scan_member(self, path: str, member, depth: int, undelivered: bool) -> Iterator[Item]:
        inner = _Tally(f"{path}!{member.name}")
        if member.skipped:
            inner.skipped = member.skipped
        elif undelivered:                # as on disk (_scan_maildir): kept, never imported
            inner.fmt, self._spools[inner.path] = "maildir", member.spooled
            yield inner.add(self._whole(inner.path, member.spooled, 0, "maildir",
                                        "Maildir tmp/ file: never delivered"))
        else:
            yield from self._scan_file(inner.path, inner, member.spooled, depth + 1)
        self.files.append(inner.summary())

    def _scan_mbox(self, path: str, work: str, tally: _Tally) -> Iterator[Item]:
        with open(work, "rb") as fp:
            splitter = MboxSplitter(fp, self._escaping, self._max)
            for index, piece in enumerate(splitter):
                ref = SourceRef(path, index, piece.offset, piece.length, "mbox", piece.escaping)
                if piece.kind == "message":
                    raw = unescape(piece.data, piece.escaping)
                    yield tally.add(RawMessage(ref, raw, piece.from_line))
                elif piece.kind == "junk":
                    yield tally.add(Unreadable(ref, "text before the first From_ line",
                                               piece.data))
                else:
                    yield tally.add(Unreadable(ref, self._too_big(piece.length)))
            if splitter.bom:
                tally.notes.append("utf-8 byte-order mark before the first From_ line skipped")

    def _too_big(self, size: int) -> str:
        return (f"message of {size} bytes is over the {self._max}-byte limit: "
                "left in place, not read (its offset and length are in the source)")

    def _whole(self, path: str, work: str, index: int, fmt: str, why: str | None) -> Item:
        """A one-message file (.eml, Maildir, or a file that is not mail) as one item."""
        size = os.path.getsize(work)
        ref = SourceRef(path, index, None, size, fmt, "none")
        if size > self._max:
            return Unreadable(ref, (why + "; " if why else "") + self._too_big(size))
        try:
            raw = self._read_whole(work, fmt)
        except (OSError, ValueError) as exc:
            return Unreadable(ref, f"cannot read: {getattr(exc, 'strerror', None) or exc}")
        if raw is None:
            return Unreadable(ref, self._too_big(size))
        ref = SourceRef(path, index, None, len(raw), fmt, "none")
        if why is not None or (fmt == "maildir" and not looks_like_message(raw[:8192])):
            return Unreadable(ref, why or "not a mail message (no header fields)", raw)
        return RawMessage(ref, raw, _from_line(raw))

    def _read_whole(self, path: str, fmt: str) -> bytes | None:
        with open(path, "rb") as fp:
            # read(n) allocates n bytes before it reads: ask for the file's size, not the
            # bound (the 256 MB bound cost a Maildir 90 us a file), and more if it grew since.
            want = min(os.fstat(fp.fileno()).st_size, self._max) + 1
            raw = fp.read(want)
            if len(raw) == want <= self._max:
                raw += fp.read(self._max + 1 - want)
        kind = compression_of(raw[:16]) if fmt == "maildir" else None
        if kind:   # Dovecot's zlib plugin stores Maildir messages compressed
            return decompress_bounded(raw, kind, self._max)
        return raw if len(raw) <= self._max else None

    def _scan_maildir(self, root: str, tally: _Tally) -> Iterator[Item]:
        try:
            found = list(maildir.messages(root))
        except OSError as exc:
            yield tally.add(Unreadable(SourceRef(root, 0, None, 0, "maildir"),
                                       f"cannot list Maildir: {exc.strerror or exc}"))
            return
        for path, delivered in found:
            why = None if delivered else "Maildir tmp/ file: never delivered"
            yield tally.add(self._whole(path, path, 0, "maildir", why))
        if any(not d for _, d in found):
            tally.notes.append("files in tmp/ were never delivered: quarantined, not imported")

    # -- reading again --------------------------------------------------------------
    def read(self, ref: SourceRef) -> bytes:
        """The same bytes scan() gave for `ref`, by its position; for a message over the size
        bound, the bytes scan() left out. Spool files live until the archive is closed."""
        if ref.length == 0:
            return b""
        try:
            return self._read_again(ref)
        except OSError as exc:
            raise SourceError(ref.path, f"cannot read: {exc.strerror or exc}",
                              ref.offset) from exc

    def digest(self, ref: SourceRef) -> str:
        """The SHA-256 of the bytes at `ref` as they lie in the (decompressed) source,
        streamed: an oversize message is never held in memory, only verified where it is."""
        work = self._spools.get(ref.path, ref.path)
        sha, left = hashlib.sha256(), ref.length or 0
        try:
            with open(work, "rb") as fp:
                fp.seek(ref.offset or 0)
                while left > 0:
                    chunk = fp.read(min(left, 1 << 20))
                    if not chunk:
                        raise SourceError(ref.path, "shorter than when it was read", ref.offset)
                    sha.update(chunk)
                    left -= len(chunk)
        except OSError as exc:
            raise SourceError(ref.path, f"cannot read: {exc.strerror or exc}", ref.offset) from exc
        return sha.hexdigest()

    def _read_again(self, ref: SourceRef) -> bytes:
        work = self._spools.get(ref.path, ref.path)
        if ref.offset is None:
            raw = self._read_whole(work, ref.fmt)
            if raw is None or (ref.length is not None and len(raw) != ref.length):
                raise SourceError(ref.path, "changed since it was read")
            return raw
        data = self._pread(work, ref.offset, ref.length or 0)
        if len(data) != (ref.length or 0):
            raise SourceError(ref.path, "shorter than when it was read", ref.offset)
        return unescape(data, ref.escaping)

    def _pread(self, path: str, offset: int, length: int) -> bytes:
        with self._lock:
            fd = self._open.get(path)
            if fd is None:
                if len(self._open) >= MAX_OPEN:
                    os.close(self._open.pop(next(iter(self._open))))
                fd = self._open[path] = os.open(path, os.O_RDONLY)
            parts, done = [], 0
            while done < length:
                chunk = os.pread(fd, length - done, offset + done)
                if not chunk:
                    break
                parts.append(chunk)
                done += len(chunk)
            return b"".join(parts)


def _cut_at_damage(items: Iterator[Item], damage: str | None, tally: _Tally) -> Iterator[Item]:
    """Everything before damaged compressed data is read; the message the damage cut (the
    last one that came out) is quarantined with the reason, never imported truncated."""
    last = None
    for item in items:
        if last is not None:
            yield last
        last = item
    if damage is None:
        if last is not None:
            yield last
        return
    if isinstance(last, RawMessage):
        tally.messages -= 1
        tally.unreadable += 1
        last = Unreadable(last.source, f"cut short by damaged compressed data: {damage}",
                          last.raw)
    if last is not None:
        yield last
    else:
        ref = SourceRef(tally.path, 0, 0, 0, tally.fmt)
        yield tally.add(Unreadable(ref, damage))


def _from_line(raw: bytes) -> bytes | None:
    """A one-message file that starts with a From_ line keeps it; report it for the date."""
    if raw.startswith(b"From "):
        return raw.split(b"\n", 1)[0].rstrip(b"\r")
    return None


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """The read stage makes many small objects and frees none: the cyclic garbage collector
    would only rescan them (15% of a dry run at 100k messages)."""
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def check_sources(paths: Sequence[str]) -> None:
    """Raise SourceError(path, reason) for the first SOURCE that is missing or unreadable."""
    for path in paths:
        if not os.path.lexists(path):
            raise SourceError(path, "no such file or directory")
        if not os.path.exists(path):
            raise SourceError(path, "broken symbolic link")
        if os.path.isdir(path):
            if not os.access(path, os.R_OK | os.X_OK):
                raise SourceError(path, "directory cannot be read (permission denied)")
            continue
        if not os.path.isfile(path):
            raise SourceError(path, "not a regular file or directory")
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise SourceError(path, f"cannot read: {exc.strerror or exc}") from exc


def _maildir_place(name: str) -> tuple[str, str]:
    """(the folder above, the folder) of an archive member: ("Mail/inbox", "tmp") for
    "Mail/inbox/tmp/1.host"; a Maildir's cur/, new/ and tmp/ sit side by side."""
    parent = name.replace("\\", "/").rpartition("/")[0]
    folder, _, sub = parent.rpartition("/")
    return folder, sub
