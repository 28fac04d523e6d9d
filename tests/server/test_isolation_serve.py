"""Tenant isolation against real ``unifiedmcp serve`` processes (as the docs deploy it), not an
in-process app: a customer server and an operator server (``serve --operator``) on one ledger
file, the sandbox, and two free customers A and B each connected through the whole OAuth flow
(the CLI's link, the sandbox's authorize page, the serve process's callback). It shows that with
A's key every request reaches A's connected account only, B's and the operator's objects stay
invisible, a session id is bound to its customer, each server refuses the other role's keys,
operator calls are not metered, and the operator's and B's accounts are unchanged at the end.

Usage push is off in both processes: its requests to the operator's meter are the operator's own
business, and would blur "which account did A's call reach".
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from unifiedmcp.ledger import Ledger
from unifiedmcp.sandbox import SandboxServer, serve_in_thread

from ._serve import Served, start_serve
from ._tenants import accounts_acted_on, connect_through_oauth, operator_business, snapshot
from .conftest import SECRET_KEY, http_client
from .test_tenancy import ACCEPT, INIT

pytestmark = [pytest.mark.xdist_group("isolation_serve"), pytest.mark.anyio]


@dataclass
class Customer:
    customer: str
    token: str
    account: str = ""
    objects: dict[str, str] = field(default_factory=dict)


@dataclass
class Deployment:
    sb: SandboxServer
    ledger_path: Path
    served: Served  # the customer-facing server
    operator_served: Served  # serve --operator
    operator_token: str
    a: Customer
    b: Customer
    operator_objects: dict[str, str]
    before: dict[str, Any]  # the operator's account
    before_b: dict[str, Any]  # B's account


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("isolation-serve")
    ledger_path = tmp / "ledger.sqlite3"
    with serve_in_thread() as sb:
        operator = sb.client()
        client_id = sb.connect_client_id()
        with Ledger(ledger_path) as ledger:
            operator_objects = operator_business(operator, ledger)
            customers = []
            for name in ("a", "b"):
                cus = operator.v1.customers.create({"email": f"{name}-{uuid.uuid4().hex[:6]}@example.com"}).id
                ledger.upsert_customer(cus, tier="free")
                customers.append(Customer(cus, ledger.create_key(cus).token))
            operator_token = ledger.create_key(None, operator=True).token
        env = sb.env() | {"STRIPE_CONNECT_CLIENT_ID": client_id}
        served = start_serve(ledger_path, tmp, "--no-push-usage", **env)
        operator_served = start_serve(ledger_path, tmp, "--operator", "--no-push-usage", **env)
        try:
            cli_env = env | {"UNIFIEDMCP_SECRET_KEY": SECRET_KEY, "UNIFIEDMCP_LEDGER": str(ledger_path)}
            for c in customers:
                c.account = connect_through_oauth(sb.url, served.url, c.customer, cli_env)
                theirs = sb.client(stripe_account=c.account)
                cus = theirs.v1.customers.create({"email": f"client-of-{c.customer}@example.com"}).id
                product = theirs.v1.products.create({"name": f"Plan of {c.customer}"}).id
                c.objects = {"customer": cus, "product": product}
            sb.wait_for_webhooks(timeout=20)
            yield Deployment(
                sb, ledger_path, served, operator_served, operator_token, customers[0], customers[1],
                operator_objects, snapshot(operator),
                snapshot(sb.client(stripe_account=customers[1].account)),
            )
        finally:
            served.stop()
            operator_served.stop()


def _usage_rows(path: Path) -> dict[str, list[Any]]:
    with closing(sqlite3.connect(path)) as db:
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                for t in ("usage_events", "usage_counters", "meter_outbox")}


def test_both_customers_connected_through_the_serve_process_callback(deployed: Deployment) -> None:
    """The serve process's /oauth/stripe/callback stored one OAuth connection per customer, each
    to an account of its own (neither the other's nor the operator's)."""
    with Ledger(deployed.ledger_path) as ledger:
        for c in (deployed.a, deployed.b):
            [conn] = ledger.connections(c.customer)
            assert (conn.kind, conn.account) == ("oauth", c.account)
    assert len({deployed.a.account, deployed.b.account, deployed.sb.account_id}) == 3


async def test_a_customers_calls_reach_its_own_account_only(deployed: Deployment) -> None:
    """Reads, a fetch naming B's and the operator's ids, and a write, all as A over HTTP: every
    request reaches A's account, nothing of B's or the operator's comes back, the write lands in A's."""
    a, b = deployed.a, deployed.b
    foreign = [b.objects["customer"], b.objects["product"], deployed.operator_objects["customer"],
               deployed.operator_objects["subscription"]]
    async with http_client(deployed.served.mcp, a.token) as client:
        with accounts_acted_on() as acted_on:
            customers = await client.call_tool("list_customers", {"limit": 100})
            products = await client.call_tool("list_products", {"limit": 100})
            fetched = await client.call_tool("fetch_stripe_resources", {"ids": [a.objects["customer"], *foreign]})
            created = await client.call_tool("create_customer", {"name": "made on a real serve"})
    assert acted_on and set(acted_on) == {a.account}
    assert [c["id"] for c in customers.structured_content["data"]] == [a.objects["customer"]]
    assert [p["id"] for p in products.structured_content["data"]] == [a.objects["product"]]
    assert [o["id"] for o in fetched.structured_content["data"]] == [a.objects["customer"]]
    assert sorted(e["id"] for e in fetched.structured_content["errors"]) == sorted(foreign)
    new = created.structured_content["id"]
    assert deployed.sb.client(stripe_account=a.account).v1.customers.retrieve(new).name == "made on a real serve"
    for elsewhere in (deployed.sb.client(stripe_account=b.account), deployed.sb.client()):
        with pytest.raises(stripe.InvalidRequestError):
            elsewhere.v1.customers.retrieve(new)


async def test_the_account_argument_cannot_reach_b_or_the_operator(deployed: Deployment) -> None:
    """``account`` naming B's or the operator's account: invalid_account, and no request at all."""
    async with http_client(deployed.served.mcp, deployed.a.token) as client:
        with accounts_acted_on() as acted_on:
            results = [await client.call_tool("list_customers", {"account": other})
                       for other in (deployed.b.account, deployed.sb.account_id)]
    assert acted_on == []
    assert [r.structured_content["error"]["type"] for r in results] == ["invalid_account"] * 2


def test_a_session_id_is_useless_to_another_customer(deployed: Deployment) -> None:
    """B with A's Mcp-Session-Id gets 404 for a request and for a DELETE; A can still end it."""
    url = deployed.served.mcp
    a_auth, b_auth = {"Authorization": f"Bearer {deployed.a.token}"}, {"Authorization": f"Bearer {deployed.b.token}"}
    opened = httpx.post(url, json=INIT, headers=ACCEPT | a_auth, timeout=10)
    assert opened.status_code == 200
    sid = {"Mcp-Session-Id": opened.headers["mcp-session-id"], "Mcp-Protocol-Version": "2025-06-18"}
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
    assert httpx.post(url, json=listing, headers=ACCEPT | b_auth | sid, timeout=10).status_code == 404
    assert httpx.delete(url, headers=b_auth | sid, timeout=10).status_code == 404
    assert httpx.delete(url, headers=a_auth | sid, timeout=10).status_code == 200  # still A's to end


