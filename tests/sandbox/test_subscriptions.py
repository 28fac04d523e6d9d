"""Subscriptions through stripe-python 16: the seed flow, payment behaviours, trials, updates, cancel."""

from __future__ import annotations

import pytest
import stripe

from unifiedmcp.sandbox import SandboxServer, WebhookReceiver

from .helpers import customer_with_card, monthly_price


def _seed_subscribe(client: stripe.StripeClient, price_id: str) -> stripe.Subscription:
    cus = client.v1.customers.create({"email": "seed@example.com"})
    return client.v1.subscriptions.create(
        {
            "customer": cus.id,
            "items": [{"price": price_id}],
            "payment_behavior": "default_incomplete",
            "payment_settings": {"save_default_payment_method": "on_subscription"},
            "expand": ["latest_invoice.confirmation_secret", "latest_invoice.payments"],
        }
    )


def test_seed_flow_confirm_with_visa_activates(sandbox: SandboxServer) -> None:
    """The seed's flow: default_incomplete subscription, confirm its invoice's intent with
    pm_card_visa -> subscription active, invoice paid, card saved as the default."""
    client = sandbox.client()
    price = monthly_price(client)
    sub = _seed_subscribe(client, price.id)
    assert sub.status == "incomplete"
    inv = sub.latest_invoice
    assert inv.status == "open"
    assert inv.parent.subscription_details.subscription == sub.id
    assert inv.confirmation_secret.type == "payment_intent"
    pi_id = inv.payments.data[0].payment.payment_intent
    assert inv.confirmation_secret.client_secret.startswith(pi_id + "_secret_")
    line = inv.lines.data[0]
    assert line.pricing.price_details.price == price.id
    assert line.parent.subscription_item_details.subscription == sub.id
    assert line.amount == 2000
    pi = client.v1.payment_intents.confirm(pi_id, {"payment_method": "pm_card_visa"})
    assert pi.status == "succeeded"
    sub = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice.payments"]})
    assert sub.status == "active"
    assert sub.default_payment_method is not None
    assert sub.latest_invoice.status == "paid"
    assert sub.latest_invoice.amount_paid == 2000
    assert sub.latest_invoice.payments.data[0].status == "paid"
    item = sub.items.data[0]
    assert item.current_period_end > item.current_period_start
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.status == "succeeded" and charge.outcome.type == "authorized"


def test_seed_flow_failing_card_keeps_incomplete(sandbox: SandboxServer, webhook_receiver: WebhookReceiver) -> None:
    """Confirming with pm_card_chargeCustomerFail: 402 card_error, invoice.payment_failed is
    delivered (signed), the subscription stays incomplete and the invoice open."""
    client = sandbox.client()
    _, secret = sandbox.add_webhook_endpoint(webhook_receiver.url, events=["invoice.payment_failed"])
    price = monthly_price(client)
    sub = _seed_subscribe(client, price.id)
    pi_id = sub.latest_invoice.payments.data[0].payment.payment_intent
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_intents.confirm(pi_id, {"payment_method": "pm_card_chargeCustomerFail"})
    assert exc.value.http_status == 402
    assert exc.value.code == "card_declined"
    assert exc.value.json_body["error"]["decline_code"] == "generic_decline"
    assert exc.value.json_body["error"]["payment_intent"]["status"] == "requires_payment_method"
    got = webhook_receiver.wait_for(lambda rs: any(r.event["data"]["object"]["id"] == sub.latest_invoice.id for r in rs))
    delivery = next(r for r in got if r.event["data"]["object"]["id"] == sub.latest_invoice.id)
    event = stripe.Webhook.construct_event(delivery.body.decode(), delivery.signature, secret)
    assert event.type == "invoice.payment_failed"
    assert client.v1.subscriptions.retrieve(sub.id).status == "incomplete"
    inv = client.v1.invoices.retrieve(sub.latest_invoice.id)
    assert inv.status == "open" and inv.attempt_count == 1
    pi = client.v1.payment_intents.retrieve(pi_id)
    assert pi.last_payment_error.decline_code == "generic_decline"
    # A second confirmation with a good card recovers the subscription.
    client.v1.payment_intents.confirm(pi_id, {"payment_method": "pm_card_visa"})
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_allow_incomplete_charges_the_default_card(sandbox: SandboxServer) -> None:
    """Default payment_behavior charges the customer's default card at once -> active."""
    client = sandbox.client()
    price = monthly_price(client, amount=1500)
    cus = customer_with_card(client)
    sub = client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}], "expand": ["latest_invoice"]})
    assert sub.status == "active"
    assert sub.latest_invoice.status == "paid" and sub.latest_invoice.amount_paid == 1500


