"""Running the sandbox: in a background thread (tests, notebooks) or in the foreground (CLI)."""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx
import uvicorn

from .._loopback import bind, start_in_thread
from ._accounts import Accounts
from ._app import create_app
from .._loopback import is_loopback
from ._webhooks import ForwardTarget

if TYPE_CHECKING:
    import stripe

__all__ = ["SandboxServer", "serve_in_thread", "serve_forever"]


class SandboxServer:
    """A running sandbox: ``url`` and ``api_key`` (the primary account's) for any Stripe client,
    plus control helpers.

    Made by :func:`serve_in_thread`; usable as a context manager (stops on exit).
    """

    def __init__(self, accounts: Accounts, server: uvicorn.Server, thread: threading.Thread, *, url: str, api_key: str) -> None:
        self.accounts = accounts
        self.account_id = accounts.primary
        self.url = url
        self.api_key = api_key
        self._server = server
        self._thread = thread
        self.forward_secrets: list[str] = []
        self._http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30)

    def __repr__(self) -> str:  # never shows the key
        return f"SandboxServer(url={self.url!r}, account_id={self.account_id!r})"

    # -- clients --------------------------------------------------------------------------------
    def client(self, api_key: str | None = None, stripe_account: str | None = None, **options: Any) -> stripe.StripeClient:
        """A ``stripe.StripeClient`` pointed at this sandbox (API and Connect OAuth; no network
        retries by default): with the primary account's key unless ``api_key``, acting on
        ``stripe_account`` (a connected account) when given."""
        import stripe

        options.setdefault("max_network_retries", 0)
        return stripe.StripeClient(api_key or self.api_key, base_addresses={"api": self.url, "connect": self.url},
                                   stripe_account=stripe_account, **options)

    def env(self) -> dict[str, str]:
        """Environment variables that point the toolkit's settings at this sandbox."""
        return {"STRIPE_API_KEY": self.api_key, "STRIPE_API_BASE": self.url}

    # -- control --------------------------------------------------------------------------------
    def settings(self, **values: Any) -> dict[str, Any]:
        """Read, or change then read, sandbox settings (dunning, chaos, rate limit, ...)."""
        if values:
            resp = self._http.post("/_sandbox/settings", json=values)
        else:
            resp = self._http.get("/_sandbox/settings")
        resp.raise_for_status()
        return resp.json()

    def set_dunning(self, *, retry_days: list[float] | None = None, final_action: str | None = None) -> dict[str, Any]:
        """Dashboard-style failed-payment settings: retry schedule and the final status
        (``"cancel"``, ``"unpaid"`` or ``"past_due"``)."""
        values: dict[str, Any] = {}
        if retry_days is not None:
            values["dunning_retry_days"] = retry_days
        if final_action is not None:
            values["dunning_final_action"] = final_action
        return self.settings(**values)

    def set_chaos(
        self,
        *,
        duplicate: float = 0.0,
        delay_seconds: float = 0.0,
        reorder: bool = False,
        reorder_window_seconds: float = 0.25,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """Webhook chaos for testing receivers: ``duplicate`` = probability of a second copy,
        ``delay_seconds`` = random extra delay, ``reorder`` = shuffle deliveries held for
        ``reorder_window_seconds``; ``seed`` makes it reproducible. No arguments = chaos off."""
        return self.settings(
            chaos_duplicate=duplicate, chaos_delay_seconds=delay_seconds, chaos_reorder=reorder,
            chaos_reorder_window_seconds=reorder_window_seconds, chaos_seed=seed,
        )

    def add_webhook_endpoint(self, url: str, *, events: list[str] | tuple[str, ...] = ("*",)) -> tuple[str, str]:
        """Register a webhook endpoint; returns ``(endpoint_id, whsec_ secret)``."""
        we = self.client().v1.webhook_endpoints.create({"url": url, "enabled_events": list(events)})
        return we.id, we.secret  # type: ignore[return-value]

    def create_account(self, *, email: str | None = None, business_name: str | None = None) -> tuple[str, str]:
        """A new independent account: ``(account id, its sk_test_ secret key)``."""
        resp = self._http.post("/_sandbox/accounts", json={"email": email, "business_name": business_name})
        resp.raise_for_status()
        body = resp.json()
        return body["id"], body["secret_key"]

    def create_restricted_key(self, permissions: list[str] | tuple[str, ...], *, api_key: str | None = None) -> str:
        """A restricted ``rk_test_`` key of the account of ``api_key`` (default: the primary
        account) with these permissions (``rak_customer_read``, ..., or ``read_only``)."""
        resp = self._http.post("/_sandbox/restricted_keys", json={"permissions": list(permissions)}, headers=self._auth(api_key))
        resp.raise_for_status()
        return resp.json()["secret"]

    def connect_client_id(self, api_key: str | None = None) -> str:
        """The Connect client id (``ca_...``) of the account of ``api_key`` (default: the primary)."""
        resp = self._http.get("/_sandbox/connect", headers=self._auth(api_key))
        resp.raise_for_status()
        return resp.json()["client_id"]

    @staticmethod
    def _auth(api_key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def deliveries(self) -> list[dict[str, Any]]:
        """Every delivery attempt to the primary account's endpoints and ``forward_to`` targets so
        far (newest last): event, url, attempt, status."""
        resp = self._http.get("/_sandbox/deliveries")
        resp.raise_for_status()
        return resp.json()["deliveries"]

    def wait_for_webhooks(self, *, timeout: float = 10.0) -> None:
        """Block until no delivery is queued, in flight or waiting for a retry."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._http.get("/_sandbox/deliveries").json()["idle"]:
                return
            time.sleep(0.02)
        raise TimeoutError("webhook deliveries still pending")

    # -- lifecycle ------------------------------------------------------------------------------
    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._http.close()
        self.accounts.db.close()

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def serve_in_thread(
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    db_path: Path | str | None = None,
    api_key: str | None = None,
    forward_to: list[str] | tuple[str, ...] = (),
    settings: dict[str, Any] | None = None,
    tick_seconds: float = 1.0,
) -> SandboxServer:
    """Start a sandbox in a daemon thread and return once it answers.

    ``port=0`` picks a free port. State is in memory unless ``db_path`` names a SQLite file.
    ``api_key``: the primary account's key and the only outside key accepted (default: the
    stored primary key of ``db_path``, else a fresh random ``sk_test_`` key); keys the sandbox
    mints (``create_account``, restricted keys, OAuth access tokens) are accepted too, any other
    is refused. ``forward_to``: URLs receiving the primary account's events (and, with
    ``account``, those of the accounts connected to it), signed with a secret found in
    ``server.forward_secrets``.
    """
    accounts = Accounts(db_path=db_path)
    key = accounts.primary_key(api_key)
    accounts.db.commit()
    if settings:
        accounts.settings.update(settings)
        accounts.shared.chaos.seed(accounts.settings.chaos_seed)
    forward = [ForwardTarget(u, "whsec_" + secrets.token_urlsafe(24)) for u in forward_to]
    app = create_app(accounts, api_keys={key}, forward=forward, tick_seconds=tick_seconds, check_host=is_loopback(host))
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    url = f"http://{host}:{actual}"
    accounts.shared.base_url = url
    server, thread = start_in_thread(app, sock, name=f"sandbox-{actual}", timeout=20, timeout_graceful_shutdown=2)
    running = SandboxServer(accounts, server, thread, url=url, api_key=key)
    running.forward_secrets = [f.secret for f in forward]
    return running


def serve_forever(
    *,
    port: int,
    host: str,
    db_path: Path | str | None,
    forward: list[ForwardTarget],
) -> None:
    """Run in the foreground until interrupted (the ``unifiedmcp sandbox serve`` command).

    Any ``sk_test_`` key is accepted; the first one that authenticates (on a new state) owns the
    primary account, which ``forward`` targets belong to.
    """
    accounts = Accounts(db_path=db_path)
    accounts.shared.base_url = f"http://{host}:{port}"
    app = create_app(accounts, forward=forward, check_host=is_loopback(host))
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on")
    finally:
        accounts.db.close()
