"""Tenant isolation, end to end with real servers: the sandbox (several accounts, Connect OAuth),
``unifiedmcp serve``'s app (MCP, webhooks, the Connect callback) and two customers, A and B, each
connected through the whole OAuth flow (the CLI's link, the sandbox's authorize page, the
callback, the token exchange). Then, with nothing but A's free-tier key:

- every tool touches only A's connected account; B's and the operator's objects are invisible
  through list, search, fetch and filters, and writes naming them fail with Stripe's 404;
- the hostile story ends in clear tool errors: a $0 "enterprise" price and a subscription to it
  in A's own account grant no tier, destructive calls on B's or the operator's subscriptions and
  payments fail even when the client confirms everything, a session flood is capped;
- neither customer's tier changes, and the operator's account is unchanged after the whole suite.
"""

from __future__ import annotations

import contextlib
import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import mcp
import pytest
import stripe
from mcp_types import CallToolResult, ElicitResult

from unifiedmcp.accounts import CredentialCipher, create_connect_app, new_secret_key
from unifiedmcp.billing import create_webhook_app, ensure_catalog
from unifiedmcp.billing.testing import serve_app
from unifiedmcp.cli import main
from unifiedmcp.config import Settings
from unifiedmcp.ledger import Ledger
from unifiedmcp.sandbox import SandboxServer, serve_in_thread
from unifiedmcp.server import create_app

from .conftest import free_port

pytestmark = [pytest.mark.xdist_group("isolation"), pytest.mark.anyio]

SECRET_KEY = new_secret_key()
# What the operator's account holds, compared before and after the suite.
_OPERATOR_LISTS = ("customers", "products", "prices", "subscriptions", "invoices", "payment_intents", "refunds")


@dataclass
class Tenant:
    customer: str  # the UnifiedMCP customer (in the operator's account and the ledger)
    token: str  # its UnifiedMCP API key
    account: str = ""  # its connected Stripe account
    objects: dict[str, str] = field(default_factory=dict)  # things in its own account


@dataclass
class World:
    sb: SandboxServer
    ledger: Ledger
    url: str  # unifiedmcp serve's base URL
    operator: stripe.StripeClient
    a: Tenant
    b: Tenant
    operator_objects: dict[str, str]
    before: dict[str, list[dict[str, Any]]]

    def in_account(self, account: str) -> stripe.StripeClient:
        """The platform acting on a connected account (to set up and check, never through a tool)."""
        return self.sb.client(stripe_account=account)


def _snapshot(client: stripe.StripeClient) -> dict[str, list[dict[str, Any]]]:
    return {
        name: [o.to_dict() for o in getattr(client.v1, name).list({"limit": 100}).auto_paging_iter()]
        for name in _OPERATOR_LISTS
    }


