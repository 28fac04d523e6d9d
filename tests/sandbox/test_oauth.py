"""Stripe Connect on the sandbox: the OAuth flow, Stripe-Account, deauthorization."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import stripe

from unifiedmcp.sandbox import SandboxServer, serve_in_thread

from .helpers import authorize, connect, redirect_query

TOKEN_KEYS = {"access_token", "livemode", "refresh_token", "scope", "stripe_publishable_key", "stripe_user_id", "token_type"}


def _oauth(sandbox: SandboxServer, path: str, data: dict[str, str], *, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{sandbox.url}{path}", data=data, headers=headers)


def test_authorize_skips_the_form_and_redirects_with_a_code(sandbox: SandboxServer) -> None:
    """Like test mode's "skip this form": a 302 to redirect_uri (its own query kept) with
    code=ac_..., the scope and the state; no API key needed."""
    r = authorize(sandbox, redirect_uri="http://127.0.0.1:9/cb?from=sandbox")
    assert r.status_code == 302
    assert r.headers["location"].startswith("http://127.0.0.1:9/cb?from=sandbox&")
    q = redirect_query(r)
    assert q["code"].startswith("ac_") and q["scope"] == "read_write" and q["state"] == "st4te"


def test_authorize_deny_redirects_with_stripes_access_denied(sandbox: SandboxServer) -> None:
    r = authorize(sandbox, deny="1")
    assert r.status_code == 302
    assert "error=access_denied&error_description=The+user+denied+your+request&state=st4te" in r.headers["location"]


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"client_id": "ca_unknown"}, "invalid_client"),
        ({"client_id": ""}, "invalid_request"),
        ({"redirect_uri": "javascript:alert(1)"}, "invalid_request"),
        ({"redirect_uri": ""}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "everything"}, "invalid_scope"),
        ({"stripe_account": "acct_doesnotexist00"}, "invalid_request"),
    ],
)
def test_authorize_refuses_bad_requests_without_redirecting(sandbox: SandboxServer, params: dict[str, str], error: str) -> None:
    """An unknown client_id or an invalid parameter is a 400 with Stripe's OAuth error body and
    never a redirect (so no browser is sent to an unvalidated redirect_uri)."""
    r = authorize(sandbox, **params)
    assert r.status_code == 400 and "location" not in r.headers
    assert r.json()["error"] == error and r.json()["error_description"]


def test_code_exchange_connects_a_fresh_account(sandbox: SandboxServer) -> None:
    """The token answer has exactly Stripe's keys; its access token acts on the new connected
    account, and so does the platform's key with Stripe-Account."""
    token = connect(sandbox)
    assert set(token) == TOKEN_KEYS
    assert token["token_type"] == "bearer" and token["livemode"] is False and token["scope"] == "read_write"
    assert token["access_token"].startswith("sk_test_") and token["refresh_token"].startswith("rt_")
    assert token["stripe_publishable_key"].startswith("pk_test_")
    acct = token["stripe_user_id"]
    assert acct.startswith("acct_") and acct != sandbox.account_id
    connected = sandbox.client(api_key=token["access_token"])
    assert connected.v1.accounts.retrieve_current().id == acct
    via_platform = sandbox.client(stripe_account=acct)
    cus = via_platform.v1.customers.create({"email": "on-connected@example.com"})
    assert connected.v1.customers.retrieve(cus.id).email == "on-connected@example.com"
    with pytest.raises(stripe.InvalidRequestError):
        sandbox.client().v1.customers.retrieve(cus.id)  # not in the platform's own account


def test_a_prepared_account_can_be_connected(sandbox: SandboxServer) -> None:
    """stripe_account=acct_... (sandbox only) connects an existing account instead of a new one."""
    acct, key = sandbox.create_account(business_name="Prepared")
    before = sandbox.client(api_key=key).v1.customers.create({"name": "existing"})
    token = connect(sandbox, stripe_account=acct)
    assert token["stripe_user_id"] == acct
    assert sandbox.client(stripe_account=acct).v1.customers.retrieve(before.id).name == "existing"


def test_a_code_is_single_use_and_belongs_to_its_platform(sandbox: SandboxServer) -> None:
    """Reuse -> invalid_grant "already been used"; another platform's or an unknown code ->
    "does not exist" (stripe-python raises its OAuth InvalidGrantError)."""
    code = redirect_query(authorize(sandbox))["code"]
    other_key = sandbox.create_account()[1]
    with pytest.raises(stripe.oauth_error.InvalidGrantError) as exc:
        sandbox.client(api_key=other_key).oauth.token({"grant_type": "authorization_code", "code": code})
    assert exc.value.user_message == f"Authorization code does not exist: {code}" and exc.value.http_status == 400
    sandbox.client().oauth.token({"grant_type": "authorization_code", "code": code})
    with pytest.raises(stripe.oauth_error.InvalidGrantError) as exc:
        sandbox.client().oauth.token({"grant_type": "authorization_code", "code": code})
    assert exc.value.user_message == f"Authorization code has already been used: {code}"
    r = _oauth(sandbox, "/oauth/token", {"grant_type": "authorization_code", "code": "ac_nope"}, key=sandbox.api_key)
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_grant", "error_description": "Authorization code does not exist: ac_nope"}


def test_a_code_expires(sandbox: SandboxServer) -> None:
    sandbox.settings(oauth_code_lifetime_seconds=0.1)
    code = redirect_query(authorize(sandbox))["code"]
    time.sleep(0.3)
    with pytest.raises(stripe.oauth_error.InvalidGrantError) as exc:
        sandbox.client().oauth.token({"grant_type": "authorization_code", "code": code})
    assert exc.value.user_message == f"Authorization code expired: {code}"


