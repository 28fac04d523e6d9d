"""The receiver over real HTTP refuses every forged, stale, altered or oversized delivery.

Each refusal answers 400 (413 for size), stores nothing in the event log or the ledger, and
increments the rejected-deliveries counter the ops report reads (counted in memory, flushed to the
ledger within the receiver's flush interval: 50 ms here).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from unifiedmcp.billing import WEBHOOK_PATH, create_webhook_app, rejected_deliveries
from unifiedmcp.billing.testing import serve_app, sign_payload
from unifiedmcp.config import Settings
from unifiedmcp.ledger import Ledger

from .conftest import OLD_SECRET, SECRET, body, event, subscription


@pytest.fixture
def url(settings: Settings, ledger: Ledger) -> Iterator[str]:
    with serve_app(create_webhook_app(settings=settings, ledger=ledger, rejection_flush_interval=0.05)) as base:
        yield base + WEBHOOK_PATH


def _stored(ledger: Ledger) -> tuple[int, int, int]:
    with ledger.transaction() as conn:
        return tuple(
            conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("webhook_events", "subscriptions", "customers")
        )  # type: ignore[return-value]


def _flushed(ledger: Ledger) -> dict[str, int]:
    """The rejected-deliveries counts once some reached this test's fresh ledger (in a batch)."""
    deadline = time.monotonic() + 10
    while not (counts := rejected_deliveries(ledger)):
        assert time.monotonic() < deadline, counts
        time.sleep(0.02)
    return counts


def _good() -> bytes:
    return body(event("customer.subscription.created", subscription("sub_sec", "cus_sec", "active"), int(time.time())))


def _cases() -> list[tuple[str, int, str, bytes, dict[str, str]]]:
    now = int(time.time())
    raw = _good()
    altered = bytearray(raw)
    i = raw.index(b'"active"') + 1
    altered[i] = ord("A")
    not_json = b"this is not json"
    big = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    deep = b"[" * 200_000 + b"]" * 200_000  # 400 kB, nested past any JSON parser's recursion
    far = body(event("customer.subscription.created", subscription("sub_far", "cus_far", "active"), 2**70))
    return [
        ("bad signature", 400, "bad_signature", raw, {"Stripe-Signature": f"t={now},v1={'0' * 64}"}),
        ("stale timestamp", 400, "stale_timestamp", raw, {"Stripe-Signature": sign_payload(raw, SECRET, timestamp=now - 301)}),
        ("wrong secret", 400, "bad_signature", raw, {"Stripe-Signature": sign_payload(raw, "whsec_someone_else")}),
        ("altered by one byte", 400, "bad_signature", bytes(altered), {"Stripe-Signature": sign_payload(raw, SECRET)}),
        ("missing header", 400, "missing_signature", raw, {}),
        ("malformed header", 400, "malformed_signature", raw, {"Stripe-Signature": "garbage"}),
        ("non-JSON body", 400, "invalid_body", not_json, {"Stripe-Signature": sign_payload(not_json, SECRET)}),
        ("not an event", 400, "invalid_event", b'{"id": 1}', {"Stripe-Signature": sign_payload(b'{"id": 1}', SECRET)}),
        ("over 1 MB", 413, "too_large", big, {"Stripe-Signature": sign_payload(big, SECRET)}),
        ("nested 200k deep", 400, "too_deep", deep, {"Stripe-Signature": sign_payload(deep, SECRET)}),
        ("created 2**70", 400, "invalid_event", far, {"Stripe-Signature": sign_payload(far, SECRET)}),
    ]


@pytest.mark.parametrize("case", range(len(_cases())), ids=[c[0] for c in _cases()])
def test_refused_deliveries_store_nothing_and_are_counted(case: int, url: str, ledger: Ledger) -> None:
    """Each bad delivery: 400/413, no event, no subscription, no customer; the counter grows by one."""
    _, status, reason, payload, headers = _cases()[case]
    r = httpx.post(url, content=payload, headers={"Content-Type": "application/json", **headers})
    assert r.status_code == status
    assert r.json() == {"error": reason}
    assert _stored(ledger) == (0, 0, 0)
    assert _flushed(ledger) == {reason: 1}


def test_chunked_body_over_limit_is_refused_without_content_length(url: str, ledger: Ledger) -> None:
    """A streamed body without Content-Length is cut off at 1 MiB too."""

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 65536

    r = httpx.post(url, content=chunks(), headers={"Stripe-Signature": "t=1,v1=00"})
    assert r.status_code == 413
    assert _flushed(ledger) == {"too_large": 1}
    assert _stored(ledger) == (0, 0, 0)


def test_both_secrets_are_accepted_during_rotation(url: str, ledger: Ledger) -> None:
    """A delivery signed with the old or the new secret is applied; nothing is counted as rejected."""
    for secret in (SECRET, OLD_SECRET):
        raw = body(event("customer.created", {"id": f"cus_{secret[-4:]}", "object": "customer", "email": "r@example.com"}, int(time.time())))
        r = httpx.post(url, content=raw, headers={"Stripe-Signature": sign_payload(raw, secret)})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "applied"
    assert rejected_deliveries(ledger) == {}
    assert _stored(ledger) == (2, 0, 2)


def test_signature_with_several_v1_values_is_accepted(url: str, ledger: Ledger) -> None:
    """Stripe sends one v1 per active secret: a header with a foreign v1 and ours still verifies."""
    raw = _good()
    mine = sign_payload(raw, SECRET)
    t, v1 = mine.split(",")
    header = f"{t},v1={'f' * 64},{v1}"
    r = httpx.post(url, content=raw, headers={"Stripe-Signature": header})
    assert r.status_code == 200


def test_healthz(url: str) -> None:
    """GET /healthz answers ok while the ledger is reachable."""
    r = httpx.get(url.replace(WEBHOOK_PATH, "/healthz"))
    assert r.status_code == 200 and r.json() == {"ok": True}


def test_receiver_needs_a_secret(ledger: Ledger) -> None:
    """Without STRIPE_WEBHOOK_SECRET the app refuses to start (it could verify nothing)."""
    from unifiedmcp.billing import StripeNotConfigured

    with pytest.raises(StripeNotConfigured):
        create_webhook_app(settings=Settings(_env_file=None), ledger=ledger)


def test_repr_hides_secrets(settings: Settings, ledger: Ledger) -> None:
    """Neither the receiver's repr nor the app state exposes a signing secret."""
    app = create_webhook_app(settings=settings, ledger=ledger)
    text = repr(app.state.receiver)
    assert SECRET not in text and OLD_SECRET not in text
    assert json.dumps({"r": text})
