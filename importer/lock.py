"""One import per store at a time, and one per destination on this machine.

Two runs sharing a store would both find a thread missing and both create its
ticket (seen: 28 tickets for 17 threads). The lock is an advisory `flock` on a
file beside the store (`STORE.lock`), which the kernel releases when the process
dies however it dies, so a kill -9 never leaves a stale lock behind; the file
holds the owner's pid for the error message. A run against RT also locks the
destination (URL + queue) in the temporary folder, so that two runs with
different stores on one machine cannot race on the same queue either.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import tempfile

from importer.errors import ImporterError


class Busy(ImporterError):
    """Another import holds the lock."""


class RunLock:
    def __init__(self, path: str, what: str):
        self.path, self.what = path, what
        self._fd: int | None = None

    def acquire(self, *, required: bool = True) -> "RunLock":
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            if required:
                raise ImporterError(f"cannot create the lock file {self.path}") from None
            return self            # a read-only folder: a dry run reads without a lock
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            owner = _read_pid(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise Busy(f"another import is using {self.what}"
                           + (f" (pid {owner})" if owner else "")) from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)     # closing drops the flock; the file stays (harmless)
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _read_pid(fd: int) -> str | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return text if text.isdigit() else None


def store_lock(store: str) -> RunLock:
    return RunLock(store + ".lock", store)


def destination_lock(destination: str) -> RunLock:
    digest = hashlib.sha256(destination.encode("utf-8")).hexdigest()[:24]
    path = os.path.join(tempfile.gettempdir(), f"archive-import-{digest}.lock")
    return RunLock(path, destination)
