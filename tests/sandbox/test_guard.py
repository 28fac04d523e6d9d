"""The network stance: loopback Host/Origin checks (DNS rebinding) and the request body limit."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from unifiedmcp._loopback import serve_app
from unifiedmcp.sandbox import SandboxServer
from unifiedmcp.sandbox._accounts import Accounts
from unifiedmcp.sandbox._app import create_app
from unifiedmcp.sandbox._guard import MAX_BODY_BYTES

PATHS = [
    ("POST", "/v1/webhook_endpoints"),
    ("GET", "/v1/customers"),
    ("GET", "/oauth/authorize"),
    ("POST", "/oauth/token"),
    ("GET", "/_sandbox/health"),
    ("POST", "/_sandbox/settings"),
]


def _send(sandbox: SandboxServer, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    data = {"url": "http://10.0.0.1/steal", "enabled_events[0]": "*"} if path == "/v1/webhook_endpoints" else None
    return httpx.request(method, f"{sandbox.url}{path}", data=data,
                         headers={"Authorization": f"Bearer {sandbox.api_key}", **headers})


@pytest.mark.parametrize(("method", "path"), PATHS)
def test_a_foreign_host_header_is_refused_with_421(sandbox: SandboxServer, method: str, path: str) -> None:
    """DNS rebinding: a page on evil.example that resolves to 127.0.0.1 sends Host: evil.example.
    Every path refuses it before doing anything (no webhook endpoint gets registered)."""
    before = len(sandbox.client().v1.webhook_endpoints.list({"limit": 100}).data)
    r = _send(sandbox, method, path, {"Host": "evil.example"})
    assert r.status_code == 421 and r.json()["error"]["message"] == "Invalid Host header"
    assert len(sandbox.client().v1.webhook_endpoints.list({"limit": 100}).data) == before


@pytest.mark.parametrize(("method", "path"), PATHS)
def test_a_foreign_origin_is_refused_with_403(sandbox: SandboxServer, method: str, path: str) -> None:
    before = len(sandbox.client().v1.webhook_endpoints.list({"limit": 100}).data)
    r = _send(sandbox, method, path, {"Origin": "http://evil.example"})
    assert r.status_code == 403 and r.json()["error"]["message"] == "Invalid Origin header"
    assert len(sandbox.client().v1.webhook_endpoints.list({"limit": 100}).data) == before


@pytest.mark.parametrize(
    "headers",
    [{"Host": "localhost:12111"}, {"Host": "[::1]:8080"}, {"Host": "127.0.0.1"},
     {"Origin": "http://localhost:3000"}, {"Origin": "https://127.0.0.1:8443"}],
)
def test_loopback_hosts_and_origins_are_accepted(sandbox: SandboxServer, headers: dict[str, str]) -> None:
    r = httpx.get(f"{sandbox.url}/v1/customers", params={"limit": 1},
                  headers={"Authorization": f"Bearer {sandbox.api_key}", **headers})
    assert r.status_code == 200, r.text


def test_a_server_not_bound_to_loopback_does_not_check_the_host() -> None:
    """check_host=False (what a non-loopback bind gets) lets other names through."""
    with serve_app(create_app(Accounts(), check_host=False)) as url:
        r = httpx.get(f"{url}/_sandbox/health", headers={"Host": "sandbox.internal:12111", "Origin": "http://app.internal"})
        assert r.status_code == 200


def test_a_body_over_the_limit_is_413_and_stores_nothing(sandbox: SandboxServer) -> None:
    """A 2 MiB customer description is refused before any handler runs (Content-Length known)."""
    marker = "oversized-body-marker"
    big = "x" * (2 * MAX_BODY_BYTES)
    r = httpx.post(f"{sandbox.url}/v1/customers", data={"email": f"{marker}@example.com", "description": big},
                   headers={"Authorization": f"Bearer {sandbox.api_key}"})
    assert r.status_code == 413 and r.json()["error"]["type"] == "invalid_request_error"
    assert sandbox.client().v1.customers.list({"email": f"{marker}@example.com"}).data == []


def test_a_chunked_body_over_the_limit_is_413_and_stores_nothing(sandbox: SandboxServer) -> None:
    marker = "chunked-body-marker"

    def chunks() -> Iterator[bytes]:
        yield f"email={marker}%40example.com&description=".encode()
        for _ in range(40):
            yield b"y" * 65536

    r = httpx.post(f"{sandbox.url}/v1/customers", content=chunks(),
                   headers={"Authorization": f"Bearer {sandbox.api_key}", "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    assert sandbox.client().v1.customers.list({"email": f"{marker}@example.com"}).data == []


def test_a_chunked_body_under_the_limit_is_served(sandbox: SandboxServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"email=chunked-ok%40example.com"
        yield b"&description=" + b"z" * 1000

    r = httpx.post(f"{sandbox.url}/v1/customers", content=chunks(),
                   headers={"Authorization": f"Bearer {sandbox.api_key}", "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and r.json()["description"] == "z" * 1000
