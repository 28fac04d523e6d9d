"""The usage side of the catalog, checked on the sandbox: `ensure_catalog` makes one `sum` meter
for MCP calls mapped by customer id and, per paid tier, a graduated metered price (the included
calls free, then `overage_per_call`); running it again creates nothing; a deactivated meter is
reactivated; `subscribe` puts the flat and the metered item on a subscription and `change_tier`
swaps both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unifiedmcp.billing import METER_EVENT, change_tier, ensure_catalog, subscribe
from unifiedmcp.config import DEFAULT_TIERS
from unifiedmcp.ledger import Ledger


def _objects(client: Any) -> tuple[list[Any], list[Any]]:
    return client.v1.billing.meters.list().data, client.v1.prices.list({"limit": 100}).data


def _tiers(client: Any, lookup_key: str) -> tuple[Any, list[tuple[int | None, str]]]:
    [price] = client.v1.prices.list({"lookup_keys": [lookup_key], "expand": ["data.tiers"]}).data
    return price, [(t.up_to, str(t.unit_amount_decimal)) for t in price.tiers]


def test_the_meter_and_metered_prices_are_made_once(fresh_sandbox: Any, tmp_path: Path) -> None:
    client = fresh_sandbox.client()
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        ensure_catalog(client, ledger=ledger)
        [meter], prices = _objects(client)
        assert (meter.event_name, meter.default_aggregation.formula) == (METER_EVENT, "sum")
        assert meter.customer_mapping.event_payload_key == "stripe_customer_id"
        for tier, included, rate in (("pro", 10_000, "0.2"), ("enterprise", 100_000, "0.1")):
            price, steps = _tiers(client, f"{tier}_overage")
            assert (price.billing_scheme, price.tiers_mode) == ("tiered", "graduated")
            assert (price.recurring.usage_type, price.recurring.meter) == ("metered", meter.id)
            assert [(up, float(amount)) for up, amount in steps] == [(included, 0.0), (None, float(rate))]
            assert DEFAULT_TIERS[tier].monthly_api_calls == included
        assert not [p for p in prices if p.lookup_key == "free_overage"]  # the free tier bills no overage
        recorded = ledger.catalog_prices()
        assert {p.id: p.metadata["tier"] for p in prices} == recorded  # the receiver trusts exactly these

        ensure_catalog(client, ledger=ledger)
        again_meters, again_prices = _objects(client)
        assert ([m.id for m in again_meters], sorted(p.id for p in again_prices)) == (
            [meter.id], sorted(p.id for p in prices))

        client.v1.billing.meters.deactivate(meter.id)
        ensure_catalog(client, ledger=ledger)
        [back], _ = _objects(client)
        assert (back.id, back.status) == (meter.id, "active")


def test_subscriptions_carry_both_items_and_a_tier_change_swaps_both(fresh_sandbox: Any, tmp_path: Path) -> None:
    client = fresh_sandbox.client()
    ensure_catalog(client)
    client.v1.customers.create({"email": "both@example.com", "payment_method": "pm_card_visa",
                                "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    sub = subscribe(client, "both@example.com", "pro", payment_method="pm_card_visa")

    def keys(subscription_id: str) -> set[str]:
        items = client.v1.subscriptions.retrieve(subscription_id).items.data
        return {client.v1.prices.retrieve(i.price.id).lookup_key for i in items}

    assert keys(sub.subscription_id) == {"pro_monthly", "pro_overage"}
    change_tier(client, sub.customer_id, "enterprise")
    assert keys(sub.subscription_id) == {"enterprise_monthly", "enterprise_overage"}


def test_a_paid_tier_without_its_overage_price_is_refused_not_subscribed_flat_only(fresh_sandbox: Any) -> None:
    """Pro bills overage: with its metered price missing (deactivated, or a catalog from before
    usage billing), subscribing or changing to pro is refused with the fix to run, instead of a
    subscription whose overage no invoice would ever bill."""
    import pytest

    from unifiedmcp.errors import InvalidInput

    client = fresh_sandbox.client()
    ensure_catalog(client)
    client.v1.customers.create({"email": "flat@example.com", "payment_method": "pm_card_visa",
                                "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    sub = subscribe(client, "flat@example.com", "enterprise", payment_method="pm_card_visa")
    [overage] = client.v1.prices.list({"lookup_keys": ["pro_overage"]}).data
    client.v1.prices.update(overage.id, {"active": False})
    with pytest.raises(InvalidInput, match="pro_overage.*catalog ensure"):
        subscribe(client, "other@example.com", "pro", payment_method="pm_card_visa")
    with pytest.raises(InvalidInput, match="pro_overage.*catalog ensure"):
        change_tier(client, sub.customer_id, "pro")
    assert client.v1.customers.list({"email": "other@example.com"}).data == []  # nothing made
