"""Three `unifiedmcp serve` replicas on one PostgreSQL ledger, as behind a load balancer: the free
limit is exact across them, a pro counter equals the calls made, a webhook event delivered to all
three at once is applied once, and a replica killed mid-load leaves consistent counts while the
others carry on."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from unifiedmcp.billing.testing import sign_payload
from unifiedmcp.ledger import Ledger

from ._serve import WEBHOOK_SECRET, Served, start_serve
from .conftest import http_client

pytestmark = [pytest.mark.xdist_group("replicas"), pytest.mark.slow]


@pytest.fixture(scope="module")
def database(postgres_cluster: Any) -> str:
    return postgres_cluster.create_database(template="ledger_template")


@pytest.fixture(scope="module")
def replicas(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Served]]:
    tmp = tmp_path_factory.mktemp("replicas")
    served: list[Served] = []
    try:
        for _ in range(3):
            served.append(start_serve(database, tmp, "--tools", "customers.read"))
        yield served
    finally:
        for s in served:
            s.stop()


def _customer(database: str, tier: str, name: str) -> str:
    with Ledger(database) as ledger:
        ledger.upsert_customer(name, tier=tier)
        return ledger.create_key(name).token


async def _hammer(url: str, token: str, calls: int) -> tuple[int, int, int]:
    """(admitted, refused past the quota, failed otherwise) of ``calls`` get_usage calls."""
    admitted = refused = failed = 0
    try:
        async with http_client(url, token) as client:
            for _ in range(calls):
                result = await client.call_tool("get_usage", {})
                if not result.is_error:
                    admitted += 1
                elif "quota" in result.content[0].text:
                    refused += 1
                else:
                    failed += 1
    except Exception:  # noqa: BLE001 - a replica killed under this client: the rest are its failures
        failed += calls - admitted - refused - failed
    return admitted, refused, failed


def _spread(replicas: list[Served], token: str, clients: int, calls: int) -> list[tuple[int, int, int]]:
    async def main() -> list[tuple[int, int, int]]:
        return await asyncio.gather(
            *(_hammer(replicas[i % len(replicas)].mcp, token, calls) for i in range(clients))
        )

    return asyncio.run(main())


def _counts(database: str, customer: str) -> tuple[int, int, int]:
    """(counter, admitted events, rejected events) as the ledger holds them."""
    with Ledger(database) as ledger, ledger.transaction() as conn:
        counter = conn.execute(
            "SELECT coalesce(sum(calls), 0) FROM usage_counters WHERE customer_id = ?", (customer,)
        ).fetchone()[0]
        admitted, rejected = conn.execute(
            "SELECT count(*) FILTER (WHERE status != 'rejected'), count(*) FILTER (WHERE status = 'rejected')"
            " FROM usage_events WHERE customer_id = ?",
            (customer,),
        ).fetchone()
    return counter, admitted, rejected


def test_eight_clients_over_three_replicas_admit_exactly_the_free_limit(database: str, replicas: list[Served]) -> None:
    token = _customer(database, "free", "cus_replica_free")
    results = _spread(replicas, token, clients=8, calls=20)  # 160 calls for a limit of 100
    assert sum(r[0] for r in results) == 100
    assert sum(r[1] for r in results) == 60 and sum(r[2] for r in results) == 0
    assert _counts(database, "cus_replica_free") == (100, 100, 60)


def test_a_pro_counter_equals_the_calls_made_over_three_replicas(database: str, replicas: list[Served]) -> None:
    token = _customer(database, "pro", "cus_replica_pro")
    results = _spread(replicas, token, clients=8, calls=40)
    assert [r[0] for r in results] == [40] * 8
    assert _counts(database, "cus_replica_pro") == (320, 320, 0)


def test_one_webhook_event_posted_to_three_replicas_at_once_is_applied_once(
    database: str, replicas: list[Served]
) -> None:
    event = {
        "id": "evt_replicas_once", "object": "event", "type": "customer.created", "created": int(time.time()),
        "livemode": False, "data": {"object": {"id": "cus_from_webhook", "object": "customer", "email": "w@example.com"}},
    }
    body = json.dumps(event).encode()
    headers = {"Stripe-Signature": sign_payload(body, WEBHOOK_SECRET), "Content-Type": "application/json"}

    async def deliver() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as http:
            return await asyncio.gather(
                *(http.post(f"{r.url}/webhooks/stripe", content=body, headers=headers) for r in replicas)
            )

    responses = asyncio.run(deliver())
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert sorted(r.json()["status"] for r in responses) == ["applied", "duplicate", "duplicate"]
    with Ledger(database) as ledger, ledger.transaction() as conn:
        rows = conn.execute("SELECT status, attempts FROM webhook_events WHERE event_id = 'evt_replicas_once'").fetchall()
        assert ledger.customer("cus_from_webhook").email == "w@example.com"
    assert [tuple(r) for r in rows] == [("applied", 1)]


def test_a_replica_killed_mid_load_leaves_consistent_counts_and_the_others_carry_on(
    database: str, replicas: list[Served]
) -> None:
    """Runs last in this module (it kills one of the shared replicas). 6 clients, 2 per replica;
    the third replica gets SIGKILL once calls are flowing."""
    token = _customer(database, "pro", "cus_replica_kill")
    victim = replicas[2]

    async def main() -> list[tuple[int, int, int]]:
        load = asyncio.gather(*(_hammer(replicas[i % 3].mcp, token, 150) for i in range(6)))
        deadline = time.monotonic() + 60
        while _counts(database, "cus_replica_kill")[0] < 100:
            assert time.monotonic() < deadline, "no progress before the kill"
            await asyncio.sleep(0.05)
        os.kill(victim.proc.pid, signal.SIGKILL)
        return await load

    results = asyncio.run(main())
    victim.proc.wait(timeout=10)
    survivors = [r for i, r in enumerate(results) if i % 3 != 2]
    assert [r[0] for r in survivors] == [150] * 4  # the other replicas served every call
    seen = sum(r[0] for r in results)
    counter, admitted, rejected = _counts(database, "cus_replica_kill")
    assert counter == admitted and rejected == 0
    # Every answered call is counted; at most the calls in flight on the killed replica (one per
    # client there) were counted without their answer reaching the client.
    assert seen <= counter <= seen + 2
    assert asyncio.run(_hammer(replicas[0].mcp, token, 1))[0] == 1