def test_allow_incomplete_with_failing_card_is_incomplete(sandbox: SandboxServer) -> None:
    """pm_card_chargeCustomerFail attaches fine, then the first charge fails -> incomplete, no error."""
    client = sandbox.client()
    price = monthly_price(client)
    cus = customer_with_card(client, "pm_card_chargeCustomerFail")
    sub = client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}], "expand": ["latest_invoice"]})
    assert sub.status == "incomplete"
    assert sub.latest_invoice.status == "open"


def test_error_if_incomplete_refuses_and_creates_nothing(sandbox: SandboxServer) -> None:
    """error_if_incomplete with a failing card -> 402 and no subscription left behind."""
    client = sandbox.client()
    price = monthly_price(client)
    cus = customer_with_card(client, "pm_card_chargeCustomerFail")
    with pytest.raises(stripe.CardError) as exc:
        client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}], "payment_behavior": "error_if_incomplete"})
    assert exc.value.code == "card_declined"
    assert client.v1.subscriptions.list({"customer": cus.id, "status": "all"}).data == []


def test_trial_starts_trialing_with_zero_invoice(sandbox: SandboxServer) -> None:
    """trial_period_days -> trialing, a paid $0 invoice, trial_end 14 days out."""
    client = sandbox.client()
    price = monthly_price(client)
    cus = client.v1.customers.create({})
    sub = client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}], "trial_period_days": 14, "expand": ["latest_invoice"]})
    assert sub.status == "trialing"
    assert sub.trial_end - sub.trial_start == 14 * 86400
    assert sub.items.data[0].current_period_end == sub.trial_end
    assert sub.latest_invoice.total == 0 and sub.latest_invoice.status == "paid"


def test_update_price_with_prorations(sandbox: SandboxServer) -> None:
    """Upgrading mid-period with create_prorations leaves pending credit/charge invoice items;
    always_invoice bills them at once; none changes the price only."""
    client = sandbox.client()
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": 1_767_225_600})  # 2026-01-01
    cus = customer_with_card(client, test_clock=clock.id)
    basic = monthly_price(client, amount=1000, name="Basic")
    pro = monthly_price(client, amount=3000, name="Pro")
    sub = client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": basic.id}]})
    start, end = sub.items.data[0].current_period_start, sub.items.data[0].current_period_end
    half = start + (end - start) // 2
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": half})
    sub = client.v1.subscriptions.update(sub.id, {"items": [{"id": sub.items.data[0].id, "price": pro.id}], "proration_behavior": "create_prorations"})
    assert sub.items.data[0].price.id == pro.id
    pending = client.v1.invoice_items.list({"customer": cus.id, "pending": True}).data
    amounts = sorted(ii.amount for ii in pending)
    assert amounts == [-500, 1500]
    assert all(ii.proration for ii in pending)
    # always_invoice: back to basic, billed now.
    sub = client.v1.subscriptions.update(sub.id, {"items": [{"id": sub.items.data[0].id, "price": basic.id}], "proration_behavior": "always_invoice", "expand": ["latest_invoice"]})
    inv = sub.latest_invoice
    assert inv.billing_reason == "subscription_update"
    # it includes the earlier pending items too (-500 + 1500 - 1500 + 500 = 0 -> paid at once)
    assert inv.total == 0 and inv.status == "paid"
    before = client.v1.invoice_items.list({"customer": cus.id, "pending": True}).data
    sub = client.v1.subscriptions.update(sub.id, {"items": [{"id": sub.items.data[0].id, "quantity": 2}], "proration_behavior": "none"})
    assert sub.items.data[0].quantity == 2
    assert client.v1.invoice_items.list({"customer": cus.id, "pending": True}).data == before


