"""Per-client rate limits: a token bucket per API key name (or client address).

Each client may make ``per_minute`` requests a minute, in bursts of up to ``burst``; a request
beyond that is refused with the seconds until the next one would pass (the 429's
``Retry-After``). Time comes from a clock function, so the rule is tested without waiting.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Thread-safe; forgets a client once its bucket is full again (memory stays bounded by the
    clients active in the last minute)."""

    def __init__(self, per_minute: int, *, burst: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0  # tokens per second
        self.burst = float(burst or per_minute)
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> int | None:
        """None when ``client`` may go on (one token taken); else the whole seconds to wait."""
        now = self.clock()
        with self._lock:
            if len(self._buckets) > 10_000:
                self._forget_full(now)
            b = self._buckets.get(client)
            if b is None:
                b = self._buckets[client] = _Bucket(self.burst, now)
            b.tokens = min(self.burst, b.tokens + (now - b.at) * self.rate)
            b.at = now
            if b.tokens >= 1.0:
                b.tokens -= 1.0
                return None
            return max(1, math.ceil((1.0 - b.tokens) / self.rate))

    def _forget_full(self, now: float) -> None:
        full = [c for c, b in self._buckets.items() if b.tokens + (now - b.at) * self.rate >= self.burst]
        for c in full:
            del self._buckets[c]
