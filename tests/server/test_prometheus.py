"""Prometheus: `serve` exposes its metrics to operator keys (and on --metrics-port), counts calls,
metering latency, webhook deliveries, Stripe errors and open sessions; --log-format json writes
JSON lines; and the alert rules in docs/ops pass promtool's check and their unit tests."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import mcp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from unifiedmcp._loopback import free_port
from unifiedmcp.billing.testing import sign_payload
from unifiedmcp.ledger import Ledger
from unifiedmcp.server import build_server
from unifiedmcp.server._metrics import REGISTRY

from ._serve import WEBHOOK_SECRET, start_serve
from .conftest import call, error, http_client, key_runtime
from .test_tenancy import ACCEPT, INIT

OPS = Path(__file__).resolve().parents[2] / "docs" / "ops"


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_alert_rules_pass_promtool_check_and_their_unit_tests() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: scripts/system-deps.sh installs Debian's prometheus package"
    for args in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts.test.yml"]):
        done = subprocess.run([promtool, *args], cwd=OPS, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr


def test_metrics_need_an_operator_key_and_count_calls_webhooks_and_sessions(tmp_path: Path) -> None:
    (tmp_path / "tiers.toml").write_text("[tiers.free]\nmonthly_api_calls = 3\noauth_connections = 1\nlimit = 'hard'\n")
    ledger_path = tmp_path / "ledger.sqlite3"
    with Ledger(ledger_path) as ledger:
        ledger.upsert_customer("cus_metrics", tier="free")
        customer_key = ledger.create_key("cus_metrics").token
        operator_key = ledger.create_key(None, operator=True).token
    metrics_port = free_port()
    served = start_serve(
        ledger_path, tmp_path, "--tools", "customers.read", "--metrics-port", str(metrics_port), "--log-format", "json",
        UNIFIEDMCP_TIERS_FILE=str(tmp_path / "tiers.toml"),
    )
    try:

        async def calls() -> list[bool]:
            async with http_client(served.mcp, customer_key) as client:
                return [(await client.call_tool("get_usage", {})).is_error for _ in range(5)]

        assert asyncio.run(calls()) == [False, False, False, True, True]
        # A session of the 2025 protocols (the 2026 one has none): initialize opens it.
        opened = httpx.post(served.mcp, json=INIT, headers=ACCEPT | {"Authorization": f"Bearer {customer_key}"})
        assert opened.status_code == 200 and opened.headers["mcp-session-id"]
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
        assert _value(_samples(scraped), "unifiedmcp_open_sessions") == 1
        event = {"id": "evt_metrics", "object": "event", "type": "customer.created", "created": 1_800_000_000,
                 "data": {"object": {"id": "cus_new", "object": "customer"}}}
        body = json.dumps(event).encode()
        good = httpx.post(f"{served.url}/webhooks/stripe", content=body,
                          headers={"Stripe-Signature": sign_payload(body, WEBHOOK_SECRET)}, timeout=10)
        bad = httpx.post(f"{served.url}/webhooks/stripe", content=body,
                         headers={"Stripe-Signature": sign_payload(body, "whsec_wrong")}, timeout=10)
        assert (good.status_code, bad.status_code) == (200, 400)

        assert httpx.get(f"{served.url}/metrics", timeout=10).status_code == 401
        assert httpx.get(f"{served.url}/metrics", headers={"Authorization": f"Bearer {customer_key}"}).status_code == 403
        scraped = httpx.get(f"{served.url}/metrics", headers={"Authorization": f"Bearer {operator_key}"}, timeout=10)
        assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
        samples = _samples(scraped.text)
        labels = {"tier": "free", "tool": "get_usage"}
        assert _value(samples, "unifiedmcp_calls_total", outcome="admitted", **labels) == 3
        assert _value(samples, "unifiedmcp_calls_total", outcome="rejected", **labels) == 2
        assert _value(samples, "unifiedmcp_metering_seconds_count") == 5
        assert _value(samples, "unifiedmcp_webhook_events_total", type="customer.created", outcome="applied") == 1
        assert _value(samples, "unifiedmcp_webhook_events_total", type="unverified", outcome="bad_signature") == 1
        unkeyed = _samples(httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text)
        assert _value(unkeyed, "unifiedmcp_calls_total", outcome="admitted", **labels) == 3
    finally:
        served.stop()
    lines = [line for line in served.log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any("MCP (customers) at" in r["message"] for r in records)
    assert all({"ts", "level", "logger", "message"} <= set(r) for r in records)
    assert customer_key not in served.log.read_text() and operator_key not in served.log.read_text()


@pytest.mark.anyio
async def test_stripe_errors_are_counted_by_code(ledger: Any, customer: str) -> None:
    def connection_errors() -> float:
        return REGISTRY.get_sample_value("unifiedmcp_stripe_errors_total", {"code": "APIConnectionError"}) or 0.0

    before = connection_errors()
    server = build_server(key_runtime("http://127.0.0.1:9", ledger, customer, "sk_test_x"))
    async with mcp.Client(server, raise_exceptions=True) as c:
        assert "cannot reach Stripe" in error(await call(c, "list_customers"))
    assert connection_errors() == before + 1
