"""Small builders shared by the sandbox tests."""

from __future__ import annotations

from typing import Any

import stripe


def monthly_price(client: stripe.StripeClient, *, amount: int = 2000, name: str = "Pro", **extra: Any) -> stripe.Price:
    prod = client.v1.products.create({"name": name})
    return client.v1.prices.create(
        {"product": prod.id, "unit_amount": amount, "currency": "usd", "recurring": {"interval": "month"}, **extra}
    )


def customer_with_card(client: stripe.StripeClient, token: str = "pm_card_visa", **extra: Any) -> stripe.Customer:
    cus = client.v1.customers.create(extra)
    pm = client.v1.payment_methods.attach(token, {"customer": cus.id})
    return client.v1.customers.update(cus.id, {"invoice_settings": {"default_payment_method": pm.id}})


def event_types(client: stripe.StripeClient, *, since_event: str | None = None, limit: int = 100) -> list[str]:
    """Event types oldest first (optionally only those after ``since_event``)."""
    params: dict[str, Any] = {"limit": limit}
    if since_event:
        params["ending_before"] = since_event
    events = list(client.v1.events.list(params).auto_paging_iter())
    return [e.type for e in reversed(events)]
