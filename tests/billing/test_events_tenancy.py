"""Tenancy in the webhook receiver: only the operator's catalog prices grant a tier (a price's
metadata never does), and events of connected accounts (``account`` set) never touch customers
or tiers; ``account.application.deauthorized`` removes the connections to that account."""

from __future__ import annotations

from typing import Any

from unifiedmcp.billing import EventProcessor, subscriptions
from unifiedmcp.ledger import Ledger

from .conftest import event, subscription


def _with_price(sub: dict[str, Any], price: dict[str, Any]) -> dict[str, Any]:
    sub["items"]["data"][0]["price"] = price
    return sub


def _rogue_price(tier: str = "enterprise") -> dict[str, Any]:
    """A $0 price anyone with access to an account could make, claiming a tier in its metadata."""
    return {"id": "price_rogue", "object": "price", "lookup_key": None, "metadata": {"tier": tier},
            "product": {"id": "prod_rogue", "object": "product", "metadata": {"tier": tier}},
            "unit_amount": 0, "currency": "usd"}


def test_a_price_claiming_a_tier_in_its_metadata_grants_nothing(ledger: Ledger) -> None:
    """The hostile story's escalation: metadata.tier=enterprise on a $0 price outside the catalog."""
    sub = _with_price(subscription("sub_rogue", "cus_rogue", "active"), _rogue_price())
    out = EventProcessor(ledger).process(event("customer.subscription.created", sub, 100))
    assert out.status == "applied"
    assert ledger.customer("cus_rogue").tier == "free"
    [mirror] = subscriptions(ledger, customer="cus_rogue")
    assert mirror.tier is None  # mirrored, but no tier


def test_a_price_recorded_by_catalog_ensure_grants_its_tier(ledger: Ledger) -> None:
    """A catalog price needs no lookup key or metadata: its id was recorded in the ledger."""
    price = {"id": "price_cat_ent", "object": "price", "lookup_key": None, "metadata": {}, "product": "prod_x"}
    ledger.record_catalog_prices([("price_cat_ent", "enterprise", None, "prod_x")])
    sub = _with_price(subscription("sub_cat", "cus_cat", "active"), price)
    EventProcessor(ledger).process(event("customer.subscription.created", sub, 100))
    assert ledger.customer("cus_cat").tier == "enterprise"


def test_the_tiers_files_lookup_keys_still_grant_their_tier(ledger: Ledger) -> None:
    price = {"id": "price_any", "object": "price", "lookup_key": "pro_monthly", "metadata": {}, "product": "prod_p"}
    sub = _with_price(subscription("sub_lk", "cus_lk", "active"), price)
    EventProcessor(ledger).process(event("customer.subscription.created", sub, 100))
    assert ledger.customer("cus_lk").tier == "pro"


def test_connected_account_events_never_touch_customers_or_tiers(ledger: Ledger) -> None:
    """A subscription in a customer's own account (delivered to a Connect endpoint) is not ours."""
    ledger.upsert_customer("cus_op", tier="free")
    sub = subscription("sub_theirs", "cus_op", "active", tier="enterprise")  # even a catalog-looking price
    evt = event("customer.subscription.created", sub, 100) | {"account": "acct_customer1"}
    out = EventProcessor(ledger).process(evt)
    assert (out.status, out.note) == ("ignored", "connected account event (never changes customers or tiers)")
    assert ledger.customer("cus_op").tier == "free"
    assert subscriptions(ledger, customer="cus_op") == []
    created = event("customer.created", {"id": "cus_elsewhere", "object": "customer"}, 101) | {"account": "acct_c"}
    EventProcessor(ledger).process(created)
    assert "cus_elsewhere" not in {c.customer_id for c in ledger.customers()}


def test_deauthorization_removes_the_connections_to_that_account(ledger: Ledger) -> None:
    for cid in ("cus_a", "cus_b"):
        ledger.upsert_customer(cid, tier="pro")
    ledger.add_connection("cus_a", "stripe", account="acct_gone", kind="oauth", credential="x")
    ledger.add_connection("cus_b", "stripe", account="acct_gone", kind="oauth", credential="x")
    ledger.add_connection("cus_b", "stripe", account="acct_stays", kind="oauth", credential="x")
    app = {"id": "ca_platform", "object": "application", "name": None}
    evt = event("account.application.deauthorized", app, 200) | {"account": "acct_gone"}
    out = EventProcessor(ledger).process(evt)
    assert out.status == "applied"
    assert ledger.connections("cus_a") == []
    assert [c.account for c in ledger.connections("cus_b")] == ["acct_stays"]


def _checkout_completed(customer: str, subscription: str, *, email: str = "payer@example.com") -> dict[str, Any]:
    session = {"id": "cs_test_tenancy", "object": "checkout.session", "mode": "subscription", "status": "complete",
               "customer": customer, "subscription": subscription, "customer_details": {"email": email},
               "metadata": {"tier": "enterprise"}, "client_reference_id": "enterprise"}
    return event("checkout.session.completed", session, 100)


def _sandbox_subscription(client: Any, price: Any) -> Any:
    cus = client.v1.customers.create({"payment_method": "pm_card_visa", "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    return client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}]})


def test_a_completed_checkout_grants_only_what_its_subscriptions_catalog_prices_grant(ledger: Ledger, sandbox: Any) -> None:
    """The session says enterprise (metadata, client_reference_id) and its subscription's price
    claims enterprise in its metadata: the receiver re-fetches the subscription from Stripe and
    grants nothing; the paying customer is recorded with the email entered."""
    client = sandbox.client()
    prod = client.v1.products.create({"name": "Rogue", "metadata": {"tier": "enterprise"}})
    rogue = client.v1.prices.create({"product": prod.id, "unit_amount": 0, "currency": "usd",
                                     "recurring": {"interval": "month"}, "metadata": {"tier": "enterprise"}})
    sub = _sandbox_subscription(client, rogue)
    out = EventProcessor(ledger, client=client).process(_checkout_completed(sub.customer, sub.id))
    assert out.status == "applied"
    assert (ledger.customer(sub.customer).tier, ledger.customer(sub.customer).email) == ("free", "payer@example.com")
    [mirror] = subscriptions(ledger, customer=sub.customer)
    assert (mirror.status, mirror.tier) == ("active", None)


def test_a_completed_checkout_naming_another_customers_subscription_fails_and_grants_nothing(ledger: Ledger,
                                                                                             sandbox: Any) -> None:
    """A session whose subscription belongs to someone else (a forged or confused event) is refused:
    the event fails, and neither customer gains the subscription's catalog tier."""
    client = sandbox.client()
    prod = client.v1.products.create({"name": "Catalog"})
    price = client.v1.prices.create({"product": prod.id, "unit_amount": 2900, "currency": "usd", "recurring": {"interval": "month"}})
    ledger.record_catalog_prices([(price.id, "enterprise", None, prod.id)])
    theirs = _sandbox_subscription(client, price)
    out = EventProcessor(ledger, client=client).process(_checkout_completed("cus_intruder", theirs.id))
    assert out.status == "failed" and "does not belong" in (out.error or "")
    assert "cus_intruder" not in {c.customer_id for c in ledger.customers()}
    assert subscriptions(ledger, customer=theirs.customer) == []


def test_a_connected_accounts_completed_checkout_is_ignored(ledger: Ledger) -> None:
    evt = _checkout_completed("cus_op", "sub_theirs") | {"account": "acct_customer1"}
    out = EventProcessor(ledger).process(evt)
    assert (out.status, out.note) == ("ignored", "connected account event (never changes customers or tiers)")
    assert "cus_op" not in {c.customer_id for c in ledger.customers()}
