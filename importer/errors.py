"""One exception tree for the user's mistakes and the backends' failures.

Defects inside messages are *not* exceptions (see records.Defect); these are
for conditions that stop a run or a stage, and each says what and where.
"""

from __future__ import annotations


class ImporterError(Exception):
    """Base: rendered to the user as one line, never as a traceback."""


class ConfigError(ImporterError):
    def __init__(self, path: str, key: str | None, reason: str):
        self.path, self.key, self.reason = path, key, reason
        where = f"{path}: {key}" if key else path
        super().__init__(f"{where}: {reason}")


class SourceError(ImporterError):
    """An input that cannot be read at all (missing, unreadable, not an archive)."""

    def __init__(self, path: str, reason: str, offset: int | None = None):
        self.path, self.reason, self.offset = path, reason, offset
        at = f" (byte {offset})" if offset is not None else ""
        super().__init__(f"{path}{at}: {reason}")


class BackendError(ImporterError):
    """A backend refused or failed an operation; `transient` ones may be retried.

    `sent`: the request may have reached the destination and been applied (its answer was
    lost), so the retry layer asks what happened before repeating it. `retry_after`: the
    seconds the destination asked to wait (HTTP 429/503 Retry-After)."""

    def __init__(self, reason: str, *, status: int | None = None, transient: bool = False,
                 ticket: str | None = None, message_id: str | None = None,
                 sent: bool = True, retry_after: float | None = None):
        self.reason, self.status, self.transient = reason, status, transient
        self.sent, self.retry_after = sent, retry_after
        self.ticket, self.message_id = ticket, message_id
        parts = [reason]
        if status is not None:
            parts.append(f"HTTP {status}")
        if ticket:
            parts.append(f"ticket {ticket}")
        if message_id:
            parts.append(f"<{message_id}>")
        super().__init__(" | ".join(parts))


class AuthError(BackendError):
    """Credentials rejected: stops the run."""


class LocalError(ImporterError):
    """This machine failed us, not the mail: a full or unwritable disk or temporary folder.
    Never taken for damage in an archive: the run stops, naming the path and the cause."""

    def __init__(self, path: str, cause: str):
        self.path, self.cause = path, cause
        super().__init__(f"{path}: {cause}")


def local_error(path: str, exc: OSError, what: str) -> LocalError:
    hint = (": free some space, or set TMPDIR to a folder with room"
            if getattr(exc, "errno", None) in (28, 122) else "")    # ENOSPC, EDQUOT
    return LocalError(path, f"cannot {what}: {exc.strerror or exc}{hint}")


class StoreError(ImporterError):
    """The local store or ledger file cannot be opened or is not ours."""


class MismatchError(BackendError):
    """The store and the destination disagree (another RT, queue or ticket): stops the run."""
