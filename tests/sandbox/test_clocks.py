"""Test clocks and the billing engine: renewals, finalization, charging, dunning, trials, expiry."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
import stripe

from unifiedmcp.sandbox import SandboxServer

from .helpers import customer_with_card, monthly_price

T0 = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp())
HOUR, DAY = 3600, 86400


def ts(month: int, day: int = 1, hour: int = 0) -> int:
    return int(datetime(2026, month, day, hour, tzinfo=timezone.utc).timestamp())


def _events_of(client: stripe.StripeClient, customer: str, ids: set[str]) -> list[Any]:
    """Events (oldest first) whose object is the customer or belongs to it."""
    out = []
    for ev in client.v1.events.list({"limit": 100}).auto_paging_iter():
        obj = ev.data.object.to_dict()
        if obj.get("customer") == customer or obj.get("id") in ids:
            out.append(ev)
    return list(reversed(out))


def test_three_customers_one_card_fails_in_month_two(fresh_sandbox: SandboxServer) -> None:
    """Advance 4 months: two customers renew and pay every month; the third, whose card fails
    from month 2, goes past_due, is retried 3, 5 and 7 days later and is then canceled with
    cancellation_details.reason=payment_failed. Invoices, charges, statuses and the exact event
    sequence of the failing customer are checked, with clock-time timestamps."""
    client = fresh_sandbox.client()
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": T0, "name": "dunning"})
    price = monthly_price(client, amount=2000)
    customers = [customer_with_card(client, test_clock=clock.id, email=f"c{i}@example.com") for i in range(3)]
    subs = [client.v1.subscriptions.create({"customer": c.id, "items": [{"price": price.id}]}) for c in customers]
    assert [s.status for s in subs] == ["active"] * 3
    first_event = client.v1.events.list({"limit": 1}).data[0].id

    # Month 1 passes; mid-January the third customer's card is replaced by one that fails.
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": ts(1, 15)})
    bad = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": customers[2].id})
    client.v1.customers.update(customers[2].id, {"invoice_settings": {"default_payment_method": bad.id}})
    del first_event

    # Advance to 2 h after the fourth renewal (May 1): everything due has run.
    clock = client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": ts(5, 1, 2)})
    assert clock.status == "ready" and clock.frozen_time == ts(5, 1, 2)

    good_statuses = [client.v1.subscriptions.retrieve(s.id).status for s in subs[:2]]
    assert good_statuses == ["active", "active"]
    for cus, sub in zip(customers[:2], subs[:2]):
        invoices = client.v1.invoices.list({"customer": cus.id}).data
        assert [i.status for i in invoices] == ["paid"] * 5
        assert [i.billing_reason for i in invoices] == ["subscription_cycle"] * 4 + ["subscription_create"]
        assert [i.status_transitions.paid_at for i in invoices[:4]] == [ts(m, 1, 1) for m in (5, 4, 3, 2)]
        charges = client.v1.charges.list({"customer": cus.id}).data
        assert [c.status for c in charges] == ["succeeded"] * 5
        sub = client.v1.subscriptions.retrieve(sub.id)
        assert sub.items.data[0].current_period_start == ts(5)
        assert sub.items.data[0].current_period_end == ts(6)

    failing = client.v1.subscriptions.retrieve(subs[2].id)
    assert failing.status == "canceled"
    assert failing.cancellation_details.reason == "payment_failed"
    assert failing.ended_at == ts(2, 16, 1)  # Feb 1 01:00 + 3 + 5 + 7 days
    invoices = client.v1.invoices.list({"customer": customers[2].id}).data
    assert [(i.billing_reason, i.status) for i in invoices] == [("subscription_cycle", "open"), ("subscription_create", "paid")]
    feb = invoices[0]
    assert feb.attempt_count == 4 and feb.next_payment_attempt is None
    charges = client.v1.charges.list({"customer": customers[2].id}).data
    assert [c.status for c in charges] == ["failed"] * 4 + ["succeeded"]
    assert [c.created for c in charges[:4]] == [ts(2, 16, 1), ts(2, 9, 1), ts(2, 4, 1), ts(2, 1, 1)]
    assert charges[0].failure_code == "card_declined"
    assert charges[0].outcome.type == "issuer_declined"

    ids = {subs[2].id, feb.id}
    seq = [
        (e.type, e.created, e.data.object.to_dict().get("status"))
        for e in _events_of(client, customers[2].id, ids)
        if e.type.startswith(("invoice.", "customer.subscription.", "charge."))
        and e.created >= ts(1, 2)
    ]
    failed = [("charge.failed", None, "failed"), ("invoice.payment_failed", None, "open")]
    expected = [
        ("invoice.created", ts(2), "draft"),
        ("customer.subscription.updated", ts(2), "active"),
        ("invoice.finalized", ts(2, 1, 1), "open"),
        *failed,
        ("customer.subscription.updated", ts(2, 1, 1), "past_due"),
        *failed,  # Feb 4
        *failed,  # Feb 9
        *failed,  # Feb 16: retries exhausted
        ("customer.subscription.deleted", ts(2, 16, 1), "canceled"),
    ]
    assert [(t, s) for t, _, s in seq] == [(t, s) for t, _, s in expected]
    for (t, created, _), (_, want, _) in zip(seq, expected):
        if want is not None:
            assert created == want, t
    failure_times = [c for t, c, _ in seq if t == "invoice.payment_failed"]
    assert failure_times == [ts(2, 1, 1), ts(2, 4, 1), ts(2, 9, 1), ts(2, 16, 1)]
    deleted = next(e for e in _events_of(client, customers[2].id, ids) if e.type == "customer.subscription.deleted")
    assert deleted.data.object.cancellation_details.reason == "payment_failed"


def test_dunning_can_end_in_unpaid(sandbox: SandboxServer) -> None:
    """With dunning_final_action=unpaid (a Dashboard setting), exhausted retries leave the
    subscription unpaid instead of canceled; later invoices stay drafts (not charged)."""
    sandbox.set_dunning(retry_days=[1, 1], final_action="unpaid")
    client = sandbox.client()
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": T0})
    price = monthly_price(client)
    cus = customer_with_card(client, "pm_card_visa", test_clock=clock.id)
    sub = client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}]})
    bad = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": cus.id})
    client.v1.customers.update(cus.id, {"invoice_settings": {"default_payment_method": bad.id}})
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": ts(2, 10)})
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "unpaid"
    inv = client.v1.invoices.list({"customer": cus.id, "limit": 1}).data[0]
    assert inv.attempt_count == 3
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": ts(3, 2)})
    march = client.v1.invoices.list({"customer": cus.id, "limit": 1}).data[0]
    assert march.status == "draft" and march.auto_advance is False
    # Paying the open invoice with a good card reactivates the subscription.
    client.v1.invoices.pay(inv.id, {"payment_method": "pm_card_visa"})
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "active"


def test_incomplete_expires_after_23_hours(sandbox: SandboxServer) -> None:
    """An unpaid first invoice: still incomplete at 22 h, incomplete_expired (invoice void) at 23 h."""
    client = sandbox.client()
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": T0})
    price = monthly_price(client)
    cus = client.v1.customers.create({"test_clock": clock.id})
    sub = client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}], "payment_behavior": "default_incomplete"})
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": T0 + 22 * HOUR})
    assert client.v1.subscriptions.retrieve(sub.id).status == "incomplete"
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": T0 + 23 * HOUR})
    sub = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert sub.status == "incomplete_expired"
    assert sub.latest_invoice.status == "void"
    ev = client.v1.events.list({"type": "customer.subscription.deleted", "limit": 5}).data
    assert sub.id in [e.data.object.id for e in ev]


def test_trial_end_bills_and_activates(sandbox: SandboxServer) -> None:
    """A 7-day trial: trial_will_end 3 days before, then active at trial end and charged 1 h later."""
    client = sandbox.client()
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": T0})
    price = monthly_price(client, amount=900)
    cus = customer_with_card(client, test_clock=clock.id)
    sub = client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}], "trial_period_days": 7})
    assert sub.status == "trialing"
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": T0 + 5 * DAY})
    types = [e.type for e in client.v1.events.list({"limit": 20}).data if e.data.object.to_dict().get("id") == sub.id]
    assert "customer.subscription.trial_will_end" in types
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": T0 + 7 * DAY + 2 * HOUR})
    sub = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert sub.status == "active"
    assert sub.latest_invoice.status == "paid" and sub.latest_invoice.amount_paid == 900
    assert sub.items.data[0].current_period_start == T0 + 7 * DAY


def test_cancel_at_period_end_cancels_without_new_invoice(sandbox: SandboxServer) -> None:
    """cancel_at_period_end: canceled exactly at the period end, reason cancellation_requested."""
    client = sandbox.client()
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": T0})
    price = monthly_price(client)
    cus = customer_with_card(client, test_clock=clock.id)
    sub = client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}]})
    client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True})
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": ts(2, 3)})
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "canceled"
    assert sub.ended_at == ts(2)
    assert sub.cancellation_details.reason == "cancellation_requested"
    assert len(client.v1.invoices.list({"customer": cus.id}).data) == 1


def test_clock_rules(sandbox: SandboxServer) -> None:
    """A clock cannot go back; retrieve/list/delete work; deleting removes its customers."""
    client = sandbox.client()
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": T0})
    cus = client.v1.customers.create({"test_clock": clock.id})
    assert cus.test_clock == clock.id and cus.created == T0
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": T0 - 1})
    assert exc.value.param == "frozen_time"
    assert client.v1.test_helpers.test_clocks.retrieve(clock.id).frozen_time == T0
    deleted = client.v1.test_helpers.test_clocks.delete(clock.id)
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.retrieve(cus.id)
