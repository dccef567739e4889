"""Login backoff per (e-mail, client): failures make the next attempt from that client wait longer.

The counters live in the rate limiter's storage (Redis when ``PORTAL_REDIS_URL`` is set, else this
process's memory), keyed by a hash of the submitted e-mail, never by the user row: an unknown
e-mail is throttled exactly like a real one, so the answers tell nobody which e-mails exist.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass, field

from limits.storage import MemoryStorage, Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """``free_failures`` failures cost nothing; each one after them doubles the wait, up to ``max_wait``."""

    free_failures: int = 5
    first_wait: int = 30
    max_wait: int = 900
    # Failures are forgotten this long after the first of them (or at a successful login).
    window: int = 3600

    def wait_after(self, failures: int) -> int:
        if failures < self.free_failures:
            return 0
        return min(self.first_wait * 2 ** (failures - self.free_failures), self.max_wait)


@dataclass(slots=True)
class LoginThrottle:
    storage: Storage
    policy: BackoffPolicy = field(default_factory=BackoffPolicy)
    prefix: str = "portal:"
    # When Redis is unreachable the counters go on in memory: throttling continues, nothing answers 500.
    fallback: MemoryStorage = field(default_factory=MemoryStorage)

    def key(self, *, email: str, client: str) -> str:
        digest = hashlib.sha256(f"{email.strip().lower()}\n{client}".encode()).hexdigest()[:32]
        return f"{self.prefix}login-backoff:{digest}"

    def _call(self, method: str, *args: object):
        try:
            return getattr(self.storage, method)(*args)
        except self.storage.base_exceptions as exc:
            log.warning("login throttle storage unreachable (%s); counting in memory", exc)
            return getattr(self.fallback, method)(*args)

    def wait_seconds(self, key: str) -> int:
        """Seconds the client must still wait before its next attempt for this e-mail (0: none)."""
        if not self._call("get", key + ":wait"):
            return 0
        return max(1, math.ceil(self._call("get_expiry", key + ":wait") - time.time()))

    def record_failure(self, key: str) -> tuple[int, int]:
        """Count a failure; returns (failures in the window, seconds the next attempt must wait)."""
        failures = self._call("incr", key + ":n", self.policy.window)
        wait = self.policy.wait_after(failures)
        if wait:
            self._call("clear", key + ":wait")
            self._call("incr", key + ":wait", wait)
        return failures, wait

    def clear(self, key: str) -> None:
        self._call("clear", key + ":n")
        self._call("clear", key + ":wait")
