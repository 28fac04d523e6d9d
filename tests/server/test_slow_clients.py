"""`serve --body-timeout`: a client whose request body trickles in is answered 408 and cut off
once the deadline passes, while other clients are served meanwhile; a response streamed for
longer than the deadline (a tool call's SSE answer) is not cut."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from unifiedmcp._loopback import serve_app
from unifiedmcp.ledger import Ledger

from ._serve import start_serve, stub_customer
from .conftest import http_client


def _trickle(url: str, *, seconds: float) -> tuple[bytes, float]:
    """POST a 1,000-byte body to ``url``'s webhook path one byte every 0.1 s for up to ``seconds``:
    (what the server answered, seconds until the server closed the connection)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    started = time.monotonic()
    head = f"POST /webhooks/stripe HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    sock.sendall(head.encode())
    answer = b""
    sock.settimeout(0.1)
    try:
        while time.monotonic() - started < seconds:
            try:
                sock.sendall(b" ")
            except OSError:  # the server closed the connection
                break
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            answer += chunk
        return answer, time.monotonic() - started
    finally:
        sock.close()


def test_a_body_trickling_in_is_cut_off_after_the_timeout_while_others_are_served(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    Ledger(path).close()
    served = start_serve(path, tmp_path, "--body-timeout", "1")
    try:
        with anyio.from_thread.start_blocking_portal() as portal:
            slow = portal.start_task_soon(anyio.to_thread.run_sync, lambda: _trickle(served.url, seconds=10))
            time.sleep(0.3)
            meanwhile = httpx.get(f"{served.url}/healthz", timeout=5)
            answer, lasted = slow.result(timeout=15)
        assert meanwhile.status_code == 200
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == {"error": "the request body was not received within 1 s"}
        assert 1.0 <= lasted < 5.0  # cut at the deadline, not when the client gave up (10 s)
        normal = httpx.post(f"{served.url}/webhooks/stripe", content=b"{}", timeout=5)
        assert normal.status_code == 400 and normal.json() == {"error": "missing_signature"}
    finally:
        served.stop()


@pytest.fixture
def slow_api() -> Iterator[str]:
    """A Stripe API base on 127.0.0.1 that answers a customer list after 2 seconds."""

    async def slowly(request: Request) -> JSONResponse:
        await anyio.sleep(2)
        return JSONResponse({"object": "list", "data": [], "has_more": False, "url": "/v1/customers"})

    with serve_app(Starlette(routes=[Route("/{path:path}", slowly, methods=["GET"])])) as url:
        yield url


@pytest.mark.anyio
async def test_a_response_streamed_past_the_body_timeout_is_not_cut(tmp_path: Path, slow_api: str) -> None:
    path = tmp_path / "ledger.sqlite3"
    token = stub_customer(path, "cus_patient")
    served = start_serve(path, tmp_path, "--tools", "customers.read", "--body-timeout", "1", STRIPE_API_BASE=slow_api)
    try:
        async with http_client(served.mcp, token) as client:
            result = await client.call_tool("list_customers", {})
        assert not result.is_error, result.content
        assert result.structured_content["data"] == []
    finally:
        served.stop()
