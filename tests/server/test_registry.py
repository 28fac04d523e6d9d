"""``--tools`` selection: several actions of one resource, bare resources, camelCase resources and
tool names all select what they name (Stripe's old server kept one action per resource);
get_usage is always served to customers; operator-only tools are refused on a customer-facing
server and part of an operator's ``all``; an unknown entry is refused with the valid choices."""

from __future__ import annotations

from typing import Any

import mcp
import pytest
import stripe

from unifiedmcp.server import Runtime, ServerOptions, ToolSelectionError, build_server, select_tools, tool_specs


def names(selection: str) -> set[str]:
    return {s.name for s in select_tools(selection)}


def test_all_selects_every_tool_but_the_operator_metrics() -> None:
    assert names("all") == {s.name for s in tool_specs()} - {"billing_metrics", "usage_report"}
    assert len(names("all")) == 29


@pytest.mark.parametrize("selection", ["all,metrics", "metrics", "billing_metrics", "customers,metrics.read"])
def test_a_customer_facing_selection_of_operator_tools_is_refused(selection: str) -> None:
    with pytest.raises(ToolSelectionError, match="operator-only"):
        select_tools(selection)


def test_operators_get_every_tool_but_get_usage() -> None:
    operator = {s.name for s in select_tools("all", role="operator")}
    assert operator == {s.name for s in tool_specs()} - {"get_usage"}
    assert {s.name for s in select_tools("metrics", role="operator")} == {"billing_metrics", "usage_report"}


def test_several_actions_of_one_resource_are_all_kept() -> None:
    assert names("customers.create,customers.read") == {"create_customer", "list_customers", "get_usage"}
    assert names("subscriptions.read, subscriptions.update,subscriptions.delete") == {
        "list_subscriptions",
        "update_subscription",
        "cancel_subscription",
        "get_usage",
    }


def test_bare_resources_camel_case_and_tool_names() -> None:
    assert names("customers") == {"create_customer", "list_customers", "update_customer", "get_usage"}
    assert names("paymentLinks.create") == names("payment_links.create") == {"create_payment_link", "get_usage"}
    assert names("void_invoice,retrieve_balance") == {"void_invoice", "retrieve_balance", "get_usage"}
    assert names("invoices.update") == {"finalize_invoice", "void_invoice", "get_usage"}


@pytest.mark.parametrize("bad", ["customers.delete", "charges", "nope", ""])
def test_unknown_selection_is_refused_with_the_choices(bad: str) -> None:
    with pytest.raises(ToolSelectionError) as info:
        select_tools(bad)
    assert "customers.create" in str(info.value)


@pytest.mark.anyio
async def test_the_server_lists_only_the_selection() -> None:
    runtime = Runtime(
        stripe_client=stripe.StripeClient("sk_test_x"),
        ledger=None,
        options=ServerOptions(role="operator", tools="customers.create,customers.read,disputes"),
    )
    async with mcp.Client(build_server(runtime)) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
    assert listed == {"create_customer", "list_customers", "list_disputes", "update_dispute"}


@pytest.fixture
def anyio_backend() -> Any:
    return "asyncio"
