"""Retries, in one layer: every call to a destination that may fail for a while goes through
`RetryPolicy.call`, with the budget of that backend's own config key (`rt.retries`,
`local.retries`). The HTTP client below it tries each request once and says what
happened (BackendError: transient? sent? Retry-After?), so no call is ever tried
more than `attempts + 1` times.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar

from importer.errors import BackendError

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_RETRY_AFTER = 300.0   # seconds: a longer Retry-After is clamped to this


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5       # tries after the first
    base: float = 0.5       # seconds: the first backoff's upper bound
    cap: float = 30.0       # seconds: no backoff is longer (a Retry-After may be, up to 300)
    pause: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        # Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff
        # and Jitter"): many workers retrying together must not hit the server in step.
        jitter = random.uniform(0, min(self.cap, self.base * 2 ** attempt))
        return max(jitter, min(retry_after or 0.0, MAX_RETRY_AFTER))

    def sleep(self, attempt: int, retry_after: float | None = None) -> None:
        self.pause(self.delay(attempt, retry_after))

    def call(self, fn: Callable[[], T], *, what: str,
             recover: Callable[[], T | None] | None = None) -> T:
        """Run `fn`; on a transient failure back off and try again. When the request may
        have been applied (its answer was lost), first ask `recover` what the destination
        did: a create or an addition is never made twice."""
        for attempt in range(self.attempts + 1):
            try:
                return fn()
            except BackendError as exc:
                if not exc.transient or attempt == self.attempts:
                    raise
                log.warning("%s: %s (attempt %d, retrying)", what, exc, attempt + 1)
                self.sleep(attempt, exc.retry_after)
                if recover is not None and exc.sent:
                    found = recover()
                    if found is not None:
                        return found
        raise AssertionError("unreachable")
