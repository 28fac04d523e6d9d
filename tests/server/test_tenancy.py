"""The server's side of tenancy, on real HTTP servers: keys of the other role are refused by
scope, one customer holds at most ``sessions_per_key`` open sessions over all its keys and OAuth
clients (429 past it, room again after a DELETE or an idle timeout), Host/Origin stay checked on a non-loopback bind, customer calls
without a connection or naming someone else's account are refused unmetered, and a customer
server never serves operator tools."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import mcp
import pytest

from unifiedmcp.billing.testing import serve_app
from unifiedmcp.server import Runtime, ServerOptions, ToolSelectionError, build_server, create_app

from .conftest import call, customer_runtime, error, free_port

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _serve(runtime: Runtime, **app_options: Any) -> Any:
    port = free_port()
    base = app_options.pop("base_url", f"http://127.0.0.1:{port}")
    return serve_app(create_app(runtime, base_url=base, **app_options), port=port)


@pytest.fixture
def customer_url(sandbox: Any, ledger: Any) -> Iterator[str]:
    # Idle sessions last long enough that none expires while a test counts them, on a loaded machine.
    with _serve(customer_runtime(sandbox, ledger, sessions_per_key=3, session_idle_seconds=120.0)) as url:
        yield url


def _open(url: str, token: str) -> httpx.Response:
    return httpx.post(f"{url}/mcp", json=INIT, headers=ACCEPT | {"Authorization": f"Bearer {token}"}, timeout=10)


def test_a_key_of_the_other_role_is_refused_by_scope(customer_url: str, sandbox: Any, ledger: Any) -> None:
    operator = ledger.create_key(None, operator=True).token
    resp = _open(customer_url, operator)
    assert resp.status_code == 403 and "insufficient_scope" in resp.headers["www-authenticate"]
    ledger.upsert_customer("cus_role", tier="pro")
    customer = ledger.create_key("cus_role").token
    op_runtime = Runtime(stripe_client=sandbox.client(), ledger=ledger, options=ServerOptions(role="operator"))
    with _serve(op_runtime) as op_url:
        assert _open(op_url, customer).status_code == 403
        assert _open(op_url, operator).status_code == 200


def test_one_key_cannot_hold_more_than_its_sessions(customer_url: str, ledger: Any) -> None:
    """The hostile story's session flood: a free key is capped, and so is a second key of the same
    customer (the cap is the customer's); other customers are unaffected."""
    ledger.upsert_customer("cus_flood", tier="free")
    ledger.upsert_customer("cus_other", tier="free")
    flood, other = ledger.create_key("cus_flood").token, ledger.create_key("cus_other").token
    sessions = [_open(customer_url, flood) for _ in range(3)]
    assert [r.status_code for r in sessions] == [200, 200, 200]
    refused = _open(customer_url, flood)
    assert refused.status_code == 429 and refused.headers["retry-after"]
    assert "too many open sessions for this customer (3 of 3)" in refused.json()["error"]["message"]
    assert _open(customer_url, ledger.create_key("cus_flood").token).status_code == 429  # a new key: same customer
    assert _open(customer_url, other).status_code == 200  # another customer still gets in
    sid = sessions[0].headers["mcp-session-id"]
    closed = httpx.delete(
        f"{customer_url}/mcp", headers={"Authorization": f"Bearer {flood}", "Mcp-Session-Id": sid}, timeout=10
    )
    assert closed.status_code == 200
    assert _open(customer_url, flood).status_code == 200  # room again after a DELETE


def test_idle_sessions_expire_and_free_their_room(sandbox: Any, ledger: Any) -> None:
    ledger.upsert_customer("cus_idle", tier="free")
    token = ledger.create_key("cus_idle").token
    with _serve(customer_runtime(sandbox, ledger, sessions_per_key=3, session_idle_seconds=2.0)) as url:
        assert [_open(url, token).status_code for _ in range(4)] == [200, 200, 200, 429]
        deadline = time.monotonic() + 10
        while _open(url, token).status_code != 200:  # idle timeout 2 s
            assert time.monotonic() < deadline, "idle sessions never expired"
            time.sleep(0.2)


def test_a_non_loopback_bind_still_checks_host_and_origin(sandbox: Any, ledger: Any) -> None:
    """Bound (here: served) as for --host 0.0.0.0 --base-url https://mcp.example.com."""
    ledger.upsert_customer("cus_host", tier="pro")
    token = ledger.create_key("cus_host").token
    runtime = customer_runtime(sandbox, ledger)
    with _serve(runtime, host="0.0.0.0", base_url="https://mcp.example.com") as url:
        auth = ACCEPT | {"Authorization": f"Bearer {token}"}
        loopback = httpx.post(f"{url}/mcp", json=INIT, headers=auth, timeout=10)
        assert loopback.status_code == 421  # Host 127.0.0.1:port is not the public name
        public = httpx.post(f"{url}/mcp", json=INIT, headers=auth | {"Host": "mcp.example.com"}, timeout=10)
        assert public.status_code == 200
        evil = httpx.post(
            f"{url}/mcp", json=INIT, headers=auth | {"Host": "mcp.example.com", "Origin": "https://evil.example"},
            timeout=10,
        )
        assert evil.status_code == 403


def test_serve_refuses_a_public_bind_without_a_base_url(cli: Any) -> None:
    code, _, err = cli("serve", "--host", "0.0.0.0")
    assert code == 1 and "--base-url" in err and "not a loopback address" in err


@pytest.mark.anyio
async def test_no_connection_is_an_unmetered_tool_error(sandbox: Any, ledger: Any) -> None:
    ledger.upsert_customer("cus_unconnected", tier="free")
    server = build_server(customer_runtime(sandbox, ledger, customer="cus_unconnected"))
    async with mcp.Client(server, raise_exceptions=True) as client:
        result = await call(client, "list_customers")
    text = error(result)
    assert result.structured_content["error"]["type"] == "no_connection"
    assert "connections connect --customer cus_unconnected" in text
    assert ledger.usage("cus_unconnected").calls == 0


@pytest.mark.anyio
async def test_an_account_argument_that_is_not_ones_own_is_refused_unmetered(sandbox: Any, ledger: Any) -> None:
    ledger.upsert_customer("cus_acct", tier="pro")
    ledger.add_connection("cus_acct", "stripe", account="acct_Mine1", kind="oauth", credential="x")
    server = build_server(customer_runtime(sandbox, ledger, customer="cus_acct"))
    async with mcp.Client(server, raise_exceptions=True) as client:
        foreign = await call(client, "list_customers", {"account": "acct_SomeoneElse1"})
        malformed = await call(client, "list_customers", {"account": "cus_not_an_account"})
        listed = (await client.list_tools()).tools
    assert foreign.structured_content["error"]["type"] == "invalid_account"
    assert foreign.structured_content["error"]["choices"] == ["acct_Mine1"]
    assert "invalid_arguments" in error(malformed) and "account" in error(malformed)
    assert ledger.usage("cus_acct").calls == 0
    schemas = {t.name: t.input_schema["properties"] for t in listed}
    assert "account" in schemas["list_customers"] and "account" not in schemas["get_usage"]


def test_a_customer_server_never_serves_operator_tools(sandbox: Any, ledger: Any) -> None:
    with pytest.raises(ToolSelectionError, match="operator-only"):
        build_server(customer_runtime(sandbox, ledger, tools="all,metrics"))
