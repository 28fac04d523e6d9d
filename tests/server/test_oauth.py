"""The authorization server's refusals and rules, over real HTTP on 127.0.0.1 (httpx as the client):
each bad input gets the spec's error, scopes hold at the tools, tokens map to the customer,
metadata documents work, the operator revokes clients, and the 401 answers follow RFC 6750."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from unifiedmcp.billing.testing import serve_app
from unifiedmcp.server import create_app
from unifiedmcp.server._oauth import OAuthOptions

from .conftest import call, connect_key, customer_runtime, error, free_port, http_client, ok

REDIRECT = "http://127.0.0.1:9/callback"


class Flow:
    """One server and the steps of the flow, as a client would take them."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key

    def register(self, **extra: Any) -> dict[str, Any]:
        body = {"redirect_uris": [REDIRECT], "client_name": "pytest", "token_endpoint_auth_method": "none"} | extra
        resp = httpx.post(f"{self.url}/register", json=body)
        assert resp.status_code == 201, resp.text
        return resp.json()

    def authorize(self, client_id: str, *, scopes: list[str] | None = None, key: str | None = None, **params: str) -> tuple[str, str]:
        """(code, verifier) after the consent page approved with the customer's key."""
        verifier = secrets.token_urlsafe(32)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        query = {"client_id": client_id, "response_type": "code", "code_challenge": challenge,
                 "code_challenge_method": "S256", "redirect_uri": REDIRECT, "state": "s1",
                 "resource": f"{self.url}/mcp"} | params
        start = httpx.get(f"{self.url}/authorize", params=query)
        assert start.status_code == 302, start.text
        page = httpx.get(start.headers["location"])
        handle = re.search(r'name=request value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        offered = re.findall(r'name=scope value="([^"]+)"', page.text)
        form = {"request": handle, "api_key": key or self.key, "decision": "approve", "scope": scopes or offered}
        decided = httpx.post(f"{self.url}/oauth/consent", data=form)
        assert decided.status_code == 303, decided.text
        return parse_qs(urlsplit(decided.headers["location"]).query)["code"][0], verifier

    def token(self, client_id: str, code: str, verifier: str, **extra: str) -> httpx.Response:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": client_id,
                "code_verifier": verifier} | extra
        return httpx.post(f"{self.url}/token", data=form)

    def tokens(self, **register: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        client = self.register(**register)
        code, verifier = self.authorize(client["client_id"])
        resp = self.token(client["client_id"], code, verifier, **({"client_secret": client["client_secret"]} if client.get("client_secret") else {}))
        assert resp.status_code == 200, resp.text
        return client, resp.json()

    def mcp(self, token: str | None) -> httpx.Response:
        headers = {"Accept": "application/json, text/event-stream"} | ({"Authorization": f"Bearer {token}"} if token else {})
        hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "pytest", "version": "1"}}}
        return httpx.post(f"{self.url}/mcp", json=hello, headers=headers)


def _serve(sandbox: Any, ledger: Any, **oauth: Any) -> Iterator[str]:
    port = free_port()
    options = OAuthOptions(http_loopback_clients=True, **oauth)
    with serve_app(create_app(customer_runtime(sandbox, ledger), base_url=f"http://127.0.0.1:{port}", oauth=options), port=port) as url:
        yield url


@pytest.fixture
def flow(sandbox: Any, ledger: Any, account_key: str) -> Iterator[Flow]:
    ledger.upsert_customer("cus_oauth", tier="pro")
    connect_key(sandbox, ledger, "cus_oauth", account_key)
    for url in _serve(sandbox, ledger):
        yield Flow(url, ledger.create_key("cus_oauth").token)


def test_no_token_gets_the_bare_challenge_with_a_scope_hint_and_a_bad_one_invalid_token(flow: Flow) -> None:
    bare = flow.mcp(None)
    assert bare.status_code == 401
    challenge = bare.headers["www-authenticate"]
    assert "error=" not in challenge and 'scope="mcp:read mcp:write"' in challenge and "resource_metadata=" in challenge
    bad = flow.mcp("umo_at_000000000000_" + "x" * 43)
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
    meta = httpx.get(f"{flow.url}/.well-known/oauth-protected-resource/mcp").json()
    assert meta["authorization_servers"] == [flow.url]
    server = httpx.get(f"{flow.url}/.well-known/oauth-authorization-server").json()
    assert server["issuer"] == flow.url and server["code_challenge_methods_supported"] == ["S256"]
    assert server["client_id_metadata_document_supported"] is True and server["registration_endpoint"]


def test_wrong_pkce_verifier_is_invalid_grant(flow: Flow) -> None:
    client = flow.register()
    code, _ = flow.authorize(client["client_id"])
    resp = flow.token(client["client_id"], code, secrets.token_urlsafe(32))
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


