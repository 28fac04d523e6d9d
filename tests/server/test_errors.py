"""Stripe failures become tool errors with Stripe's message, code and request id; a restricted
key's permission error names the missing permission; secrets never appear in an error.

The permission error comes from a real restricted key on the sandbox (which answers with Stripe's
403 body); a key that Stripe's message might carry unmasked is checked on the error conversion."""

from __future__ import annotations

from typing import Any

import mcp
import pytest
import stripe

from unifiedmcp.sandbox import SandboxServer
from unifiedmcp.server import build_server
from unifiedmcp.server._errors import from_stripe_error

from .conftest import call, error, key_runtime

pytestmark = pytest.mark.anyio


async def test_permission_error_names_the_missing_permission(sandbox: SandboxServer, ledger: Any, customer: str) -> None:
    """The customer's own account (not the operator's), connected with a key that may only read customers."""
    _, account_key = sandbox.create_account()
    key = sandbox.create_restricted_key(["rak_customer_read"], api_key=account_key)
    server = build_server(key_runtime(sandbox.url, ledger, customer, key))
    async with mcp.Client(server, raise_exceptions=True) as c:
        result = await call(c, "create_customer", {"name": "x"})
    text = error(result)
    err = result.structured_content["error"]
    assert err["missing_permission"] == "rak_customer_write" and "rak_customer_write" in text
    assert err["request_id"].startswith("req_") and err["http_status"] == 403
    assert err["stripe_type"] == "invalid_request_error"
    assert key not in text and key not in str(result.structured_content)
    assert ledger.usage(customer).calls == 1  # failed calls are metered (status error)
    events = ledger.usage_events()
    assert events[-1][5] == "error" and events[-1][7] is not None


def test_a_key_inside_stripes_message_is_masked() -> None:
    """Should Stripe's message ever carry a key in full, the tool error masks it."""
    key = "rk_test_51Sx9RestrictedKeyValue0123456789"
    message = (f"The provided key '{key}' does not have the required permissions for this endpoint on account "
               "'acct_1Test'. Having the 'rak_customer_write' permission would allow this request to continue.")
    exc = stripe.PermissionError(message, http_status=403, json_body={"error": {"type": "invalid_request_error", "message": message}})
    failure = from_stripe_error(exc, tool="create_customer", permission="rak_customer_write")
    assert failure.fields["missing_permission"] == "rak_customer_write"
    assert key not in str(failure) and key not in str(failure.fields)


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
    server = build_server(key_runtime(key_echoing_api, ledger, customer, key))
    async with mcp.Client(server, raise_exceptions=True) as c:
        result = await call(c, "list_customers")
    text = error(result)
    err = result.structured_content["error"]
    assert key[8:] not in text and key[8:] not in str(result.structured_content)
    assert (err["request_id"], err["code"], err["param"]) == ("sk_test_***",) * 3
    assert "No such thing for key sk_test_***" in text
