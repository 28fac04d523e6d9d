"""The shape readers accept both API shapes, plain dicts and StripeObjects."""

from __future__ import annotations

import stripe

from unifiedmcp.billing import invoice_payment, invoice_subscription_id, object_id, subscription_period

NEW_INVOICE = {
    "id": "in_1",
    "object": "invoice",
    "parent": {"type": "subscription_details", "subscription_details": {"subscription": "sub_1"}},
    "confirmation_secret": {"client_secret": "pi_1_secret_abc", "type": "payment_intent"},
    "payments": {"object": "list", "data": [
        {"object": "invoice_payment", "is_default": True, "payment": {"type": "payment_intent", "payment_intent": "pi_1"}}
    ]},
}
OLD_INVOICE = {
    "id": "in_2",
    "object": "invoice",
    "subscription": {"id": "sub_2", "object": "subscription"},
    "payment_intent": {"id": "pi_2", "object": "payment_intent", "client_secret": "pi_2_secret_x", "status": "requires_payment_method"},
}


def test_invoice_payment_new_and_old_shapes() -> None:
    """payments[].payment.payment_intent + confirmation_secret, or the older expanded payment_intent."""
    new = invoice_payment(NEW_INVOICE)
    assert (new.payment_intent_id, new.client_secret) == ("pi_1", "pi_1_secret_abc")
    old = invoice_payment(OLD_INVOICE)
    assert (old.payment_intent_id, old.client_secret, old.status) == ("pi_2", "pi_2_secret_x", "requires_payment_method")
    assert "secret" not in repr(old).replace("client_secret=", "")
    assert invoice_payment({"id": "in_3"}).payment_intent_id is None


def test_invoice_subscription_both_shapes_and_stripe_objects() -> None:
    """parent.subscription_details.subscription or subscription (id or expanded), dict or StripeObject."""
    assert invoice_subscription_id(NEW_INVOICE) == "sub_1"
    assert invoice_subscription_id(OLD_INVOICE) == "sub_2"
    as_object = stripe.StripeObject.construct_from(NEW_INVOICE, "sk_test_x")
    assert invoice_subscription_id(as_object) == "sub_1"
    assert invoice_payment(as_object).payment_intent_id == "pi_1"
    assert object_id(as_object) == "in_1" and object_id("in_9") == "in_9" and object_id(None) is None


def test_subscription_period_both_shapes() -> None:
    """Periods on the subscription (old) or on its items (new; earliest start, latest end)."""
    old = {"current_period_start": 10, "current_period_end": 20, "items": {"data": []}}
    new = {"items": {"data": [{"current_period_start": 11, "current_period_end": 21},
                              {"current_period_start": 9, "current_period_end": 30}]}}
    assert subscription_period(old) == (10, 20)
    assert subscription_period(new) == (9, 30)
    assert subscription_period({"items": {"data": []}}) == (None, None)
