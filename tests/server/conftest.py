"""Fixtures of the MCP server tests: a ledger, a runtime on the sandbox, in-memory clients."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import mcp
import pytest
import stripe
from mcp_types import CallToolResult

from unifiedmcp.accounts import Accounts, CredentialCipher, connect_api_key, new_secret_key
from unifiedmcp.billing.testing import free_port  # noqa: F401 (the server tests import it from here)
from unifiedmcp.config import Settings
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


def npm_install(name: str, *packages: str, what: str) -> Path:
    """``scripts/install-npm.sh NAME PACKAGES...`` (once per machine, under .cache/NAME): the
    folder. Without Node.js the test fails under ``make test`` (which sets UNIFIEDMCP_REQUIRE_NODE and
    installs it: never a silent skip in CI), and is skipped, saying so, in a bare pytest run."""
    import shutil
    import subprocess

    if shutil.which("node") is None or shutil.which("npm") is None:
        message = f"Node.js (node and npm) is not installed: {what} cannot run"
        if os.environ.get("UNIFIEDMCP_REQUIRE_NODE"):
            pytest.fail(message + " (make test installs it: scripts/system-deps.sh)")
        pytest.skip(message)
    script = Path(__file__).resolve().parents[2] / "scripts" / "install-npm.sh"
    proc = subprocess.run(["bash", str(script), name, *packages], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return Path(proc.stdout.strip().splitlines()[-1])


SECRET_KEY = new_secret_key()  # encrypts the test connections' keys


def accounts_for(sandbox: Any, ledger: Ledger, *, operator_key: str | None = None) -> Accounts:
    """An :class:`Accounts` resolver on the sandbox (the sandbox's key is the operator's)."""
    settings = Settings(
        stripe_api_key=operator_key or sandbox.api_key, stripe_api_base=sandbox.url, secret_key=SECRET_KEY
    )
    return Accounts(
        ledger=ledger, settings=settings, operator_client=sandbox.client(), cipher=CredentialCipher(SECRET_KEY),
        operator_account=sandbox.account_id, max_network_retries=0,
    )


def key_runtime(api_base: str, ledger: Ledger, customer: str, key: str, **options: Any) -> Runtime:
    """A customer server whose customer's connection holds ``key`` for an API at ``api_base``
    (stored as-is, without the read call that connecting makes: for stub servers)."""
    cipher = CredentialCipher(SECRET_KEY)
    ledger.add_connection(customer, "stripe", account="acct_stub", kind="api_key", credential=cipher.encrypt(key))
    settings = Settings(stripe_api_base=api_base, secret_key=SECRET_KEY)
    accounts = Accounts(ledger=ledger, settings=settings, operator_client=None, cipher=cipher, max_network_retries=0)
    return Runtime(stripe_client=None, ledger=ledger, accounts=accounts, options=ServerOptions(customer=customer, **options))


def connect_key(sandbox: Any, ledger: Ledger, customer: str, key: str) -> str:
    """Connect ``customer`` to the account of ``key`` (a key the customer supplied); its acct_ id."""
    accounts = accounts_for(sandbox, ledger)
    conn = connect_api_key(
        ledger, customer=customer, key=key, settings=accounts.settings, cipher=accounts.cipher,
        operator_account=accounts.operator_account,
    )
    return conn.account


def customer_runtime(sandbox: Any, ledger: Ledger, **options: Any) -> Runtime:
    """A customer server's runtime on the sandbox (connect the customer first: :func:`connect_key`)."""
    return Runtime(
        stripe_client=sandbox.client(), ledger=ledger, accounts=accounts_for(sandbox, ledger),
        options=ServerOptions(**options),
    )


@pytest.fixture
def account_key(sandbox: Any) -> str:
    """The secret key of a new sandbox account: the Stripe account the test customer connects
    (its own, never the operator's, which is the sandbox's primary account)."""
    return sandbox.create_account()[1]


@pytest.fixture
def customer_stripe(sandbox: Any, account_key: str) -> stripe.StripeClient:
    """A Stripe client on the customer's connected account, to check what its tools did."""
    return sandbox.client(api_key=account_key)


@pytest.fixture
def make_runtime(sandbox: Any, ledger: Ledger, customer: str, account_key: str) -> Callable[..., Runtime]:
    connect_key(sandbox, ledger, customer, account_key)

    def make(**options: Any) -> Runtime:
        options.setdefault("customer", customer)
        return customer_runtime(sandbox, ledger, **options)

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


_SCHEMAS: dict[int, dict[str, Any]] = {}


async def call(client: mcp.Client, name: str, args: dict[str, Any] | None = None) -> CallToolResult:
    """Call a tool; a successful result is validated against the tool's advertised output schema
    (JSON Schema 2020-12), so every tool test also checks that the schema tells the truth."""
    result = await client.call_tool(name, args or {})
    if not result.is_error:
        if id(client) not in _SCHEMAS:
            _SCHEMAS[id(client)] = {t.name: t.output_schema for t in (await client.list_tools()).tools}
        jsonschema.Draft202012Validator(_SCHEMAS[id(client)][name]).validate(result.structured_content)
    return result


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
