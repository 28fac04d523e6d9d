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
from ._app import create_app
from ._state import Sandbox
from ._webhooks import ForwardTarget

if TYPE_CHECKING:
    import stripe

__all__ = ["SandboxServer", "serve_in_thread", "serve_forever"]


class SandboxServer:
    """A running sandbox: ``url`` and ``api_key`` for any Stripe client, plus control helpers.

    Made by :func:`serve_in_thread`; usable as a context manager (stops on exit).
    """

    def __init__(self, sandbox: Sandbox, server: uvicorn.Server, thread: threading.Thread, *, url: str, api_key: str) -> None:
        self.sandbox = sandbox
        self.url = url
        self.api_key = api_key
        self._server = server
        self._thread = thread
        self.forward_secrets: list[str] = []
        self._http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30)

    def __repr__(self) -> str:  # never shows the key
        return f"SandboxServer(url={self.url!r})"

    # -- clients --------------------------------------------------------------------------------
    def client(self, **options: Any) -> stripe.StripeClient:
        """A ``stripe.StripeClient`` pointed at this sandbox (no network retries by default)."""
        import stripe

        options.setdefault("max_network_retries", 0)
        return stripe.StripeClient(self.api_key, base_addresses={"api": self.url}, **options)

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

    def deliveries(self) -> list[dict[str, Any]]:
        """Every webhook delivery attempt so far (newest last): event, url, attempt, status."""
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
        self.sandbox.store.close()

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
    ``api_key``: the only key accepted (default: a fresh random ``sk_test_`` key; any other
    ``sk_test_`` key is refused). ``forward_to``: URLs receiving every event, signed with a
    secret found in ``server.forward_secrets``.
    """
    key = api_key or "sk_test_sandbox_" + secrets.token_hex(12)
    sb = Sandbox(db_path=db_path)
    if settings:
        sb.settings.update(settings)
    forward = [ForwardTarget(u, "whsec_" + secrets.token_urlsafe(24)) for u in forward_to]
    app = create_app(sb, api_keys={key}, forward=forward, tick_seconds=tick_seconds)
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    url = f"http://{host}:{actual}"
    sb.base_url = url
    server, thread = start_in_thread(app, sock, name=f"sandbox-{actual}", timeout=20, timeout_graceful_shutdown=2)
    running = SandboxServer(sb, server, thread, url=url, api_key=key)
    running.forward_secrets = [f.secret for f in forward]
    return running


def serve_forever(
    *,
    port: int,
    host: str,
    db_path: Path | str | None,
    forward: list[ForwardTarget],
) -> None:
    """Run in the foreground until interrupted (the ``unifiedmcp sandbox serve`` command)."""
    sb = Sandbox(db_path=db_path)
    sb.base_url = f"http://{host}:{port}"
    app = create_app(sb, forward=forward)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on")
    finally:
        sb.store.close()
