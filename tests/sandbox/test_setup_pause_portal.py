"""Setup intents with the test cards, pause_collection across renewals, and the billing portal's
flow_data on the local portal page, through stripe-python 16."""

from __future__ import annotations

import httpx
import pytest
import stripe

from unifiedmcp.sandbox import SandboxServer

from .helpers import customer_with_card, monthly_price
from .test_metered_invoices import FEB1, HOUR, MAR1, advance, invoices, new_clock


# -- setup intents -------------------------------------------------------------------------------
def test_a_setup_intent_saves_a_card_to_the_customer(sandbox: SandboxServer) -> None:
    client = sandbox.client()
    cus = client.v1.customers.create({})
    seti = client.v1.setup_intents.create({"customer": cus.id, "usage": "off_session"})
    assert seti.status == "requires_payment_method" and seti.client_secret.startswith(seti.id + "_secret_")
    done = client.v1.setup_intents.confirm(seti.id, {"payment_method": "pm_card_mastercard"})
    assert done.status == "succeeded"
    assert [pm.id for pm in client.v1.customers.payment_methods.list(cus.id).data] == [done.payment_method]
    assert client.v1.events.list({"limit": 1}).data[0].type == "setup_intent.succeeded"


def test_a_declined_card_fails_the_setup_with_its_decline_code_and_the_intent_can_be_retried(sandbox: SandboxServer) -> None:
    client = sandbox.client()
    cus = client.v1.customers.create({})
    seti = client.v1.setup_intents.create({"customer": cus.id})
    with pytest.raises(stripe.CardError) as err:
        client.v1.setup_intents.confirm(seti.id, {"payment_method": "pm_card_visa_chargeDeclinedInsufficientFunds"})
    assert (err.value.code, err.value.error.decline_code) == ("card_declined", "insufficient_funds")
    failed = client.v1.setup_intents.retrieve(seti.id)
    assert failed.status == "requires_payment_method" and failed.last_setup_error.decline_code == "insufficient_funds"
    assert client.v1.customers.payment_methods.list(cus.id).data == []
    assert client.v1.setup_intents.confirm(seti.id, {"payment_method": "pm_card_visa"}).status == "succeeded"


def test_a_3ds_card_asks_for_authentication_and_a_canceled_intent_is_final(sandbox: SandboxServer) -> None:
    client = sandbox.client()
    seti = client.v1.setup_intents.create({"payment_method": "pm_card_authenticationRequired", "confirm": True})
    assert seti.status == "requires_action" and seti.next_action.type == "use_stripe_sdk"
    assert client.v1.setup_intents.cancel(seti.id).status == "canceled"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.setup_intents.confirm(seti.id, {"payment_method": "pm_card_visa"})


# -- pause_collection ----------------------------------------------------------------------------
def _subscribed(client: stripe.StripeClient, clock: str) -> stripe.Subscription:
    cus = customer_with_card(client, test_clock=clock)
    return client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": monthly_price(client, amount=1500).id}]})


@pytest.mark.parametrize(("behavior", "status"), [("void", "void"), ("mark_uncollectible", "uncollectible"),
                                                   ("keep_as_draft", "draft")])
def test_paused_collection_leaves_the_renewal_uncharged_as_its_behavior_says(sandbox: SandboxServer, behavior: str,
                                                                              status: str) -> None:
    """While collection is paused the subscription stays active and its renewal invoice is not
    charged (voided, uncollectible or kept as a draft); at resumes_at collection resumes and the
    next renewal is paid."""
    client = sandbox.client()
    clock = new_clock(client)
    sub = _subscribed(client, clock)
    paused = client.v1.subscriptions.update(sub.id, {"pause_collection": {"behavior": behavior, "resumes_at": FEB1 + 10 * 86400}})
    assert paused.pause_collection.behavior == behavior
    advance(client, clock, FEB1 + 2 * HOUR)
    renewal = invoices(client, sub)[-1]
    assert (renewal.status, renewal.amount_paid) == (status, 0)
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    advance(client, clock, MAR1 + 2 * HOUR)
    assert client.v1.subscriptions.retrieve(sub.id).pause_collection is None
    assert invoices(client, sub)[-1].status == "paid"


def test_an_empty_pause_collection_resumes_at_once(sandbox: SandboxServer) -> None:
    client = sandbox.client()
    sub = _subscribed(client, new_clock(client))
    client.v1.subscriptions.update(sub.id, {"pause_collection": {"behavior": "void"}})
    assert client.v1.subscriptions.update(sub.id, {"pause_collection": ""}).pause_collection is None


