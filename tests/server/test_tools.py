"""Every tool, called through the SDK's in-memory client, changes (or reads) the sandbox as claimed.

Each test checks the effect through an independent Stripe client on the same sandbox, not only
the absence of an error.
"""

from __future__ import annotations

import uuid
from typing import Any

import mcp
import pytest
import stripe

from unifiedmcp.server import select_tools

from .conftest import call, error, ok

pytestmark = pytest.mark.anyio


def _tag() -> str:
    return uuid.uuid4().hex[:10]


def _paid_intent(stripe: Any, customer: str, *, card: str = "pm_card_visa", amount: int = 2500) -> Any:
    return stripe.v1.payment_intents.create(
        {"amount": amount, "currency": "usd", "customer": customer, "payment_method": card, "confirm": True}
    )


async def test_every_declared_tool_is_served_with_annotations(server: Any, customer_stripe: Any) -> None:
    async with mcp.Client(server, raise_exceptions=True) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
    assert set(listed) == {s.name for s in select_tools("all")}
    assert len(listed) == 29
    for spec in select_tools("all"):
        ann = listed[spec.name].annotations
        assert ann is not None and ann.read_only_hint == spec.read_only
        assert ann.destructive_hint == spec.destructive
        assert listed[spec.name].output_schema is not None  # structured content
    destructive = {n for n, t in listed.items() if t.annotations and t.annotations.destructive_hint}
    assert destructive == {"cancel_subscription", "create_refund", "void_invoice", "update_dispute"}
    for name, t in listed.items():
        if name.startswith("list_"):
            props = t.input_schema["properties"]
            assert "limit" in props and "starting_after" in props, name
        if not (t.annotations and t.annotations.read_only_hint) and name not in ("get_usage",):
            assert "idempotency_key" in t.input_schema["properties"], name


async def test_customers(server: Any, sandbox: Any, customer_stripe: Any) -> None:
    stripe = customer_stripe
    email = f"ada-{_tag()}@example.com"
    async with mcp.Client(server, raise_exceptions=True) as client:
        created = ok(await call(client, "create_customer", {"name": "Ada", "email": email, "metadata": {"k": "v"}}))
        assert stripe.v1.customers.retrieve(created["id"]).email == email

        listed = ok(await call(client, "list_customers", {"email": email}))
        assert [c["id"] for c in listed["data"]] == [created["id"]]

        ok(await call(client, "update_customer", {"customer": created["id"], "name": "Ada Lovelace"}))
        assert stripe.v1.customers.retrieve(created["id"]).name == "Ada Lovelace"


async def test_list_pagination_returns_cursor_and_next_page(server: Any, sandbox: Any, customer_stripe: Any) -> None:
    stripe = customer_stripe
    for i in range(4):  # two full pages even in an account of its own
        stripe.v1.customers.create({"name": f"p{i}"})
    async with mcp.Client(server, raise_exceptions=True) as client:
        first = ok(await call(client, "list_customers", {"limit": 2}))
        assert first["has_more"] is True and first["count"] == 2
        assert first["next_cursor"] == first["data"][-1]["id"]
        second = ok(await call(client, "list_customers", {"limit": 2, "starting_after": first["next_cursor"]}))
    seen = [c["id"] for c in first["data"] + second["data"]]
    assert len(seen) == len(set(seen)) == 4  # two pages, no overlap


async def test_catalog(server: Any, sandbox: Any, customer_stripe: Any) -> None:
    stripe = customer_stripe
    key = f"pro_{_tag()}"
    async with mcp.Client(server, raise_exceptions=True) as client:
        product = ok(await call(client, "create_product", {"name": "Pro plan"}))
        assert stripe.v1.products.retrieve(product["id"]).name == "Pro plan"
        assert product["id"] in {p["id"] for p in ok(await call(client, "list_products", {"limit": 100}))["data"]}

        price = ok(
            await call(
                client,
                "create_price",
                {
                    "product": product["id"],
                    "unit_amount": 2900,
                    "currency": "USD",
                    "recurring_interval": "month",
                    "lookup_key": key,
                },
            )
        )
        stored = stripe.v1.prices.retrieve(price["id"])
        assert (stored.unit_amount, stored.currency, stored.lookup_key) == (2900, "usd", key)
        assert stored.recurring.interval == "month"
        by_key = ok(await call(client, "list_prices", {"lookup_keys": [key]}))
        assert [p["id"] for p in by_key["data"]] == [price["id"]]

        link = ok(await call(client, "create_payment_link", {"price": price["id"], "quantity": 2}))
        assert link["url"]
        items = stripe.v1.payment_links.line_items.list(link["id"])
        assert [(i.price.id, i.quantity) for i in items.data] == [(price["id"], 2)]


