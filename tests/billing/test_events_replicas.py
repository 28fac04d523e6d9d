"""Webhook events on a PostgreSQL ledger shared by several receivers (replicas): Stripe may
deliver one event to all of them at the same instant, and events of one subscription may be
applied on different replicas at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from unifiedmcp.billing import EventProcessor, subscriptions, webhook_events
from unifiedmcp.ledger import Ledger

from .conftest import event, subscription


@pytest.fixture
def replicas(postgres_url: str) -> Iterator[list[Ledger]]:
    """Three ledgers on one database, each with its own connection pool, as three servers have."""
    ledgers = [Ledger(postgres_url) for _ in range(3)]
    yield ledgers
    for led in ledgers:
        led.close()


def _slow(event: Mapping[str, Any]) -> None:
    time.sleep(0.2)  # inside the transaction: the deliveries overlap for sure


def _at_once(jobs: list) -> list:
    start = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(i: int) -> None:
        start.wait()
        results[i] = jobs[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_one_event_delivered_to_three_replicas_at_once_is_applied_once(replicas: list[Ledger]) -> None:
    evt = event("customer.subscription.created", subscription("sub_1", "cus_1", "active"), 100)
    processors = [EventProcessor(led, before_apply=_slow) for led in replicas]
    outcomes = _at_once([lambda p=p: p.process(evt) for p in processors])
    assert sorted(o.status for o in outcomes) == ["applied", "duplicate", "duplicate"]
    [stored] = webhook_events(replicas[0])
    assert (stored.status, stored.attempts) == ("applied", 1)
    assert replicas[0].customer("cus_1").tier == "pro"


def test_an_older_event_applied_on_another_replica_at_the_same_time_never_wins(replicas: list[Ledger]) -> None:
    """Two events of one subscription land on two replicas together: the newer state is kept
    whichever reaches the ledger first (each replica's check-then-write sees the other's commit)."""
    for attempt in range(4):  # both orders of arrival, twice
        sid = f"sub_{attempt}"
        newer = event("customer.subscription.updated", subscription(sid, "cus_1", "past_due"), 200)
        older = event("customer.subscription.updated", subscription(sid, "cus_1", "active", tier="enterprise"), 100)
        first, second = (newer, older) if attempt % 2 == 0 else (older, newer)
        _at_once([
            lambda: EventProcessor(replicas[0], before_apply=_slow).process(first),
            lambda: EventProcessor(replicas[1], before_apply=_slow).process(second),
        ])
        [m] = subscriptions(replicas[2], customer="cus_1")[attempt:attempt + 1]
        assert (m.subscription_id, m.status, m.tier, m.state_created) == (sid, "past_due", "pro", 200)
