"""The HTTP app: bearer keys from the ledger guard /mcp (401 + WWW-Authenticate otherwise), the
protected-resource metadata is served, webhooks and /healthz live in the same app, and quotas
hold over HTTP: a free customer's 101st call is refused, a pro customer's 10,001st is overage."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from unifiedmcp.billing import create_webhook_app
from unifiedmcp.billing.testing import serve_app, sign_payload
from unifiedmcp.config import Settings
from unifiedmcp.server import create_app

from .conftest import call, connect_key, customer_runtime, error, free_port, http_client, ok

WHSEC = "whsec_test_server_0123456789abcdef"


@pytest.fixture
def app_url(sandbox: Any, ledger: Any, tmp_path: Any) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    runtime = customer_runtime(sandbox, ledger, portal_return_url=base)
    settings = Settings(data_dir=tmp_path, stripe_api_key=sandbox.api_key, stripe_webhook_secret=WHSEC, _env_file=None)
    webhooks = create_webhook_app(settings=settings, ledger=ledger, client=sandbox.client())
    app = create_app(runtime, base_url=base, webhook_app=webhooks)
    # serve on exactly the port the resource URL names
    with serve_app(app, port=port) as url:
        yield url


def _stripe_customer(sandbox: Any, ledger: Any, tier: str, account_key: str) -> tuple[str, str]:
    """A customer of the operator's account, in the ledger on ``tier``, connected to its own
    account (``account_key``'s), with an API key: (customer id, token)."""
    cus = sandbox.client().v1.customers.create({"name": f"{tier} user"}).id
    ledger.upsert_customer(cus, tier=tier)
    connect_key(sandbox, ledger, cus, account_key)
    return cus, ledger.create_key(cus).token


def _seed(ledger: Any, customer: str, calls: int) -> None:
    """Use up ``calls`` of this month's quota directly in the ledger (explicit event ids)."""
    for i in range(calls):
        ledger.check_and_record(customer, "seed", event_id=f"seed-{customer}-{i}")


def test_mcp_requires_a_bearer_key(app_url: str, ledger: Any) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    for auth in (None, "Bearer umk_000000000000_" + "x" * 43, "Bearer not-a-key", "Basic abc"):
        h = headers | ({"Authorization": auth} if auth else {})
        resp = httpx.post(f"{app_url}/mcp", json=body, headers=h)
        assert resp.status_code == 401, auth
        challenge = resp.headers["www-authenticate"]
        assert challenge.startswith("Bearer") and "resource_metadata=" in challenge
        assert "umk_" not in resp.text
    meta = httpx.get(f"{app_url}/.well-known/oauth-protected-resource/mcp").json()
    assert meta["resource"] == f"{app_url}/mcp"


def test_revoked_key_is_refused(app_url: str, sandbox: Any, ledger: Any, account_key: str) -> None:
    cus, token = _stripe_customer(sandbox, ledger, "pro", account_key)
    ledger.revoke_key(ledger.keys(cus)[0].key_id)
    resp = httpx.post(
        f"{app_url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"},
    )
    assert resp.status_code == 401


def test_healthz_and_webhooks_share_the_app(app_url: str, ledger: Any) -> None:
    health = httpx.get(f"{app_url}/healthz").json()
    assert health["status"] == "ok" and health["tools"] >= 29 and health["webhooks"] is True
    event = {
        "id": "evt_" + uuid.uuid4().hex[:16],
        "object": "event",
        "type": "customer.created",
        "created": 1_790_000_000,
        "api_version": "2026-10-28.endive",
        "livemode": False,
        "data": {"object": {"id": "cus_webhooked", "object": "customer"}},
    }
    payload = json.dumps(event)
    signed = httpx.post(
        f"{app_url}/webhooks/stripe",
        content=payload,
        headers={"Stripe-Signature": sign_payload(payload, WHSEC), "Content-Type": "application/json"},
    )
    assert signed.status_code == 200, signed.text
    forged = httpx.post(
        f"{app_url}/webhooks/stripe",
        content=payload,
        headers={"Stripe-Signature": sign_payload(payload, "whsec_wrong"), "Content-Type": "application/json"},
    )
    assert forged.status_code == 400


