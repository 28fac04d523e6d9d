"""Token buckets by key (`unifiedmcp._rate`): a burst, then the refill rate; keys apart; a flood
of new keys keeps memory bounded without changing any answer."""

from __future__ import annotations

import time

from unifiedmcp._rate import TokenBuckets


def test_a_burst_then_the_rate_and_each_key_apart() -> None:
    buckets = TokenBuckets()
    assert [buckets.take("a", rate=20.0, burst=3) for _ in range(4)] == [True, True, True, False]
    assert buckets.take("b", rate=20.0, burst=3)  # another key has its own bucket
    time.sleep(0.06)  # 20 a second: one token back after 50 ms
    assert buckets.take("a", rate=20.0, burst=3) and not buckets.take("a", rate=20.0, burst=3)


def test_a_flood_of_keys_keeps_memory_bounded_and_the_keys_in_use() -> None:
    """20,000 new keys at the registration limit's own rate: at most max_keys buckets remain, and
    a key in use throughout (its bucket empty) is not among those forgotten."""
    buckets = TokenBuckets(max_keys=100)
    assert buckets.take("hot", rate=0.001, burst=1)  # its one token: empty for the next 1,000 s
    for i in range(20_000):
        buckets.take(f"k{i}", rate=0.5, burst=30)
        if i % 50 == 0:
            assert not buckets.take("hot", rate=0.001, burst=1)  # still refused: kept, still empty
    assert len(buckets._buckets) <= 100
