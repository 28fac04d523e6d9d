"""build_client and idempotency_key: what the client sends, which keys it accepts, stable keys."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from unifiedmcp.billing import API_VERSION, StripeNotConfigured, build_client, idempotency_key
from unifiedmcp.billing.testing import serve_app
from unifiedmcp.config import Settings
from unifiedmcp.errors import LiveKeyRefused


@pytest.fixture(scope="module")
def capture() -> Iterator[tuple[str, list[dict]]]:
    """A tiny HTTP server standing in for Stripe that records each request's headers."""
    seen: list[dict] = []

    async def customer(request: Request) -> JSONResponse:
        seen.append({"method": request.method, "path": request.url.path, **dict(request.headers)})
        return JSONResponse({"id": "cus_1", "object": "customer", "email": "a@example.com"})

    app = Starlette(routes=[Route("/v1/customers", customer, methods=["POST"]),
                            Route("/v1/customers/{cid}", customer, methods=["GET", "POST"])])
    with serve_app(app) as url:
        yield url, seen


def _settings(**kw: object) -> Settings:
    return Settings(_env_file=None, **kw)


def test_client_talks_to_the_configured_base_with_the_pinned_version(capture: tuple[str, list[dict]]) -> None:
    """The API base override, the pinned Stripe-Version and the bearer key reach the server."""
    url, seen = capture
    seen.clear()
    client = build_client(_settings(stripe_api_key="rk_test_restricted1", stripe_api_base=url + "/"))
    cus = client.v1.customers.retrieve("cus_1")
    assert cus.email == "a@example.com"
    assert seen[-1]["path"] == "/v1/customers/cus_1"
    assert seen[-1]["stripe-version"] == API_VERSION == stripe.api_version
    assert seen[-1]["authorization"] == "Bearer rk_test_restricted1"
    assert "stripe-account" not in seen[-1]


def test_connected_account_header_from_argument_or_settings(capture: tuple[str, list[dict]]) -> None:
    """stripe_account (argument first, then settings) is sent as Stripe-Account."""
    url, seen = capture
    seen.clear()
    build_client(_settings(stripe_api_key="sk_test_x", stripe_api_base=url, stripe_account="acct_settings")).v1.customers.retrieve("cus_1")
    build_client(
        _settings(stripe_api_key="sk_test_x", stripe_api_base=url, stripe_account="acct_settings"),
        stripe_account="acct_arg",
    ).v1.customers.retrieve("cus_1")
    assert [s["stripe-account"] for s in seen] == ["acct_settings", "acct_arg"]


def test_writes_carry_the_given_idempotency_key(capture: tuple[str, list[dict]]) -> None:
    """A derived key passed in the options arrives as the Idempotency-Key header."""
    url, seen = capture
    seen.clear()
    client = build_client(_settings(stripe_api_key="sk_test_x", stripe_api_base=url), max_network_retries=0)
    key = idempotency_key("customers.create", {"email": "a@example.com"})
    client.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": key})
    assert seen[-1]["idempotency-key"] == key


def test_missing_malformed_and_live_keys_are_refused() -> None:
    """No key, a publishable key, or a live key without allow_live: a clear error, no secret in it."""
    with pytest.raises(StripeNotConfigured):
        build_client(_settings())
    with pytest.raises(StripeNotConfigured) as bad:
        build_client(_settings(stripe_api_key="pk_test_publishable123"))
    assert "pk_test_publishable123" not in str(bad.value)
    s = _settings(stripe_api_key="sk_test_x")
    live_key = "rk_" + "live_sneaky123"  # built at run time: no live-looking literal in the repository
    object.__setattr__(s, "stripe_api_key", type(s.stripe_api_key)(live_key))  # bypass Settings' own check
    with pytest.raises(LiveKeyRefused) as live:
        build_client(s)
    assert live_key not in str(live.value)
    assert build_client(_settings(stripe_api_key="sk_live_ok", allow_live=True)) is not None


def test_negative_retries_refused() -> None:
    """max_network_retries must be >= 0."""
    with pytest.raises(ValueError):
        build_client(_settings(stripe_api_key="sk_test_x"), max_network_retries=-1)


def test_idempotency_key_is_deterministic_and_order_free() -> None:
    """Same operation and params (in any key order) give the same key; any difference changes it."""
    a = idempotency_key("subscriptions.create", {"customer": "cus_1", "items": [{"price": "p1"}]})
    b = idempotency_key("subscriptions.create", {"items": [{"price": "p1"}], "customer": "cus_1"})
    assert a == b
    assert a.startswith("umcp-subscriptions.create-")
    assert len(a) <= 255
    others = {
        idempotency_key("subscriptions.create", {"customer": "cus_2", "items": [{"price": "p1"}]}),
        idempotency_key("subscriptions.update", {"customer": "cus_1", "items": [{"price": "p1"}]}),
        idempotency_key("subscriptions.create", {"customer": "cus_1", "items": [{"price": "p1"}]}, scope="req-7"),
        idempotency_key("subscriptions.create", {"customer": "cus_1", "items": [{"price": "p2"}]}),
    }
    assert a not in others and len(others) == 4


def test_idempotency_key_rejects_empty_operation() -> None:
    """An empty operation name is a programming error."""
    with pytest.raises(ValueError):
        idempotency_key("", {})
