"""The usage side of the catalog: one Stripe Billing Meter for MCP calls, and per paid tier a
metered monthly price that bills the calls past the tier's included amount.

    meter = ensure_meter(client)                       # event name "mcp_api_call", sum, by customer id
    price = ensure_metered_price(client, plan, tier, meter_id=meter.id, product_id=...)

The metered price is ``billing_scheme=tiered``, ``tiers_mode=graduated``: the tier's
``monthly_api_calls`` at 0, then ``overage_per_call`` (minor units, a decimal such as 0.2 cents)
per call. Stripe sums the period's meter events and invoices the metered line in arrears, at the
renewal. Found by lookup key, so running it again changes nothing. A paid tier without an
overage price (``overage_per_call = 0``) gets no metered price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import stripe

from ..config import Tier
from ._shapes import as_dict

__all__ = ["METER_EVENT", "METER_PAYLOAD_CUSTOMER", "MeterInfo", "ensure_meter", "ensure_metered_price", "metered_lookup_key"]

#: The meter event name every reported MCP call uses.
METER_EVENT = "mcp_api_call"
#: The payload key that names the customer (Stripe's default).
METER_PAYLOAD_CUSTOMER = "stripe_customer_id"


@dataclass(frozen=True)
class MeterInfo:
    meter_id: str
    event_name: str
    created: bool


def metered_lookup_key(tier: str) -> str:
    """The lookup key of ``tier``'s metered price (``pro_overage``)."""
    return f"{tier}_overage"


def ensure_meter(client: stripe.StripeClient, *, options: dict[str, Any] | None = None) -> MeterInfo:
    """The active meter for :data:`METER_EVENT`, created when missing (a deactivated one is
    reactivated: Stripe allows one meter per event name)."""
    for meter in client.v1.billing.meters.list({"limit": 100}).auto_paging_iter():
        if meter.event_name == METER_EVENT:
            if meter.status != "active":
                client.v1.billing.meters.reactivate(meter.id)
            return MeterInfo(meter.id, METER_EVENT, False)
    params = {
        "display_name": "MCP API calls",
        "event_name": METER_EVENT,
        "default_aggregation": {"formula": "sum"},
        "customer_mapping": {"type": "by_id", "event_payload_key": METER_PAYLOAD_CUSTOMER},
        "value_settings": {"event_payload_key": "value"},
    }
    meter = client.v1.billing.meters.create(params, options)  # type: ignore[arg-type]
    return MeterInfo(meter.id, METER_EVENT, True)


def ensure_metered_price(
    client: stripe.StripeClient,
    tier: Tier,
    *,
    currency: str,
    product_id: str,
    meter_id: str,
    options: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], bool] | None:
    """``tier``'s metered price (found by lookup key, else created) and whether it was created;
    None when the tier bills no overage."""
    if tier.overage_per_call <= 0:
        return None
    key = metered_lookup_key(tier.name)
    found = client.v1.prices.list({"lookup_keys": [key], "active": True, "limit": 1}).data
    if found:
        return as_dict(found[0]), False
    params = {
        "product": product_id,
        "currency": currency,
        "lookup_key": key,
        "nickname": f"{tier.name} overage per call",
        "metadata": {"tier": tier.name, "kind": "overage"},
        "billing_scheme": "tiered",
        "tiers_mode": "graduated",
        "tiers": [
            {"up_to": tier.monthly_api_calls, "unit_amount": 0},
            {"up_to": "inf", "unit_amount_decimal": _decimal_text(tier.overage_per_call)},
        ],
        "recurring": {"interval": "month", "usage_type": "metered", "meter": meter_id},
    }
    price = client.v1.prices.create(params, options)  # type: ignore[arg-type]
    return as_dict(price), True


def _decimal_text(value: float) -> str:
    """A float from the tiers file as Stripe's decimal string (0.2 -> "0.2", never 0.20000000000000001)."""
    return format(Decimal(repr(value)).normalize(), "f")
