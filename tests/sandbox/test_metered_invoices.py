"""Metered usage invoiced in arrears, through stripe-python 16 and test clocks, with hand-computed amounts.

The catalog of metrics.md §6: pro includes 10,000 calls then 0.2 cents per call, enterprise
100,000 then 0.1 cents, each as a graduated metered price beside the flat monthly price.
Amounts are in cents; each line's exact amount is rounded half up once (Stripe's rule).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import stripe

from unifiedmcp.sandbox import SandboxServer

T0 = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp())
FEB1 = int(datetime(2026, 2, 1, tzinfo=timezone.utc).timestamp())
MAR1 = int(datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp())
HOUR, DAY = 3600, 86400


@dataclass
class Tier:
    meter: stripe.billing.Meter
    flat: stripe.Price
    overage: stripe.Price


def make_tier(client: stripe.StripeClient, *, included: int, per_call: str, flat: int = 2000,
              meter: stripe.billing.Meter | None = None, **price: Any) -> Tier:
    """A flat monthly price and a metered price: graduated, ``included`` calls at 0 then
    ``per_call`` cents; per unit at ``per_call`` when nothing is included; or as ``price`` says."""
    meter = meter or client.v1.billing.meters.create({
        "display_name": "MCP calls", "event_name": f"mcp_api_call_{uuid.uuid4().hex[:8]}",
        "default_aggregation": {"formula": "sum"}})
    prod = client.v1.products.create({"name": f"Tier {included}"})
    flat_price = client.v1.prices.create({"product": prod.id, "currency": "usd", "unit_amount": flat, "recurring": {"interval": "month"}})
    overage = client.v1.prices.create({
        "product": prod.id, "currency": "usd", "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
        **(price or ({"billing_scheme": "tiered", "tiers_mode": "graduated",
                      "tiers": [{"up_to": included, "unit_amount": 0}, {"up_to": "inf", "unit_amount_decimal": per_call}]}
                     if included else {"unit_amount_decimal": per_call})),
    })
    return Tier(meter, flat_price, overage)


def new_clock(client: stripe.StripeClient) -> str:
    return client.v1.test_helpers.test_clocks.create({"frozen_time": T0}).id


def subscribe(client: stripe.StripeClient, clock: str, tier: Tier, **extra: Any) -> stripe.Subscription:
    cus = client.v1.customers.create({"test_clock": clock, "payment_method": "pm_card_visa",
                                      "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    return client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": tier.flat.id}, {"price": tier.overage.id}], **extra})


def advance(client: stripe.StripeClient, clock: str, to: int) -> None:
    assert client.v1.test_helpers.test_clocks.advance(clock, {"frozen_time": to}).status == "ready"


def push(client: stripe.StripeClient, meter: stripe.billing.Meter, customer: str, calls: int, at: int, **extra: Any) -> None:
    client.v1.billing.meter_events.create({"event_name": meter.event_name, "timestamp": at,
                                           "payload": {"stripe_customer_id": customer, "value": str(calls)}, **extra})


def invoices(client: stripe.StripeClient, sub: stripe.Subscription) -> list[stripe.Invoice]:
    """The subscription's invoices, oldest first."""
    return list(reversed(client.v1.invoices.list({"subscription": sub.id, "limit": 100}).data))


def usage_lines(inv: stripe.Invoice, price: stripe.Price) -> list[tuple[int, int, int, int]]:
    """``(quantity, amount, period start, period end)`` of the invoice's lines of ``price``."""
    return [(l.quantity, l.amount, l.period.start, l.period.end) for l in inv.lines.data
            if l.pricing.price_details and l.pricing.price_details.price == price.id]


def metered_item(sub: stripe.Subscription, tier: Tier) -> stripe.SubscriptionItem:
    return next(i for i in sub.items.data if i.price.id == tier.overage.id)


