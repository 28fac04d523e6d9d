"""Read billing fields from Stripe objects in either API shape.

Stripe moved fields between API versions; webhooks signed for an older endpoint version and
fixtures still carry the old shape. These readers accept both, and a :class:`stripe.StripeObject`
(not a dict since stripe-python 15) or a plain mapping:

==========================  =====================================  ==============================
field                       current shape (2025+)                  older shape
==========================  =====================================  ==============================
invoice's payment intent    ``payments.data[].payment.payment_intent``  ``payment_intent``
client secret               ``confirmation_secret.client_secret``  ``payment_intent.client_secret``
invoice's subscription      ``parent.subscription_details.subscription``  ``subscription``
billing period              ``items.data[].current_period_*``      ``current_period_*`` on the subscription
==========================  =====================================  ==============================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["as_dict", "object_id", "InvoicePayment", "invoice_payment", "invoice_subscription_id",
           "subscription_period", "subscription_prices"]


def as_dict(obj: Any) -> dict[str, Any]:
    """A plain dict of a StripeObject (``to_dict()``) or a mapping; ``{}`` for None."""
    if obj is None:
        return {}
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"expected a Stripe object or a mapping, not {type(obj).__name__}")


def object_id(value: Any) -> str | None:
    """The id of an expandable field: the id string itself, or the expanded object's ``id``."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return as_dict(value).get("id")


@dataclass(frozen=True)
class InvoicePayment:
    """What a front end needs to confirm an invoice's payment."""

    payment_intent_id: str | None
    client_secret: str | None
    status: str | None  # the payment intent's status when it is expanded

    def __repr__(self) -> str:  # a client secret authorizes confirming a payment: keep it out of logs
        secret = "'**********'" if self.client_secret else "None"
        return f"InvoicePayment(payment_intent_id={self.payment_intent_id!r}, client_secret={secret}, status={self.status!r})"


def invoice_payment(invoice: Any) -> InvoicePayment:
    """The payment intent and client secret of an invoice, in either API shape."""
    inv = as_dict(invoice)
    intent: Any = inv.get("payment_intent")  # old shape: id or expanded object
    if intent is None:
        payments = (inv.get("payments") or {}).get("data") or []
        for entry in payments:
            pay = (entry or {}).get("payment") or {}
            if pay.get("payment_intent"):
                intent = pay["payment_intent"]
                if (entry or {}).get("is_default", True):
                    break
    intent_d = as_dict(intent) if intent is not None and not isinstance(intent, str) else {}
    secret = (inv.get("confirmation_secret") or {}).get("client_secret") or intent_d.get("client_secret")
    return InvoicePayment(object_id(intent), secret, intent_d.get("status"))


def invoice_subscription_id(invoice: Any) -> str | None:
    """The subscription an invoice bills, in either API shape."""
    inv = as_dict(invoice)
    details = ((inv.get("parent") or {}).get("subscription_details") or {})
    return object_id(details.get("subscription")) or object_id(inv.get("subscription"))


def subscription_period(subscription: Any) -> tuple[int | None, int | None]:
    """``(current_period_start, current_period_end)`` from the subscription or its items.

    Items may have different periods (mixed intervals); the earliest start and the latest end
    are returned.
    """
    sub = as_dict(subscription)
    if sub.get("current_period_end") is not None:
        return sub.get("current_period_start"), sub.get("current_period_end")
    items = (sub.get("items") or {}).get("data") or []
    starts = [i["current_period_start"] for i in items if i.get("current_period_start") is not None]
    ends = [i["current_period_end"] for i in items if i.get("current_period_end") is not None]
    return (min(starts) if starts else None), (max(ends) if ends else None)


def subscription_prices(subscription: Any) -> list[dict[str, Any]]:
    """The subscription's prices (as dicts; an unexpanded price becomes ``{"id": ...}``)."""
    sub = as_dict(subscription)
    out = []
    for item in (sub.get("items") or {}).get("data") or []:
        price = item.get("price") or item.get("plan")
        if isinstance(price, str):
            price = {"id": price}
        if price:
            out.append(as_dict(price))
    return out
