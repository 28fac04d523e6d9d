"""Connecting customers' own Stripe accounts against the sandbox (several accounts, Connect OAuth):
the OAuth flow's bad input (replayed, expired or foreign state, denied consent, an invalid code,
the operator's own account, a full tier) each ends in a clear page and stores nothing; removing a
connection deauthorizes it; keys a customer supplies are stored encrypted (the ledger file holds
no credential in clear), a wrong UNIFIEDMCP_SECRET_KEY is a clear error, rotation re-encrypts."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from unifiedmcp.accounts import (
    Accounts,
    Caller,
    CredentialCipher,
    authorize_url,
    create_connect_app,
    disconnect,
    new_secret_key,
)
from unifiedmcp.billing.testing import free_port, serve_app
from unifiedmcp.config import Settings
from unifiedmcp.errors import ConnectionCapReached, CredentialUnreadable
from unifiedmcp.ledger import Ledger

SECRET_KEY = new_secret_key()


@dataclass
class Flow:
    sb: Any
    ledger: Ledger
    settings: Settings
    url: str  # the callback app's base URL

    def platform(self, **options: Any) -> stripe.StripeClient:
        """The operator's client as ``build_client`` makes it: with the Connect client id."""
        return self.sb.client(client_id=self.settings.stripe_connect_client_id, **options)

    def link(self, customer: str, **extra: str) -> str:
        url = authorize_url(self.ledger, self.platform(), customer=customer, settings=self.settings, base_url=self.url)
        return str(httpx.URL(url).copy_merge_params(extra)) if extra else url

    def approve(self, link: str) -> httpx.Response:
        """The customer on Stripe's page (test mode "skip this form"), then back at our callback."""
        authorize = httpx.get(link, follow_redirects=False, timeout=10)
        assert authorize.status_code == 302, authorize.text
        return httpx.get(authorize.headers["location"], timeout=30)


@pytest.fixture
def flow(fresh_sandbox: Any, tmp_path: Path) -> Iterator[Flow]:
    sb = fresh_sandbox
    settings = Settings(
        _env_file=None, stripe_api_key=sb.api_key, stripe_api_base=sb.url,
        stripe_connect_client_id=sb.connect_client_id(), secret_key=SECRET_KEY,
    )
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        ledger.upsert_customer("cus_free", tier="free")
        ledger.upsert_customer("cus_pro", tier="pro")
        operator = sb.client(client_id=settings.stripe_connect_client_id)
        app = create_connect_app(ledger=ledger, operator_client=operator,
                                 cipher_factory=lambda: CredentialCipher(SECRET_KEY))
        port = free_port()
        with serve_app(app, port=port) as url:
            yield Flow(sb, ledger, settings, url)


def test_the_flow_connects_the_customers_own_account(flow: Flow) -> None:
    page = flow.approve(flow.link("cus_pro"))
    assert page.status_code == 200 and "Connected" in page.text
    [conn] = flow.ledger.connections("cus_pro")
    assert conn.kind == "oauth" and conn.account.startswith("acct_") and conn.account != flow.sb.account_id
    # the platform can now act on it, and the customer's calls go there
    accounts = Accounts(ledger=flow.ledger, settings=flow.settings, operator_client=flow.sb.client(),
                        cipher=CredentialCipher(SECRET_KEY), max_network_retries=0)
    target = accounts.resolve(Caller.of_customer("cus_pro"))
    assert target.client.v1.accounts.retrieve_current().id == conn.account


def test_a_replayed_callback_stores_nothing_more(flow: Flow) -> None:
    authorize = httpx.get(flow.link("cus_pro"), follow_redirects=False, timeout=10)
    back = authorize.headers["location"]
    assert httpx.get(back, timeout=30).status_code == 200
    again = httpx.get(back, timeout=30)
    assert again.status_code == 400 and "already used" in again.text
    assert len(flow.ledger.connections("cus_pro")) == 1


def test_an_expired_or_foreign_state_is_refused(flow: Flow) -> None:
    state = "expired-state-value"
    flow.ledger.add_connect_state(
        hashlib.sha256(state.encode()).digest(), customer_id="cus_pro", provider="stripe",
        redirect_uri=f"{flow.url}/oauth/stripe/callback", expires_at=datetime.now(UTC) - timedelta(seconds=1),
    )
    expired = httpx.get(f"{flow.url}/oauth/stripe/callback", params={"code": "ac_x", "state": state}, timeout=10)
    assert expired.status_code == 400 and "expired" in expired.text
    foreign = httpx.get(f"{flow.url}/oauth/stripe/callback", params={"code": "ac_x", "state": "never-issued"}, timeout=10)
    assert foreign.status_code == 400 and "unknown OAuth state" in foreign.text
    assert flow.ledger.connections("cus_pro") == []