async def test_invoices(make_runtime: Any, sandbox: Any, customer_stripe: Any) -> None:
    from unifiedmcp.server import build_server

    stripe = customer_stripe
    cus = stripe.v1.customers.create({"name": "Inv"}).id
    server = build_server(make_runtime(allow_confirm_argument=True))
    async with mcp.Client(server, raise_exceptions=True) as client:
        inv = ok(await call(client, "create_invoice", {"customer": cus, "days_until_due": 14}))
        assert stripe.v1.invoices.retrieve(inv["id"]).status == "draft"
        ok(await call(client, "create_invoice_item", {"customer": cus, "invoice": inv["id"], "amount": 1234, "currency": "usd"}))
        assert stripe.v1.invoices.retrieve(inv["id"]).amount_due == 1234

        ok(await call(client, "finalize_invoice", {"invoice": inv["id"]}))
        assert stripe.v1.invoices.retrieve(inv["id"]).status == "open"
        listed = ok(await call(client, "list_invoices", {"customer": cus, "status": "open"}))
        assert [i["id"] for i in listed["data"]] == [inv["id"]]

        ok(await call(client, "void_invoice", {"invoice": inv["id"], "confirm": True}))
        assert stripe.v1.invoices.retrieve(inv["id"]).status == "void"


async def test_invoice_item_with_a_price(server: Any, sandbox: Any, customer_stripe: Any) -> None:
    stripe = customer_stripe
    cus = stripe.v1.customers.create({"name": "Item"}).id
    product = stripe.v1.products.create({"name": "Setup fee"}).id
    price = stripe.v1.prices.create({"product": product, "unit_amount": 700, "currency": "usd"}).id
    async with mcp.Client(server, raise_exceptions=True) as client:
        item = ok(await call(client, "create_invoice_item", {"customer": cus, "price": price, "quantity": 3}))
    assert stripe.v1.invoice_items.retrieve(item["id"]).amount == 2100


async def test_payments_and_refund(make_runtime: Any, sandbox: Any, customer_stripe: Any) -> None:
    from unifiedmcp.server import build_server

    stripe = customer_stripe
    cus = stripe.v1.customers.create({"name": "Pay"}).id
    pi = _paid_intent(stripe, cus)
    server = build_server(make_runtime(allow_confirm_argument=True))
    async with mcp.Client(server, raise_exceptions=True) as client:
        listed = ok(await call(client, "list_payment_intents", {"customer": cus}))
        assert [p["id"] for p in listed["data"]] == [pi.id]
        refund = ok(await call(client, "create_refund", {"payment_intent": pi.id, "amount": 1000, "confirm": True}))
    stored = stripe.v1.refunds.retrieve(refund["id"])
    assert (stored.amount, stored.status) == (1000, "succeeded")
    assert stripe.v1.charges.retrieve(pi.latest_charge).amount_refunded == 1000


