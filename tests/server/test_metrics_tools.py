"""The operator tools billing_metrics and usage_report read the DuckDB warehouse for a month: the
report is the metrics package's own, with every metrics.md key, and the usage the server
metered (pulled from the ledger) shows per customer."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mcp
import pytest
import stripe

from unifiedmcp import warehouse
from unifiedmcp.metrics import REPORT_KEYS, monthly
from unifiedmcp.server import Runtime, ServerOptions, build_server
from unifiedmcp.warehouse import shapes

from .conftest import call, error, ok

pytestmark = pytest.mark.anyio


def _warehouse(tmp_path: Path, ledger_path: Path) -> Path:
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    price = shapes.price("price_pro_monthly", product="prod_main", unit_amount=2900, tier="pro")
    objects = [
        shapes.product("prod_main", name="UnifiedMCP"),
        price,
        shapes.customer("cus_metrics", created=start),
        shapes.subscription("sub_metrics", customer="cus_metrics", price=price, created=start,
                            current_period_start=start, current_period_end=end),
    ]
    db = tmp_path / "warehouse.duckdb"
    warehouse.load_stripe(db, shapes.write_jsonl(tmp_path / "export", objects))
    warehouse.pull_usage(db, ledger=ledger_path)
    return db


async def test_billing_metrics_and_usage_report(ledger: Any, tmp_path: Path) -> None:
    ledger.upsert_customer("cus_metrics", tier="pro")
    when = datetime(2026, 11, 10, tzinfo=UTC)
    for i in range(7):
        ledger.check_and_record("cus_metrics", "list_customers", event_id=f"m-{i}", at=when)
    db = _warehouse(tmp_path, ledger.path)
    runtime = Runtime(
        stripe_client=stripe.StripeClient("sk_test_unused"),
        ledger=ledger,
        options=ServerOptions(role="operator", tools="metrics", warehouse=db),
    )
    async with mcp.Client(build_server(runtime), raise_exceptions=True) as client:
        report = ok(await call(client, "billing_metrics", {"month": "2026-11"}))
        usage = ok(await call(client, "usage_report", {"month": "2026-11"}))
        bad = await call(client, "billing_metrics", {"month": "2026-13"})
    assert set(report) == set(REPORT_KEYS)
    assert report["month"] == "2026-11"
    assert report == json.loads(json.dumps(monthly(db, "2026-11", tiers=ledger.tiers)))
    row = next(r for r in usage["by_customer"] if r["customer"] == "cus_metrics")
    assert row["calls"] == 7
    assert "invalid_arguments" in error(bad) and "month" in error(bad)


async def test_without_a_warehouse_the_tool_says_how_to_build_one(ledger: Any, tmp_path: Path) -> None:
    runtime = Runtime(
        stripe_client=stripe.StripeClient("sk_test_unused"),
        ledger=ledger,
        options=ServerOptions(role="operator", tools="metrics", warehouse=tmp_path / "missing.duckdb"),
    )
    async with mcp.Client(build_server(runtime), raise_exceptions=True) as client:
        text = error(await call(client, "usage_report", {"month": "2026-11"}))
    assert "warehouse" in text