def test_denied_consent_is_a_clear_page(flow: Flow) -> None:
    page = flow.approve(flow.link("cus_pro", deny="1"))
    assert page.status_code == 400 and "not granted (access_denied)" in page.text
    assert flow.ledger.connections("cus_pro") == []


def test_an_invalid_code_is_refused_and_nothing_is_stored(flow: Flow) -> None:
    state = httpx.URL(flow.link("cus_pro")).params["state"]
    page = httpx.get(f"{flow.url}/oauth/stripe/callback", params={"code": "ac_bogus", "state": state}, timeout=30)
    assert page.status_code == 400 and "Stripe refused the authorization code (invalid_grant)" in page.text
    assert "ac_bogus" not in page.text and state not in page.text
    assert flow.ledger.connections("cus_pro") == []


def test_the_operators_own_account_cannot_be_connected_through_oauth(flow: Flow) -> None:
    """Stripe (and the sandbox) refuse connecting a platform to itself; the resolver and
    ``connect_api_key`` refuse the operator's account too (test_resolver, the CLI test below)."""
    authorize = httpx.get(flow.link("cus_pro", stripe_account=flow.sb.account_id), follow_redirects=False, timeout=10)
    assert authorize.status_code == 400 and "No such account to connect" in authorize.text
    assert flow.ledger.connections("cus_pro") == []


def test_a_full_tier_is_refused_up_front_and_a_late_grant_is_taken_back(flow: Flow) -> None:
    link = flow.link("cus_free")  # room for one when the link is made...
    flow.ledger.add_connection("cus_free", "github")  # ...but not when the customer comes back
    with pytest.raises(ConnectionCapReached):
        flow.link("cus_free")
    authorize = httpx.get(link, follow_redirects=False, timeout=10)
    page = httpx.get(authorize.headers["location"], timeout=30)
    assert page.status_code == 409 and "the most tier free allows" in page.text
    assert [c.provider for c in flow.ledger.connections("cus_free")] == ["github"]


def test_removing_a_connection_deauthorizes_the_grant(flow: Flow) -> None:
    flow.approve(flow.link("cus_pro"))
    [conn] = flow.ledger.connections("cus_pro")
    as_platform = flow.platform(stripe_account=conn.account)
    assert as_platform.v1.customers.list({"limit": 1}).data == []  # works while connected
    disconnect(flow.ledger, flow.platform(), conn.connection_id)
    assert flow.ledger.connections("cus_pro") == []
    with pytest.raises(stripe.PermissionError):
        as_platform.v1.customers.list({"limit": 1})


# -- keys a customer supplies (through the CLI) --------------------------------------------------