@pytest.mark.anyio
async def test_calls_over_http_are_metered_as_the_keys_customer(
    app_url: str, sandbox: Any, ledger: Any, account_key: str, customer_stripe: Any
) -> None:
    cus, token = _stripe_customer(sandbox, ledger, "pro", account_key)
    async with http_client(f"{app_url}/mcp", token) as client:
        tools = (await client.list_tools()).tools
        assert len(tools) >= 29
        created = ok(await call(client, "create_customer", {"name": "Over HTTP"}))
        assert customer_stripe.v1.customers.retrieve(created["id"]).name == "Over HTTP"
        usage = ok(await call(client, "get_usage"))
    assert usage["customer"] == cus and usage["calls"] == 2 == ledger.usage(cus).calls


@pytest.mark.anyio
async def test_free_customers_101st_call_is_refused(app_url: str, sandbox: Any, ledger: Any, account_key: str) -> None:
    cus, token = _stripe_customer(sandbox, ledger, "free", account_key)
    _seed(ledger, cus, 99)
    async with http_client(f"{app_url}/mcp", token) as client:
        ok(await call(client, "list_customers", {"limit": 1}))  # the 100th
        refused = await call(client, "list_customers", {"limit": 1})  # the 101st
        text = error(refused)
        err = refused.structured_content["error"]
        assert err["type"] == "quota_exceeded"
        assert (err["tier"], err["limit"], err["used"]) == ("free", 100, 100)
        assert err["resets_at"] in text and "tier free" in text and "100" in text
        # how to upgrade: a billing portal session for this very customer
        assert err["upgrade_url"].startswith("http") and err["upgrade_url"] in text
        refused_again = await call(client, "get_usage")
        assert refused_again.structured_content["error"]["type"] == "quota_exceeded"
    usage = ledger.usage(cus)
    assert (usage.calls, usage.rejected) == (100, 2)


@pytest.mark.anyio
async def test_pro_customers_10001st_call_is_overage(app_url: str, sandbox: Any, ledger: Any, account_key: str) -> None:
    cus, token = _stripe_customer(sandbox, ledger, "pro", account_key)
    _seed(ledger, cus, 10_000)
    async with http_client(f"{app_url}/mcp", token) as client:
        listed = ok(await call(client, "list_customers", {"limit": 1}))  # the 10,001st
        assert listed["object"] == "list"
        usage = ok(await call(client, "get_usage"))  # the 10,002nd
    assert usage["tier"] == "pro" and usage["limit"] == 10_000
    assert usage["calls"] == 10_002 and usage["overage"] == 2 and usage["remaining"] == 0
    assert usage["limit_kind"] == "soft"


@pytest.mark.anyio
async def test_confirmation_over_http(
    app_url: str, sandbox: Any, ledger: Any, account_key: str, customer_stripe: Any
) -> None:
    """The elicitation round trip works over streamable HTTP too (input_required + request_state)."""
    import httpx2
    import mcp
    from mcp.client.streamable_http import streamable_http_client
    from mcp_types import ElicitResult

    cus, token = _stripe_customer(sandbox, ledger, "pro", account_key)
    stripe = customer_stripe  # the subscription to cancel lives in the customer's own account
    theirs = stripe.v1.customers.create(
        {"name": "HTTP confirm", "payment_method": "pm_card_visa",
         "invoice_settings": {"default_payment_method": "pm_card_visa"}}
    ).id
    product = stripe.v1.products.create({"name": "HTTP plan"}).id
    price = stripe.v1.prices.create({"product": product, "unit_amount": 500, "currency": "usd", "recurring": {"interval": "month"}}).id
    sub = stripe.v1.subscriptions.create({"customer": theirs, "items": [{"price": price}]}).id

    async def accept(context: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="accept", content={"confirm": True})

    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    transport = streamable_http_client(f"{app_url}/mcp", http_client=http)
    async with mcp.Client(transport, raise_exceptions=True, elicitation_callback=accept) as client:
        ok(await call(client, "cancel_subscription", {"subscription": sub}))
    assert stripe.v1.subscriptions.retrieve(sub).status == "canceled"
    assert ledger.usage(cus).calls == 1  # two HTTP rounds, one metered call
