"""Resumability: a client whose stream breaks while a call is in flight reconnects with
``Last-Event-ID`` and receives the call's result (the event store, over real HTTP)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from unifiedmcp.billing.testing import serve_app
from unifiedmcp.server import create_app

from .conftest import key_runtime

HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
           "MCP-Protocol-Version": "2025-11-25"}


@pytest.fixture
def slow_stripe() -> Iterator[str]:
    """An API base whose customer list takes a second: a call that is still in flight."""

    async def customers(request: Request) -> JSONResponse:
        time.sleep(1.0)  # in uvicorn's thread: holds only this stub
        return JSONResponse({"object": "list", "data": [], "has_more": False, "url": "/v1/customers"})

    with serve_app(Starlette(routes=[Route("/v1/customers", customers)])) as url:
        yield url


def _events(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    event: dict[str, str] = {}
    for line in lines:
        if not line:
            if event:
                yield event
            event = {}
            continue
        name, _, value = line.partition(":")
        event[name] = value.strip()


def test_a_reconnecting_client_gets_the_result_of_the_call_in_flight(slow_stripe: str, ledger: Any, customer: str) -> None:
    token = ledger.create_key(customer).token
    runtime = key_runtime(slow_stripe, ledger, customer, "sk_test_resume_0123456789")
    with serve_app(create_app(runtime, base_url="http://127.0.0.1")) as url, httpx.Client(timeout=30) as http:
        auth = HEADERS | {"Authorization": f"Bearer {token}"}
        hello = http.post(f"{url}/mcp", headers=auth, json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "resume", "version": "1"}}})
        session = auth | {"Mcp-Session-Id": hello.headers["mcp-session-id"]}
        http.post(f"{url}/mcp", headers=session, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "list_customers", "arguments": {}}}
        with http.stream("POST", f"{url}/mcp", headers=session, json=call) as stream:
            first = next(_events(stream.iter_lines()))  # the priming event: an id, no result yet
        assert first.get("id") and "result" not in first.get("data", "")
        # the stream is gone; the call goes on. Reconnect from the last event seen.
        with http.stream("GET", f"{url}/mcp", headers=session | {"Last-Event-ID": first["id"]}) as resumed:
            replayed = next(e for e in _events(resumed.iter_lines()) if e.get("data"))
    message = json.loads(replayed["data"])
    assert message["id"] == 2 and message["result"]["structuredContent"]["object"] == "list"
    assert ledger.usage(customer).calls == 1


def _session(http: httpx.Client, url: str, token: str) -> dict[str, str]:
    auth = HEADERS | {"Authorization": f"Bearer {token}"}
    hello = http.post(f"{url}/mcp", headers=auth, json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "resume", "version": "1"}}})
    session = auth | {"Mcp-Session-Id": hello.headers["mcp-session-id"]}
    http.post(f"{url}/mcp", headers=session, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
    return session


def test_another_customers_session_replays_nothing_of_this_one(slow_stripe: str, ledger: Any, customer: str) -> None:
    """Stream ids are request ids, the same in every session: customer B resuming with A's event
    ids (the stream's, or a guessed ``2:0``) from B's own session gets none of A's results."""
    ledger.upsert_customer("cus_other_b", tier="pro")
    token_a, token_b = ledger.create_key(customer).token, ledger.create_key("cus_other_b").token
    runtime = key_runtime(slow_stripe, ledger, customer, "sk_test_resume_0123456789")
    with serve_app(create_app(runtime, base_url="http://127.0.0.1")) as url, httpx.Client(timeout=30) as http:
        session_a = _session(http, url, token_a)
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "list_customers", "arguments": {}}}
        done = http.post(f"{url}/mcp", headers=session_a, json=call)
        events = list(_events(iter(done.text.splitlines() + [""])))
        assert any('"result"' in e.get("data", "") for e in events)  # A got its result
        session_b = _session(http, url, token_b)
        for last in {e["id"] for e in events if e.get("id")} | {"2:0"}:
            with http.stream("GET", f"{url}/mcp", headers=session_b | {"Last-Event-ID": last}, timeout=3) as resumed:
                try:  # the first event with data, if any comes before the stream falls silent
                    leaked = next((e for e in _events(resumed.iter_lines()) if e.get("data")), None)
                except httpx.ReadTimeout:
                    leaked = None
            assert leaked is None, f"B resumed {last!r} and received {leaked}"
