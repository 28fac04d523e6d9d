"""Refused webhook deliveries are counted in memory: a flood of unsigned deliveries to the serve
app writes the ledger once per flush interval, not once per request; the counts reach the ledger
within the interval, and those still pending when the app shuts down are written then."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from unifiedmcp._loopback import serve_app
from unifiedmcp.billing import create_webhook_app, rejected_deliveries
from unifiedmcp.config import Settings
from unifiedmcp.ledger import Ledger
from unifiedmcp.server import create_app

from .conftest import key_runtime

WHSEC = "whsec_test_flood_0123456789abcdef"


def _app(ledger: Ledger, tmp_path: Path, *, interval: float):
    """The serve app (MCP + the mounted webhook receiver) on ``ledger``."""
    ledger.upsert_customer("cus_flood", tier="pro")
    runtime = key_runtime("http://127.0.0.1:9", ledger, "cus_flood", "sk_test_unused")
    settings = Settings(data_dir=tmp_path, stripe_webhook_secret=WHSEC, _env_file=None)
    webhooks = create_webhook_app(settings=settings, ledger=ledger, rejection_flush_interval=interval)
    return create_app(runtime, base_url="http://127.0.0.1:8788", webhook_app=webhooks)


def _count_writes(ledger: Ledger) -> None:
    """Triggers that log every row written to webhook_rejections (SQLite)."""
    with ledger.transaction() as conn:
        conn.execute("CREATE TABLE rejection_writes (n INTEGER)")
        for op in ("INSERT", "UPDATE"):
            conn.execute(
                f"CREATE TRIGGER count_{op.lower()} AFTER {op} ON webhook_rejections"
                " BEGIN INSERT INTO rejection_writes VALUES (1); END"
            )


def _writes(ledger: Ledger) -> int:
    with ledger.transaction() as conn:
        return conn.execute("SELECT count(*) FROM rejection_writes").fetchone()[0]


async def _flood(url: str, *, deliveries: int, connections: int) -> list[int]:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        answers = await asyncio.gather(
            *(http.post(f"{url}/webhooks/stripe", content=b'{"id": "evt_forged"}') for _ in range(deliveries))
        )
    return [a.status_code for a in answers]


def test_a_flood_of_unsigned_deliveries_writes_the_ledger_once_per_interval_not_per_request(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        _count_writes(ledger)
        with serve_app(_app(ledger, tmp_path, interval=0.5)) as url:
            started = time.monotonic()
            statuses = asyncio.run(_flood(url, deliveries=300, connections=16))
            elapsed = time.monotonic() - started
            assert statuses == [400] * 300
            assert _writes(ledger) <= 1 + elapsed / 0.5  # one flush per interval at most
            deadline = time.monotonic() + 10
            while rejected_deliveries(ledger) != {"missing_signature": 300}:
                assert time.monotonic() < deadline, rejected_deliveries(ledger)
                time.sleep(0.05)
            assert _writes(ledger) <= 2 + (time.monotonic() - started) / 0.5


def test_refused_deliveries_still_pending_are_written_when_the_serve_app_shuts_down(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        with serve_app(_app(ledger, tmp_path, interval=3600)) as url:
            assert asyncio.run(_flood(url, deliveries=5, connections=2)) == [400] * 5
            assert rejected_deliveries(ledger) == {}  # counted in memory only, for now
        assert rejected_deliveries(ledger) == {"missing_signature": 5}
