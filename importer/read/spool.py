"""Compressed inputs (.gz, .bz2, .xz, told by magic bytes): decompressed once into a spool file."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import re
import zlib
from typing import BinaryIO, Callable

CHUNK = 1 << 20

_OPENERS: dict[str, Callable[..., BinaryIO]] = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}
# gzip: RFC 1952 ID1 ID2 and CM=8 (deflate); bzip2: "BZh" + block size + the magic of a
# block (pi) or of the end of stream (sqrt pi); xz: the stream header magic.
_MAGIC = re.compile(rb"(?P<gz>\x1f\x8b\x08)|(?P<bz2>BZh[1-9](?:1AY&SY|\x17rE8P\x90))"
                    rb"|(?P<xz>\xfd7zXZ\x00)")
_ERRORS = (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError)


def compression_of(head: bytes) -> str | None:
    """"gz", "bz2", "xz" or None, from a file's first bytes (at least 10)."""
    m = _MAGIC.match(head)
    return m.lastgroup if m else None


def spool(path: str, kind: str, dest: str) -> tuple[int, str | None]:
    """Decompress `path` into the new file `dest`, streaming.

    Returns (bytes written, error): on damaged data what came out before the damage is
    kept and the error says where it stopped, so the reader can quarantine the rest.
    """
    written = 0
    with open(dest, "wb") as out:
        try:
            with _OPENERS[kind](path, "rb") as src:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
                    written += len(chunk)
        except _ERRORS as exc:
            return written, f"{kind} data damaged after {written} bytes: {exc}"
    return written, None


def decompress_bounded(data: bytes, kind: str, limit: int) -> bytes | None:
    """Decompress one small file held in memory (a compressed Maildir message);
    None when it would be larger than `limit` bytes. Damaged data raises ValueError."""
    try:
        with _OPENERS[kind](io.BytesIO(data), "rb") as src:
            out = src.read(limit + 1)
    except _ERRORS as exc:
        raise ValueError(f"{kind} data damaged: {exc}") from exc
    return None if len(out) > limit else out