def test_each_server_refuses_the_other_roles_keys(deployed: Deployment) -> None:
    """A customer key on ``serve --operator`` and the operator key on the customer server get
    401/403; the operator key is served by its own server."""
    def status(served: Served, token: str) -> int:
        resp = httpx.post(served.mcp, json=INIT, headers=ACCEPT | {"Authorization": f"Bearer {token}"}, timeout=10)
        if resp.status_code == 200:
            httpx.delete(served.mcp, headers={"Authorization": f"Bearer {token}",
                                              "Mcp-Session-Id": resp.headers["mcp-session-id"]}, timeout=10)
        return resp.status_code

    assert status(deployed.operator_served, deployed.a.token) in (401, 403)
    assert status(deployed.served, deployed.operator_token) in (401, 403)
    assert status(deployed.operator_served, deployed.operator_token) == 200


async def test_operator_calls_on_serve_operator_are_not_metered(deployed: Deployment) -> None:
    """An operator call through ``serve --operator`` reaches the operator's account and writes no
    row to the ledger's usage tables (calls, counters, the meter outbox)."""
    before = _usage_rows(deployed.ledger_path)
    async with http_client(deployed.operator_served.mcp, deployed.operator_token) as client:
        with accounts_acted_on() as acted_on:
            listed = await client.call_tool("list_customers", {"limit": 100})
    assert not listed.is_error and set(acted_on) == {deployed.sb.account_id}
    assert deployed.operator_objects["customer"] in {c["id"] for c in listed.structured_content["data"]}
    assert _usage_rows(deployed.ledger_path) == before


def test_zz_the_operators_and_bs_accounts_are_unchanged_and_no_tier_moved(deployed: Deployment) -> None:
    """Last in the module: after everything above."""
    deployed.sb.wait_for_webhooks(timeout=20)
    assert snapshot(deployed.sb.client()) == deployed.before
    assert snapshot(deployed.sb.client(stripe_account=deployed.b.account)) == deployed.before_b
    with Ledger(deployed.ledger_path) as ledger:
        assert ledger.customer(deployed.a.customer).tier == "free"
        assert ledger.customer(deployed.b.customer).tier == "free"
