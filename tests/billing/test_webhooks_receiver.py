"""The receiver over HTTP: 200 for applied/ignored/duplicate, 500 for a failing handler (recorded)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from unifiedmcp.billing import WEBHOOK_PATH, create_webhook_app, webhook_events
from unifiedmcp.billing.testing import serve_app, sign_payload
from unifiedmcp.config import Settings
from unifiedmcp.ledger import Ledger

from .conftest import SECRET, body, event, subscription


@pytest.fixture
def post(settings: Settings, ledger: Ledger) -> Iterator:  # type: ignore[type-arg]
    with serve_app(create_webhook_app(settings=settings, ledger=ledger)) as base:
        def send(evt: dict) -> httpx.Response:
            raw = body(evt)
            return httpx.post(base + WEBHOOK_PATH, content=raw, headers={"Stripe-Signature": sign_payload(raw, SECRET)})

        yield send


def test_applied_then_duplicate(post, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    """First delivery applies (200), the redelivery is acknowledged as a duplicate (200)."""
    evt = event("customer.subscription.created", subscription("sub_h", "cus_h", "active"), int(time.time()))
    r1, r2 = post(evt), post(evt)
    assert (r1.status_code, r1.json()["status"]) == (200, "applied")
    assert (r2.status_code, r2.json()["status"]) == (200, "duplicate")
    assert ledger.customer("cus_h").tier == "pro"


def test_failing_handler_answers_500_and_records_the_error(post, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    """A handler error: 500 so Stripe retries; the event is stored failed with the error and attempts."""
    bad = subscription("sub_f", "cus_f", "active")
    bad["customer"] = None
    evt = event("customer.subscription.updated", bad, int(time.time()))
    r = post(evt)
    assert r.status_code == 500 and r.json()["status"] == "failed"
    assert post(evt).status_code == 500  # a retry runs the handler again
    [stored] = webhook_events(ledger, status="failed")
    assert stored.attempts == 2 and "has no customer" in (stored.error or "")
    assert ledger.customers() == []


def test_unhandled_type_is_acknowledged(post, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    """An event type without a handler: 200, stored as ignored."""
    r = post(event("balance.available", {"id": "bal", "object": "balance"}, int(time.time())))
    assert r.status_code == 200 and r.json()["status"] == "ignored"
    assert webhook_events(ledger)[0].status == "ignored"
