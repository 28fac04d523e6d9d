"""Tenant isolation, end to end with real servers: the sandbox (several accounts, Connect OAuth),
``unifiedmcp serve``'s app (MCP, webhooks, the Connect callback) and two customers, A and B, each
connected through the whole OAuth flow (the CLI's link, the sandbox's authorize page, the
callback, the token exchange). Then, with nothing but A's free-tier key:

- every tool touches only A's connected account; B's and the operator's objects are invisible
  through list, search, fetch and filters, and writes naming them fail with Stripe's 404;
- the hostile story ends in clear tool errors: a $0 "enterprise" price and a subscription to it
  in A's own account grant no tier, destructive calls on B's or the operator's subscriptions and
  payments fail even when the client confirms everything, a session flood is capped;
- every Stripe tool (from the registry), called as A, makes requests that reach A's account and
  no other (the sandbox's account selection, spied on), and ``account`` naming another account
  reaches none; a session id is useless to another customer; an operator server refuses A's key
  and A's OAuth token, and operator calls write no usage rows;
- neither customer's tier changes, and the operator's and B's accounts are unchanged after the
  whole suite.

tests/server/test_isolation_serve.py runs a few of these against real ``unifiedmcp serve`` processes.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import mcp
import pytest
import stripe
from mcp_types import CallToolResult, ElicitResult

from unifiedmcp.accounts import CredentialCipher, create_connect_app, new_secret_key
from unifiedmcp.billing import create_webhook_app
from unifiedmcp.billing.testing import serve_app
from unifiedmcp.config import Settings
from unifiedmcp.ledger import Ledger
from unifiedmcp.sandbox import SandboxServer, serve_in_thread
from unifiedmcp.server import OPERATOR_ONLY, create_app
from unifiedmcp.server import tool_specs as all_specs

from ._tenants import accounts_acted_on, connect_through_oauth, operator_business, snapshot
from .conftest import free_port

pytestmark = [pytest.mark.xdist_group("isolation"), pytest.mark.anyio]

SECRET_KEY = new_secret_key()


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
    before: dict[str, list[dict[str, Any]]]  # the operator's account, once both customers are set up
    before_b: dict[str, list[dict[str, Any]]]  # B's account, likewise (B makes no tool call that writes)
    settings: Settings

    def in_account(self, account: str) -> stripe.StripeClient:
        """The platform acting on a connected account (to set up and check, never through a tool)."""
        return self.sb.client(stripe_account=account)


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
            operator_objects = operator_business(operator, ledger)
            operator_objects["coupon"] = operator.v1.coupons.create({"percent_off": 5, "duration": "once"}).id
            operator_objects["payment_link"] = operator.v1.payment_links.create(
                {"line_items": [{"price": operator_objects["price"], "quantity": 1}]}
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
                for t in tenants:
                    t.account = connect_through_oauth(sb.url, url, t.customer, env)
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
                    # what A's lists would show of B (and B's of A) if accounts leaked
                    coupon = theirs.v1.coupons.create({"percent_off": 10, "duration": "once"}).id
                    link = theirs.v1.payment_links.create({"line_items": [{"price": tprice, "quantity": 1}]}).id
                    disputed = theirs.v1.payment_intents.create(
                        {"amount": 900, "currency": "usd", "customer": cus, "payment_method": "pm_card_createDispute",
                         "confirm": True}
                    ).id
                    [dispute] = theirs.v1.disputes.list({"payment_intent": disputed}).data
                    item = theirs.v1.invoice_items.create({"customer": cus, "amount": 300, "currency": "usd"}).id
                    t.objects = {"customer": cus, "product": product, "price": tprice, "subscription": sub, "pi": pi,
                                 "coupon": coupon, "payment_link": link, "dispute": dispute.id,
                                 "disputed_pi": disputed, "invoice_item": item}
                sb.wait_for_webhooks(timeout=20)
                before = snapshot(operator)
                before_b = snapshot(sb.client(stripe_account=tenants[1].account))
                yield World(sb, ledger, url, operator, tenants[0], tenants[1], operator_objects, before, before_b,
                            settings)


def customer_runtime_for(sb: SandboxServer, ledger: Ledger, settings: Settings) -> Any:
    from unifiedmcp.accounts import Accounts
    from unifiedmcp.server import Runtime, ServerOptions

    accounts = Accounts(ledger=ledger, settings=settings, operator_client=sb.client(),
                        cipher=CredentialCipher(SECRET_KEY), operator_account=sb.account_id, max_network_retries=0)
    return Runtime(stripe_client=sb.client(), ledger=ledger, accounts=accounts,
                   options=ServerOptions(sessions_per_key=4, allow_confirm_argument=False))


async def _confirm_everything(context: Any, params: Any) -> ElicitResult:
    return ElicitResult(action="accept", content={"confirm": True})  # a client that answers its own prompts


def _as(world: World, tenant: Tenant, *, url: str | None = None) -> mcp.Client:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {tenant.token}"}, timeout=30)
    return mcp.Client(streamable_http_client(f"{url or world.url}/mcp", http_client=http), raise_exceptions=True,
                      elicitation_callback=_confirm_everything)


def _ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text if result.content else result
    return result.structured_content or {}


def _failed(result: CallToolResult) -> dict[str, Any]:
    assert result.is_error, f"expected a tool error, got {result.structured_content}"
    return (result.structured_content or {}).get("error", {})


def test_both_customers_connected_through_the_oauth_flow(world: World) -> None:
    """Each customer holds one OAuth connection, to an account of its own (not the operator's)."""
    for t in (world.a, world.b):
        [conn] = world.ledger.connections(t.customer)
        assert (conn.provider, conn.kind, conn.account) == ("stripe", "oauth", t.account)
    assert len({world.a.account, world.b.account, world.sb.account_id}) == 3


async def test_lists_search_and_fetch_show_only_the_callers_account(world: World) -> None:
    """B's and the operator's objects are invisible to A through lists, filters, search and fetch."""
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
    """A customer A creates exists in A's account, and in neither B's nor the operator's."""
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


# -- every Stripe tool, called as A --------------------------------------------------------------


def _fresh(world: World, name: str) -> dict[str, Any]:
    """Minimal valid arguments of tool ``name`` for A; objects a call consumes (an invoice to
    finalize or void, a payment to refund, a subscription to cancel) are made afresh in A's account."""
    a = world.a.objects
    theirs = world.in_account(world.a.account)

    def draft_invoice() -> str:
        inv = theirs.v1.invoices.create({"customer": a["customer"], "auto_advance": False}).id
        theirs.v1.invoice_items.create({"customer": a["customer"], "invoice": inv, "amount": 400, "currency": "usd"})
        return inv

    def paid_intent() -> str:
        return theirs.v1.payment_intents.create(
            {"amount": 600, "currency": "usd", "customer": a["customer"], "payment_method": "pm_card_visa",
             "confirm": True}
        ).id

    makers: dict[str, Any] = {
        "create_customer": lambda: {"name": f"by-a-{uuid.uuid4().hex[:6]}"},
        "list_customers": lambda: {"limit": 100},
        "update_customer": lambda: {"customer": a["customer"], "description": "updated by A"},
        "create_product": lambda: {"name": "A's product"},
        "list_products": lambda: {"limit": 100},
        "create_price": lambda: {"product": a["product"], "unit_amount": 250, "currency": "usd"},
        "list_prices": lambda: {"limit": 100},
        "create_payment_link": lambda: {"price": a["price"]},
        "create_invoice": lambda: {"customer": a["customer"]},
        "create_invoice_item": lambda: {"customer": a["customer"], "amount": 120, "currency": "usd"},
        "finalize_invoice": lambda: {"invoice": draft_invoice()},
        "list_invoices": lambda: {"limit": 100},
        "void_invoice": lambda: {"invoice": theirs.v1.invoices.finalize_invoice(draft_invoice()).id},
        "list_payment_intents": lambda: {"limit": 100},
        "create_refund": lambda: {"payment_intent": paid_intent()},
        "create_subscription": lambda: {"customer": a["customer"], "price": a["price"]},
        "list_subscriptions": lambda: {"limit": 100, "status": "all"},
        "update_subscription": lambda: {"subscription": a["subscription"], "metadata": {"touched": "by-a"}},
        "cancel_subscription": lambda: {"subscription": theirs.v1.subscriptions.create(
            {"customer": a["customer"], "items": [{"price": a["price"]}]}).id},
        "create_coupon": lambda: {"percent_off": 15},
        "list_coupons": lambda: {"limit": 100},
        "list_disputes": lambda: {"limit": 100},
        "update_dispute": lambda: {"dispute": a["dispute"], "metadata": {"note": "by-a"}},
        "retrieve_balance": lambda: {},
        "get_stripe_account_info": lambda: {},
        "create_billing_portal_session": lambda: {"customer": a["customer"]},
        "search_stripe_resources": lambda: {"resource": "customers", "query": 'email~"client-of"'},
        "fetch_stripe_resources": lambda: {"ids": [a["customer"], a["subscription"], a["dispute"]]},
    }
    return makers[name]()


STRIPE_TOOLS = [s.name for s in all_specs() if s.stripe and s.resource not in OPERATOR_ONLY]
# How to read back what a write returned, by its ``object``.
_SERVICES = {
    "customer": "customers", "product": "products", "price": "prices", "payment_link": "payment_links",
    "invoice": "invoices", "invoiceitem": "invoice_items", "refund": "refunds", "subscription": "subscriptions",
    "coupon": "coupons", "dispute": "disputes",
}


def _foreign_ids(world: World) -> set[str]:
    """What must never show in A's results: B's and the operator's objects and accounts."""
    return {*world.b.objects.values(), *world.operator_objects.values(), world.b.account, world.sb.account_id}


def test_the_parametrized_tools_are_every_stripe_tool() -> None:
    """A tool added to the registry is added here too (the list below comes from it, and
    ``_fresh`` has arguments for each)."""
    assert len(STRIPE_TOOLS) == 28
    assert {s.name for s in all_specs() if not s.stripe} == {"get_usage", "billing_metrics", "usage_report"}


@pytest.mark.parametrize("name", STRIPE_TOOLS)
async def test_every_stripe_tool_acts_on_the_callers_account_only(world: World, name: str) -> None:
    """With A's key, the tool succeeds, every request it makes reaches A's connected account (the
    sandbox's own account selection, spied on), its result names nothing of B's or the operator's,
    and what it writes exists in A's account and in neither of the others."""
    args = _fresh(world, name)
    world.sb.wait_for_webhooks(timeout=20)  # nothing of the set-up left in flight
    async with _as(world, world.a) as client:
        with accounts_acted_on() as acted_on:
            result = _ok(await client.call_tool(name, args))
    assert acted_on and set(acted_on) == {world.a.account}, acted_on
    text = json.dumps(result)
    assert not {i for i in _foreign_ids(world) if i in text}
    spec = next(s for s in all_specs() if s.name == name)
    if spec.read_only or result.get("object") not in _SERVICES:
        return
    service = _SERVICES[result["object"]]
    assert getattr(world.in_account(world.a.account).v1, service).retrieve(result["id"]).id == result["id"]
    for elsewhere in (world.in_account(world.b.account), world.operator):
        with pytest.raises(stripe.InvalidRequestError, match="No such"):
            getattr(elsewhere.v1, service).retrieve(result["id"])


@pytest.mark.parametrize("target", ["b", "operator"])
async def test_no_stripe_tool_reaches_another_account_through_the_account_argument(world: World, target: str) -> None:
    """Every Stripe tool with ``account`` naming B's or the operator's account: a clear tool
    error (invalid_account, offering A's own) and not a single request reaches the sandbox."""
    other = world.b.account if target == "b" else world.sb.account_id
    async with _as(world, world.a) as client:
        with accounts_acted_on() as acted_on:
            errors = {name: _failed(await client.call_tool(name, {**_args_without_objects(name), "account": other}))
                      for name in STRIPE_TOOLS}
    assert acted_on == []
    assert {e["type"] for e in errors.values()} == {"invalid_account"}, errors
    assert all(e["choices"] == [world.a.account] for e in errors.values())


def _args_without_objects(name: str) -> dict[str, Any]:
    """Well-formed arguments that need nothing made beforehand (ids that exist nowhere)."""
    ids = {"customer": "cus_none", "product": "prod_none", "price": "price_none", "invoice": "in_none",
           "subscription": "sub_none", "dispute": "dp_none", "payment_intent": "pi_none"}
    spec = next(s for s in all_specs() if s.name == name)
    params = inspect.signature(spec.fn).parameters
    args: dict[str, Any] = {k: v for k, v in ids.items() if k in params and params[k].default is inspect.Parameter.empty}
    extra = {"create_customer": {"name": "x"}, "create_product": {"name": "x"},
             "create_price": {"unit_amount": 1, "currency": "usd"}, "create_refund": {"payment_intent": "pi_none"},
             "create_coupon": {"percent_off": 1}, "update_dispute": {"metadata": {"a": "b"}},
             "update_customer": {"name": "x"}, "update_subscription": {"metadata": {"a": "b"}},
             "create_invoice_item": {"amount": 1, "currency": "usd"},
             "search_stripe_resources": {"resource": "customers", "query": 'email~"x"'},
             "fetch_stripe_resources": {"ids": ["cus_none"]}}
    return args | extra.get(name, {})


# -- sessions and roles --------------------------------------------------------------------------


def _rpc(method: str, id_: int | None = 1, **params: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
    return body | ({"id": id_} if id_ is not None else {})


def test_another_customer_can_neither_use_nor_end_a_session(world: World) -> None:
    """B holding A's Mcp-Session-Id: its requests and its DELETE get 404 and reach no Stripe
    account; A's session still works afterwards and ends with A's own DELETE."""
    from .test_tenancy import ACCEPT, INIT

    a_auth, b_auth = {"Authorization": f"Bearer {world.a.token}"}, {"Authorization": f"Bearer {world.b.token}"}
    opened = httpx.post(f"{world.url}/mcp", json=INIT, headers=ACCEPT | a_auth, timeout=10)
    assert opened.status_code == 200
    sid = {"Mcp-Session-Id": opened.headers["mcp-session-id"], "Mcp-Protocol-Version": "2025-06-18"}
    done = httpx.post(f"{world.url}/mcp", json=_rpc("notifications/initialized", None), headers=ACCEPT | a_auth | sid,
                      timeout=10)
    assert done.status_code == 202
    call = _rpc("tools/call", 2, name="list_customers", arguments={"limit": 100})
    with accounts_acted_on() as acted_on:
        as_b = httpx.post(f"{world.url}/mcp", json=call, headers=ACCEPT | b_auth | sid, timeout=10)
        listed_as_b = httpx.post(f"{world.url}/mcp", json=_rpc("tools/list", 3), headers=ACCEPT | b_auth | sid,
                                 timeout=10)
        ended_by_b = httpx.delete(f"{world.url}/mcp", headers=b_auth | sid, timeout=10)
    assert (as_b.status_code, listed_as_b.status_code, ended_by_b.status_code) == (404, 404, 404)
    assert acted_on == []
    assert world.a.objects["customer"] not in as_b.text + listed_as_b.text
    still = httpx.post(f"{world.url}/mcp", json=call, headers=ACCEPT | a_auth | sid, timeout=30)
    assert still.status_code == 200 and world.a.objects["customer"] in still.text
    assert httpx.delete(f"{world.url}/mcp", headers=a_auth | sid, timeout=10).status_code == 200
    gone = httpx.post(f"{world.url}/mcp", json=call, headers=ACCEPT | a_auth | sid, timeout=10)
    assert gone.status_code == 404


@contextlib.contextmanager
def _operator_server(world: World) -> Iterator[str]:
    from unifiedmcp.server import Runtime, ServerOptions

    runtime = Runtime(stripe_client=world.operator, ledger=world.ledger, options=ServerOptions(role="operator"))
    port = free_port()
    with serve_app(create_app(runtime, base_url=f"http://127.0.0.1:{port}"), port=port) as url:
        yield url


def test_customer_credentials_are_refused_by_an_operator_server(world: World) -> None:
    """A's API key and an OAuth access token A approved (which works on the customer server) both
    get 401/403 from an operator server on the same ledger, and reach no Stripe account."""
    from unifiedmcp.server._oauth import OAuthOptions

    from .test_oauth import Flow
    from .test_tenancy import ACCEPT, INIT

    port = free_port()
    customer_app = create_app(customer_runtime_for(world.sb, world.ledger, world.settings),
                              base_url=f"http://127.0.0.1:{port}", oauth=OAuthOptions(http_loopback_clients=True))
    with serve_app(customer_app, port=port) as customer_url, _operator_server(world) as operator_url:
        _, tokens = Flow(customer_url, world.a.token).tokens()
        access = {"Authorization": f"Bearer {tokens['access_token']}"}
        works = httpx.post(f"{customer_url}/mcp", json=INIT, headers=ACCEPT | access, timeout=10)
        assert works.status_code == 200  # a real, valid customer token
        httpx.delete(f"{customer_url}/mcp", headers=access | {"Mcp-Session-Id": works.headers["mcp-session-id"]},
                     timeout=10)
        with accounts_acted_on() as acted_on:
            for credential in (tokens["access_token"], world.a.token):
                refused = httpx.post(f"{operator_url}/mcp", json=INIT,
                                     headers=ACCEPT | {"Authorization": f"Bearer {credential}"}, timeout=10)
                assert refused.status_code in (401, 403), refused.text
                assert "mcp-session-id" not in refused.headers
        assert acted_on == []


def _usage_rows(ledger: Ledger) -> dict[str, Any]:
    import sqlite3

    with contextlib.closing(sqlite3.connect(ledger.path)) as db:
        return {table: db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                for table in ("usage_events", "usage_counters", "meter_outbox")}


async def test_operator_calls_write_no_usage_rows(world: World) -> None:
    """An operator key's calls (reads of the operator account and an operator-only tool) are
    served, act on the operator's account only, and leave the ledger's usage tables (calls,
    counters, the meter outbox) as they were."""
    operator_key = world.ledger.create_key(None, operator=True).token
    before = _usage_rows(world.ledger)
    with _operator_server(world) as url:
        async with _as(world, Tenant("", operator_key), url=url) as client:
            with accounts_acted_on() as acted_on:
                customers = _ok(await client.call_tool("list_customers", {"limit": 100}))
                _ok(await client.call_tool("retrieve_balance", {}))
            # an operator-only tool, answered (here with a tool error: this ledger has no warehouse)
            report = await client.call_tool("usage_report", {"month": datetime.now(UTC).strftime("%Y-%m")})
    assert "no warehouse" in report.content[0].text
    assert world.operator_objects["customer"] in {c["id"] for c in customers["data"]}
    assert set(acted_on) == {world.sb.account_id}
    assert _usage_rows(world.ledger) == before


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
    """Last in the module: after everything above, both customers are still free, and the
    operator's account and B's account hold exactly what they held before the first tool call
    (customers, products, prices, subscriptions, invoices, payments, refunds, coupons, payment
    links, invoice items, webhook endpoints, billing meters)."""
    world.sb.wait_for_webhooks(timeout=20)
    assert world.ledger.customer(world.a.customer).tier == "free"
    assert world.ledger.customer(world.b.customer).tier == "free"
    assert snapshot(world.operator) == world.before
    assert snapshot(world.in_account(world.b.account)) == world.before_b