# -- billing portal flow_data --------------------------------------------------------------------
def test_a_cancel_flow_with_a_retention_offer_applies_the_coupon_when_accepted(sandbox: SandboxServer) -> None:
    client = sandbox.client()
    sub = _subscribed(client, new_clock(client))
    coupon = client.v1.coupons.create({"percent_off": 50, "duration": "once"})
    session = client.v1.billing_portal.sessions.create({"customer": sub.customer, "flow_data": {
        "type": "subscription_cancel",
        "subscription_cancel": {"subscription": sub.id, "retention": {"type": "coupon_offer", "coupon_offer": {"coupon": coupon.id}}},
        "after_completion": {"type": "redirect", "redirect": {"return_url": "https://example.com/kept"}}}})
    assert session.flow.type == "subscription_cancel"
    assert session.flow.subscription_cancel.retention.coupon_offer.coupon == coupon.id
    page = httpx.get(session.url)
    assert "Cancel your subscription" in page.text and coupon.id in page.text
    done = httpx.post(session.url, data={"action": "accept_offer", "subscription": sub.id}, follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (303, "https://example.com/kept")
    kept = client.v1.subscriptions.retrieve(sub.id, {"expand": ["discounts"]})
    assert not kept.cancel_at_period_end and kept.discounts[0].source.coupon == coupon.id


def test_a_cancel_flow_cancels_at_period_end_and_shows_the_confirmation(sandbox: SandboxServer) -> None:
    client = sandbox.client()
    sub = _subscribed(client, new_clock(client))
    session = client.v1.billing_portal.sessions.create({"customer": sub.customer, "flow_data": {
        "type": "subscription_cancel", "subscription_cancel": {"subscription": sub.id},
        "after_completion": {"type": "hosted_confirmation", "hosted_confirmation": {"custom_message": "Sorry to see you go"}}}})
    done = httpx.post(session.url, data={"action": "cancel", "subscription": sub.id})
    assert done.status_code == 200 and "Sorry to see you go" in done.text
    assert client.v1.subscriptions.retrieve(sub.id).cancel_at_period_end


def test_an_update_confirm_flow_applies_the_items_it_names(sandbox: SandboxServer) -> None:
    client = sandbox.client()
    sub = _subscribed(client, new_clock(client))
    bigger = monthly_price(client, amount=4000, name="Bigger")
    item = sub.items.data[0].id
    session = client.v1.billing_portal.sessions.create({"customer": sub.customer, "flow_data": {
        "type": "subscription_update_confirm",
        "subscription_update_confirm": {"subscription": sub.id, "items": [{"id": item, "price": bigger.id, "quantity": 2}]}}})
    assert session.flow.subscription_update_confirm.items[0].price == bigger.id
    assert httpx.post(session.url, data={"action": "confirm_update", "subscription": sub.id}, follow_redirects=False).status_code == 303
    [updated] = client.v1.subscriptions.retrieve(sub.id).items.data
    assert (updated.price.id, updated.quantity) == (bigger.id, 2)


def test_flow_data_naming_another_customers_subscription_is_refused(sandbox: SandboxServer) -> None:
    """A portal session cannot reach a subscription of another customer (400 naming the parameter)."""
    client = sandbox.client()
    theirs = _subscribed(client, new_clock(client))
    mine = client.v1.customers.create({})
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.billing_portal.sessions.create({"customer": mine.id, "flow_data": {
            "type": "subscription_cancel", "subscription_cancel": {"subscription": theirs.id}}})
    assert err.value.param == "flow_data[subscription_cancel][subscription]"
    plain = client.v1.billing_portal.sessions.create({"customer": mine.id})
    refused = httpx.post(plain.url, data={"action": "cancel", "subscription": theirs.id})
    assert refused.status_code == 400
    assert not client.v1.subscriptions.retrieve(theirs.id).cancel_at_period_end


def test_a_payment_method_update_flow_sets_the_new_default_card(sandbox: SandboxServer) -> None:
    client = sandbox.client()
    cus = customer_with_card(client)
    session = client.v1.billing_portal.sessions.create({"customer": cus.id, "flow_data": {"type": "payment_method_update"}})
    httpx.post(session.url, data={"action": "payment_method", "payment_method": "pm_card_mastercard"})
    default = client.v1.customers.retrieve(cus.id, {"expand": ["invoice_settings.default_payment_method"]})
    assert default.invoice_settings.default_payment_method.card.brand == "mastercard"


def test_an_update_flow_offers_the_other_plans_and_switches_to_the_one_chosen(sandbox: SandboxServer) -> None:
    client = sandbox.client()
    sub = _subscribed(client, new_clock(client))
    other = monthly_price(client, amount=9900, name="Other plan")
    session = client.v1.billing_portal.sessions.create({"customer": sub.customer, "flow_data": {
        "type": "subscription_update", "subscription_update": {"subscription": sub.id}}})
    page = httpx.get(session.url)
    assert "Change your plan" in page.text and other.id in page.text
    httpx.post(session.url, data={"action": "update", "subscription": sub.id, "price": other.id})
    [item] = client.v1.subscriptions.retrieve(sub.id).items.data
    assert item.price.id == other.id