def assert_january_usage_lines(client: stripe.StripeClient, cases: list[tuple[Tier, int, int]]) -> None:
    """For each ``(tier, usage, cents)``: a customer subscribed on January 1 (one shared clock)
    reports ``usage`` on January 2; its renewal bills it as one line of ``cents``."""
    clock = new_clock(client)
    subs = [subscribe(client, clock, tier) for tier, _, _ in cases]
    advance(client, clock, T0 + 3 * DAY)
    for sub, (tier, usage, _) in zip(subs, cases):
        push(client, tier.meter, sub.customer, usage, T0 + DAY)
    advance(client, clock, FEB1 + 2 * HOUR)
    for sub, (tier, usage, cents) in zip(subs, cases):
        assert usage_lines(invoices(client, sub)[-1], tier.overage) == [(usage, cents, T0, FEB1)], (usage, cents)


def test_pro_overage_of_10500_calls_is_one_line_of_100_cents_on_the_renewal_invoice(sandbox: SandboxServer) -> None:
    """The first invoice bills the flat price only; the renewal bills February in advance and
    January's 10,500 calls in arrears: 500 over × 0.2 = 100, one line in the current shape."""
    client = sandbox.client()
    pro = make_tier(client, included=10_000, per_call="0.2")
    clock = new_clock(client)
    sub = subscribe(client, clock, pro)
    first = client.v1.invoices.retrieve(sub.latest_invoice)
    assert [l.pricing.price_details.price for l in first.lines.data] == [pro.flat.id] and first.total == 2000
    advance(client, clock, T0 + 10 * DAY)
    for day, calls in ((1, 4000), (5, 6000), (9, 500)):
        push(client, pro.meter, sub.customer, calls, T0 + day * DAY)
    advance(client, clock, FEB1 + 2 * HOUR)
    renewal = invoices(client, sub)[-1]
    assert (renewal.billing_reason, renewal.status, renewal.total, renewal.amount_paid) == ("subscription_cycle", "paid", 2100, 2100)
    assert usage_lines(renewal, pro.flat) == [(1, 2000, FEB1, MAR1)]
    assert usage_lines(renewal, pro.overage) == [(10_500, 100, T0, FEB1)]
    line = next(l for l in renewal.lines.data if l.pricing.price_details.price == pro.overage.id)
    details = line.parent.subscription_item_details
    assert line.parent.type == "subscription_item_details" and details.subscription == sub.id
    assert details.subscription_item == metered_item(sub, pro).id and details.proration is False
    assert str(line.quantity_decimal) == "10500" and line.pricing.price_details.product == pro.overage.product
    assert line.description == "10500 × Tier 10000 (tiered, per month)"


def test_line_amounts_round_half_up_once_for_the_line(sandbox: SandboxServer) -> None:
    """Pro (0.2 cent): 10,001 calls -> 0.2 -> 0; 10,003 -> 0.6 -> 1. Enterprise (100,000 included,
    0.1 cent): 100,005 -> 0.5 -> 1 and 100,025 -> 2.5 -> 3 (half up, not to even); 100,500 -> 50;
    within the included calls -> 0."""
    client = sandbox.client()
    pro = make_tier(client, included=10_000, per_call="0.2")
    enterprise = make_tier(client, included=100_000, per_call="0.1", flat=20000)
    assert_january_usage_lines(client, [
        (pro, 10_001, 0), (pro, 10_003, 1), (pro, 9_999, 0),
        (enterprise, 100_005, 1), (enterprise, 100_025, 3), (enterprise, 100_500, 50), (enterprise, 100_000, 0)])


def test_volume_and_flat_tiers_and_per_unit_decimal_prices(sandbox: SandboxServer) -> None:
    """Volume: every unit at the tier the total falls in, plus that tier's flat amount
    (1,001 × 0.5 + 100 = 600.5 -> 601). Graduated with a flat first tier: 150 units = 500 flat +
    50 × 2. Per-unit 0.05 cent: 30 units = 1.5 -> 2."""
    client = sandbox.client()
    volume = make_tier(client, included=0, per_call="0", billing_scheme="tiered", tiers_mode="volume", tiers=[
        {"up_to": 1000, "unit_amount": 1}, {"up_to": 5000, "unit_amount_decimal": "0.5", "flat_amount": 100},
        {"up_to": "inf", "unit_amount_decimal": "0.25"}])
    flat_first = make_tier(client, included=0, per_call="0", billing_scheme="tiered", tiers_mode="graduated", tiers=[
        {"up_to": 100, "flat_amount": 500}, {"up_to": "inf", "unit_amount": 2}])
    per_unit = make_tier(client, included=0, per_call="0", unit_amount_decimal="0.05")
    assert_january_usage_lines(client, [
        (volume, 800, 800), (volume, 1000, 1000), (volume, 1001, 601), (volume, 6000, 1500),
        (flat_first, 50, 500), (flat_first, 150, 600), (per_unit, 30, 2)])


