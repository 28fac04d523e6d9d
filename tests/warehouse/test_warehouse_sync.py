"""``warehouse sync`` against the local sandbox: full, incremental, 429 back-off, resume without duplicates."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import stripe

from unifiedmcp import warehouse
from unifiedmcp.errors import WarehouseError
from unifiedmcp.warehouse import _sync


def _count(db: Path, sql: str) -> list[tuple]:
    con = warehouse.connect(db, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _customers(client: stripe.StripeClient, n: int, prefix: str = "c") -> list[str]:
    return [client.v1.customers.create({"email": f"{prefix}{i}@example.com"}).id for i in range(n)]


def test_full_then_incremental_sync(fresh_sandbox, tmp_path: Path) -> None:
    """The first sync lists everything; the next fetches only new charges/events and objects events name."""
    client = fresh_sandbox.client()
    db = tmp_path / "w.duckdb"
    ids = _customers(client, 3)
    product = client.v1.products.create({"name": "Pro"})
    price = client.v1.prices.create({"product": product.id, "unit_amount": 2900, "currency": "usd",
                                     "recurring": {"interval": "month"}})
    payer = client.v1.customers.create({"email": "payer@example.com", "payment_method": "pm_card_visa",
                                        "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    client.v1.subscriptions.create({"customer": payer.id, "items": [{"price": price.id}]})
    first = warehouse.sync(db, client=client, progress=False)
    assert first.parts["customer"].mode == "full" and first.parts["customer"].loaded == 4
    assert first.parts["subscription"].loaded == 1 and first.parts["invoice"].loaded == 1
    assert first.parts["charge"].loaded == 1
    assert _count(db, "SELECT count(*) FROM invoice_payments WHERE payment_intent IS NOT NULL") == [(1,)]

    client.v1.customers.update(ids[1], {"email": "changed@example.com"})
    second = warehouse.sync(db, client=client, progress=False)
    assert all(p.mode != "full" for t, p in second.parts.items() if t in _sync.MUTABLE)  # no full listing again
    assert second.parts["customer"].mode == "events" and second.parts["customer"].replaced >= 1
    assert _count(db, f"SELECT email FROM customers WHERE id = '{ids[1]}'") == [("changed@example.com",)]
    assert _count(db, "SELECT count(*), count(DISTINCT id) FROM raw_customers") == [(4, 4)]


def test_rate_limited_requests_are_retried_with_backoff(fresh_sandbox, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """With the sandbox answering 429 past 3 requests/s, the sync backs off and still gets everything."""
    client = fresh_sandbox.client()
    _customers(client, 20)
    monkeypatch.setattr(_sync, "PAGE", 4)  # five list requests in a row for customers
    fresh_sandbox.settings(rate_limit_per_second=3)
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        time.sleep(min(seconds, 0.2))

    result = warehouse.sync(tmp_path / "w.duckdb", client=client, progress=False, sleep=sleep, max_retries=30)
    assert result.retries > 0 and pauses[0] == 0.5 and set(pauses) <= {0.5, 1, 2, 4, 8, 16, 30}
    assert _count(tmp_path / "w.duckdb", "SELECT count(*) FROM customers") == [(20,)]


def test_interrupted_sync_resumes_without_duplicates(fresh_sandbox, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A sync that fails on page 3 keeps pages 1-2 and its position; the re-run continues from there."""
    client = fresh_sandbox.client()
    _customers(client, 35)
    monkeypatch.setattr(_sync, "PAGE", 10)
    monkeypatch.setattr(_sync, "FLUSH_EVERY", 10)
    service = client.v1.customers
    real_list = service.list
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise stripe.APIConnectionError("connection reset")
        return real_list(*args, **kwargs)

    monkeypatch.setattr(service, "list", flaky)
    db = tmp_path / "w.duckdb"
    with pytest.raises(WarehouseError, match="gave up"):
        warehouse.sync(db, client=client, progress=False, max_retries=0)
    assert _count(db, "SELECT count(*) FROM raw_customers") == [(20,)]
    resumed = warehouse.sync(db, client=client, progress=False)
    assert resumed.parts["customer"].fetched == 15  # pages 3 and 4 only
    assert _count(db, "SELECT count(*), count(DISTINCT id) FROM raw_customers") == [(35, 35)]


def test_caller_gives_up_after_max_retries() -> None:
    """Back-off doubles from 0.5 s, capped at 30 s, and stops after max_retries."""
    result = _sync.SyncResult()
    pauses: list[float] = []
    call = _sync._Caller(result, max_retries=8, sleep=pauses.append)

    def always_429():
        raise stripe.RateLimitError("slow down", http_status=429)

    with pytest.raises(WarehouseError, match="gave up after 9 attempts"):
        call(always_429)
    assert pauses == [0.5, 1, 2, 4, 8, 16, 30, 30] and result.retries == 8


ECHOED_KEY = "sk_test_51EchoedBackByTheApi0123456789"


@pytest.mark.parametrize("how", ["plain", "--debug", "stripe-log"])
def test_a_key_the_api_echoes_never_reaches_the_terminal(
    cli, key_echoing_api: str, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """An API base that echoes the key in its error message and Request-Id: `warehouse sync` fails
    with the key masked on every line it prints: the error line, the --debug traceback, and
    stripe-python's own request log (STRIPE_LOG=debug prints response bodies to stderr)."""
    monkeypatch.setenv("STRIPE_API_KEY", ECHOED_KEY)
    monkeypatch.setenv("STRIPE_API_BASE", key_echoing_api)
    if how == "stripe-log":
        monkeypatch.setattr(stripe, "log", "debug")  # what STRIPE_LOG=debug sets when stripe is imported
    code, out, err = cli(*(["--debug"] if how == "--debug" else []), "warehouse", "sync", "--no-progress")
    assert code == 1
    assert ECHOED_KEY not in out + err and ECHOED_KEY[8:] not in out + err
    assert "No such thing for key sk_test_***" in err
    assert ("Traceback" in err) is (how == "--debug")
    assert ("message='API response body'" in err) is (how == "stripe-log")
