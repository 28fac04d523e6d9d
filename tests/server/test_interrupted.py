"""A call admitted and then killed with its server (SIGKILL while the tool waits for Stripe) ends as
``interrupted``: it stays counted against the month's quota, carries no latency, and is never
recorded as a success (so it is not billed: only ``ok`` calls are)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from unifiedmcp._loopback import serve_app
from unifiedmcp.ledger import Ledger

from ._serve import start_serve, stub_customer
from .conftest import http_client

pytestmark = pytest.mark.anyio


@pytest.fixture
def hanging_api() -> Iterator[tuple[str, threading.Event]]:
    """A Stripe API base on 127.0.0.1 that never answers (until the test ends): (its URL, an event
    set once a request reached it)."""
    reached, release = threading.Event(), threading.Event()

    async def hang(request: Request) -> JSONResponse:
        reached.set()
        await anyio.to_thread.run_sync(release.wait, 60)
        return JSONResponse({"error": {"message": "too late"}}, status_code=500)

    with serve_app(Starlette(routes=[Route("/{path:path}", hang, methods=["GET", "POST"])])) as url:
        try:
            yield url, reached
        finally:
            release.set()


async def test_a_call_killed_with_its_server_is_recorded_interrupted_and_stays_counted(
    tmp_path: Path, hanging_api: tuple[str, threading.Event]
) -> None:
    api, reached = hanging_api
    path = tmp_path / "ledger.sqlite3"
    token = stub_customer(path, "cus_killed")
    served = start_serve(path, tmp_path, "--tools", "customers.read", STRIPE_API_BASE=api)
    try:

        async def call_and_lose_the_server() -> None:
            try:
                async with http_client(served.mcp, token) as client:
                    await client.call_tool("list_customers", {})
            except Exception:  # noqa: BLE001 - the server dies under this call: that is the test
                pass

        async with anyio.create_task_group() as tg:
            tg.start_soon(call_and_lose_the_server)
            # The request reached "Stripe": the call was admitted and its tool is running.
            assert await anyio.to_thread.run_sync(reached.wait, 60), "the call never reached the API"
            os.kill(served.proc.pid, signal.SIGKILL)
            assert await anyio.to_thread.run_sync(lambda: served.proc.wait(timeout=30)) == -signal.SIGKILL
            tg.cancel_scope.cancel()
    finally:
        served.stop()
    with Ledger(path) as ledger:
        with ledger.transaction() as conn:
            rows = conn.execute(
                "SELECT tool_name, status, latency_ms FROM usage_events WHERE customer_id = 'cus_killed'"
            ).fetchall()
        assert [tuple(r) for r in rows] == [("list_customers", "interrupted", None)]
        assert ledger.usage("cus_killed").calls == 1  # admitted: the quota counted it
