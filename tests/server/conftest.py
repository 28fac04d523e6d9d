"""Fixtures of the MCP server tests: a ledger, a runtime on the sandbox, in-memory clients."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mcp
import pytest
import stripe
from mcp_types import CallToolResult

from unifiedmcp.billing.testing import free_port  # noqa: F401 (the server tests import it from here)
from unifiedmcp.ledger import Ledger
from unifiedmcp.server import Runtime, ServerOptions, build_server


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path / "ledger.sqlite3") as led:
        yield led


@pytest.fixture
def customer(ledger: Ledger) -> str:
    """A pro customer (no hard limit), so tool tests never run out of quota."""
    cid = "cus_meter" + uuid.uuid4().hex[:10]
    ledger.upsert_customer(cid, tier="pro")
    return cid


@pytest.fixture
def make_runtime(sandbox: Any, ledger: Ledger, customer: str) -> Callable[..., Runtime]:
    def make(**options: Any) -> Runtime:
        options.setdefault("customer", customer)
        return Runtime(stripe_client=sandbox.client(), ledger=ledger, options=ServerOptions(**options))

    return make


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime()


@pytest.fixture
def server(runtime: Runtime) -> Any:
    return build_server(runtime)


def ok(result: CallToolResult) -> dict[str, Any]:
    """The structured content of a successful call (fails the test with the error text otherwise)."""
    assert not result.is_error, result.content[0].text if result.content else result
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def error(result: CallToolResult) -> str:
    """The error text of a failed call."""
    assert result.is_error, f"expected an error, got {result.structured_content}"
    return result.content[0].text


async def call(client: mcp.Client, name: str, args: dict[str, Any] | None = None) -> CallToolResult:
    return await client.call_tool(name, args or {})


def http_client(url: str, token: str) -> mcp.Client:
    """An MCP client over streamable HTTP with ``Authorization: Bearer <token>``."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return mcp.Client(streamable_http_client(url, http_client=http), raise_exceptions=True)


class RecordingHTTPClient(stripe.HTTPClient):
    """Stripe's HTTP layer with the network cut: records every request it is asked to send."""

    name = "recording"

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[str, str]] = []
        self.headers: list[dict[str, str]] = []

    def request(self, method: str, url: str, headers: Any, post_data: Any = None) -> Any:
        self.requests.append((method, url))
        self.headers.append(dict(headers or {}))
        raise stripe.APIConnectionError("network disabled in this test")

    def close(self) -> None:
        pass