def test_token_errors_have_stripes_oauth_shape(sandbox: SandboxServer) -> None:
    """No grant type, an unsupported one, a bad key (401); the key also works as client_secret."""
    key = sandbox.api_key
    assert _oauth(sandbox, "/oauth/token", {}, key=key).json() == {"error": "invalid_request", "error_description": "No grant type specified"}
    r = _oauth(sandbox, "/oauth/token", {"grant_type": "password"}, key=key)
    assert (r.status_code, r.json()["error"]) == (400, "unsupported_grant_type")
    r = _oauth(sandbox, "/oauth/token", {"grant_type": "authorization_code", "code": "ac_x"}, key="sk_test_notakey000000009876")
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client") and "notakey" not in r.text
    code = redirect_query(authorize(sandbox))["code"]
    r = _oauth(sandbox, "/oauth/token", {"grant_type": "authorization_code", "code": code, "client_secret": key})
    assert r.status_code == 200 and set(r.json()) == TOKEN_KEYS
    restricted = sandbox.create_restricted_key(["rak_customer_read"])
    r = _oauth(sandbox, "/oauth/token", {"grant_type": "refresh_token", "refresh_token": "rt_x"}, key=restricted)
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")


def test_refresh_token_gives_a_new_access_token(sandbox: SandboxServer) -> None:
    token = connect(sandbox)
    again = sandbox.client().oauth.token({"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}).to_dict()
    assert set(again) == TOKEN_KEYS and again["stripe_user_id"] == token["stripe_user_id"]
    assert again["access_token"] != token["access_token"]
    assert sandbox.client(api_key=again["access_token"]).v1.accounts.retrieve_current().id == token["stripe_user_id"]
    other = sandbox.create_account()[1]
    with pytest.raises(stripe.oauth_error.InvalidGrantError) as exc:
        sandbox.client(api_key=other).oauth.token({"grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
    assert token["refresh_token"] not in str(exc.value)


def test_stripe_account_needs_a_connection(sandbox: SandboxServer) -> None:
    """Stripe-Account for an account not connected to the key's account, or sent with a
    restricted key or with a connected account's own key, is Stripe's 403 with its message."""
    stranger, stranger_key = sandbox.create_account()
    token = connect(sandbox)
    for key, target in (
        (sandbox.api_key, stranger),
        (sandbox.create_restricted_key(["rak_customer_write"]), token["stripe_user_id"]),
        (token["access_token"], sandbox.account_id),
        (stranger_key, token["stripe_user_id"]),
    ):
        with pytest.raises(stripe.PermissionError) as exc:
            sandbox.client(api_key=key, stripe_account=target).v1.customers.list()
        assert exc.value.http_status == 403 and exc.value.json_body["error"]["code"] == "account_invalid"
        message = exc.value.user_message or ""
        assert message.startswith("The provided key '") and key not in message
        assert message.endswith(f"does not have access to account '{target}' (or that account does not exist). "
                                "Application access may have been revoked.")
    assert sandbox.client(stripe_account=sandbox.account_id).v1.customers.list().object == "list"  # its own account


def test_read_only_connection_can_read_but_not_write(sandbox: SandboxServer) -> None:
    token = connect(sandbox, scope="read_only")
    assert token["scope"] == "read_only"
    for client in (sandbox.client(stripe_account=token["stripe_user_id"]), sandbox.client(api_key=token["access_token"])):
        assert client.v1.customers.list().object == "list"
        with pytest.raises(stripe.PermissionError) as exc:
            client.v1.customers.create({})
        assert "Having the 'read_write' scope would allow this request to continue." in (exc.value.user_message or "")


def test_deauthorize_ends_the_connection_and_revokes_its_tokens(sandbox: SandboxServer) -> None:
    """After deauthorize: Stripe-Account fails, the access and refresh tokens are dead, and a
    second deauthorize is Stripe's invalid_client."""
    token = connect(sandbox)
    acct, client_id = token["stripe_user_id"], sandbox.connect_client_id()
    out = sandbox.client().oauth.deauthorize({"client_id": client_id, "stripe_user_id": acct})
    assert out.to_dict() == {"stripe_user_id": acct}
    with pytest.raises(stripe.PermissionError):
        sandbox.client(stripe_account=acct).v1.customers.list()
    with pytest.raises(stripe.AuthenticationError):
        sandbox.client(api_key=token["access_token"]).v1.customers.list()
    with pytest.raises(stripe.oauth_error.InvalidGrantError):
        sandbox.client().oauth.token({"grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
    r = _oauth(sandbox, "/oauth/deauthorize", {"client_id": client_id, "stripe_user_id": acct}, key=sandbox.api_key)
    assert r.status_code == 400 and r.json()["error"] == "invalid_client"
    r = _oauth(sandbox, "/oauth/deauthorize", {"client_id": "ca_someoneelse", "stripe_user_id": acct}, key=sandbox.api_key)
    assert r.json() == {"error": "invalid_client", "error_description": "No such application: 'ca_someoneelse'"}


def test_connections_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "connect.sqlite3"
    with serve_in_thread(db_path=db) as server:
        token = connect(server)
    with serve_in_thread(db_path=db) as server:
        assert server.client(stripe_account=token["stripe_user_id"]).v1.accounts.retrieve_current().id == token["stripe_user_id"]
        assert server.client(api_key=token["access_token"]).v1.customers.list().object == "list"
