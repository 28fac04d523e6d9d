"""The stack the subscription-lifecycle flow notebook drives: Stripe (the local sandbox, or Stripe
test mode), our webhook receiver on 127.0.0.1, a fresh ledger, and the MCP server in memory.

    with lifecycle_stack() as stack:               # sandbox unless STRIPE_API_KEY holds a test key
        cid, clock = stack.customer_on_clock("a@example.com", frozen_time=...)
        subscribe(stack.client, "a@example.com", "pro", payment_method="pm_card_visa")
        stack.settle()                             # every webhook delivered and applied
        account = stack.connect_account(cid)       # the customer's own Stripe account (Connect OAuth)
        await stack.call_tools(cid, "retrieve_balance", n=5)    # metered MCP calls, on that account
        stack.advance(clock, to=...)               # renewals, retries, cancellation
        con = stack.warehouse(cid)                 # the customer's objects in a DuckDB warehouse

Webhooks: the sandbox signs and delivers them to the receiver itself. Stripe cannot reach
127.0.0.1, so in test mode :meth:`settle` does what ``stripe listen`` does: it reads new events of
the flow's customers from the events API and posts them, signed with a local secret, to the same
receiver. Secrets stay in memory: the flow never prints them and never takes them as parameters.

Tenancy: the customer's MCP calls act on the customer's own Stripe account, never the operator's.
On the sandbox, :meth:`connect_account` runs the whole Connect OAuth flow (the authorize link,
the sandbox's "skip this form" page, the callback beside the receiver, the token exchange). In
Stripe test mode a browser would be needed for that, so it connects the account of a test key the
environment variable ``customer_key_variable`` holds instead (a second test account's key).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import duckdb
import httpx

from starlette.applications import Starlette
from starlette.routing import Mount, Route

from .. import warehouse as wh
from ..accounts import (
    CALLBACK_PATH,
    STRIPE,
    Accounts,
    CredentialCipher,
    authorize_url,
    connect_api_key,
    create_connect_app,
    new_secret_key,
    operator_account_id,
)
from ..billing import WEBHOOK_PATH, as_dict, build_client, create_webhook_app, ensure_catalog
from ..billing.testing import free_port, serve_app, sign_payload
from ..config import Settings
from ..errors import UnifiedMCPError
from ..ledger import Ledger

__all__ = ["LifecycleStack", "TEST_KEY_PREFIXES", "lifecycle_stack", "start_lifecycle_stack"]

TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")
# Object types of a customer's history, and how to list them for one customer.
_HISTORY = ("subscription", "invoice", "charge", "payment_intent")


class LifecycleStack:
    """See the module docstring. ``mode`` is ``"sandbox"`` or ``"stripe-test"``."""

    def __init__(self, *, mode: str, client: Any, ledger: Ledger, settings: Settings, receiver_url: str,
                 sandbox: Any = None, forward_secret: str | None = None, resources: ExitStack | None = None,
                 customer_key_variable: str = "STRIPE_CUSTOMER_KEY") -> None:
        self.mode = mode
        self.client = client
        self.ledger = ledger
        self.settings = settings
        self.receiver_url = receiver_url
        self._sandbox = sandbox
        self._forward_secret = forward_secret
        self._customers: set[str] = set()
        self._forwarded: set[str] = set()
        self._since = int(time.time()) - 5
        self._resources = resources or ExitStack()
        self._customer_key_variable = customer_key_variable
        self._accounts: Accounts | None = None

    def close(self) -> None:
        """Stop the receiver and the sandbox, close the ledger, remove the temporary folder."""
        try:
            self.settle()
        finally:
            self._resources.close()

    def __repr__(self) -> str:  # no key, no secret
        return f"LifecycleStack(mode={self.mode!r})"

    # -- customers and time -------------------------------------------------------------------
    def set_dunning(self, *, retry_days: list[float], final_action: str = "cancel") -> bool:
        """Failed-payment retries and final action: set on the sandbox (True); in Stripe test mode
        they are the account's dashboard settings and are left alone (False)."""
        if self._sandbox is None:
            return False
        self._sandbox.set_dunning(retry_days=list(retry_days), final_action=final_action)
        return True

    def customer_on_clock(self, email: str, *, frozen_time: int) -> tuple[str, str]:
        """A new customer on a new test clock frozen at ``frozen_time``: (customer id, clock id)."""
        clock = self.client.v1.test_helpers.test_clocks.create({"frozen_time": int(frozen_time)})
        cus = self.client.v1.customers.create({"email": email, "test_clock": clock.id})
        self._customers.add(cus.id)
        return cus.id, clock.id

    def advance(self, clock: str, *, to: int, timeout: float = 120) -> None:
        """Advance the test clock to ``to`` (Unix seconds), wait until it is ready, then settle."""
        self.client.v1.test_helpers.test_clocks.advance(clock, {"frozen_time": int(to)})
        deadline = time.monotonic() + timeout
        while self.client.v1.test_helpers.test_clocks.retrieve(clock).status != "ready":
            if time.monotonic() > deadline:
                raise UnifiedMCPError(f"test clock {clock} did not become ready in {timeout:g} s")
            time.sleep(1)
        self.settle()

    def settle(self, *, timeout: float = 30) -> None:
        """Every webhook so far delivered to the receiver and applied."""
        if self._sandbox is not None:
            self._sandbox.wait_for_webhooks(timeout=timeout)
        else:
            self._forward_events()

    def _forward_events(self) -> None:
        events = self.client.v1.events.list({"created": {"gte": self._since}, "limit": 100})
        new = []
        for evt in events.auto_paging_iter():
            e = evt.to_dict()
            obj = (e.get("data") or {}).get("object") or {}
            owner = obj.get("customer") if obj.get("object") != "customer" else obj.get("id")
            if e["id"] not in self._forwarded and owner in self._customers:
                new.append(e)
        for e in sorted(new, key=lambda x: x["created"]):
            body = json.dumps(e)
            resp = httpx.post(self.receiver_url, content=body, timeout=30, headers={
                "Content-Type": "application/json",
                "Stripe-Signature": sign_payload(body, self._forward_secret or ""),
            })
            resp.raise_for_status()
            self._forwarded.add(e["id"])

    # -- the customer's own account, and the MCP server ----------------------------------------
    @property
    def accounts(self) -> Accounts:
        """The resolver the MCP server uses: customers reach only their own connections."""
        if self._accounts is None:
            self._accounts = Accounts(
                ledger=self.ledger, settings=self.settings, operator_client=self.client,
                cipher=CredentialCipher(self.settings.secret_key), operator_account=operator_account_id(self.client),
                max_network_retries=0,
            )
        return self._accounts

    def connect_account(self, customer: str) -> str:
        """Connect ``customer``'s own Stripe account; returns its ``acct_`` id (see the module docstring)."""
        base = self.receiver_url.removesuffix(WEBHOOK_PATH)
        if self._sandbox is not None:
            link = authorize_url(self.ledger, self.client, customer=customer, settings=self.settings, base_url=base)
            authorize = httpx.get(link, follow_redirects=False, timeout=30)
            if authorize.status_code != 302:
                raise UnifiedMCPError(f"the sandbox's authorize page answered {authorize.status_code}")
            page = httpx.get(authorize.headers["location"], timeout=60)
            if page.status_code != 200:
                raise UnifiedMCPError(f"the Connect callback answered {page.status_code}: not connected")
        else:
            key = os.environ.get(self._customer_key_variable, "").strip()
            if not key.startswith(TEST_KEY_PREFIXES):
                raise UnifiedMCPError(
                    f"in Stripe test mode the flow connects the customer's own account with a test key of a second "
                    f"account: set {self._customer_key_variable} (never the operator's key)"
                )
            connect_api_key(self.ledger, customer=customer, key=key, settings=self.settings,
                            cipher=CredentialCipher(self.settings.secret_key),
                            operator_account=self.accounts.operator_account)
        return self.ledger.connections(customer, provider=STRIPE)[-1].account

    async def call_tools(self, customer: str, tool: str, *, n: int = 1, arguments: dict[str, Any] | None = None) -> list[Any]:
        """Call ``tool`` ``n`` times through the MCP server (in memory), metered as ``customer``, on
        ``customer``'s connected account."""
        import mcp

        from ..server import Runtime, ServerOptions, build_server

        runtime = Runtime(stripe_client=self.client, ledger=self.ledger, accounts=self.accounts,
                          options=ServerOptions(customer=customer))
        server = build_server(runtime)
        _quiet()  # building the server turns on INFO logging of every HTTP request
        results = []
        async with mcp.Client(server) as c:
            for _ in range(n):
                results.append(await c.call_tool(tool, dict(arguments or {})))
        return results

    # -- the warehouse ------------------------------------------------------------------------
    def warehouse(self, customer: str) -> duckdb.DuckDBPyConnection:
        """An in-memory warehouse with ``customer`` and its history (subscriptions, invoices,
        charges, payment intents), plus the price catalog, loaded through the warehouse loaders."""
        v1 = self.client.v1
        objects: dict[str, list[dict[str, Any]]] = {
            "customer": [as_dict(v1.customers.retrieve(customer))],
            "subscription": _all(v1.subscriptions.list({"customer": customer, "status": "all", "limit": 100})),
            "invoice": _all(v1.invoices.list({"customer": customer, "limit": 100})),
            "charge": _all(v1.charges.list({"customer": customer, "limit": 100})),
            "payment_intent": _all(v1.payment_intents.list({"customer": customer, "limit": 100})),
            "price": _all(v1.prices.list({"limit": 100})),
            "product": _all(v1.products.list({"limit": 100})),
        }
        con = duckdb.connect(":memory:")
        for object_type, objs in objects.items():
            if objs:
                wh.load_stripe_objects(con, objs, object_type=object_type, source=f"{self.mode}:{customer}")
        return con