def _connect(sb: SandboxServer, url: str, customer: str, env: dict[str, str]) -> str:
    """The whole OAuth flow for ``customer``: the CLI's link, the authorize page, the callback."""
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["connections", "connect", "--customer", customer, "--base-url", url]) == 0
    link = out.getvalue().strip().splitlines()[-1]
    assert link.startswith(f"{sb.url}/oauth/authorize?response_type=code&client_id=ca_")
    query = httpx.URL(link).params
    assert query["scope"] == "read_write" and query["redirect_uri"] == f"{url}/oauth/stripe/callback"
    authorize = httpx.get(link, follow_redirects=False, timeout=10)
    assert authorize.status_code == 302
    back = authorize.headers["location"]
    assert back.startswith(f"{url}/oauth/stripe/callback?")
    page = httpx.get(back, timeout=30)
    assert page.status_code == 200 and "Connected" in page.text, page.text
    account = re.search(r"acct_[A-Za-z0-9]+", page.text)
    assert account is not None
    return account.group(0)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("isolation")
    with serve_in_thread(settings={"webhook_retry_scale": 0.0001}) as sb:
        operator = sb.client()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        _, whsec = sb.add_webhook_endpoint(f"{url}/webhooks/stripe")
        connect_we = operator.v1.webhook_endpoints.create(
            {"url": f"{url}/webhooks/stripe", "enabled_events": ["*"], "connect": True}
        )
        client_id = sb.connect_client_id()
        settings = Settings(
            _env_file=None, data_dir=tmp, stripe_api_key=sb.api_key, stripe_api_base=sb.url,
            stripe_connect_client_id=client_id, secret_key=SECRET_KEY,
            stripe_webhook_secret=f"{whsec},{connect_we.secret}",
        )
        ledger_path = tmp / "ledger.sqlite3"
        with Ledger(ledger_path) as ledger:
            ensure_catalog(operator, ledger=ledger)
            # The operator's own business: a paying customer with a subscription and a payment.
            paying = operator.v1.customers.create(
                {"email": "payer@example.com", "payment_method": "pm_card_visa",
                 "invoice_settings": {"default_payment_method": "pm_card_visa"}}
            ).id
            price = operator.v1.prices.list({"lookup_keys": ["pro_monthly"]}).data[0].id
            op_sub = operator.v1.subscriptions.create({"customer": paying, "items": [{"price": price}]}).id
            op_pi = operator.v1.payment_intents.create(
                {"amount": 1500, "currency": "usd", "customer": paying, "payment_method": "pm_card_visa", "confirm": True}
            ).id
            tenants = []
            for name in ("a", "b"):
                cus = operator.v1.customers.create({"email": f"{name}-{uuid.uuid4().hex[:6]}@example.com"}).id
                ledger.upsert_customer(cus, tier="free")
                tenants.append(Tenant(cus, ledger.create_key(cus).token))
            runtime = customer_runtime_for(sb, ledger, settings)
            app = create_app(
                runtime, base_url=url,
                webhook_app=create_webhook_app(settings=settings, ledger=ledger, client=operator),
                connect_app=create_connect_app(
                    ledger=ledger, operator_client=operator, cipher_factory=lambda: CredentialCipher(SECRET_KEY)
                ),
            )
            env = {
                "STRIPE_API_KEY": sb.api_key, "STRIPE_API_BASE": sb.url, "STRIPE_CONNECT_CLIENT_ID": client_id,
                "UNIFIEDMCP_SECRET_KEY": SECRET_KEY, "UNIFIEDMCP_LEDGER": str(ledger_path),
            }
            with serve_app(app, port=port):
                sb.wait_for_webhooks(timeout=20)
                before = _snapshot(operator)
                for t in tenants:
                    t.account = _connect(sb, url, t.customer, env)
                    theirs = sb.client(stripe_account=t.account)
                    cus = theirs.v1.customers.create(
                        {"email": f"client-of-{t.customer}@example.com", "name": f"Client of {t.customer}",
                         "payment_method": "pm_card_visa",
                         "invoice_settings": {"default_payment_method": "pm_card_visa"}}
                    ).id
                    product = theirs.v1.products.create({"name": f"Plan of {t.customer}"}).id
                    tprice = theirs.v1.prices.create(
                        {"product": product, "unit_amount": 700, "currency": "usd", "recurring": {"interval": "month"}}
                    ).id
                    sub = theirs.v1.subscriptions.create({"customer": cus, "items": [{"price": tprice}]}).id
                    pi = theirs.v1.payment_intents.create(
                        {"amount": 700, "currency": "usd", "customer": cus, "payment_method": "pm_card_visa",
                         "confirm": True}
                    ).id
                    t.objects = {"customer": cus, "product": product, "price": tprice, "subscription": sub, "pi": pi}
                sb.wait_for_webhooks(timeout=20)
                yield World(sb, ledger, url, operator, tenants[0], tenants[1],
                            {"customer": paying, "subscription": op_sub, "pi": op_pi, "price": price}, before)


def customer_runtime_for(sb: SandboxServer, ledger: Ledger, settings: Settings) -> Any:
    from unifiedmcp.accounts import Accounts
    from unifiedmcp.server import Runtime, ServerOptions

    accounts = Accounts(ledger=ledger, settings=settings, operator_client=sb.client(),
                        cipher=CredentialCipher(SECRET_KEY), operator_account=sb.account_id, max_network_retries=0)
    return Runtime(stripe_client=sb.client(), ledger=ledger, accounts=accounts,
                   options=ServerOptions(sessions_per_key=4, allow_confirm_argument=False))


async def _confirm_everything(context: Any, params: Any) -> ElicitResult:
    return ElicitResult(action="accept", content={"confirm": True})  # a client that answers its own prompts


def _as(world: World, tenant: Tenant) -> mcp.Client:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {tenant.token}"}, timeout=30)
    return mcp.Client(streamable_http_client(f"{world.url}/mcp", http_client=http), raise_exceptions=True,
                      elicitation_callback=_confirm_everything)


def _ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text if result.content else result
    return result.structured_content or {}


def _failed(result: CallToolResult) -> dict[str, Any]:
    assert result.is_error, f"expected a tool error, got {result.structured_content}"
    return (result.structured_content or {}).get("error", {})


def test_both_customers_connected_through_the_oauth_flow(world: World) -> None:
    for t in (world.a, world.b):
        [conn] = world.ledger.connections(t.customer)
        assert (conn.provider, conn.kind, conn.account) == ("stripe", "oauth", t.account)
    assert len({world.a.account, world.b.account, world.sb.account_id}) == 3


async def test_lists_search_and_fetch_show_only_the_callers_account(world: World) -> None:
    a, b = world.a, world.b
    async with _as(world, a) as client:
        customers = _ok(await client.call_tool("list_customers", {"limit": 100}))
        subs = _ok(await client.call_tool("list_subscriptions", {"limit": 100}))
        invoices = _ok(await client.call_tool("list_invoices", {"limit": 100}))
        found = _ok(await client.call_tool("search_stripe_resources", {"resource": "customers", "query": 'email~"client-of"'}))
        theirs = _ok(await client.call_tool("list_invoices", {"customer": b.objects["customer"]}))
        fetched = _ok(await client.call_tool("fetch_stripe_resources", {
            "ids": [a.objects["customer"], b.objects["customer"], b.objects["subscription"],
                    world.operator_objects["customer"], world.operator_objects["subscription"]]}))
        account = _ok(await client.call_tool("get_stripe_account_info", {}))
    assert [c["id"] for c in customers["data"]] == [a.objects["customer"]]
    assert [s["id"] for s in subs["data"]] == [a.objects["subscription"]]
    assert {i["customer"] for i in invoices["data"]} == {a.objects["customer"]}
    assert [c["id"] for c in found["data"]] == [a.objects["customer"]]
    assert theirs["data"] == []
    assert [o["id"] for o in fetched["data"]] == [a.objects["customer"]]
    assert {e["http_status"] for e in fetched["errors"]} == {404} and len(fetched["errors"]) == 4
    assert account["id"] == a.account


