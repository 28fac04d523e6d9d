"""pytest plugin: a real sandbox server for tests (``pytest_plugins = ["unifiedmcp.sandbox.testing"]``).

Fixtures
--------
``sandbox`` (function scope)
    A :class:`~unifiedmcp.sandbox.SandboxServer` running uvicorn on ``127.0.0.1`` at a free port in
    a background thread. It is shared by the tests of one pytest(-xdist) worker, so create your own
    customers/prices (never assume an empty account); settings changed during a test (dunning,
    chaos, rate limit) and the primary account's webhook endpoints added during it are reset when
    the test ends (accounts, keys and connections stay). Attributes and helpers:

    - ``sandbox.url``, ``sandbox.api_key``, ``sandbox.account_id`` (the primary account);
      ``sandbox.env()`` -> ``{"STRIPE_API_KEY", "STRIPE_API_BASE"}``
    - ``sandbox.client(api_key=None, stripe_account=None, **options)`` ->
      ``stripe.StripeClient(api_key or sandbox.api_key, base_addresses={"api": url, "connect": url},
      stripe_account=..., max_network_retries=0)``
    - ``sandbox.create_account(email=None, business_name=None)`` -> ``("acct_...", "sk_test_...")``
    - ``sandbox.create_restricted_key(["rak_customer_read", ...], api_key=None)`` -> ``"rk_test_..."``
    - ``sandbox.connect_client_id(api_key=None)`` -> ``"ca_..."`` (for ``/oauth/authorize``)
    - ``sandbox.add_webhook_endpoint(url, events=("*",))`` -> ``(endpoint_id, "whsec_...")``
    - ``sandbox.set_dunning(retry_days=[3, 5, 7], final_action="cancel" | "unpaid" | "past_due")``
    - ``sandbox.set_chaos(duplicate=0.0, delay_seconds=0.0, reorder=False, reorder_window_seconds=0.25, seed=None)``
    - ``sandbox.settings(**values)`` (all settings: see :class:`unifiedmcp.sandbox.SandboxSettings`)
    - ``sandbox.deliveries()``, ``sandbox.wait_for_webhooks(timeout=10)``

    Control paths behind these helpers (JSON; ``Authorization: Bearer <key>``):
    ``GET/POST /_sandbox/settings``, ``GET /_sandbox/deliveries``, ``POST /_sandbox/accounts``,
    ``POST /_sandbox/restricted_keys``, ``GET /_sandbox/connect``, ``GET /_sandbox/health`` (no
    key); Connect OAuth: ``GET /oauth/authorize`` (no key), ``POST /oauth/token``,
    ``POST /oauth/deauthorize``. See ``docs/sandbox.md``.

``fresh_sandbox`` (function scope)
    The same, but a private server started for this test only (empty account; about 0.1 s).

``webhook_receiver`` (function scope)
    A :class:`~unifiedmcp.sandbox.WebhookReceiver`: ``.url``, ``.received``, ``.events()``,
    ``.wait_for_types("invoice.paid", ...)``, ``.fail_next(n, status=500)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._receiver import WebhookReceiver
from ._server import SandboxServer, serve_in_thread
from ._settings import SandboxSettings

__all__ = ["sandbox", "sandbox_server", "fresh_sandbox", "webhook_receiver"]


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    """One sandbox per test session (per xdist worker)."""
    server = serve_in_thread()
    try:
        yield server
    finally:
        server.stop()


def _reset(server: SandboxServer, endpoints_before: set[str]) -> None:
    server.settings(**SandboxSettings().to_dict())
    client = server.client()
    for we in client.v1.webhook_endpoints.list({"limit": 100}).auto_paging_iter():
        if we.id not in endpoints_before:
            client.v1.webhook_endpoints.delete(we.id)


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxServer]:
    """The shared sandbox; settings and new webhook endpoints are reset after the test."""
    before = {we.id for we in sandbox_server.client().v1.webhook_endpoints.list({"limit": 100}).auto_paging_iter()}
    yield sandbox_server
    _reset(sandbox_server, before)


@pytest.fixture
def fresh_sandbox() -> Iterator[SandboxServer]:
    """A private, empty sandbox for this test only."""
    server = serve_in_thread()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    try:
        yield receiver
    finally:
        receiver.close()
