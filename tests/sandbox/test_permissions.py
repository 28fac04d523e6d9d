"""Restricted keys: minting, Stripe's permission errors, and the permission of every route."""

from __future__ import annotations

import re

import httpx
import pytest
import stripe

from unifiedmcp.sandbox import SandboxServer
from unifiedmcp.sandbox._permissions import known_permissions, required
from unifiedmcp.sandbox._router import routes

PERMISSION_MESSAGE = re.compile(
    r"^The provided key '(rk_test_[^']*)' does not have the required permissions for this endpoint on account "
    r"'(acct_\w+)'. Having the '(rak_\w+)' permission would allow this request to continue.$"
)


def test_every_route_needs_a_known_permission() -> None:
    """Each route the sandbox serves maps to rak_<resource>_read for GET and _write otherwise
    (the create_preview POST is a read)."""
    served = routes()
    assert len(served) > 90
    for method, template in served:
        needed = required(method, template)
        assert needed in known_permissions(), (method, template)
        if (method, template) != ("POST", "/v1/invoices/create_preview"):
            assert needed.endswith("_read") == (method == "GET"), (method, template)
    assert required("POST", "/v1/invoiceitems") == "rak_invoice_write"
    assert required("POST", "/v1/test_helpers/test_clocks/{cid}/advance") == "rak_test_clock_write"


def test_a_missing_permission_is_stripes_403_naming_it(sandbox: SandboxServer) -> None:
    """A read-only customer key lists customers but cannot create one: 403 invalid_request_error
    whose message names the masked key, the account and the permission that would allow it."""
    key = sandbox.create_restricted_key(["rak_customer_read"])
    assert key.startswith("rk_test_")
    client = sandbox.client(api_key=key)
    assert client.v1.customers.list().object == "list"
    with pytest.raises(stripe.PermissionError) as exc:
        client.v1.customers.create({"name": "x"})
    assert exc.value.http_status == 403 and exc.value.json_body["error"]["type"] == "invalid_request_error"
    found = PERMISSION_MESSAGE.match(exc.value.user_message or "")
    assert found is not None, exc.value.user_message
    assert found.group(2) == sandbox.account_id and found.group(3) == "rak_customer_write"
    assert key not in found.group(1) and key[-4:] in found.group(1)
    with pytest.raises(stripe.PermissionError) as exc:
        client.v1.products.list()
    assert "'rak_product_read'" in (exc.value.user_message or "")


def test_write_implies_read_and_the_key_acts_on_its_own_account(sandbox: SandboxServer) -> None:
    other_acct, other_key = sandbox.create_account()
    key = sandbox.create_restricted_key(["rak_customer_write"], api_key=other_key)
    client = sandbox.client(api_key=key)
    cus = client.v1.customers.create({"name": "made with rk"})
    assert client.v1.customers.retrieve(cus.id).name == "made with rk"
    assert sandbox.client(api_key=other_key).v1.customers.retrieve(cus.id).id == cus.id
    with pytest.raises(stripe.InvalidRequestError):
        sandbox.client().v1.customers.retrieve(cus.id)
    with pytest.raises(stripe.PermissionError) as exc:
        client.v1.accounts.retrieve_current()
    assert f"on account '{other_acct}'" in (exc.value.user_message or "")


def test_read_only_shorthand_reads_everything_and_writes_nothing(sandbox: SandboxServer) -> None:
    client = sandbox.client(api_key=sandbox.create_restricted_key(["read_only"]))
    for lister in (client.v1.customers, client.v1.prices, client.v1.invoices, client.v1.events, client.v1.webhook_endpoints):
        assert lister.list().object == "list"
    assert client.v1.balance.retrieve().object == "balance"
    with pytest.raises(stripe.PermissionError) as exc:
        client.v1.products.create({"name": "no"})
    assert "'rak_product_write'" in (exc.value.user_message or "")


def test_minting_needs_a_secret_key_and_known_permissions(sandbox: SandboxServer) -> None:
    """The answer has id, secret, account and the expanded permissions; a restricted key cannot
    mint, and an unknown permission is a 400 naming it."""
    url = f"{sandbox.url}/_sandbox/restricted_keys"
    auth = {"Authorization": f"Bearer {sandbox.api_key}"}
    r = httpx.post(url, json={"permissions": ["rak_invoice_write"], "name": "ops"}, headers=auth)
    body = r.json()
    assert r.status_code == 200 and set(body) == {"id", "secret", "account", "permissions"}
    assert body["id"].startswith("rk_") and body["secret"].startswith("rk_test_")
    assert body["account"] == sandbox.account_id and body["permissions"] == ["rak_invoice_write"]
    r = httpx.post(url, json={"permissions": ["rak_invoice_read"]}, headers={"Authorization": f"Bearer {body['secret']}"})
    assert r.status_code == 403 and body["secret"] not in r.text
    r = httpx.post(url, json={"permissions": ["rak_everything_write"]}, headers=auth)
    assert r.status_code == 400 and "rak_everything_write" in r.json()["error"]["message"]
    assert httpx.post(url, json={"permissions": []}, headers=auth).status_code == 400
