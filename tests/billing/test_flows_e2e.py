"""End to end: the flows against the sandbox, its signed webhooks into our receiver, the ledger.

Both the sandbox and the receiver are real HTTP servers on 127.0.0.1; subscriptions run on test
clocks so renewals, cancellations at period end and dunning happen when the clock advances.
"""

from __future__ import annotations

import json
import time

import pytest

from unifiedmcp.billing import (
    AlreadySubscribed,
    PaymentFailed,
    cancel,
    change_tier,
    idempotency_key,
    metered_price_for_tier,
    portal_session,
    subscribe,
    subscriptions,
)

from .conftest import Stack

HOUR = 3600
DAY = 86400


def _tier(stack: Stack, cid: str) -> str:
    return stack.ledger.customer(cid).tier


def test_subscribe_with_visa_makes_the_customer_pro(stack: Stack) -> None:
    """subscribe(pm_card_visa) -> payment succeeds -> webhooks -> the ledger says pro."""
    email, cid, _ = stack.customer_on_clock()
    result = subscribe(stack.client, email, "pro", payment_method="pm_card_visa")
    assert (result.customer_id, result.status, result.tier, result.created) == (cid, "active", "pro", True)
    stack.settle()
    assert _tier(stack, cid) == "pro"
    [mirror] = subscriptions(stack.ledger, customer=cid)
    assert (mirror.status, mirror.tier, mirror.current_period_end) == ("active", "pro", result.current_period_end)


def test_subscribe_returns_client_secret_and_stays_free_until_paid(stack: Stack) -> None:
    """Without a payment method: incomplete, a client secret for the front end, the ledger still free."""
    email, cid, _ = stack.customer_on_clock()
    result = subscribe(stack.client, email, "enterprise")
    assert result.status == "incomplete" and result.client_secret and result.payment_intent_id
    assert result.client_secret not in repr(result)
    stack.settle()
    assert _tier(stack, cid) == "free"
    again = subscribe(stack.client, email, "enterprise", payment_method="pm_card_visa")  # business-level idempotent
    assert (again.subscription_id, again.created, again.status) == (result.subscription_id, False, "active")
    stack.settle()
    assert _tier(stack, cid) == "enterprise"
    with pytest.raises(AlreadySubscribed):
        subscribe(stack.client, email, "pro")


def test_cancel_at_period_end_then_clock_makes_free(stack: Stack) -> None:
    """cancel(at_period_end) keeps pro until the clock passes the period's end, then free."""
    email, cid, clock = stack.customer_on_clock()
    result = subscribe(stack.client, email, "pro", payment_method="pm_card_visa")
    out = cancel(stack.client, cid, at_period_end=True, reason="too_expensive")
    assert out.cancel_at_period_end and out.status == "active"
    stack.settle()
    assert _tier(stack, cid) == "pro"
    stack.advance(clock, result.current_period_end + HOUR)
    assert _tier(stack, cid) == "free"
    assert subscriptions(stack.ledger, customer=cid)[0].status == "canceled"


def test_failed_renewal_past_due_then_canceled(stack: Stack) -> None:
    """Renewal fails -> past_due (still pro) -> dunning retries fail -> canceled -> free."""
    email, cid, clock = stack.customer_on_clock()
    result = subscribe(stack.client, email, "pro", payment_method="pm_card_visa")
    failing = stack.client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": cid})
    stack.client.v1.subscriptions.update(result.subscription_id, {"default_payment_method": failing.id})
    stack.settle()
    end = result.current_period_end
    stack.advance(clock, end + 2 * HOUR)
    [mirror] = subscriptions(stack.ledger, customer=cid)
    assert mirror.status == "past_due"
    assert _tier(stack, cid) == "pro"
    stack.advance(clock, end + 16 * DAY)  # retries after 3, 5 and 7 days all fail
    [mirror] = subscriptions(stack.ledger, customer=cid)
    assert mirror.status == "canceled"
    assert _tier(stack, cid) == "free"
    with stack.ledger.transaction() as conn:
        failed = conn.execute(
            "SELECT payment_failed, attempt_count FROM invoices WHERE subscription_id = ? AND billing_reason = 'subscription_cycle'",
            (result.subscription_id,),
        ).fetchone()
    assert failed[0] == 1 and failed[1] >= 2


def test_change_tier_and_cancel_now(stack: Stack) -> None:
    """change_tier moves pro -> enterprise (ledger follows); again is a no-op; cancel now -> free."""
    email, cid, _ = stack.customer_on_clock()
    first = subscribe(stack.client, email, "pro", payment_method="pm_card_visa")
    up = change_tier(stack.client, email, "enterprise", proration="always_invoice")
    assert (up.subscription_id, up.tier) == (first.subscription_id, "enterprise")
    same = change_tier(stack.client, cid, "enterprise")
    assert same.tier == "enterprise"
    stack.settle()
    assert _tier(stack, cid) == "enterprise"
    gone = cancel(stack.client, cid, at_period_end=False, reason="switched to a competitor")
    assert gone.status == "canceled"
    stack.settle()
    assert _tier(stack, cid) == "free"


def test_declined_card_raises_and_stays_free(stack: Stack) -> None:
    """A declined first payment raises PaymentFailed; the ledger stays free."""
    email, cid, _ = stack.customer_on_clock()
    with pytest.raises(PaymentFailed):
        subscribe(stack.client, email, "pro", payment_method="pm_card_chargeDeclined")
    stack.settle()
    assert _tier(stack, cid) == "free"


