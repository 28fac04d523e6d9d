"""Helpers for tests and benchmarks: sign deliveries like Stripe, serve an ASGI app on loopback.

    header = sign_payload(body, "whsec_test")
    with serve_app(app) as base_url:
        httpx.post(base_url + "/webhooks/stripe", content=body, headers={"Stripe-Signature": header})
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import uvicorn

from .._loopback import free_port, serve_app

__all__ = ["sign_payload", "free_port", "serve_app", "main"]


def sign_payload(payload: bytes | str, secret: str, *, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header for ``payload`` (Stripe's scheme: HMAC-SHA256 of "t.body")."""
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8")
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode("utf-8"), f"{t}.{payload}".encode("utf-8"), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def _hang_hook(event_type: str, marker: str) -> Any:
    """A ``before_apply`` hook: on the first event of ``event_type``, touch ``marker`` and hang.

    Used to kill a receiver process in the middle of an event (inside its open transaction).
    """
    from pathlib import Path

    def hook(event: Any) -> None:
        m = Path(marker)
        if event.get("type") == event_type and not m.exists():
            m.write_text(str(event.get("id")), encoding="utf-8")
            time.sleep(3600)

    return hook


def main(argv: list[str] | None = None) -> int:
    """Serve a webhook receiver in this process (tests and benchmarks run it as a subprocess).

    ``python -m unifiedmcp.billing.testing --port P [--hang-on TYPE --marker FILE] [--refetch]``;
    the ledger, secrets and API base come from the usual environment variables.
    """
    import argparse

    from ..config import load_settings, load_tiers
    from ..ledger import Ledger
    from ._client import build_client
    from ._webhooks import create_webhook_app

    parser = argparse.ArgumentParser(prog="unifiedmcp.billing.testing")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hang-on", default=None)
    parser.add_argument("--marker", default=None)
    parser.add_argument("--refetch", action="store_true")
    args = parser.parse_args(argv)
    settings = load_settings()
    ledger = Ledger(settings.ledger, tiers=load_tiers(settings.tiers_file))
    hook = _hang_hook(args.hang_on, args.marker) if args.hang_on and args.marker else None
    client = build_client(settings, max_network_retries=0) if args.refetch else None
    app = create_webhook_app(settings=settings, ledger=ledger, client=client, before_apply=hook)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