def test_usage_is_billed_in_the_period_its_timestamp_falls_in_until_finalization(sandbox: SandboxServer) -> None:
    """An event at the period's last second belongs to January, one at FEB1 to February. The
    renewal draft waits an hour: an event pushed then, dated in January, is on January's
    invoice when it is finalized; cancelled events and negative corrections count as Stripe says."""
    client = sandbox.client()
    pro = make_tier(client, included=0, per_call="1")
    clock = new_clock(client)
    sub = subscribe(client, clock, pro)
    advance(client, clock, T0 + 20 * DAY)
    push(client, pro.meter, sub.customer, 7, T0 + DAY)
    push(client, pro.meter, sub.customer, 1000, T0 + 2 * DAY, identifier=f"mistake-{sub.id}")
    client.v1.billing.meter_event_adjustments.create({"event_name": pro.meter.event_name, "type": "cancel",
                                                      "cancel": {"identifier": f"mistake-{sub.id}"}})
    push(client, pro.meter, sub.customer, -2, T0 + 3 * DAY)
    advance(client, clock, FEB1 - 60)
    push(client, pro.meter, sub.customer, 10, FEB1 - 1)
    advance(client, clock, FEB1 + 10 * 60)
    draft = invoices(client, sub)[-1]
    assert draft.status == "draft" and usage_lines(draft, pro.overage) == [(15, 15, T0, FEB1)]
    push(client, pro.meter, sub.customer, 100, FEB1 - 30)   # late, for January
    push(client, pro.meter, sub.customer, 40, FEB1)         # February's
    advance(client, clock, FEB1 + 2 * HOUR)
    january = client.v1.invoices.retrieve(draft.id)
    assert january.status == "paid" and usage_lines(january, pro.overage) == [(115, 115, T0, FEB1)]
    assert january.total == 2000 + 115
    advance(client, clock, MAR1 + 2 * HOUR)
    assert usage_lines(invoices(client, sub)[-1], pro.overage) == [(40, 40, FEB1, MAR1)]


def test_negative_usage_bills_zero_and_last_meters_bill_the_latest_value(sandbox: SandboxServer) -> None:
    """A negative period total is billed as quantity 0; a `last` meter bills the value of the
    event with the latest timestamp, whatever the order of arrival."""
    client = sandbox.client()
    net = make_tier(client, included=0, per_call="0", unit_amount=3)
    last_meter = client.v1.billing.meters.create({"display_name": "seats", "event_name": f"seats_{uuid.uuid4().hex[:8]}",
                                                  "default_aggregation": {"formula": "last"}})
    seats = make_tier(client, included=0, per_call="0", meter=last_meter, unit_amount=3)
    clock = new_clock(client)
    a, b = subscribe(client, clock, net), subscribe(client, clock, seats)
    advance(client, clock, T0 + 10 * DAY)
    push(client, net.meter, a.customer, 5, T0 + DAY)
    push(client, net.meter, a.customer, -9, T0 + 2 * DAY)
    for day, value in ((3, 9), (5, 4), (1, 20)):
        push(client, last_meter, b.customer, value, T0 + day * DAY)
    advance(client, clock, FEB1 + 2 * HOUR)
    assert usage_lines(invoices(client, a)[-1], net.overage) == [(0, 0, T0, FEB1)]
    assert usage_lines(invoices(client, b)[-1], seats.overage) == [(4, 12, T0, FEB1)]