def test_quantity_and_metadata_update_emit_previous_attributes(sandbox: SandboxServer) -> None:
    """customer.subscription.updated carries data.previous_attributes with the old values."""
    client = sandbox.client()
    price = monthly_price(client)
    cus = customer_with_card(client)
    sub = client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}], "metadata": {"plan": "a"}})
    client.v1.subscriptions.update(sub.id, {"metadata": {"plan": "b"}, "proration_behavior": "none"})
    ev = client.v1.events.list({"type": "customer.subscription.updated", "limit": 1}).data[0]
    assert ev.data.object.id == sub.id
    assert ev.data.previous_attributes.metadata.to_dict() == {"plan": "a"}
    assert ev.data.object.metadata.plan == "b"


def test_cancel_now_with_details_and_at_period_end(sandbox: SandboxServer) -> None:
    """DELETE cancels at once with cancellation_details; cancel_at_period_end sets cancel_at."""
    client = sandbox.client()
    price = monthly_price(client)
    cus = customer_with_card(client)
    a = client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}]})
    b = client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}]})
    a = client.v1.subscriptions.cancel(a.id, {"cancellation_details": {"comment": "too pricey", "feedback": "too_expensive"}})
    assert a.status == "canceled" and a.ended_at is not None
    assert a.cancellation_details.reason == "cancellation_requested"
    assert a.cancellation_details.feedback == "too_expensive"
    b = client.v1.subscriptions.update(b.id, {"cancel_at_period_end": True})
    assert b.cancel_at_period_end is True
    assert b.cancel_at == b.items.data[0].current_period_end
    assert b.status == "active"
    listed = client.v1.subscriptions.list({"customer": cus.id})
    assert [s.id for s in listed.data] == [b.id]  # canceled ones are hidden unless status=all
    assert {s.id for s in client.v1.subscriptions.list({"customer": cus.id, "status": "all"}).data} == {a.id, b.id}
    assert [s.id for s in client.v1.subscriptions.list({"customer": cus.id, "status": "canceled"}).data] == [a.id]
    assert [s.id for s in client.v1.subscriptions.list({"price": price.id}).data] == [b.id]


def test_coupon_discount_on_subscription(sandbox: SandboxServer) -> None:
    """discounts=[{coupon}] reduces the invoice: 25% off 2000 -> total 1500, with discount amounts."""
    client = sandbox.client()
    price = monthly_price(client)
    cus = customer_with_card(client)
    coupon = client.v1.coupons.create({"percent_off": 25, "duration": "forever"})
    sub = client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}], "discounts": [{"coupon": coupon.id}], "expand": ["latest_invoice"]})
    inv = sub.latest_invoice
    assert inv.subtotal == 2000 and inv.total == 1500 and inv.amount_paid == 1500
    assert inv.total_discount_amounts[0].amount == 500
    assert inv.lines.data[0].discount_amounts[0].amount == 500
    assert client.v1.coupons.retrieve(coupon.id).times_redeemed == 1


def test_subscription_search(sandbox: SandboxServer) -> None:
    """search(query="status:'active' AND metadata['team']:'x'") finds exactly the match."""
    client = sandbox.client()
    price = monthly_price(client)
    cus = customer_with_card(client)
    team = "team-" + cus.id[-6:]
    hit = client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}], "metadata": {"team": team}})
    client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}], "metadata": {"team": "other"}})
    res = client.v1.subscriptions.search({"query": f"status:'active' AND metadata['team']:'{team}'"})
    assert [s.id for s in res.data] == [hit.id]


def test_create_preview_shows_prorations_without_storing_them(sandbox: SandboxServer) -> None:
    """invoices.create_preview for a proposed upgrade at mid-period: credit, charge and the next
    period at the new price; no invoice item or invoice is created by previewing."""
    client = sandbox.client()
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": 1_767_225_600})
    cus = customer_with_card(client, test_clock=clock.id)
    basic = monthly_price(client, amount=1000, name="Basic")
    pro = monthly_price(client, amount=3000, name="Pro")
    sub = client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": basic.id}]})
    item = sub.items.data[0]
    half = item.current_period_start + (item.current_period_end - item.current_period_start) // 2
    preview = client.v1.invoices.create_preview({
        "subscription": sub.id,
        "subscription_details": {"items": [{"id": item.id, "price": pro.id}], "proration_date": half},
    })
    assert sorted(line.amount for line in preview.lines.data) == [-500, 1500, 3000]
    assert preview.total == 4000 and preview.id.startswith("upcoming_in_")
    assert client.v1.invoice_items.list({"customer": cus.id}).data == []
    assert len(client.v1.invoices.list({"customer": cus.id}).data) == 1


