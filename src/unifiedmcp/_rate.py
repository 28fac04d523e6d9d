"""Token buckets by key (an API key, a client address): the sandbox's rate limit and the OAuth
server's limit on client registrations share one implementation."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

__all__ = ["TokenBuckets"]


class TokenBuckets:
    """One token bucket per key: ``rate`` tokens a second, holding at most ``burst``.

    At most ``max_keys`` buckets are kept, the least recently used forgotten first (O(1) each), so
    a flood of new keys costs bounded memory and time; a key forgotten that way starts full again.
    """

    def __init__(self, *, max_keys: int = 10_000) -> None:
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, when)
        self._max_keys = max_keys
        self._lock = threading.Lock()

    def take(self, key: str, *, rate: float, burst: float) -> bool:
        """Take one token from ``key``'s bucket; False when it has none left."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.pop(key, (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            taken = tokens >= 1
            self._buckets[key] = (tokens - 1 if taken else tokens, now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
            return taken
