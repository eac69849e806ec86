"""Containers: .tar (plain, or inside .gz/.bz2/.xz: .tgz, Google Takeout) and .zip, read
member by member as sources of their own.

A member is never extracted to a path taken from the archive (a name like
`../../etc/passwd` or `/root/.ssh/x` is only ever a label): its bytes are streamed
into a numbered spool file, and it is read by content like any file, as
`ARCHIVE!member/path` in the report. Mbox files, `.eml` files and Maildir trees
(one message per member under cur/ or new/) all work, compressed or not.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
from dataclasses import dataclass
from typing import Callable, Iterator

from importer.errors import local_error

MAX_NAME = 1000            # characters of a member's name kept for the report
MAX_DEPTH = 3              # a container inside a container inside a container, no deeper
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


@dataclass(frozen=True)
class Member:
    name: str                  # as the archive names it, bounded; a label, never a path
    spooled: str | None        # the spool file holding its bytes; None when skipped
    skipped: str | None = None


def container_kind(path: str) -> str | None:
    """"tar", "zip" or None, from the file's content (a tar header's "ustar" magic at byte
    257, a zip's local header or empty-archive record at byte 0)."""
    with open(path, "rb") as fp:
        head = fp.read(512)
    if head[:4] in _ZIP_MAGIC:
        return "zip"
    if len(head) == 512 and head[257:262] == b"ustar":
        return "tar"
    return None


def members(path: str, kind: str, spool: Callable[[], str]) -> Iterator[Member]:
    """Every regular member in archive order; `spool()` names a new spool file."""
    if kind == "tar":
        yield from _tar_members(path, spool)
    else:
        yield from _zip_members(path, spool)


def _copy(src, dest: str) -> None:
    """A member's bytes into its spool file. Reading errors are the archive's (the caller
    skips the member); writing errors are this machine's (a full disk stops the run)."""
    try:
        out = open(dest, "wb")
    except OSError as exc:
        raise local_error(os.path.dirname(dest), exc, "write a spool copy") from exc
    with out:
        while chunk := src.read(1 << 20):
            try:
                out.write(chunk)
            except OSError as exc:
                raise local_error(dest, exc, "write a spool copy") from exc


def _label(name: str) -> str:
    return name[:MAX_NAME] if len(name) <= MAX_NAME else name[:MAX_NAME] + "…"


def _tar_members(path: str, spool: Callable[[], str]) -> Iterator[Member]:
    try:
        archive = tarfile.open(path, mode="r:")
    except (tarfile.TarError, OSError) as exc:
        yield Member("", None, f"damaged tar archive: {exc}")
        return
    with archive:
        while True:
            try:
                info = archive.next()
            except (tarfile.TarError, OSError) as exc:
                yield Member("", None, f"tar archive damaged after the members above: {exc}")
                return
            if info is None:
                return
            if not info.isreg():
                continue            # directories, links, devices: nothing to read
            dest = spool()
            try:
                with archive.extractfile(info) as src:
                    _copy(src, dest)
            except (tarfile.TarError, OSError, EOFError) as exc:
                yield Member(_label(info.name), None, f"cannot read this member: {exc}")
                continue
            yield Member(_label(info.name), dest)


def _zip_members(path: str, spool: Callable[[], str]) -> Iterator[Member]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        yield Member("", None, f"damaged zip archive: {exc}")
        return
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            name = _label(info.filename)
            if info.flag_bits & 0x1:
                yield Member(name, None, "encrypted zip member: not read")
                continue
            dest = spool()
            try:
                with archive.open(info) as src:
                    _copy(src, dest)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError,
                    ValueError) as exc:
                yield Member(name, None, f"cannot read this member: {exc}")
                continue
            yield Member(name, dest)
