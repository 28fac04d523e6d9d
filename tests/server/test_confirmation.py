"""Destructive tools need a human: accept cancels in the sandbox; decline, cancel or no way to ask
leave it untouched; ``confirm: true`` works only when the server allows it. Both protocol eras."""

from __future__ import annotations

from typing import Any

import mcp
import pytest
from mcp_types import ElicitResult

from unifiedmcp.server import build_server

from .conftest import call, error, ok

pytestmark = pytest.mark.anyio


def _subscription(stripe: Any) -> str:
    cus = stripe.v1.customers.create({"name": "Confirm", "payment_method": "pm_card_visa",
                                      "invoice_settings": {"default_payment_method": "pm_card_visa"}}).id
    product = stripe.v1.products.create({"name": "Plan"}).id
    price = stripe.v1.prices.create({"product": product, "unit_amount": 1000, "currency": "usd", "recurring": {"interval": "month"}}).id
    sub = stripe.v1.subscriptions.create({"customer": cus, "items": [{"price": price}]})
    assert sub.status == "active"
    return sub.id


def _answer(action: str, content: dict[str, Any] | None = None) -> Any:
    asked: list[str] = []

    async def elicit(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action=action, content=content)

    elicit.asked = asked  # type: ignore[attr-defined]
    return elicit


@pytest.mark.parametrize("mode", ["auto", "legacy"])  # 2026-07-28 (input_required) and 2025-era requests
async def test_accept_cancels_the_subscription(server: Any, sandbox: Any, mode: str, customer_stripe: Any) -> None:
    sub = _subscription(customer_stripe)
    elicit = _answer("accept", {"confirm": True})
    async with mcp.Client(server, raise_exceptions=True, elicitation_callback=elicit, mode=mode) as client:
        result = ok(await call(client, "cancel_subscription", {"subscription": sub}))
    assert result["status"] == "canceled"
    assert customer_stripe.v1.subscriptions.retrieve(sub).status == "canceled"
    assert len(elicit.asked) == 1 and sub in elicit.asked[0]


@pytest.mark.parametrize(
    ("action", "content"), [("decline", None), ("cancel", None), ("accept", {"confirm": False})]
)
async def test_decline_or_cancel_leaves_it_untouched(
    server: Any, sandbox: Any, ledger: Any, customer: str, action: str, content: Any
, customer_stripe: Any) -> None:
    sub = _subscription(customer_stripe)
    async with mcp.Client(server, raise_exceptions=True, elicitation_callback=_answer(action, content)) as client:
        result = await call(client, "cancel_subscription", {"subscription": sub})
    assert "nothing was changed" in error(result)
    assert result.structured_content["error"]["type"] == "not_confirmed"
    assert customer_stripe.v1.subscriptions.retrieve(sub).status == "active"
    assert ledger.usage(customer).calls == 0  # refused before it reached Stripe: not metered


async def test_client_without_elicitation_is_told_how_to_confirm(server: Any, sandbox: Any, customer_stripe: Any) -> None:
    sub = _subscription(customer_stripe)
    async with mcp.Client(server, raise_exceptions=True) as client:
        result = await call(client, "cancel_subscription", {"subscription": sub})
        text = error(result)
        assert result.structured_content["error"]["type"] == "confirmation_required"
        assert "elicitation" in text and "--allow-confirm-argument" in text and "confirm: true" in text
        # confirm: true is refused when the server was not started with the flag
        refused = await call(client, "cancel_subscription", {"subscription": sub, "confirm": True})
        assert "--allow-confirm-argument" in error(refused)
    assert customer_stripe.v1.subscriptions.retrieve(sub).status == "active"


async def test_confirm_argument_works_when_the_server_allows_it(make_runtime: Any, sandbox: Any, customer_stripe: Any) -> None:
    sub = _subscription(customer_stripe)
    server = build_server(make_runtime(allow_confirm_argument=True))
    async with mcp.Client(server, raise_exceptions=True) as client:
        assert "confirmation_required" in error(await call(client, "cancel_subscription", {"subscription": sub}))
        assert customer_stripe.v1.subscriptions.retrieve(sub).status == "active"
        ok(await call(client, "cancel_subscription", {"subscription": sub, "confirm": True}))
    assert customer_stripe.v1.subscriptions.retrieve(sub).status == "canceled"


async def test_refund_and_void_ask_too(server: Any, sandbox: Any, customer_stripe: Any) -> None:
    stripe = customer_stripe
    cus = stripe.v1.customers.create({"name": "Refund"}).id
    pi = stripe.v1.payment_intents.create(
        {"amount": 900, "currency": "usd", "customer": cus, "payment_method": "pm_card_visa", "confirm": True}
    )
    inv = stripe.v1.invoices.create({"customer": cus, "collection_method": "send_invoice", "days_until_due": 3})
    stripe.v1.invoice_items.create({"customer": cus, "invoice": inv.id, "amount": 100, "currency": "usd"})
    stripe.v1.invoices.finalize_invoice(inv.id)
    decline = _answer("decline")
    async with mcp.Client(server, raise_exceptions=True, elicitation_callback=decline) as client:
        error(await call(client, "create_refund", {"payment_intent": pi.id}))
        error(await call(client, "void_invoice", {"invoice": inv.id}))
    assert len(decline.asked) == 2
    assert stripe.v1.charges.retrieve(pi.latest_charge).amount_refunded == 0
    assert stripe.v1.invoices.retrieve(inv.id).status == "open"
    accept = _answer("accept", {"confirm": True})
    async with mcp.Client(server, raise_exceptions=True, elicitation_callback=accept) as client:
        ok(await call(client, "create_refund", {"payment_intent": pi.id}))
    assert stripe.v1.charges.retrieve(pi.latest_charge).amount_refunded == 900


async def test_update_dispute_asks_only_to_submit(server: Any, sandbox: Any, customer_stripe: Any) -> None:
    stripe = customer_stripe
    cus = stripe.v1.customers.create({"name": "Dispute"}).id
    pi = stripe.v1.payment_intents.create(
        {"amount": 900, "currency": "usd", "customer": cus, "payment_method": "pm_card_createDispute", "confirm": True}
    )
    dp = stripe.v1.disputes.list({"payment_intent": pi.id}).data[0].id
    elicit = _answer("accept", {"confirm": True})
    async with mcp.Client(server, raise_exceptions=True, elicitation_callback=elicit) as client:
        ok(await call(client, "update_dispute", {"dispute": dp, "evidence": {"product_description": "SaaS"}}))
        assert elicit.asked == []
        assert stripe.v1.disputes.retrieve(dp).status == "needs_response"
        ok(await call(client, "update_dispute", {"dispute": dp, "submit": True}))
    assert len(elicit.asked) == 1
    assert stripe.v1.disputes.retrieve(dp).status == "under_review"