def test_authentication_required_card_leaves_subscription_incomplete(sandbox: SandboxServer, webhook_receiver: WebhookReceiver) -> None:
    """A 3-D Secure card on subscription creation: incomplete, the intent requires_action and
    invoice.payment_action_required is sent (the customer must authenticate on-session)."""
    client = sandbox.client()
    sandbox.add_webhook_endpoint(webhook_receiver.url, events=["invoice.payment_action_required"])
    price = monthly_price(client)
    cus = customer_with_card(client, "pm_card_authenticationRequired")
    sub = client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}], "expand": ["latest_invoice.payments.data.payment.payment_intent"]})
    assert sub.status == "incomplete"
    pi = sub.latest_invoice.payments.data[0].payment.payment_intent
    assert pi.status == "requires_action"
    got = webhook_receiver.wait_for_types("invoice.payment_action_required")
    assert got[0]["data"]["object"]["id"] == sub.latest_invoice.id


def test_add_and_remove_items_and_send_invoice_collection(sandbox: SandboxServer) -> None:
    """Adding an item and deleting another with proration_behavior=none; a send_invoice
    subscription is active at once and its invoices wait for payment (no charge)."""
    client = sandbox.client()
    a = monthly_price(client, amount=1000, name="A")
    b = monthly_price(client, amount=500, name="B")
    cus = customer_with_card(client)
    sub = client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": a.id}]})
    sub = client.v1.subscriptions.update(sub.id, {"items": [{"price": b.id, "quantity": 2}], "proration_behavior": "none"})
    assert sorted((i.price.id, i.quantity) for i in sub.items.data) == sorted([(a.id, 1), (b.id, 2)])
    first = next(i for i in sub.items.data if i.price.id == a.id)
    sub = client.v1.subscriptions.update(sub.id, {"items": [{"id": first.id, "deleted": True}], "proration_behavior": "none"})
    assert [(i.price.id, i.quantity) for i in sub.items.data] == [(b.id, 2)]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.update(sub.id, {"items": [{"id": sub.items.data[0].id, "deleted": True}]})

    manual = client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": a.id}], "collection_method": "send_invoice", "days_until_due": 30, "expand": ["latest_invoice"]})
    assert manual.status == "active"
    inv = manual.latest_invoice
    assert (inv.status, inv.collection_method, inv.amount_paid) == ("open", "send_invoice", 0)
    assert inv.due_date == inv.created + 30 * 86400


def test_error_if_incomplete_upgrade_with_failing_card_changes_nothing(sandbox: SandboxServer) -> None:
    """An always_invoice upgrade with payment_behavior=error_if_incomplete and a card that fails:
    402, and the subscription keeps its old price with no invoice items or invoices created."""
    client = sandbox.client()
    basic = monthly_price(client, amount=1000, name="Basic")
    pro = monthly_price(client, amount=3000, name="Pro")
    cus = customer_with_card(client)
    sub = client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": basic.id}]})
    bad = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": cus.id})
    client.v1.customers.update(cus.id, {"invoice_settings": {"default_payment_method": bad.id}})
    with pytest.raises(stripe.CardError):
        client.v1.subscriptions.update(sub.id, {
            "items": [{"id": sub.items.data[0].id, "price": pro.id}],
            "proration_behavior": "always_invoice", "payment_behavior": "error_if_incomplete",
        })
    after = client.v1.subscriptions.retrieve(sub.id)
    assert after.items.data[0].price.id == basic.id and after.status == "active"
    assert client.v1.invoice_items.list({"customer": cus.id}).data == []
    assert len(client.v1.invoices.list({"customer": cus.id}).data) == 1
