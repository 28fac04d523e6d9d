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


def test_a_flood_of_keys_keeps_only_buckets_that_matter() -> None:
    buckets = TokenBuckets(max_keys=100)
    assert buckets.take("hot", rate=0.001, burst=1)  # its one token: empty for the next 1,000 s
    for i in range(1_000):
        buckets.take(f"k{i}", rate=1_000_000.0, burst=1)  # full again within a microsecond: forgettable
    assert len(buckets._buckets) <= 101
    assert not buckets.take("hot", rate=0.001, burst=1)  # the empty bucket was kept: still refused