@pytest.fixture
def cli_env(fresh_sandbox: Any, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("STRIPE_API_KEY", fresh_sandbox.api_key)
    monkeypatch.setenv("STRIPE_API_BASE", fresh_sandbox.url)
    monkeypatch.setenv("UNIFIEDMCP_SECRET_KEY", SECRET_KEY)
    return fresh_sandbox


def test_a_supplied_key_is_stored_encrypted_and_never_shown(cli: Any, cli_env: Any, isolated_env: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _, account_key = cli_env.create_account()
    restricted = cli_env.create_restricted_key(["rak_account_read", "rak_customer_read"], api_key=account_key)
    monkeypatch.setenv("CUSTOMER_KEY", restricted)
    assert cli("customers", "add", "cus_k", "--tier", "pro")[0] == 0
    code, out, err = cli("connections", "add", "--customer", "cus_k", "--provider", "stripe", "--api-key-env", "CUSTOMER_KEY")
    assert code == 0, err
    assert "api_key" in out and restricted not in out + err
    code, out, err = cli("connections", "list", "--customer", "cus_k")
    assert code == 0 and restricted not in out and "api_key" in out
    ledger_bytes = b"".join(p.read_bytes() for p in (isolated_env / "data").glob("ledger.sqlite3*"))
    assert restricted.encode() not in ledger_bytes and restricted[8:].encode() not in ledger_bytes


def test_the_operators_own_key_is_refused_as_a_customer_connection(cli: Any, cli_env: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTOMER_KEY", cli_env.api_key)
    cli("customers", "add", "cus_k", "--tier", "pro")
    code, _, err = cli("connections", "add", "--customer", "cus_k", "--provider", "stripe", "--api-key-env", "CUSTOMER_KEY")
    assert code == 1 and "operator's own Stripe account" in err and cli_env.api_key not in err
    assert "conn_" not in cli("connections", "list", "--customer", "cus_k")[1]  # nothing stored


def test_a_wrong_secret_key_is_clear_and_rotation_reencrypts(cli: Any, cli_env: Any, isolated_env: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _, account_key = cli_env.create_account()
    monkeypatch.setenv("CUSTOMER_KEY", account_key)
    cli("customers", "add", "cus_k", "--tier", "pro")
    assert cli("connections", "add", "--customer", "cus_k", "--provider", "stripe", "--api-key-env", "CUSTOMER_KEY")[0] == 0
    ledger_path = isolated_env / "data" / "ledger.sqlite3"

    def resolve(secret: str) -> Any:
        settings = Settings(_env_file=None, stripe_api_key=cli_env.api_key, stripe_api_base=cli_env.url, secret_key=secret)
        with Ledger(ledger_path) as ledger:
            accounts = Accounts(ledger=ledger, settings=settings, operator_client=None,
                                cipher=CredentialCipher(secret), max_network_retries=0)
            return accounts.resolve(Caller.of_customer("cus_k")).client.v1.accounts.retrieve_current().id

    account = resolve(SECRET_KEY)
    with pytest.raises(CredentialUnreadable):
        resolve(new_secret_key())
    newer = new_secret_key()
    monkeypatch.setenv("UNIFIEDMCP_SECRET_KEY", f"{newer},{SECRET_KEY}")
    code, out, _ = cli("connections", "rotate-keys")
    assert code == 0 and "re-encrypted 1 credential" in out
    assert resolve(newer) == account  # the old key is no longer needed
    monkeypatch.setenv("UNIFIEDMCP_SECRET_KEY", "not-a-valid-key")
    code, _, err = cli("connections", "rotate-keys")
    assert code == 1 and "UNIFIEDMCP_SECRET_KEY is malformed" in err and "not-a-valid-key" not in err


def test_an_unknown_state_makes_no_call_with_the_operators_key(tmp_path: Path) -> None:
    """An unauthenticated callback with a junk state is refused before the operator's key is used
    (here the platform's API is unreachable, so any call would show as a 502, not this 400)."""
    dead = stripe.StripeClient("sk_test_operator", base_addresses={"api": f"http://127.0.0.1:{free_port()}"},
                               max_network_retries=0)
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        app = create_connect_app(ledger=ledger, operator_client=dead, cipher_factory=lambda: CredentialCipher(SECRET_KEY))
        port = free_port()
        with serve_app(app, port=port) as url:
            resp = httpx.get(f"{url}/oauth/stripe/callback", params={"code": "ac_x", "state": "junk"}, timeout=30)
    assert resp.status_code == 400 and "unknown OAuth state" in resp.text


# -- encryption: what the ledger file holds, and refusals that change nothing -------------------


class _Tap(stripe.HTTPClient):
    """Stripe's HTTP layer, recording every response body (to learn the tokens Stripe granted)."""

    name = "tap"

    def __init__(self) -> None:
        super().__init__()
        self._inner = stripe.new_default_http_client()
        self.bodies: list[tuple[str, str]] = []

    def request(self, method: str, url: str, headers: Any, post_data: Any = None, **kw: Any) -> Any:
        body, code, resp_headers = self._inner.request(method, url, headers, post_data)
        self.bodies.append((url, body))
        return body, code, resp_headers

    def close(self) -> None:
        self._inner.close()


def _ledger_bytes(path: Path) -> bytes:
    """The ledger file with its WAL and shared-memory files, as a disk image would hold them."""
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


def _ledger_digest(path: Path) -> str:
    import sqlite3

    with closing(sqlite3.connect(path)) as db:
        return hashlib.sha256("\n".join(db.iterdump()).encode()).hexdigest()


def test_the_granted_tokens_never_reach_the_ledger_file_in_clear(fresh_sandbox: Any, tmp_path: Path) -> None:
    """After the whole Connect OAuth flow, the refresh token Stripe granted is stored (it decrypts
    from the connection's credential), yet neither it nor the access token appears anywhere in
    the ledger's bytes (the main file, its WAL, its shared memory)."""
    import json

    sb = fresh_sandbox
    settings = Settings(_env_file=None, stripe_api_key=sb.api_key, stripe_api_base=sb.url,
                        stripe_connect_client_id=sb.connect_client_id(), secret_key=SECRET_KEY)
    tap = _Tap()
    path = tmp_path / "ledger.sqlite3"
    with Ledger(path) as ledger:
        ledger.upsert_customer("cus_pro", tier="pro")
        operator = sb.client(client_id=settings.stripe_connect_client_id, http_client=tap)
        app = create_connect_app(ledger=ledger, operator_client=operator,
                                 cipher_factory=lambda: CredentialCipher(SECRET_KEY))
        port = free_port()
        with serve_app(app, port=port) as url:
            flow = Flow(sb, ledger, settings, url)
            page = flow.approve(flow.link("cus_pro"))
        assert page.status_code == 200 and "Connected" in page.text
        [grant] = [json.loads(body) for u, body in tap.bodies if u.endswith("/oauth/token")]
        [conn] = ledger.connections("cus_pro")
        stored = ledger.connection_credential(conn.connection_id)
        assert stored and CredentialCipher(SECRET_KEY).decrypt(stored, connection_id="c") == grant["refresh_token"]
        on_disk = _ledger_bytes(path)
    secrets = [grant["refresh_token"], grant["access_token"]]
    assert all(len(s) > 20 for s in secrets)
    for secret in secrets:
        body = secret.split("_", 2)[-1]  # without the rt_/sk_test_ prefix
        assert secret.encode() not in on_disk and body.encode() not in on_disk
    assert conn.account.encode() in on_disk  # the grep does see the connection's row


def test_adding_a_key_without_a_secret_key_is_refused_and_changes_nothing(
    cli: Any, cli_env: Any, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A valid customer key but no UNIFIEDMCP_SECRET_KEY: one clear error line, exit 1, no
    connection, the ledger byte-for-byte unchanged, the key not echoed."""
    _, account_key = cli_env.create_account()
    monkeypatch.setenv("CUSTOMER_KEY", account_key)
    assert cli("customers", "add", "cus_k", "--tier", "pro")[0] == 0
    monkeypatch.delenv("UNIFIEDMCP_SECRET_KEY")
    path = isolated_env / "data" / "ledger.sqlite3"
    before = _ledger_digest(path)
    code, out, err = cli("connections", "add", "--customer", "cus_k", "--provider", "stripe", "--api-key-env", "CUSTOMER_KEY")
    assert code == 1
    [line] = err.strip().splitlines()
    assert line.startswith("error: ") and "UNIFIEDMCP_SECRET_KEY is not set" in line
    assert account_key not in out + err
    assert _ledger_digest(path) == before
    with Ledger(path) as ledger:
        assert ledger.connections("cus_k") == []


@pytest.mark.parametrize("listed", ["wrong", "new-then-wrong"])
def test_rotation_under_a_wrong_key_fails_and_changes_nothing(
    cli: Any, cli_env: Any, isolated_env: Path, monkeypatch: pytest.MonkeyPatch, listed: str
) -> None:
    """``connections rotate-keys`` when UNIFIEDMCP_SECRET_KEY is well formed but cannot read the
    stored credentials (a wrong key; or a new key first and a wrong one after, the rotation setup
    gone wrong) exits 1 with a clear error, and the ledger is byte-for-byte unchanged: one
    credential it can read (under the key listed) is not re-encrypted either."""
    keys = []
    for customer in ("cus_k", "cus_j"):
        _, account_key = cli_env.create_account()
        monkeypatch.setenv("CUSTOMER_KEY", account_key)
        cli("customers", "add", customer, "--tier", "pro")
        keys.append(new_secret_key())
        monkeypatch.setenv("UNIFIEDMCP_SECRET_KEY", keys[-1])  # each credential under its own key
        code, _, err = cli("connections", "add", "--customer", customer, "--provider", "stripe",
                           "--api-key-env", "CUSTOMER_KEY")
        assert code == 0, err
    path = isolated_env / "data" / "ledger.sqlite3"
    before = _ledger_digest(path)
    wrong = new_secret_key()
    value = wrong if listed == "wrong" else f"{new_secret_key()},{keys[0]},{wrong}"  # cus_j's key missing
    monkeypatch.setenv("UNIFIEDMCP_SECRET_KEY", value)
    code, out, err = cli("connections", "rotate-keys")
    assert code == 1, out
    [line] = err.strip().splitlines()
    assert line.startswith("error: ") and "UNIFIEDMCP_SECRET_KEY" in line and "conn_" in line
    assert all(k not in err for k in [*keys, wrong])
    assert _ledger_digest(path) == before
