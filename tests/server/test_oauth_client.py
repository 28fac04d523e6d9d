"""The official TypeScript SDK client (npm @modelcontextprotocol/sdk) through the whole OAuth flow
against a real server on 127.0.0.1 (see oauth_client.mjs): discovery, registration, authorize
with the consent page submitted by the test, token, metered tool calls as the right customer,
refresh, revoke, then 401. Skipped, with the reason, only when Node.js is not installed."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from unifiedmcp.billing.testing import serve_app
from unifiedmcp.server import create_app

from .conftest import connect_key, customer_runtime, free_port, npm_install

SDK_VERSION = "1.32.2"

pytestmark = pytest.mark.xdist_group("mcp-npm")


@pytest.fixture(scope="module")
def sdk_dir() -> Path:
    folder = npm_install("mcp-sdk", f"@modelcontextprotocol/sdk@{SDK_VERSION}", what="the TypeScript SDK client")
    return folder / "node_modules" / "@modelcontextprotocol" / "sdk"


def test_typescript_sdk_client_authorizes_calls_metered_tools_refreshes_and_is_revoked(
    sdk_dir: Path, sandbox: Any, ledger: Any, account_key: str, customer_stripe: Any
) -> None:
    ledger.upsert_customer("cus_oauth_e2e", tier="pro")
    ledger.upsert_customer("cus_bystander", tier="pro")
    connect_key(sandbox, ledger, "cus_oauth_e2e", account_key)
    key = ledger.create_key("cus_oauth_e2e").token
    port = free_port()
    app = create_app(customer_runtime(sandbox, ledger), base_url=f"http://127.0.0.1:{port}")
    with serve_app(app, port=port) as url:
        proc = subprocess.run(
            ["node", str(Path(__file__).with_name("oauth_client.mjs"))],
            env=os.environ | {"SDK_DIR": str(sdk_dir), "MCP_URL": f"{url}/mcp", "API_KEY": key},
            capture_output=True, text=True, timeout=120,
        )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    # discovery and authorization
    assert seen["unauthorizedFirst"] is True and seen["registeredClientId"]
    assert seen["authorizeHadPkceS256"] is True and seen["authorizeResource"] == f"{url}/mcp"
    assert seen["consentPageNamesClient"] is True and seen["stateReturned"] is True
    assert seen["tokenScope"] == "mcp:read mcp:write" and seen["accessTokenPrefix"] == "umo_at_"
    assert seen["metadataCimd"] is True
    # tool calls act for the key's customer, in its own account, and are metered to it alone
    assert seen["tools"] >= 29 and seen["usageCustomer"] == "cus_oauth_e2e"
    assert customer_stripe.v1.customers.retrieve(seen["createdCustomer"]).name == "Made over OAuth"
    assert seen["createdReplayed"] is False
    assert seen["callsAfterReauthorize"] == 3 == ledger.usage("cus_oauth_e2e").calls
    assert ledger.usage("cus_bystander").calls == 0
    # refresh rotates; a rotated refresh token is refused and revokes its grant
    assert seen["refreshRotated"] is True and seen["oldRefreshRefused"] is True and seen["grantRevokedByReuse"] is True
    # revocation, then 401 invalid_token
    assert seen["revokeStatus"] == 200 and seen["afterRevokeStatus"] == 401
    assert 'error="invalid_token"' in seen["afterRevokeChallenge"]
    clients = ledger.oauth.clients()
    assert [c.client_name for c in clients] == ["TS SDK end-to-end"] and clients[0].active_tokens == 0