def _swap(client: stripe.StripeClient, sub: stripe.Subscription, old: Tier, new: Tier, **params: Any) -> stripe.Subscription:
    flat_item = next(i for i in sub.items.data if i.price.id == old.flat.id)
    return client.v1.subscriptions.update(sub.id, {
        "items": [{"id": flat_item.id, "price": new.flat.id}, {"id": metered_item(sub, old).id, "price": new.overage.id}],
        **params})


def _swap_scenario(client: stripe.StripeClient, **create: Any) -> tuple[str, stripe.Subscription, Tier, Tier]:
    """Pro from January 1, 12,000 calls by the 15th (2,000 over); enterprise from then."""
    pro = make_tier(client, included=10_000, per_call="0.2")
    enterprise = make_tier(client, included=100_000, per_call="0.1", flat=20000, meter=pro.meter)
    clock = new_clock(client)
    sub = subscribe(client, clock, pro, **create)
    advance(client, clock, T0 + 15 * DAY)
    push(client, pro.meter, sub.customer, 12_000, T0 + 5 * DAY)
    return clock, sub, pro, enterprise


def test_tier_change_mid_period_bills_each_part_at_its_own_price_at_once(sandbox: SandboxServer) -> None:
    """Flexible billing mode (the default), always_invoice: the update invoice bills the 12,000
    calls before the swap at pro (2,000 × 0.2 = 400) beside the flat prorations; the renewal bills
    the 105,000 calls after it at enterprise (5,000 × 0.1 = 500), each with its own allowance."""
    client = sandbox.client()
    clock, sub, pro, enterprise = _swap_scenario(client)
    assert sub.billing_mode.type == "flexible"
    sub = _swap(client, sub, pro, enterprise, proration_behavior="always_invoice")
    swap_at = T0 + 15 * DAY
    update = invoices(client, sub)[-1]
    assert update.billing_reason == "subscription_update" and update.status == "paid"
    assert usage_lines(update, pro.overage) == [(12_000, 400, T0, swap_at)]
    assert {l.amount for l in update.lines.data if l.pricing.price_details.price == pro.flat.id} == {-1032}  # 16/31 of 2000, unused
    advance(client, clock, T0 + 25 * DAY)
    push(client, pro.meter, sub.customer, 105_000, T0 + 20 * DAY)
    advance(client, clock, FEB1 + 2 * HOUR)
    renewal = invoices(client, sub)[-1]
    assert usage_lines(renewal, enterprise.overage) == [(105_000, 500, swap_at, FEB1)]
    assert usage_lines(renewal, pro.overage) == [] and usage_lines(renewal, enterprise.flat) == [(1, 20000, FEB1, MAR1)]


def test_tier_change_with_prorations_bills_the_old_usage_on_the_next_invoice(sandbox: SandboxServer) -> None:
    """create_prorations: the old price's usage waits as a pending invoice item and joins the
    renewal invoice beside the new price's usage."""
    client = sandbox.client()
    clock, sub, pro, enterprise = _swap_scenario(client)
    sub = _swap(client, sub, pro, enterprise, proration_behavior="create_prorations")
    pending = client.v1.invoice_items.list({"customer": sub.customer, "pending": True}).data
    assert [(ii.quantity, ii.amount) for ii in pending if ii.pricing.price_details.price == pro.overage.id] == [(12_000, 400)]
    advance(client, clock, T0 + 25 * DAY)
    push(client, pro.meter, sub.customer, 105_000, T0 + 20 * DAY)
    advance(client, clock, FEB1 + 2 * HOUR)
    renewal = invoices(client, sub)[-1]
    assert usage_lines(renewal, pro.overage) == [(12_000, 400, T0, T0 + 15 * DAY)]
    assert usage_lines(renewal, enterprise.overage) == [(105_000, 500, T0 + 15 * DAY, FEB1)]


