"""Stripe failures become tool errors with Stripe's message, code and request id; a restricted
key's permission error names the missing permission; secrets never appear in an error.

The sandbox does not model restricted-key permissions, so a minimal HTTP server answering with
Stripe's documented 403 body stands in for Stripe here."""

from __future__ import annotations

from typing import Any

import mcp
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from unifiedmcp.billing.testing import serve_app
from unifiedmcp.server import build_server

from .conftest import call, error, key_runtime

pytestmark = pytest.mark.anyio

RESTRICTED_KEY = "rk_test_51Sx9RestrictedKeyValue0123456789"


async def _forbidden(request: Request) -> JSONResponse:
    message = (
        f"The provided key '{RESTRICTED_KEY[:12]}*****6789' does not have the required permissions for this "
        "endpoint on account 'acct_1Test'. Having the 'rak_customer_write' permission would allow this "
        f"request to continue. (key {RESTRICTED_KEY})"
    )
    return JSONResponse(
        {"error": {"type": "invalid_request_error", "code": "secret_key_required", "message": message}},
        status_code=403,
        headers={"Request-Id": "req_perm123"},
    )


@pytest.fixture
def stripe_403() -> Any:
    app = Starlette(routes=[Route("/{path:path}", _forbidden, methods=["GET", "POST", "DELETE"])])
    with serve_app(app) as url:
        yield url


async def test_permission_error_names_the_missing_permission(stripe_403: str, ledger: Any, customer: str) -> None:
    server = build_server(key_runtime(stripe_403, ledger, customer, RESTRICTED_KEY))
    async with mcp.Client(server, raise_exceptions=True) as c:
        result = await call(c, "create_customer", {"name": "x"})
    text = error(result)
    err = result.structured_content["error"]
    assert err["missing_permission"] == "rak_customer_write" and "rak_customer_write" in text
    assert err["request_id"] == "req_perm123" and err["http_status"] == 403
    assert err["code"] == "secret_key_required"
    assert RESTRICTED_KEY not in text and RESTRICTED_KEY not in str(result.structured_content)
    assert ledger.usage(customer).calls == 1  # failed calls are metered (status error)
    events = ledger.usage_events()
    assert events[-1][5] == "error" and events[-1][7] is not None


async def test_unreachable_stripe_is_a_tool_error(ledger: Any, customer: str) -> None:
    server = build_server(key_runtime("http://127.0.0.1:9", ledger, customer, "sk_test_x"))
    async with mcp.Client(server, raise_exceptions=True) as c:
        result = await call(c, "list_customers")
    assert "cannot reach Stripe" in error(result)
    assert result.structured_content["error"]["type"] == "stripe_error"


async def test_a_key_the_api_echoes_is_masked_in_every_field_of_the_tool_error(
    key_echoing_api: str, ledger: Any, customer: str
) -> None:
    """Stripe's message, code, param and request id all carry the key back: the client sees none of it."""
    key = "sk_test_51EchoedBackByTheApi0123456789"
    client = stripe.StripeClient(key, base_addresses={"api": key_echoing_api}, max_network_retries=0)
    server = build_server(Runtime(stripe_client=client, ledger=ledger, options=ServerOptions(customer=customer)))
    async with mcp.Client(server, raise_exceptions=True) as c:
        result = await call(c, "list_customers")
    text = error(result)
    err = result.structured_content["error"]
    assert key[8:] not in text and key[8:] not in str(result.structured_content)
    assert (err["request_id"], err["code"], err["param"]) == ("sk_test_***",) * 3
    assert "No such thing for key sk_test_***" in text