def _quiet() -> None:
    for name in ("stripe", "httpx", "httpcore", "mcp", "uvicorn"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _all(page: Any) -> list[dict[str, Any]]:
    return [as_dict(o) for o in page.auto_paging_iter()]


def start_lifecycle_stack(
    *, key_variable: str = "STRIPE_API_KEY", customer_key_variable: str = "STRIPE_CUSTOMER_KEY"
) -> LifecycleStack:
    """Start the flow's stack (close it with :meth:`LifecycleStack.close`): Stripe test mode when
    the environment variable ``key_variable`` holds a test key and ``STRIPE_API_BASE`` is unset
    (a base URL means some other local Stripe, e.g. a sandbox a test left configured), else a
    private local sandbox; a webhook receiver (with the Connect callback beside it) and a ledger in
    a temporary folder. ``customer_key_variable`` names the customer's own test key (test mode)."""
    key = os.environ.get(key_variable, "").strip()
    stack = ExitStack()
    try:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="unifiedmcp-flow-")))
        port = free_port()
        receiver_url = f"http://127.0.0.1:{port}/webhooks/stripe"
        sandbox = None
        forward_secret = None
        if key.startswith(TEST_KEY_PREFIXES) and not os.environ.get("STRIPE_API_BASE"):
            mode = "stripe-test"
            forward_secret = "whsec_" + secrets.token_hex(24)
            settings = Settings(_env_file=None, data_dir=tmp, stripe_api_key=key,
                                stripe_webhook_secret=forward_secret, secret_key=new_secret_key())
        else:
            from ..sandbox import serve_in_thread

            mode = "sandbox"
            sandbox = stack.enter_context(serve_in_thread())
            _, secret = sandbox.add_webhook_endpoint(receiver_url)
            sandbox.settings(webhook_retry_scale=0.0001)
            settings = Settings(_env_file=None, data_dir=tmp, stripe_api_key=sandbox.api_key,
                                stripe_api_base=sandbox.url, stripe_webhook_secret=secret,
                                stripe_connect_client_id=sandbox.connect_client_id(), secret_key=new_secret_key())
        client = build_client(settings, max_network_retries=0 if sandbox else 2)
        ledger = stack.enter_context(Ledger(tmp / "ledger.sqlite3"))
        app = Starlette(routes=[
            Route(CALLBACK_PATH, create_connect_app(
                ledger=ledger, operator_client=client, cipher_factory=lambda: CredentialCipher(settings.secret_key),
            ), methods=["GET"]),
            Mount("/", app=create_webhook_app(settings=settings, ledger=ledger, client=client)),
        ])
        stack.enter_context(serve_app(app, port=port))
        ensure_catalog(client, ledger=ledger)
    except BaseException:
        stack.close()
        raise
    return LifecycleStack(mode=mode, client=client, ledger=ledger, settings=settings, receiver_url=receiver_url,
                          sandbox=sandbox, forward_secret=forward_secret, resources=stack,
                          customer_key_variable=customer_key_variable)


@contextmanager
def lifecycle_stack(
    *, key_variable: str = "STRIPE_API_KEY", customer_key_variable: str = "STRIPE_CUSTOMER_KEY"
) -> Iterator[LifecycleStack]:
    """:func:`start_lifecycle_stack` as a context manager."""
    flow = start_lifecycle_stack(key_variable=key_variable, customer_key_variable=customer_key_variable)
    try:
        yield flow
    finally:
        flow.close()
