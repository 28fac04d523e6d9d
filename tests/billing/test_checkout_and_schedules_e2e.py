"""End to end through Checkout and subscription schedules: the flows against the sandbox, its
signed webhooks into our receiver, the ledger (see test_flows_e2e for the stack)."""

from __future__ import annotations

import httpx
import pytest

from unifiedmcp.billing import AlreadySubscribed, change_tier, checkout, metered_price_for_tier, price_for_tier, subscribe, subscriptions

from .conftest import Stack

HOUR = 3600


def _pay(url: str, **form: str) -> httpx.Response:
    return httpx.post(url, data={"payment_method": "pm_card_visa", **form}, follow_redirects=False)


def test_subscribing_through_checkout_with_a_promotion_code_makes_the_customer_pro(stack: Stack) -> None:
    """checkout() -> the customer pays on the hosted page with a promotion code -> an active
    subscription with the flat and metered prices, its first invoice discounted ->
    checkout.session.completed and the subscription's events reach the receiver -> pro in the ledger."""
    email, cid, _ = stack.customer_on_clock()
    coupon = stack.client.v1.coupons.create({"percent_off": 20, "duration": "once"})
    stack.client.v1.promotion_codes.create({"promotion": {"type": "coupon", "coupon": coupon.id}, "code": f"WELCOME{cid[-6:]}"})
    session = checkout(stack.client, email, "pro", success_url="https://example.com/welcome")
    assert (session.customer_id, session.tier) == (cid, "pro")
    stack.settle()
    assert stack.ledger.customer(cid).tier == "free"  # nothing is granted before the payment
    assert _pay(session.url, promotion_code=f"welcome{cid[-6:]}").status_code == 303
    stack.settle()
    assert stack.ledger.customer(cid).tier == "pro"
    [mirror] = subscriptions(stack.ledger, customer=cid)
    assert (mirror.status, mirror.tier) == ("active", "pro")
    sub = stack.client.v1.subscriptions.retrieve(mirror.subscription_id, {"expand": ["latest_invoice"]})
    assert {i.price.id for i in sub.items.data} == {price_for_tier(stack.client, "pro")["id"],
                                                    metered_price_for_tier(stack.client, "pro")["id"]}
    assert sub.latest_invoice.amount_paid == 2900 * 80 // 100
    with stack.ledger.transaction() as conn:
        row = conn.execute("SELECT status FROM webhook_events WHERE type = 'checkout.session.completed' "
                           "AND object_id = ?", (session.session_id,)).fetchone()
    assert row == ("applied",)
    with pytest.raises(AlreadySubscribed):
        checkout(stack.client, email, "enterprise")


def test_an_unpaid_checkout_grants_nothing_and_expires(stack: Stack) -> None:
    email, cid, _ = stack.customer_on_clock()
    session = checkout(stack.client, email, "enterprise")
    stack.client.v1.checkout.sessions.expire(session.session_id)
    stack.settle()
    assert stack.ledger.customer(cid).tier == "free" and subscriptions(stack.ledger, customer=cid) == []
    assert _pay(session.url).status_code == 410


def test_a_downgrade_at_period_end_waits_for_the_test_clock_to_pass_it(stack: Stack) -> None:
    """change_tier(at_period_end) schedules enterprise -> pro: the ledger stays enterprise until
    the clock passes the period's end, then the subscription has pro's flat and metered prices
    and the ledger says pro. Asking again changes nothing."""
    email, cid, clock = stack.customer_on_clock()
    start = subscribe(stack.client, email, "enterprise", payment_method="pm_card_visa")
    end = start.current_period_end
    scheduled = change_tier(stack.client, cid, "pro", at_period_end=True)
    assert (scheduled.tier, scheduled.scheduled_tier, scheduled.scheduled_at) == ("enterprise", "pro", end)
    again = change_tier(stack.client, cid, "pro", at_period_end=True)
    assert (again.scheduled_tier, again.scheduled_at) == ("pro", end)
    [sched] = stack.client.v1.subscription_schedules.list({"customer": cid}).data
    assert len(sched.phases) == 2
    stack.settle()
    assert stack.ledger.customer(cid).tier == "enterprise"
    stack.advance(clock, end - HOUR)
    assert stack.ledger.customer(cid).tier == "enterprise"
    stack.advance(clock, end + HOUR)
    assert stack.ledger.customer(cid).tier == "pro"
    sub = stack.client.v1.subscriptions.retrieve(start.subscription_id)
    assert sub.status == "active"
    assert {i.price.id for i in sub.items.data} == {price_for_tier(stack.client, "pro")["id"],
                                                    metered_price_for_tier(stack.client, "pro")["id"]}
    [mirror] = subscriptions(stack.ledger, customer=cid)
    assert mirror.tier == "pro"


def test_an_immediate_change_supersedes_a_scheduled_one(stack: Stack) -> None:
    email, cid, clock = stack.customer_on_clock()
    start = subscribe(stack.client, email, "enterprise", payment_method="pm_card_visa")
    change_tier(stack.client, cid, "pro", at_period_end=True)
    now = change_tier(stack.client, cid, "pro")
    assert now.tier == "pro" and now.scheduled_tier is None
    [sched] = stack.client.v1.subscription_schedules.list({"customer": cid}).data
    assert sched.status == "released"
    stack.advance(clock, start.current_period_end + HOUR)
    assert stack.ledger.customer(cid).tier == "pro"
