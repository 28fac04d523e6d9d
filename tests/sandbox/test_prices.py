"""Prices beyond a whole unit amount: decimal unit amounts, tiers, metered prices backed by meters."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
import stripe

from unifiedmcp.sandbox import SandboxServer

OVERAGE_TIERS = [{"up_to": 10000, "unit_amount": 0}, {"up_to": "inf", "unit_amount_decimal": "0.2"}]


def _meter(client: stripe.StripeClient) -> stripe.billing.Meter:
    return client.v1.billing.meters.create({"display_name": "calls", "event_name": f"calls_{uuid.uuid4().hex[:8]}",
                                            "default_aggregation": {"formula": "sum"}})


def _price(client: stripe.StripeClient, **params: Any) -> stripe.Price:
    prod = client.v1.products.create({"name": "Pro"})
    return client.v1.prices.create({"product": prod.id, "currency": "usd", **params})


def _refused(call: Any) -> dict[str, Any]:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        call()
    return exc.value.json_body["error"]


def test_tiered_metered_price_shows_its_tiers_only_when_expanded(sandbox: SandboxServer) -> None:
    """A graduated overage price on a meter: tiers in Stripe's shape (up_to null for inf, both
    integer and decimal forms) under expand=["tiers"] (also in lists), absent otherwise."""
    client = sandbox.client()
    m = _meter(client)
    price = _price(client, recurring={"interval": "month", "usage_type": "metered", "meter": m.id},
                   billing_scheme="tiered", tiers_mode="graduated", tiers=OVERAGE_TIERS)
    assert (price.billing_scheme, price.tiers_mode, price.unit_amount, price.unit_amount_decimal) == ("tiered", "graduated", None, None)
    assert price.recurring.usage_type == "metered" and price.recurring.meter == m.id
    assert "tiers" not in price.to_dict()
    expanded = client.v1.prices.retrieve(price.id, {"expand": ["tiers"]})
    assert [t.to_dict() for t in expanded.tiers] == [
        {"flat_amount": None, "flat_amount_decimal": None, "unit_amount": 0, "unit_amount_decimal": Decimal("0"), "up_to": 10000},
        {"flat_amount": None, "flat_amount_decimal": None, "unit_amount": None, "unit_amount_decimal": Decimal("0.2"), "up_to": None},
    ]
    listed = client.v1.prices.list({"product": price.product, "expand": ["data.tiers"]}).data[0]
    assert listed.tiers[1].unit_amount_decimal == Decimal("0.2")


def test_decimal_unit_amounts_keep_an_integer_only_when_whole(sandbox: SandboxServer) -> None:
    """unit_amount_decimal=0.25 has unit_amount null; 500.0 also gives unit_amount 500; at most 12
    decimal places; unit_amount and unit_amount_decimal together are refused."""
    client = sandbox.client()
    quarter = _price(client, unit_amount_decimal="0.25")
    assert (quarter.unit_amount, quarter.unit_amount_decimal) == (None, Decimal("0.25"))
    whole = _price(client, unit_amount_decimal="500.0")
    assert (whole.unit_amount, str(whole.unit_amount_decimal)) == (500, "500")
    assert _refused(lambda: _price(client, unit_amount_decimal="0.0000000000001"))["param"] == "unit_amount_decimal"
    both = _refused(lambda: _price(client, unit_amount=1, unit_amount_decimal="1"))
    assert both["message"] == "You may only specify one of these parameters: unit_amount, unit_amount_decimal."


def test_metered_prices_need_an_active_meter(sandbox: SandboxServer) -> None:
    """Since 2025-03-31.basil a metered price must name a meter (Stripe's message); the meter must
    exist in the account and be active, and only a metered price may name one."""
    client = sandbox.client()
    err = _refused(lambda: _price(client, unit_amount=1, recurring={"interval": "month", "usage_type": "metered"}))
    assert err["message"] == "Starting with Stripe version `2025-03-31.basil`, metered prices must be backed by meters."
    assert _refused(lambda: _price(client, unit_amount=1, recurring={
        "interval": "month", "usage_type": "metered", "meter": "mtr_test_missing"}))["message"] == "No such meter: 'mtr_test_missing'"
    m = _meter(client)
    assert _refused(lambda: _price(client, unit_amount=1, recurring={"interval": "month", "meter": m.id}))["param"] == "recurring[meter]"
    client.v1.billing.meters.deactivate(m.id)
    err = _refused(lambda: _price(client, unit_amount=1, recurring={"interval": "month", "usage_type": "metered", "meter": m.id}))
    assert err["message"] == "You can't attach a deactivated meter to a price."


def test_tiers_are_validated(sandbox: SandboxServer) -> None:
    """tiered needs tiers_mode and tiers; the last tier (only) is up_to=inf; up_to ascends; a tier
    needs an amount; per-unit amounts are not allowed beside tiers."""
    client = sandbox.client()
    tiered = {"billing_scheme": "tiered", "tiers_mode": "volume"}
    assert _refused(lambda: _price(client, billing_scheme="tiered", tiers=OVERAGE_TIERS))["param"] == "tiers_mode"
    assert _refused(lambda: _price(client, **tiered))["param"] == "tiers"
    assert "inf" in _refused(lambda: _price(client, **tiered, tiers=[{"up_to": 5, "unit_amount": 1}]))["message"]
    assert "inf" in _refused(lambda: _price(client, **tiered, tiers=[{"up_to": "inf", "unit_amount": 1},
                                                                     {"up_to": "inf", "unit_amount": 1}]))["message"]
    assert _refused(lambda: _price(client, **tiered, tiers=[{"up_to": 10, "unit_amount": 1}, {"up_to": 5, "unit_amount": 1},
                                                            {"up_to": "inf", "unit_amount": 1}]))["param"] == "tiers[1][up_to]"
    assert _refused(lambda: _price(client, **tiered, tiers=[{"up_to": "inf"}]))["param"] == "tiers[0]"
    assert _refused(lambda: _price(client, **tiered, unit_amount=5, tiers=OVERAGE_TIERS))["param"] == "unit_amount"
    assert _refused(lambda: _price(client, unit_amount=5, tiers_mode="volume"))["param"] == "tiers_mode"


def test_subscriptions_refuse_a_quantity_on_a_metered_item(sandbox: SandboxServer) -> None:
    """Stripe's message for quantity on a metered price; the metered item has no quantity (the key
    is absent, as stripe-node declares it) and its plan carries the meter and tiers mode."""
    client = sandbox.client()
    m = _meter(client)
    price = _price(client, recurring={"interval": "month", "usage_type": "metered", "meter": m.id},
                   billing_scheme="tiered", tiers_mode="graduated", tiers=OVERAGE_TIERS)
    cus = client.v1.customers.create({"payment_method": "pm_card_visa", "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    err = _refused(lambda: client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id, "quantity": 1}]}))
    assert err["message"] == "Quantity should not be specified where usage_type is `metered`. Remove quantity from `items[0]`."
    assert err["param"] == "items[0][quantity]"
    sub = client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}]})
    item = sub.items.data[0]
    assert "quantity" not in item.to_dict()
    assert (item.plan.usage_type, item.plan.meter, item.plan.tiers_mode) == ("metered", m.id, "graduated")
    assert _refused(lambda: client.v1.subscriptions.update(sub.id, {"items": [{"id": item.id, "quantity": 3}]}))["param"] == "items[0][quantity]"
