"""A real third-party client: the MCP Inspector CLI (npm @modelcontextprotocol/inspector) lists the
tools and calls list_customers and create_customer, over stdio (``unifiedmcp mcp``) and over
streamable HTTP with a bearer key. Skipped, with the reason, when Node.js is not installed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from unifiedmcp.billing.testing import serve_app
from unifiedmcp.server import create_app

from .conftest import SECRET_KEY, connect_key, customer_runtime, npm_install

UNIFIEDMCP = [sys.executable, "-m", "unifiedmcp"]


# One worker runs both tests, so the Inspector is installed once (the module fixture).
pytestmark = pytest.mark.xdist_group("mcp-inspector")


@pytest.fixture(scope="module")
def inspector() -> str:
    folder = npm_install("inspector", "@modelcontextprotocol/inspector@2.12.0", what="the MCP Inspector CLI")
    return str(folder / "node_modules" / ".bin" / "mcp-inspector")


def _run(inspector: str, target: list[str], *method: str) -> dict[str, Any]:
    proc = subprocess.run([inspector, "--cli", *target, *method], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-1000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout)


def _exercise(inspector: str, target: list[str], stripe: Any, name: str) -> None:
    listed = _run(inspector, target, "--method", "tools/list")
    names = {t["name"] for t in listed["tools"]}
    assert {"list_customers", "create_customer", "cancel_subscription", "get_usage"} <= names
    cancel = next(t for t in listed["tools"] if t["name"] == "cancel_subscription")
    assert cancel["annotations"]["destructiveHint"] is True

    created = _run(
        inspector, target, "--method", "tools/call", "--tool-name", "create_customer", "--tool-arg", f"name={name}"
    )
    assert created.get("isError") in (None, False), created
    cid = created["structuredContent"]["id"]
    assert stripe.v1.customers.retrieve(cid).name == name  # in the customer's own account

    listed_customers = _run(
        inspector, target, "--method", "tools/call", "--tool-name", "list_customers", "--tool-arg", "limit=5"
    )
    page = listed_customers["structuredContent"]
    assert cid in {c["id"] for c in page["data"]} and "has_more" in page


def test_inspector_over_stdio(
    inspector: str, sandbox: Any, tmp_path: Path, account_key: str, customer_stripe: Any
) -> None:
    from unifiedmcp.ledger import Ledger

    ledger_path = tmp_path / "ledger.sqlite3"
    with Ledger(ledger_path) as ledger:
        ledger.upsert_customer("cus_inspector_stdio", tier="pro")
        connect_key(sandbox, ledger, "cus_inspector_stdio", account_key)
    env = sandbox.env() | {
        "UNIFIEDMCP_LEDGER": str(ledger_path),
        "UNIFIEDMCP_CUSTOMER": "cus_inspector_stdio",
        "UNIFIEDMCP_SECRET_KEY": SECRET_KEY,
    }
    # The Inspector starts the server with a minimal environment: pass ours explicitly.
    target = [arg for k, v in env.items() for arg in ("-e", f"{k}={v}")] + [*UNIFIEDMCP, "mcp"]
    _exercise(inspector, target, customer_stripe, "Inspector stdio")
    with Ledger(ledger_path) as ledger:
        assert ledger.usage("cus_inspector_stdio").calls == 2  # tools/list is not metered; calls are


def test_inspector_over_http_with_a_bearer_key(
    inspector: str, sandbox: Any, ledger: Any, account_key: str, customer_stripe: Any
) -> None:
    ledger.upsert_customer("cus_inspector_http", tier="pro")
    connect_key(sandbox, ledger, "cus_inspector_http", account_key)
    token = ledger.create_key("cus_inspector_http").token
    runtime = customer_runtime(sandbox, ledger)
    with serve_app(create_app(runtime, base_url="http://127.0.0.1")) as url:
        target = ["--transport", "http", "--server-url", f"{url}/mcp", "--header", f"Authorization: Bearer {token}"]
        _exercise(inspector, target, customer_stripe, "Inspector HTTP")
        # without the key the Inspector is turned away
        proc = subprocess.run(
            [inspector, "--cli", "--transport", "http", "--server-url", f"{url}/mcp", "--method", "tools/list"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode != 0 and "create_customer" not in proc.stdout
    assert ledger.usage("cus_inspector_http").calls == 2