def test_usage_before_a_swap_is_not_billed_without_prorations_or_in_classic_mode(sandbox: SandboxServer) -> None:
    """proration_behavior=none drops the old price's usage (Stripe: "set proration_behavior to
    none" to remove a metered price without billing it); billing_mode=classic never bills it
    (Stripe's documented classic limitation). Both bill the new price from the swap on."""
    client = sandbox.client()
    for create, update in (({}, {"proration_behavior": "none"}),
                           ({"billing_mode": {"type": "classic"}}, {"proration_behavior": "always_invoice"})):
        clock, sub, pro, enterprise = _swap_scenario(client, **create)
        sub = _swap(client, sub, pro, enterprise, **update)
        advance(client, clock, FEB1 + 2 * HOUR)
        billed = [line for inv in invoices(client, sub) for line in usage_lines(inv, pro.overage)]
        assert billed == [], create
        assert usage_lines(invoices(client, sub)[-1], enterprise.overage) == [(0, 0, T0 + 15 * DAY, FEB1)]


def test_cancellation_bills_the_last_usage_at_period_end_or_with_invoice_now(sandbox: SandboxServer) -> None:
    """cancel_at_period_end: a final invoice bills January's usage and nothing more. Cancel now
    with invoice_now: a final invoice for the usage so far. Cancel now without it: discarded."""
    client = sandbox.client()
    pro = make_tier(client, included=0, per_call="1")
    clock = new_clock(client)
    at_end, now_billed, now_dropped = (subscribe(client, clock, pro) for _ in range(3))
    client.v1.subscriptions.update(at_end.id, {"cancel_at_period_end": True})
    advance(client, clock, T0 + 10 * DAY)
    for sub in (at_end, now_billed, now_dropped):
        push(client, pro.meter, sub.customer, 30, T0 + DAY)
    client.v1.subscriptions.cancel(now_billed.id, {"invoice_now": True})
    client.v1.subscriptions.cancel(now_dropped.id)
    advance(client, clock, FEB1 + 2 * HOUR)
    final = invoices(client, at_end)[-1]
    assert (final.status, final.total) == ("paid", 30)
    assert usage_lines(final, pro.overage) == [(30, 30, T0, FEB1)] and usage_lines(final, pro.flat) == []
    assert client.v1.subscriptions.retrieve(at_end.id).status == "canceled"
    final = invoices(client, now_billed)[-1]
    assert final.status == "paid" and usage_lines(final, pro.overage) == [(30, 30, T0, T0 + 10 * DAY)]
    assert [usage_lines(inv, pro.overage) for inv in invoices(client, now_dropped)] == [[]]


def test_usage_during_a_trial_is_not_billed_and_the_preview_shows_usage_so_far(sandbox: SandboxServer) -> None:
    """Calls made while trialing are free; after the trial the upcoming-invoice preview shows
    the usage so far, and the renewal bills it."""
    client = sandbox.client()
    pro = make_tier(client, included=0, per_call="1")
    clock = new_clock(client)
    sub = subscribe(client, clock, pro, trial_period_days=14)
    advance(client, clock, T0 + 10 * DAY)
    push(client, pro.meter, sub.customer, 50, T0 + 9 * DAY)
    advance(client, clock, T0 + 20 * DAY)
    push(client, pro.meter, sub.customer, 8, T0 + 19 * DAY)
    assert [inv.billing_reason for inv in invoices(client, sub)] == ["subscription_create", "subscription_cycle"]
    assert usage_lines(invoices(client, sub)[-1], pro.overage) == []
    preview = client.v1.invoices.create_preview({"subscription": sub.id})
    assert usage_lines(preview, pro.overage) == [(8, 8, T0 + 14 * DAY, T0 + 14 * DAY + 31 * DAY)]


def test_the_final_usage_invoice_keeps_the_subscriptions_discount(sandbox: SandboxServer) -> None:
    """A 50 % forever coupon applies to the last usage on the final invoice as to any renewal."""
    client = sandbox.client()
    pro = make_tier(client, included=0, per_call="1")
    coupon = client.v1.coupons.create({"percent_off": 50, "duration": "forever"})
    clock = new_clock(client)
    sub = subscribe(client, clock, pro, discounts=[{"coupon": coupon.id}], cancel_at_period_end=True)
    advance(client, clock, T0 + 10 * DAY)
    push(client, pro.meter, sub.customer, 30, T0 + DAY)
    advance(client, clock, FEB1 + 2 * HOUR)
    final = invoices(client, sub)[-1]
    assert (final.subtotal, final.total, final.status) == (30, 15, "paid")