async def test_subscriptions(make_runtime: Any, sandbox: Any, customer_stripe: Any) -> None:
    from unifiedmcp.server import build_server

    stripe = customer_stripe
    cus = stripe.v1.customers.create({"name": "Sub", "payment_method": "pm_card_visa",
                                      "invoice_settings": {"default_payment_method": "pm_card_visa"}}).id
    product = stripe.v1.products.create({"name": "Plan"}).id
    monthly = stripe.v1.prices.create({"product": product, "unit_amount": 1000, "currency": "usd", "recurring": {"interval": "month"}}).id
    yearly = stripe.v1.prices.create({"product": product, "unit_amount": 9000, "currency": "usd", "recurring": {"interval": "year"}}).id
    server = build_server(make_runtime(allow_confirm_argument=True))
    async with mcp.Client(server, raise_exceptions=True) as client:
        sub = ok(await call(client, "create_subscription", {"customer": cus, "price": monthly, "trial_period_days": 7}))
        assert stripe.v1.subscriptions.retrieve(sub["id"]).status == "trialing"
        listed = ok(await call(client, "list_subscriptions", {"customer": cus, "status": "all"}))
        assert [s["id"] for s in listed["data"]] == [sub["id"]]

        ok(await call(client, "update_subscription", {"subscription": sub["id"], "price": yearly, "quantity": 2}))
        item = stripe.v1.subscriptions.retrieve(sub["id"]).items.data[0]
        assert (item.price.id, item.quantity) == (yearly, 2)
        ok(await call(client, "update_subscription", {"subscription": sub["id"], "cancel_at_period_end": True}))
        assert stripe.v1.subscriptions.retrieve(sub["id"]).cancel_at_period_end is True

        ok(await call(client, "cancel_subscription", {"subscription": sub["id"], "confirm": True}))
    assert stripe.v1.subscriptions.retrieve(sub["id"]).status == "canceled"


async def test_coupons(server: Any, sandbox: Any, customer_stripe: Any) -> None:
    stripe = customer_stripe
    cid = f"SAVE{_tag()}"
    async with mcp.Client(server, raise_exceptions=True) as client:
        ok(await call(client, "create_coupon", {"id": cid, "amount_off": 500, "currency": "eur", "duration": "repeating", "duration_in_months": 3}))
        stored = stripe.v1.coupons.retrieve(cid)
        assert (stored.amount_off, stored.currency, stored.duration_in_months) == (500, "eur", 3)
        listed = ok(await call(client, "list_coupons", {"limit": 100}))
    assert cid in {c["id"] for c in listed["data"]}


async def test_disputes(make_runtime: Any, sandbox: Any, customer_stripe: Any) -> None:
    from unifiedmcp.server import build_server

    stripe = customer_stripe
    cus = stripe.v1.customers.create({"name": "Disputed"}).id
    pi = _paid_intent(stripe, cus, card="pm_card_createDispute")
    server = build_server(make_runtime(allow_confirm_argument=True))
    async with mcp.Client(server, raise_exceptions=True) as client:
        listed = ok(await call(client, "list_disputes", {"payment_intent": pi.id}))
        assert len(listed["data"]) == 1
        dp = listed["data"][0]["id"]
        ok(await call(client, "update_dispute", {"dispute": dp, "evidence": {"uncategorized_text": "delivered"}}))
        stored = stripe.v1.disputes.retrieve(dp)
        assert stored.evidence.uncategorized_text == "delivered"
        assert stored.status == "needs_response"
        ok(await call(client, "update_dispute", {"dispute": dp, "submit": True, "confirm": True}))
    assert stripe.v1.disputes.retrieve(dp).status == "under_review"


async def test_account_balance_and_portal(server: Any, sandbox: Any, customer_stripe: Any) -> None:
    stripe = customer_stripe
    cus = stripe.v1.customers.create({"name": "Portal"}).id
    async with mcp.Client(server, raise_exceptions=True) as client:
        balance = ok(await call(client, "retrieve_balance"))
        assert balance["object"] == "balance" and balance["available"] == stripe.v1.balance.retrieve().to_dict()["available"]
        account = ok(await call(client, "get_stripe_account_info"))
        assert account["id"] == stripe.v1.accounts.retrieve_current().id
        session = ok(
            await call(client, "create_billing_portal_session", {"customer": cus, "return_url": "https://example.com/back"})
        )
    assert session["customer"] == cus and session["url"].startswith("http")
    assert session["return_url"] == "https://example.com/back"


async def test_search_and_fetch(server: Any, sandbox: Any, customer_stripe: Any) -> None:
    stripe = customer_stripe
    email = f"find-{_tag()}@example.com"
    cus = stripe.v1.customers.create({"name": "Findable", "email": email}).id
    product = stripe.v1.products.create({"name": "Fetchable"}).id
    async with mcp.Client(server, raise_exceptions=True) as client:
        found = ok(await call(client, "search_stripe_resources", {"resource": "customers", "query": f'email:"{email}"'}))
        assert [c["id"] for c in found["data"]] == [cus]
        fetched = ok(await call(client, "fetch_stripe_resources", {"ids": [cus, product, "cus_doesnotexist"]}))
    assert [o["id"] for o in fetched["data"]] == [cus, product]
    assert fetched["errors"][0]["id"] == "cus_doesnotexist"
    assert fetched["errors"][0]["code"] == "resource_missing"


