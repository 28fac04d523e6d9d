"""Metering: every tool call that runs is checked and recorded in the ledger for the caller, with
its outcome and latency, even when the call is cancelled; over-quota callers are refused before
Stripe (and before a human is asked to confirm). (Its cost is measured in benchmarks/bench_mcp.py.)"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import anyio
import mcp
import pytest
from mcp_types import ElicitResult

from unifiedmcp.server import build_server
from unifiedmcp.server._binding import bind
from unifiedmcp.server._registry import ToolSpec

from .conftest import call, connect_key, customer_runtime, error, ok

pytestmark = pytest.mark.anyio


async def test_each_call_is_recorded_with_outcome_and_latency(server: Any, ledger: Any, customer: str) -> None:
    async with mcp.Client(server, raise_exceptions=True) as client:
        ok(await call(client, "list_customers", {"limit": 1}))
        error(await call(client, "update_customer", {"customer": "cus_missing", "name": "x"}))
        ok(await call(client, "retrieve_balance"))
    rows = [r for r in ledger.usage_events() if r[2] == customer]
    assert [(r[3], r[5]) for r in rows] == [
        ("list_customers", "ok"),
        ("update_customer", "error"),
        ("retrieve_balance", "ok"),
    ]
    assert all(r[7] is not None and r[7] >= 0 for r in rows)
    assert ledger.usage(customer).calls == 3


async def test_arguments_refused_by_validation_are_not_metered(server: Any, ledger: Any, customer: str) -> None:
    async with mcp.Client(server, raise_exceptions=True) as client:
        error(await call(client, "list_customers", {"limit": 500}))
    assert ledger.usage(customer).calls == 0


async def test_unknown_or_missing_customer_is_refused_before_stripe(sandbox: Any, ledger: Any) -> None:
    name = f"never-{uuid.uuid4().hex[:8]}"
    for options in ({"customer": "cus_not_in_ledger"}, {}):
        server = build_server(customer_runtime(sandbox, ledger, **options))
        async with mcp.Client(server, raise_exceptions=True) as client:
            result = await call(client, "create_customer", {"name": name})
        assert result.structured_content["error"]["type"] == "metering_error"
    found = sandbox.client().v1.customers.search({"query": f'name:"{name}"'})
    assert found.data == []


async def test_over_quota_caller_is_not_asked_to_confirm(sandbox: Any, ledger: Any, account_key: str) -> None:
    cus = "cus_free" + uuid.uuid4().hex[:8]
    ledger.upsert_customer(cus, tier="free")
    for i in range(100):
        ledger.check_and_record(cus, "seed", event_id=f"{cus}-{i}")
    asked: list[str] = []

    async def elicit(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"confirm": True})

    connect_key(sandbox, ledger, cus, account_key)
    runtime = customer_runtime(sandbox, ledger, customer=cus, upgrade_url="https://example.com/upgrade")
    async with mcp.Client(build_server(runtime), raise_exceptions=True, elicitation_callback=elicit) as client:
        result = await call(client, "cancel_subscription", {"subscription": "sub_whatever"})
    err = result.structured_content["error"]
    assert err["type"] == "quota_exceeded" and err["upgrade_url"] == "https://example.com/upgrade"
    assert asked == []
    assert ledger.usage(cus).rejected == 1


async def test_a_cancelled_call_is_still_recorded_with_its_outcome(sandbox: Any, ledger: Any, customer: str) -> None:
    """A client gone mid-call cancels the handler while the tool runs in its thread: the tool
    finishes there, the call stays counted, and its outcome and latency are still written."""
    started, release = threading.Event(), threading.Event()

    def slow(call: Any) -> dict[str, Any]:
        started.set()
        release.wait(10)
        return {"done": True}

    spec = ToolSpec(
        name="slow_tool", resource="test", action="read", fn=slow, title="Slow", permission="none", stripe=False
    )
    tool = bind(spec, customer_runtime(sandbox, ledger, customer=customer))
    async with anyio.create_task_group() as tg:
        tg.start_soon(tool)
        await anyio.to_thread.run_sync(started.wait, 10)
        tg.cancel_scope.cancel()
        release.set()
    rows = [r for r in ledger.usage_events() if r[2] == customer and r[3] == "slow_tool"]
    assert [(r[5], r[7] is not None) for r in rows] == [("ok", True)]