async def test_writes_land_in_the_callers_account_only(world: World) -> None:
    name = f"made-by-a-{uuid.uuid4().hex[:6]}"
    async with _as(world, world.a) as client:
        created = _ok(await client.call_tool("create_customer", {"name": name}))
    assert world.in_account(world.a.account).v1.customers.retrieve(created["id"]).name == name
    for elsewhere in (world.in_account(world.b.account), world.operator):
        with pytest.raises(stripe.InvalidRequestError):
            elsewhere.v1.customers.retrieve(created["id"])


async def test_a_self_made_enterprise_price_grants_no_tier(world: World) -> None:
    """Hostile story, step 2: create_product, create_price (metadata.tier=enterprise, $0),
    create_subscription, all in A's own account: the ledger keeps A on free."""
    a = world.a
    async with _as(world, a) as client:
        product = _ok(await client.call_tool("create_product", {"name": "Enterprise (free!)", "metadata": {"tier": "enterprise"}}))
        price = _ok(await client.call_tool("create_price", {
            "product": product["id"], "unit_amount": 0, "currency": "usd", "recurring_interval": "month",
            "metadata": {"tier": "enterprise"}, "lookup_key": "enterprise_monthly"}))
        sub = _ok(await client.call_tool("create_subscription", {"customer": a.objects["customer"], "price": price["id"]}))
        # and naming the operator's catalog price or the operator's customer fails there
        op = _failed(await client.call_tool("create_subscription", {
            "customer": world.operator_objects["customer"], "price": world.operator_objects["price"]}))
    assert sub["status"] in ("active", "trialing")
    assert op["type"] == "stripe_error" and op["http_status"] in (400, 404)
    world.sb.wait_for_webhooks(timeout=20)
    assert world.ledger.customer(a.customer).tier == "free"
    stored = [e for e in _webhook_events(world.ledger) if e["object_id"] == sub["id"]]
    assert stored and all(e["status"] == "ignored" for e in stored)  # delivered to Connect, ignored


def _webhook_events(ledger: Ledger) -> list[dict[str, Any]]:
    from unifiedmcp.billing import webhook_events

    return [e.__dict__ for e in webhook_events(ledger)]


@pytest.mark.parametrize("target", ["b", "operator"])
async def test_destructive_calls_on_others_objects_fail_even_when_confirmed(world: World, target: str) -> None:
    """Hostile story, step 3: update, refund and cancel someone else's subscription and payment."""
    objs = world.b.objects if target == "b" else world.operator_objects
    async with _as(world, world.a) as client:
        results = [
            await client.call_tool("update_subscription", {"subscription": objs["subscription"], "metadata": {"x": "y"}}),
            await client.call_tool("create_refund", {"payment_intent": objs["pi"]}),
            await client.call_tool("cancel_subscription", {"subscription": objs["subscription"]}),
        ]
    for result in results:
        err = _failed(result)
        assert err["type"] == "stripe_error" and err["http_status"] in (400, 404), err
        assert "No such" in err["message"]
    owner = world.in_account(world.b.account) if target == "b" else world.operator
    assert owner.v1.subscriptions.retrieve(objs["subscription"]).status == "active"
    assert owner.v1.payment_intents.retrieve(objs["pi"]).amount_received > 0
    assert owner.v1.refunds.list({"payment_intent": objs["pi"]}).data == []


def test_a_session_flood_is_capped_per_key(world: World) -> None:
    """Hostile story, step 4: one key cannot exhaust the server's sessions."""
    from .test_tenancy import INIT, ACCEPT

    statuses = [
        httpx.post(f"{world.url}/mcp", json=INIT, headers=ACCEPT | {"Authorization": f"Bearer {world.a.token}"},
                   timeout=10).status_code
        for _ in range(6)
    ]
    assert statuses.count(429) >= 2 and 429 in statuses[4:]
    other = httpx.post(f"{world.url}/mcp", json=INIT, headers=ACCEPT | {"Authorization": f"Bearer {world.b.token}"},
                       timeout=10)
    assert other.status_code == 200


def test_zz_no_tier_changed_and_the_operators_account_is_unchanged(world: World) -> None:
    """Last in the module: after everything above."""
    world.sb.wait_for_webhooks(timeout=20)
    assert world.ledger.customer(world.a.customer).tier == "free"
    assert world.ledger.customer(world.b.customer).tier == "free"
    assert _snapshot(world.operator) == world.before
