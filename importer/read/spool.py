"""Compressed inputs (.gz, .bz2, .xz, told by magic bytes): decompressed once into a spool file."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import shutil
import tempfile
import zlib
from typing import BinaryIO, Callable

from importer.errors import local_error

CHUNK = 1 << 20
INPUT_STEP = 16 << 10    # compressed bytes fed at a time: what damage can cost at most

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


def _decompressor(kind: str):
    if kind == "gz":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)    # gzip wrapper, RFC 1952
    return bz2.BZ2Decompressor() if kind == "bz2" else lzma.LZMADecompressor()


def spool(path: str, kind: str, dest: str, max_expansion: int = 1000,
          floor: int = 64 << 20) -> tuple[int, str | None]:
    """Decompress `path` into the new file `dest`, streaming, in small steps.

    Returns (bytes written, error). On damaged or truncated data everything that came out
    before the damage is kept (fed INPUT_STEP bytes at a time, so at most that much
    compressed input is lost, not a whole buffer of output), and the error names the
    offset in the decompressed stream where it stopped. Concatenated members (gzip -c a b,
    pbzip2, xz --block) are read one after the other. Output past `max_expansion` times the
    compressed bytes read (and past `floor`) stops the stream there, like damage: a
    decompression bomb (360 KB of gzip gave 1.58 million messages) is cut, not followed.
    """
    written, consumed, stream = 0, 0, _decompressor(kind)
    try:
        out = open(dest, "wb")
    except OSError as exc:
        raise local_error(os.path.dirname(dest), exc, "write the decompressed copy") from exc
    with open(path, "rb") as src, out:
        while True:
            data = src.read(INPUT_STEP)
            if not data:
                break
            consumed += len(data)
            if written > floor and written > consumed * max_expansion:
                return written, (f"{kind} data expands past {max_expansion} times its size"
                                 f" (limits.max_expansion) at byte {written}: a decompression"
                                 " bomb? everything before it is read")
            while data:
                try:
                    chunk = stream.decompress(data)
                except _ERRORS as exc:
                    return written, _damage(kind, written, exc)
                try:
                    out.write(chunk)
                except OSError as exc:     # a full temporary folder is no damage in the archive
                    raise local_error(dest, exc, "write the decompressed copy") from exc
                written += len(chunk)
                data = b""
                if _at_end(stream):
                    data = _unused(stream)
                    if data.strip(b"\0"):       # another member follows (padding is not one)
                        stream = _decompressor(kind)
                    else:
                        data = b""
                        stream = None
                        break
            if stream is None:
                break
        if stream is not None and not _at_end(stream):
            return written, _damage(kind, written, "the file ends in the middle of the data")
    return written, None


def _at_end(stream) -> bool:
    return stream.eof


def _unused(stream) -> bytes:
    return stream.unused_data


def _damage(kind: str, written: int, exc) -> str:
    return (f"{kind} data damaged at byte {written} of the decompressed stream ({exc}):"
            " everything before it is read")


def decompress_bounded(data: bytes, kind: str, limit: int) -> bytes | None:
    """Decompress one small file held in memory (a compressed Maildir message);
    None when it would be larger than `limit` bytes. Damaged data raises ValueError."""
    try:
        with _OPENERS[kind](io.BytesIO(data), "rb") as src:
            out = src.read(limit + 1)
    except _ERRORS as exc:
        raise ValueError(f"{kind} data damaged: {exc}") from exc
    return None if len(out) > limit else out


SPOOL_PREFIX = "archive-import-spool-"


def sweep_stale_spools() -> list[str]:
    """Remove the spool folders of runs that were killed (kill -9, a power cut: no finally
    ran), known by the pid in their name no longer running. Returns what was removed."""
    removed = []
    top = tempfile.gettempdir()
    try:
        names = os.listdir(top)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(SPOOL_PREFIX):
            continue
        pid = name[len(SPOOL_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        shutil.rmtree(os.path.join(top, name), ignore_errors=True)
        removed.append(os.path.join(top, name))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True           # alive, someone else's
    return True