def test_reused_code_is_invalid_grant_and_revokes_the_tokens_it_gave(flow: Flow) -> None:
    client = flow.register()
    code, verifier = flow.authorize(client["client_id"])
    first = flow.token(client["client_id"], code, verifier)
    assert first.status_code == 200
    again = flow.token(client["client_id"], code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert flow.mcp(first.json()["access_token"]).status_code == 401


def test_foreign_redirect_uri_is_refused_without_redirecting(flow: Flow) -> None:
    client = flow.register()
    resp = httpx.get(f"{flow.url}/authorize", params={
        "client_id": client["client_id"], "response_type": "code", "code_challenge": "x" * 43,
        "code_challenge_method": "S256", "redirect_uri": "https://attacker.example/cb"})
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"
    plain = httpx.post(f"{flow.url}/register", json={"redirect_uris": ["http://attacker.example/cb"]})
    assert plain.status_code == 400 and plain.json()["error"] == "invalid_redirect_uri"


def test_authorization_without_pkce_is_refused(flow: Flow) -> None:
    client = flow.register()
    resp = httpx.get(f"{flow.url}/authorize", params={"client_id": client["client_id"], "response_type": "code",
                                                      "redirect_uri": REDIRECT, "state": "s"})
    assert resp.status_code == 302 and "error=invalid_request" in resp.headers["location"]


def test_token_for_another_resource_is_refused(flow: Flow, sandbox: Any, ledger: Any) -> None:
    client = flow.register()
    resp = httpx.get(f"{flow.url}/authorize", params={
        "client_id": client["client_id"], "response_type": "code", "code_challenge": "x" * 43,
        "code_challenge_method": "S256", "redirect_uri": REDIRECT, "resource": "https://other.example/mcp"})
    assert resp.status_code == 302 and "error=invalid_target" in resp.headers["location"]
    _, tokens = flow.tokens()
    # the same ledger behind a server at another address: the token names the first resource
    for other in _serve(sandbox, ledger):
        refused = Flow(other, flow.key).mcp(tokens["access_token"])
        assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert flow.mcp(tokens["access_token"]).status_code == 200


def test_expired_access_token_is_invalid_token(sandbox: Any, ledger: Any, account_key: str) -> None:
    ledger.upsert_customer("cus_oauth_exp", tier="pro")
    for url in _serve(sandbox, ledger, access_ttl=1):
        f = Flow(url, ledger.create_key("cus_oauth_exp").token)
        _, tokens = f.tokens()
        assert f.mcp(tokens["access_token"]).status_code == 200
        time.sleep(2.1)
        expired = f.mcp(tokens["access_token"])
        assert expired.status_code == 401 and 'error="invalid_token"' in expired.headers["www-authenticate"]


def test_confidential_client_must_present_its_secret_which_is_stored_hashed(flow: Flow, ledger: Any) -> None:
    client = flow.register(token_endpoint_auth_method="client_secret_post")
    code, verifier = flow.authorize(client["client_id"])
    assert flow.token(client["client_id"], code, verifier, client_secret="wrong").status_code == 401
    assert flow.token(client["client_id"], code, verifier, client_secret=client["client_secret"]).status_code == 200
    assert client["client_secret"] not in json.dumps([c.metadata for c in ledger.oauth.clients()])
    assert ledger.oauth.client_secret_hash(client["client_id"]) != client["client_secret"]


def test_consent_takes_customer_keys_only(flow: Flow, ledger: Any) -> None:
    client = flow.register()
    start = httpx.get(f"{flow.url}/authorize", params={
        "client_id": client["client_id"], "response_type": "code", "code_challenge": "x" * 43,
        "code_challenge_method": "S256", "redirect_uri": REDIRECT})
    page = httpx.get(start.headers["location"])
    assert page.headers["x-frame-options"] == "DENY" and "pytest" in page.text
    handle = re.search(r'name=request value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    operator = ledger.create_key(None, operator=True).token
    for key in (operator, "umk_000000000000_" + "y" * 43):
        refused = httpx.post(f"{flow.url}/oauth/consent", data={"request": handle, "api_key": key, "decision": "approve",
                                                                 "scope": "mcp:read"})
        assert refused.status_code == 401 and key not in refused.text
    assert "operator key cannot authorize" in refused.text or "not valid" in refused.text
    denied = httpx.post(f"{flow.url}/oauth/consent", data={"request": handle, "decision": "deny"})
    assert "error=access_denied" in denied.headers["location"]
    assert httpx.post(f"{flow.url}/oauth/consent", data={"request": handle, "decision": "deny"}).status_code == 400


@pytest.mark.anyio
async def test_read_only_token_is_refused_write_tools_unmetered_and_calls_as_the_customer(flow: Flow, ledger: Any) -> None:
    client = flow.register()
    code, verifier = flow.authorize(client["client_id"], scopes=["mcp:read"])
    tokens = flow.token(client["client_id"], code, verifier).json()
    assert tokens["scope"] == "mcp:read"
    async with http_client(f"{flow.url}/mcp", tokens["access_token"]) as mcp:
        refused = await call(mcp, "create_customer", {"name": "Not allowed"})
        assert refused.structured_content["error"] == {
            "type": "insufficient_scope", "required": "mcp:write", "message": error(refused).split(": ", 1)[1]}
        usage = ok(await call(mcp, "get_usage"))
    assert usage["customer"] == "cus_oauth" and usage["calls"] == 1 == ledger.usage("cus_oauth").calls


def test_client_id_metadata_document_client_authorizes_without_registering(flow: Flow, ledger: Any) -> None:
    document: dict[str, Any] = {}
    app = Starlette(routes=[Route("/client.json", lambda request: JSONResponse(document))])
    with serve_app(app) as docs:
        client_id = f"{docs}/client.json"
        document.update(client_id=client_id, client_name="Metadata Doc Client", redirect_uris=[REDIRECT],
                        token_endpoint_auth_method="none")
        code, verifier = flow.authorize(client_id)
        assert flow.token(client_id, code, verifier).status_code == 200
    (known,) = ledger.oauth.clients()
    assert known.kind == "cimd" and known.client_name == "Metadata Doc Client"


def test_operator_revokes_a_client_from_the_cli_and_its_tokens_stop(flow: Flow, ledger: Any, cli: Any, monkeypatch: Any) -> None:
    client, tokens = flow.tokens()
    monkeypatch.setenv("UNIFIEDMCP_LEDGER", str(ledger.path))
    code, listed, _ = cli("oauth", "clients", "list")
    assert code == 0 and client["client_id"] in listed and tokens["access_token"] not in listed
    code, out, _ = cli("oauth", "clients", "revoke", client["client_id"])
    assert code == 0 and "revoked" in out
    assert flow.mcp(tokens["access_token"]).status_code == 401
    refresh = httpx.post(f"{flow.url}/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
                                                   "client_id": client["client_id"]})
    assert refresh.status_code == 401  # the client itself is unknown now


def test_one_customer_cannot_multiply_its_sessions_with_oauth_clients(sandbox: Any, ledger: Any, account_key: str) -> None:
    """Each OAuth client a customer approves is a new credential; the session cap is the
    customer's all the same: 2 sessions in all, whatever mix of its key and its clients' tokens."""
    ledger.upsert_customer("cus_many", tier="free")
    connect_key(sandbox, ledger, "cus_many", account_key)
    port = free_port()
    app = create_app(customer_runtime(sandbox, ledger, sessions_per_key=2, session_idle_seconds=120.0),
                     base_url=f"http://127.0.0.1:{port}", oauth=OAuthOptions(http_loopback_clients=True))
    with serve_app(app, port=port) as url:
        flow = Flow(url, ledger.create_key("cus_many").token)
        assert [flow.mcp(flow.key).status_code for _ in range(2)] == [200, 200]
        for _ in range(3):
            _, tokens = flow.tokens()
            assert flow.mcp(tokens["access_token"]).status_code == 429


def test_client_registrations_from_one_address_are_rate_limited(flow: Flow, ledger: Any) -> None:
    """/register is unauthenticated and writes a ledger row per request: one address gets a
    burst of 30, then 429 with Retry-After and nothing stored; registered clients keep working."""
    body = {"redirect_uris": [REDIRECT], "client_name": "flood", "token_endpoint_auth_method": "none"}
    answers = [httpx.post(f"{flow.url}/register", json=body).status_code for _ in range(40)]
    assert answers[:30] == [201] * 30 and set(answers[30:]) == {429}
    refused = httpx.post(f"{flow.url}/register", json=body)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"] == "temporarily_unavailable"
    assert len(ledger.oauth.clients()) == 30
    client = ledger.oauth.clients()[0]
    code, verifier = flow.authorize(client.client_id)
    assert flow.token(client.client_id, code, verifier).status_code == 200


def test_operator_server_has_no_authorization_server(sandbox: Any, ledger: Any) -> None:
    from unifiedmcp.server import Runtime, ServerOptions

    runtime = Runtime(stripe_client=sandbox.client(), ledger=ledger, options=ServerOptions(role="operator"))
    with serve_app(create_app(runtime, base_url="http://127.0.0.1")) as url:
        assert httpx.get(f"{url}/.well-known/oauth-authorization-server").status_code == 404
        assert httpx.post(f"{url}/register", json={}).status_code in (404, 405)
        challenge = httpx.post(f"{url}/mcp", json={}).headers["www-authenticate"]
        assert "resource_metadata" not in challenge and "error=" not in challenge


@pytest.mark.parametrize("url", [
    "https://127.1/client.json", "https://2130706433/client.json", "https://0x7f000001/client.json",
    "https://localhost./client.json", "https://10.0.0.1/client.json", "https://[::1]/client.json",
])
def test_a_metadata_document_inside_the_network_is_never_fetched(ledger: Any, url: str) -> None:
    """A client id URL whose host resolves to a loopback or private address (however it is
    spelled) is refused before any request: no probing of internal services through /authorize."""
    import anyio

    from unifiedmcp.server._oauth._clients import MetadataDocuments

    fetched: list[str] = []

    class Recording(MetadataDocuments):
        async def _fetch(self, target: str) -> None:  # type: ignore[override]
            fetched.append(target)

    assert anyio.run(Recording(ledger, http_loopback=False).client, url) is None
    assert fetched == [] and ledger.oauth.clients() == []
