"""Small builders shared by the sandbox tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import stripe

from unifiedmcp.sandbox import SandboxServer


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


def authorize(sandbox: SandboxServer, *, platform_key: str | None = None, **params: str) -> httpx.Response:
    """GET the Connect authorize page as a browser would (no key, redirects not followed)."""
    query = {"response_type": "code", "client_id": sandbox.connect_client_id(platform_key), "scope": "read_write",
             "state": "st4te", "redirect_uri": "http://127.0.0.1:9/connected", **params}
    return httpx.get(f"{sandbox.url}/oauth/authorize", params=query, follow_redirects=False)


def redirect_query(response: httpx.Response) -> dict[str, str]:
    """The query parameters of a redirect's Location."""
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def connect(sandbox: SandboxServer, *, platform_key: str | None = None, **params: str) -> dict[str, Any]:
    """Connect an account to the platform (default: the primary account) through the OAuth flow:
    authorize, then exchange the code; returns Stripe's token response."""
    code = redirect_query(authorize(sandbox, platform_key=platform_key, **params))["code"]
    token = sandbox.client(api_key=platform_key).oauth.token({"grant_type": "authorization_code", "code": code})
    return token.to_dict()
