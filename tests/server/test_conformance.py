"""The MCP conformance suite (npm @modelcontextprotocol/conformance, on Node 22 from npm node@22)
against ``unifiedmcp serve``, a real process on 127.0.0.1. The suite sends no HTTP headers of
its own, so a small proxy in front adds the customer's bearer key. The committed baseline
(conformance-baseline.yml) lists the scenarios that need the reference "everything" server's
fixture tools, prompts and resources, each with its reason; any other failure fails this test, and
so does a listed scenario that starts passing (the suite reports a stale baseline).

Bounded: every scenario runs against one server, the whole run has a 5-minute limit.
Skipped, with the reason, only when Node.js is not installed."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from unifiedmcp._loopback import serve_app
from unifiedmcp.ledger import Ledger

from ._serve import Served, start_serve
from .conftest import connect_key, npm_install

BASELINE = Path(__file__).with_name("conformance-baseline.yml")
PACKAGES = ["node@22", "@modelcontextprotocol/conformance@0.1.16"]

pytestmark = pytest.mark.xdist_group("mcp-npm")

_HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive", "authorization"}


def bearer_proxy(upstream: str, token: str) -> Starlette:
    """Forwards every request to ``upstream`` with ``Authorization: Bearer <token>``, streaming
    the answer (SSE included) back as it arrives."""
    http = httpx.AsyncClient(timeout=httpx.Timeout(60, read=None))

    async def forward(request: Request) -> StreamingResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        outgoing = http.build_request(
            request.method, f"{upstream}{request.url.path}", params=request.query_params,
            headers=headers | {"Authorization": f"Bearer {token}"}, content=await request.body(),
        )
        answer = await http.send(outgoing, stream=True)
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP | {"content-encoding"}}

        async def body() -> AsyncIterator[bytes]:
            async for chunk in answer.aiter_raw():
                yield chunk

        return StreamingResponse(body(), status_code=answer.status_code, headers=kept, background=BackgroundTask(answer.aclose))

    methods = ["GET", "POST", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)])


@pytest.fixture(scope="module")
def conformance() -> Path:
    return npm_install("conformance", *PACKAGES, what="the MCP conformance suite") / "node_modules" / ".bin"


@pytest.fixture
def served(sandbox: Any, tmp_path: Path, account_key: str) -> Iterator[tuple[Served, str]]:
    ledger_path = tmp_path / "ledger.sqlite3"
    with Ledger(ledger_path) as ledger:
        ledger.upsert_customer("cus_conformance", tier="pro")
        connect_key(sandbox, ledger, "cus_conformance", account_key)
        key = ledger.create_key("cus_conformance").token
    # The suite opens a session per scenario and closes none: room for all of them.
    server = start_serve(ledger_path, tmp_path, "--sessions-per-key", "100", **sandbox.env())
    try:
        yield server, key
    finally:
        server.stop()


def test_conformance_suite_passes_except_the_baselined_fixture_scenarios(
    conformance: Path, served: tuple[Served, str], tmp_path: Path
) -> None:
    server, key = served
    with serve_app(bearer_proxy(server.url, key)) as proxy:
        proc = subprocess.run(
            [str(conformance / "node"), str(conformance / "conformance"), "server", "--url", f"{proxy}/mcp",
             "--spec-version", "2025-11-25", "--expected-failures", str(BASELINE), "-o", str(tmp_path / "results")],
            capture_output=True, text=True, timeout=300, cwd=tmp_path,
        )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
