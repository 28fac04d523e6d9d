"""Fixtures of the billing tests: a ledger, settings with webhook secrets, event builders, and a
``stack`` of the sandbox plus our receiver (both real HTTP servers on 127.0.0.1) and a ledger.

The ``sandbox`` fixture comes from the ``unifiedmcp.sandbox.testing`` plugin (tests/conftest.py).
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import stripe

from unifiedmcp.billing import build_client, create_webhook_app, ensure_catalog
from unifiedmcp.billing.testing import free_port, serve_app
from unifiedmcp.config import Settings
from unifiedmcp.ledger import Ledger

SECRET = "whsec_test_primary_0123456789"
OLD_SECRET = "whsec_test_rotating_out_98765"

_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def _no_stripe_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings built here see no STRIPE_* / UNIFIEDMCP_* variables of the caller's shell or CI."""
    import os

    for name in list(os.environ):
        if name.startswith(("STRIPE_", "UNIFIEDMCP_")):
            monkeypatch.delenv(name)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path / "ledger.sqlite3") as led:
        yield led


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        stripe_api_key="sk_test_unit",
        stripe_webhook_secret=f"{SECRET},{OLD_SECRET}",
        _env_file=None,
    )


def price(tier: str | None, *, pid: str | None = None) -> dict[str, Any]:
    return {
        "id": pid or f"price_{tier or 'x'}",
        "object": "price",
        "lookup_key": f"{tier}_monthly" if tier else None,
        "metadata": {"tier": tier} if tier else {},
        "product": f"prod_{tier}",
        "unit_amount": 2900,
        "currency": "usd",
    }


def subscription(
    sid: str,
    customer: str,
    status: str,
    *,
    tier: str | None = "pro",
    period_end: int = 1_800_000_000,
    cancel_at_period_end: bool = False,
) -> dict[str, Any]:
    """A subscription in the current API shape (periods on the items)."""
    return {
        "id": sid,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "cancel_at_period_end": cancel_at_period_end,
        "cancel_at": None,
        "canceled_at": None,
        "trial_end": None,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": f"si_{sid}",
                    "object": "subscription_item",
                    "price": price(tier),
                    "quantity": 1,
                    "current_period_start": period_end - 2_592_000,
                    "current_period_end": period_end,
                }
            ],
        },
    }


def event(
    etype: str,
    obj: dict[str, Any],
    created: int,
    *,
    previous: dict[str, Any] | None = None,
    eid: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": eid or f"evt_test_{next(_ids):06d}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created,
        "livemode": False,
        "type": etype,
        "data": data,
    }


def body(evt: dict[str, Any]) -> bytes:
    return json.dumps(evt).encode("utf-8")


# -- the sandbox and a receiver, both real HTTP servers on 127.0.0.1 -----------------------------


@dataclass
class Stack:
    """The sandbox, our receiver (registered as its webhook endpoint) and a ledger."""

    sandbox: object
    client: stripe.StripeClient
    ledger: Ledger
    settings: Settings
    receiver_url: str

    def customer_on_clock(self, *, email: str | None = None) -> tuple[str, str, str]:
        """A new customer on a new test clock: (email, customer id, clock id)."""
        email = email or f"u{uuid.uuid4().hex[:10]}@example.com"
        clock = self.client.v1.test_helpers.test_clocks.create({"frozen_time": int(time.time())})
        cus = self.client.v1.customers.create({"email": email, "test_clock": clock.id})
        return email, cus.id, clock.id

    def advance(self, clock: str, to: int) -> None:
        self.client.v1.test_helpers.test_clocks.advance(clock, {"frozen_time": to})
        self.settle()

    def settle(self) -> None:
        self.sandbox.wait_for_webhooks(timeout=20)  # type: ignore[attr-defined]


@pytest.fixture
def stack(sandbox, tmp_path: Path) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhooks/stripe"
    _, secret = sandbox.add_webhook_endpoint(url)
    settings = Settings(
        _env_file=None, data_dir=tmp_path, stripe_api_key=sandbox.api_key, stripe_api_base=sandbox.url,
        stripe_webhook_secret=secret,
    )
    sandbox.settings(webhook_retry_scale=0.0001)  # Stripe's retry schedule, in milliseconds
    client = build_client(settings, max_network_retries=0)
    with Ledger(tmp_path / "ledger.sqlite3") as led:
        app = create_webhook_app(settings=settings, ledger=led, client=client)
        with serve_app(app, port=port):
            ensure_catalog(client)
            yield Stack(sandbox, client, led, settings, url)
            sandbox.wait_for_webhooks(timeout=20)
