"""Stripe behaviour that localstripe 1.15.10 implements too: these tests run on both.

Each test runs twice (``[sandbox]`` and ``[localstripe]``). They use only what both support
(cards by number, ``confirm=True``, coupons with explicit ids) and assert only what Stripe
guarantees, so a pass on both shows the assertions describe Stripe, not this sandbox.
"""

from __future__ import annotations

import secrets

import httpx
import pytest
import stripe

from unifiedmcp.sandbox import WebhookReceiver

from .conftest import StripeAPI, card


def _id(ref: object) -> str:
    """An id from a reference (localstripe returns latest_charge expanded, Stripe as an id)."""
    return ref if isinstance(ref, str) else ref.id  # type: ignore[attr-defined]


def test_customer_crud(stripe_api: StripeAPI) -> None:
    """Create, retrieve, update (metadata merge), list, delete a customer."""
    client = stripe_api.client
    cus = client.v1.customers.create({"email": "x@example.com", "name": "X", "metadata": {"a": "1", "b": "2"}})
    assert cus.id.startswith("cus_") and cus.object == "customer"
    assert client.v1.customers.retrieve(cus.id).email == "x@example.com"
    upd = client.v1.customers.update(cus.id, {"name": "Y", "metadata": {"b": "3"}})
    assert upd.name == "Y" and upd.metadata.to_dict() == {"a": "1", "b": "3"}
    assert cus.id in [c.id for c in client.v1.customers.list({"limit": 100}).auto_paging_iter()]
    gone = client.v1.customers.delete(cus.id)
    assert gone.deleted is True and gone.id == cus.id


def test_customer_errors(stripe_api: StripeAPI) -> None:
    """Unknown id -> 404 invalid_request_error; unknown parameter -> 400; no key -> 401."""
    client = stripe_api.client
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.retrieve("cus_" + secrets.token_hex(6))
    assert exc.value.http_status == 404
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.create({"not_a_param": "1"})  # type: ignore[typeddict-unknown-key]
    assert exc.value.http_status == 400
    assert httpx.get(f"{stripe_api.url}/v1/customers").status_code == 401  # no key at all


def test_payment_intent_lifecycle(stripe_api: StripeAPI) -> None:
    """A new intent needs a payment method; confirming with a good card succeeds with a charge."""
    client = stripe_api.client
    cus = client.v1.customers.create({})
    pi = client.v1.payment_intents.create({"amount": 1999, "currency": "usd", "customer": cus.id})
    assert pi.status == "requires_payment_method" and pi.amount == 1999
    assert pi.client_secret.startswith(pi.id)
    pm = client.v1.payment_methods.create({"type": "card", "card": card()})
    done = client.v1.payment_intents.create({"amount": 1999, "currency": "usd", "customer": cus.id, "payment_method": pm.id, "confirm": True})
    assert done.status == "succeeded"
    charge = client.v1.charges.retrieve(_id(done.latest_charge))
    assert charge.amount == 1999 and charge.paid is True and charge.status == "succeeded"
    assert charge.payment_intent == done.id
    assert client.v1.payment_intents.retrieve(done.id).status == "succeeded"
    listed = [p.id for p in client.v1.payment_intents.list({"limit": 100}).auto_paging_iter()]
    assert {pi.id, done.id} <= set(listed)


def test_refund_partial_then_rest(stripe_api: StripeAPI) -> None:
    """A partial refund, then the remainder; the charge ends fully refunded."""
    client = stripe_api.client
    pm = client.v1.payment_methods.create({"type": "card", "card": card()})
    pi = client.v1.payment_intents.create({"amount": 1000, "currency": "usd", "payment_method": pm.id, "confirm": True})
    r1 = client.v1.refunds.create({"payment_intent": pi.id, "amount": 400})
    assert (r1.amount, r1.status, r1.object) == (400, "succeeded", "refund")
    # An explicit amount: localstripe's default refunds the whole charge again (a localstripe bug).
    r2 = client.v1.refunds.create({"charge": _id(pi.latest_charge), "amount": 600})
    assert r2.amount == 600
    charge = client.v1.charges.retrieve(_id(pi.latest_charge))
    assert charge.amount_refunded == 1000 and charge.refunded is True
    assert client.v1.refunds.retrieve(r1.id).amount == 400


def test_coupon_crud(stripe_api: StripeAPI) -> None:
    """Coupons with an explicit id: create, retrieve, delete."""
    client = stripe_api.client
    cid = "SAVE" + secrets.token_hex(3).upper()
    co = client.v1.coupons.create({"id": cid, "percent_off": 25, "duration": "forever"})
    assert (co.id, co.percent_off, co.duration, co.valid) == (cid, 25, "forever", True)
    assert client.v1.coupons.retrieve(cid).percent_off == 25
    assert client.v1.coupons.delete(cid).deleted is True
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.coupons.retrieve(cid)
    assert exc.value.http_status == 404


def test_webhook_signature_verifies(stripe_api: StripeAPI) -> None:
    """A customer.created delivery verifies with stripe.Webhook.construct_event and its secret."""
    with WebhookReceiver() as receiver:
        secret = stripe_api.add_webhook(receiver.url)
        cus = stripe_api.client.v1.customers.create({"email": "sig@example.com"})
        got = receiver.wait_for(
            lambda rs: any(r.event["type"] == "customer.created" and r.event["data"]["object"]["id"] == cus.id for r in rs),
            timeout=15,
        )
        r = next(r for r in got if r.event["data"]["object"]["id"] == cus.id)
        event = stripe.Webhook.construct_event(r.body.decode(), r.signature, secret)
        assert event.type == "customer.created" and event.data.object.id == cus.id
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(r.body.decode(), r.signature, secret + "x")
