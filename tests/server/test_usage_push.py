"""`serve` reports paying customers' calls to Stripe's meter in the background (usage billing):
calls made over MCP reach the operator account's meter without `billing push-usage`, and the
push-lag gauge returns to 0; with `--no-push-usage` nothing is sent."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from unifiedmcp._loopback import free_port
from unifiedmcp.accounts import CredentialCipher
from unifiedmcp.billing import ensure_catalog
from unifiedmcp.ledger import Ledger

from ._serve import start_serve
from .conftest import SECRET_KEY, http_client


def _metered_calls(client: Any, customer: str) -> int:
    [meter] = client.v1.billing.meters.list().data
    now = int(time.time())
    page = client.v1.billing.meters.event_summaries.list(
        meter.id, {"customer": customer, "start_time": now - 3600 - now % 60, "end_time": now + 3600 - now % 60}
    )
    return int(sum(s.aggregated_value for s in page.data))


def _push_lag(metrics_port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
    [value] = [s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "unifiedmcp_usage_push_lag_seconds"]
    return value


@pytest.mark.parametrize("push", [True, False])
def test_serve_pushes_usage_to_the_meter_in_the_background(fresh_sandbox: Any, tmp_path: Path, push: bool) -> None:
    operator = fresh_sandbox.client()
    ledger_path = tmp_path / "ledger.sqlite3"
    customer = operator.v1.customers.create({"email": "pushed@example.com"}).id
    with Ledger(ledger_path) as ledger:
        ensure_catalog(operator, ledger=ledger)
        ledger.upsert_customer(customer, tier="pro")
        ledger.add_connection(customer, "stripe", account="acct_own", kind="api_key",
                              credential=CredentialCipher(SECRET_KEY).encrypt("sk_test_customers_own"))
        token = ledger.create_key(customer).token
    metrics_port = free_port()
    served = start_serve(
        ledger_path, tmp_path, "--tools", "customers.read", "--metrics-port", str(metrics_port),
        "--push-interval", "0.2", "--push-concurrency", "2", *([] if push else ["--no-push-usage"]),
        **fresh_sandbox.env(),
    )
    try:

        async def calls() -> list[bool]:
            async with http_client(served.mcp, token) as client:
                return [(await client.call_tool("get_usage", {})).is_error for _ in range(5)]

        assert asyncio.run(calls()) == [False] * 5
        deadline = time.monotonic() + 20
        while push and _metered_calls(operator, customer) < 5:
            assert time.monotonic() < deadline, f"usage never reached the meter: {served.log.read_text()}"
            time.sleep(0.2)
        time.sleep(1.0)  # a few more push intervals: nothing more, and nothing at all without the push
        assert _metered_calls(operator, customer) == (5 if push else 0)
        if push:
            assert _push_lag(metrics_port) == 0.0  # nothing pending
    finally:
        served.stop()
    with Ledger(ledger_path) as ledger:
        assert {r.status for r in ledger.meter_events()} == ({"sent"} if push else set())
