"""A misconfigured stdio server still completes the handshake and explains itself on every call;
resources and prompts follow the tenancy of the tools."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import mcp
import pytest
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

from unifiedmcp.ledger import Ledger

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("env", "problem", "fix"),
    [
        ({"UNIFIEDMCP_CUSTOMER": "cus_nobody"}, "unknown customer 'cus_nobody'", "unifiedmcp customers add cus_nobody"),
        ({}, "give --customer", "UNIFIEDMCP_CUSTOMER"),
        ({"UNIFIEDMCP_CUSTOMER": "cus_x", "UNIFIEDMCP_LEDGER": "/proc/none/ledger.sqlite3"}, "cannot open ledger", "UNIFIEDMCP_LEDGER"),
    ],
)
async def test_misconfigured_stdio_server_completes_the_handshake_and_names_problem_and_fix(
    tmp_path: Path, env: dict[str, str], problem: str, fix: str
) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "UNIFIEDMCP_"))}
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "unifiedmcp", "mcp"], cwd=str(tmp_path),
        env=base | {"UNIFIEDMCP_DATA_DIR": str(tmp_path / "data")} | env,
    )
    async with mcp.Client(stdio_client(params)) as client:
        assert len((await client.list_tools()).tools) >= 29
        result = await client.call_tool("list_customers", {})
    assert result.is_error and result.structured_content["error"]["type"] == "server_misconfigured"
    text = result.content[0].text
    assert problem in text and fix in text and "\n" not in text


async def test_resources_read_only_the_callers_own_account_and_usage(
    server: Any, ledger: Ledger, customer: str, customer_stripe: Any, sandbox: Any
) -> None:
    mine = customer_stripe.v1.customers.create({"name": "Mine"}).id
    theirs = sandbox.client(api_key=sandbox.create_account()[1]).v1.customers.create({"name": "Theirs"}).id
    operators = sandbox.client().v1.customers.create({"name": "Operator's"}).id
    async with mcp.Client(server, raise_exceptions=True) as client:
        read = await client.read_resource(f"stripe://customers/{mine}")
        assert json.loads(read.contents[0].text)["name"] == "Mine"
        for other in (theirs, operators):
            with pytest.raises(MCPError):
                await client.read_resource(f"stripe://customers/{other}")
        with pytest.raises(MCPError):
            await client.read_resource("stripe://customers/not-an-id")
        usage = json.loads((await client.read_resource("unifiedmcp://usage/current")).contents[0].text)
        prompts = {p.name for p in (await client.list_prompts()).prompts}
        text = (await client.get_prompt("review_failed_payments")).messages[0].content.text
    # reads that reached Stripe are metered (3: one found, two refused by Stripe); the usage one is not
    assert usage["customer"] == customer and usage["calls"] == 3 == ledger.usage(customer).calls
    assert prompts == {"review_failed_payments", "explain_usage_and_bill"} and "list_invoices" in text