async def test_get_usage_counts_the_callers_calls(server: Any, ledger: Any, customer: str, customer_stripe: Any) -> None:
    async with mcp.Client(server, raise_exceptions=True) as client:
        ok(await call(client, "retrieve_balance"))
        usage = ok(await call(client, "get_usage"))
    assert usage["customer"] == customer and usage["tier"] == "pro"
    assert usage["calls"] == 2 == ledger.usage(customer).calls
    assert usage["limit"] == 10_000 and usage["remaining"] == 9_998 and usage["overage"] == 0


async def test_stripe_errors_carry_message_code_and_request_id(server: Any, customer_stripe: Any) -> None:
    async with mcp.Client(server, raise_exceptions=True) as client:
        result = await call(client, "update_customer", {"customer": "cus_missing", "name": "x"})
    text = error(result)
    err = result.structured_content["error"]
    assert err["type"] == "stripe_error" and err["code"] == "resource_missing"
    assert err["request_id"].startswith("req_") and err["request_id"] in text
    assert "cus_missing" in err["message"]


WRITES = {
    "create_customer": {"name": "A"},
    "update_customer": {"customer": "cus_1", "name": "B"},
    "create_product": {"name": "P"},
    "create_price": {"product": "prod_1", "unit_amount": 100, "currency": "usd"},
    "create_payment_link": {"price": "price_1"},
    "create_invoice": {"customer": "cus_1"},
    "create_invoice_item": {"customer": "cus_1", "amount": 5, "currency": "usd"},
    "finalize_invoice": {"invoice": "in_1"},
    "void_invoice": {"invoice": "in_1", "confirm": True},
    "create_refund": {"payment_intent": "pi_1", "confirm": True},
    "create_subscription": {"customer": "cus_1", "price": "price_1"},
    "update_subscription": {"subscription": "sub_1", "metadata": {"a": "b"}},
    "cancel_subscription": {"subscription": "sub_1", "confirm": True},
    "create_coupon": {"percent_off": 10},
    "update_dispute": {"dispute": "dp_1", "submit": True, "confirm": True},
    "create_billing_portal_session": {"customer": "cus_1"},
}


async def test_every_write_sends_an_idempotency_key(ledger: Any) -> None:
    """Customer and operator servers share ToolCall.write; an operator server on a recording
    client (network cut) shows every write's headers."""
    from unifiedmcp.server import Runtime, ServerOptions, build_server

    from .conftest import RecordingHTTPClient

    recorder = RecordingHTTPClient()
    client = stripe.StripeClient("sk_test_offline", http_client=recorder, max_network_retries=0)
    options = ServerOptions(role="operator", allow_confirm_argument=True)
    server = build_server(Runtime(stripe_client=client, ledger=ledger, options=options))
    writes = {s.name for s in select_tools("all") if not s.read_only and s.stripe}
    assert writes == set(WRITES)
    async with mcp.Client(server, raise_exceptions=True) as c:
        for name, args in WRITES.items():
            recorder.headers.clear()
            await call(c, name, args)
            assert recorder.headers and all(h.get("Idempotency-Key") for h in recorder.headers), name
        # the caller's own key is sent as given
        recorder.headers.clear()
        await call(c, "create_customer", {"name": "A", "idempotency_key": "my-key-1"})
        assert recorder.headers[-1]["Idempotency-Key"] == "my-key-1"


async def test_a_repeated_create_returns_the_first_object(server: Any, sandbox: Any, customer_stripe: Any) -> None:
    """The derived key makes an agent's retry idempotent; a new key makes a new object."""
    name = f"Idem {_tag()}"
    async with mcp.Client(server, raise_exceptions=True) as client:
        first = ok(await call(client, "create_customer", {"name": name}))
        again = ok(await call(client, "create_customer", {"name": name}))
        other = ok(await call(client, "create_customer", {"name": name, "idempotency_key": _tag()}))
    assert first["id"] == again["id"] != other["id"]
    assert len(customer_stripe.v1.customers.search({"query": f'name:"{name}"'}).data) == 2
