"""Refusals that never reach Stripe are not metered (the table in docs/mcp-server.md): schema
errors, rules between arguments, confirmation the client cannot give, no connection, an account
that is not the caller's. What reaches Stripe is metered, failures included. Writes say whether
Stripe replayed them."""

from __future__ import annotations

from typing import Any

import mcp
import pytest

from unifiedmcp.server import build_server

from .conftest import call, customer_runtime, ok

pytestmark = pytest.mark.anyio

REFUSED_BEFORE_STRIPE = [
    ("invalid_arguments", "list_customers", {"emial": "a@example.com"}),
    ("invalid_arguments", "list_customers", {"limit": "ten"}),
    ("invalid_arguments", "create_price", {"product": "prod_1", "unit_amount": -1, "currency": "usd"}),
    ("validation_error", "create_coupon", {"percent_off": 10, "amount_off": 100, "currency": "usd"}),
    ("confirmation_required", "cancel_subscription", {"subscription": "sub_123"}),
    ("invalid_account", "list_customers", {"account": "acct_notmine"}),
]


@pytest.mark.parametrize(("kind", "tool", "args"), REFUSED_BEFORE_STRIPE)
async def test_refusals_before_stripe_are_not_metered(server: Any, ledger: Any, customer: str, kind: str, tool: str, args: dict[str, Any]) -> None:
    async with mcp.Client(server, raise_exceptions=True) as client:
        result = await call(client, tool, args)
    assert result.is_error and result.structured_content["error"]["type"] == kind
    assert "\n" not in result.content[0].text
    assert ledger.usage(customer).calls == 0


async def test_no_connection_is_not_metered(sandbox: Any, ledger: Any) -> None:
    ledger.upsert_customer("cus_unconnected", tier="pro")
    server = build_server(customer_runtime(sandbox, ledger, customer="cus_unconnected"))
    async with mcp.Client(server, raise_exceptions=True) as client:
        result = await call(client, "list_customers")
    assert result.structured_content["error"]["type"] == "no_connection"
    assert ledger.usage("cus_unconnected").calls == 0


async def test_a_call_stripe_refuses_is_metered_once(server: Any, ledger: Any, customer: str) -> None:
    async with mcp.Client(server, raise_exceptions=True) as client:
        result = await call(client, "update_customer", {"customer": "cus_doesnotexist", "name": "x"})
    assert result.structured_content["error"]["type"] == "stripe_error"
    assert ledger.usage(customer).calls == 1


async def test_an_identical_write_is_flagged_as_a_replay(server: Any, ledger: Any, customer: str, customer_stripe: Any) -> None:
    async with mcp.Client(server, raise_exceptions=True) as client:
        first = ok(await call(client, "create_customer", {"name": "Twice", "email": "twice@example.com"}))
        second = ok(await call(client, "create_customer", {"name": "Twice", "email": "twice@example.com"}))
        other = ok(await call(client, "create_customer", {"name": "Twice", "idempotency_key": "a-new-key-1"}))
    assert first["replayed"] is False and second["replayed"] is True and second["id"] == first["id"]
    assert other["replayed"] is False and other["id"] != first["id"]
    assert len(customer_stripe.v1.customers.search({"query": 'name:"Twice"'}).data) == 2
