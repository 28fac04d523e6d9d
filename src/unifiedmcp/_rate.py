"""Token buckets by key (an API key, a client address): the sandbox's rate limit and the OAuth
server's limit on client registrations share one implementation."""

from __future__ import annotations

import threading
import time

__all__ = ["TokenBuckets"]


class TokenBuckets:
    """One token bucket per key: ``rate`` tokens a second, holding at most ``burst``.

    At most ``max_keys`` buckets are kept: past that, buckets full again (idle for long enough)
    are forgotten, which changes no answer, so a flood of new keys costs bounded memory.
    """

    def __init__(self, *, max_keys: int = 10_000) -> None:
        self._buckets: dict[str, tuple[float, float, float]] = {}  # key -> (tokens, when, full again at)
        self._max_keys = max_keys
        self._lock = threading.Lock()

    def take(self, key: str, *, rate: float, burst: float) -> bool:
        """Take one token from ``key``'s bucket; False when it has none left."""
        now = time.monotonic()
        with self._lock:
            tokens, last, _ = self._buckets.get(key, (burst, now, now))
            tokens = min(burst, tokens + (now - last) * rate)
            taken = tokens >= 1
            left = tokens - 1 if taken else tokens
            full_at = now + (burst - left) / rate if rate > 0 else float("inf")
            self._buckets[key] = (left, now, full_at)
            if len(self._buckets) > self._max_keys:
                self._buckets = {k: v for k, v in self._buckets.items() if v[2] > now}
            return taken