def test_portal_session(stack: Stack) -> None:
    """portal_session returns the session URL for the customer (by email or id)."""
    email, cid, _ = stack.customer_on_clock()
    session = portal_session(stack.client, email, "https://example.com/account")
    assert session.customer_id == cid and session.url.startswith("http")


def test_every_write_carries_an_idempotency_key(stack: Stack) -> None:
    """Events caused by our flows record the request's idempotency key; subscriptions.create's is derived."""
    email, cid, _ = stack.customer_on_clock()
    result = subscribe(stack.client, email, "pro", payment_method="pm_card_visa")
    cancel(stack.client, cid, at_period_end=True)
    stack.settle()
    with stack.ledger.transaction() as conn:
        payloads = [json.loads(r[0]) for r in conn.execute(
            "SELECT payload FROM webhook_events WHERE type LIKE 'customer.subscription.%'"
            " AND object_id = ?", (result.subscription_id,))]
    created = [p for p in payloads if p["type"] == "customer.subscription.created"]
    assert created and created[0]["request"]["idempotency_key"].startswith("umcp-subscriptions.create-")
    updates = [p for p in payloads if (p.get("request") or {}).get("id")]
    assert updates and all(p["request"]["idempotency_key"] for p in updates)
    assert idempotency_key("x", {}) != created[0]["request"]["idempotency_key"]


def test_subscribe_again_after_cancellation_is_a_new_subscription(stack: Stack) -> None:
    """The derived idempotency key includes ended subscriptions: resubscribing is not a cached replay."""
    email, cid, _ = stack.customer_on_clock()
    first = subscribe(stack.client, email, "pro", payment_method="pm_card_visa")
    cancel(stack.client, cid, at_period_end=False)
    second = subscribe(stack.client, email, "pro", payment_method="pm_card_visa")
    assert second.subscription_id != first.subscription_id and second.status == "active" and second.created
    stack.settle()
    assert _tier(stack, cid) == "pro"
    assert {m.status for m in subscriptions(stack.ledger, customer=cid)} == {"canceled", "active"}


def test_same_second_cycle_is_resolved_by_refetching(stack: Stack) -> None:
    """Two same-second updates that could each follow the other (active -> past_due -> active):
    with a client the receiver re-fetches the subscription; without one it would keep past_due."""
    from unifiedmcp.billing import EventProcessor, as_dict
    from unifiedmcp.ledger import Ledger

    email, cid, _ = stack.customer_on_clock()
    sub = as_dict(stack.client.v1.subscriptions.retrieve(
        subscribe(stack.client, email, "pro", payment_method="pm_card_visa").subscription_id))
    t = sub["created"] + 10
    to_past_due = {"id": "evt_cycle_1", "type": "customer.subscription.updated", "created": t,
                   "data": {"object": {**sub, "status": "past_due"}, "previous_attributes": {"status": "active"}}}
    back_active = {"id": "evt_cycle_2", "type": "customer.subscription.updated", "created": t,
                   "data": {"object": {**sub, "status": "active"}, "previous_attributes": {"status": "past_due"}}}
    results = {}
    for name, client in (("refetch", stack.client), ("no client", None)):
        with Ledger(stack.settings.data_dir / f"cycle-{name.replace(' ', '')}.sqlite3") as led:
            proc = EventProcessor(led, client=client)
            proc.process(back_active)
            proc.process(to_past_due)  # arrives last, but happened first
            results[name] = subscriptions(led)[0].status
    assert results == {"refetch": "active", "no client": "past_due"}


def test_the_callers_idempotency_key_wins(stack: Stack) -> None:
    """A key given by the caller is the one sent (and a retry with it returns the same subscription)."""
    email, cid, _ = stack.customer_on_clock()
    key = f"agent-call-{cid}"
    first = subscribe(stack.client, email, "pro", idempotency_key=key)
    overage = metered_price_for_tier(stack.client, "pro")["id"]  # the second item: usage past the included calls
    replayed = stack.client.v1.subscriptions.create(
        {"customer": cid, "items": [{"price": first.price_id}, {"price": overage}],
         "payment_behavior": "default_incomplete",
         "payment_settings": {"save_default_payment_method": "on_subscription"}, "metadata": {"tier": "pro"},
         "expand": ["latest_invoice.confirmation_secret", "latest_invoice.payments"]},
        {"idempotency_key": key},
    )
    assert replayed.id == first.subscription_id
    stack.settle()
    with stack.ledger.transaction() as conn:
        [payload] = [json.loads(r[0]) for r in conn.execute(
            "SELECT payload FROM webhook_events WHERE type = 'customer.subscription.created' AND object_id = ?",
            (first.subscription_id,))]
    assert payload["request"]["idempotency_key"] == key


def test_trial_gives_the_tier_until_it_ends_unpaid(stack: Stack) -> None:
    """A trial without a payment method: trialing (pro) -> unpaid first invoice, past_due (still pro)
    -> canceled after the dunning retries (free)."""
    email, cid, clock = stack.customer_on_clock()
    result = subscribe(stack.client, email, "pro", trial_days=7)
    assert result.status == "trialing"
    stack.settle()
    assert _tier(stack, cid) == "pro"
    start = int(time.time())
    stack.advance(clock, start + 8 * DAY)
    assert [m.status for m in subscriptions(stack.ledger, customer=cid)] == ["past_due"]
    assert _tier(stack, cid) == "pro"
    stack.advance(clock, start + 24 * DAY)
    assert [m.status for m in subscriptions(stack.ledger, customer=cid)] == ["canceled"]
    assert _tier(stack, cid) == "free"
