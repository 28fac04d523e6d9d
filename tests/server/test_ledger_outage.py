"""The server and a PostgreSQL ledger that is missing or lost: `serve` refuses to start with a
clear error, and a tool call while the database is down fails closed (metering_error, nothing
run, nothing admitted) until the database is back."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import anyio
import mcp
import pytest

from unifiedmcp._loopback import free_port
from unifiedmcp.ledger import Ledger
from unifiedmcp.ledger.testing import PostgresCluster
from unifiedmcp.server import build_server
from unifiedmcp.server._metrics import REGISTRY

from .conftest import call, key_runtime, ok


def test_serve_with_an_unreachable_database_exits_with_a_clear_error(tmp_path: Path) -> None:
    url = f"postgresql://meter:s3cret-pw@127.0.0.1:{free_port()}/ledger"
    done = subprocess.run(
        [sys.executable, "-m", "unifiedmcp", "serve", "--port", str(free_port())],
        env={"PATH": "/usr/bin:/bin", "UNIFIEDMCP_LEDGER": url, "UNIFIEDMCP_DATA_DIR": str(tmp_path)},
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "error: cannot open ledger postgresql://meter:***@127.0.0.1:" in done.stderr
    assert "s3cret-pw" not in done.stdout + done.stderr


@pytest.mark.anyio
async def test_calls_fail_closed_while_the_database_is_down_and_recover() -> None:
    def unmetered() -> float:
        return REGISTRY.get_sample_value(
            "unifiedmcp_calls_total", {"tier": "unknown", "tool": "get_usage", "outcome": "unmetered"}
        ) or 0.0

    with PostgresCluster.start() as cluster, Ledger(cluster.create_database(), connect_timeout=1) as ledger:
        ledger.upsert_customer("cus_outage", tier="pro")
        runtime = key_runtime("http://127.0.0.1:9", ledger, "cus_outage", "sk_test_unused")  # get_usage: no Stripe
        before = unmetered()
        async with mcp.Client(build_server(runtime), raise_exceptions=True) as client:
            assert ok(await call(client, "get_usage"))["calls"] == 1
            cluster.stop_server()
            down = await call(client, "get_usage")
            assert down.is_error and down.structured_content["error"]["type"] == "metering_error"
            assert "ledger is unavailable" in down.structured_content["error"]["message"]
            assert unmetered() == before + 1
            cluster.start_server()
            deadline = time.monotonic() + 30
            while (result := await call(client, "get_usage")).is_error:
                assert time.monotonic() < deadline, "calls did not recover"
                await anyio.sleep(0.2)
            assert ok(result)["calls"] == 2  # the refused call was never counted
        assert ledger.usage("cus_outage").calls == 2


def test_healthz_reports_the_database_degraded_while_it_is_down(tmp_path: Path) -> None:
    """/healthz asks the ledger (one round trip): 200 ok, 503 degraded with the reason while the
    database is down, ok again once it is back."""
    import httpx

    from unifiedmcp._loopback import serve_app
    from unifiedmcp.server import create_app

    with PostgresCluster.start() as cluster, Ledger(cluster.create_database(), connect_timeout=1) as ledger:
        ledger.upsert_customer("cus_health", tier="pro")
        runtime = key_runtime("http://127.0.0.1:9", ledger, "cus_health", "sk_test_unused")
        with serve_app(create_app(runtime, base_url="http://127.0.0.1:8788")) as url:
            up = httpx.get(f"{url}/healthz", timeout=30)
            assert up.status_code == 200 and up.json()["ledger"] == {"backend": "postgres", "ok": True, "error": None}
            cluster.stop_server()
            down = httpx.get(f"{url}/healthz", timeout=30)
            assert down.status_code == 503 and down.json()["status"] == "degraded"
            assert "cannot" in down.json()["ledger"]["error"] and "postgresql://" in down.json()["ledger"]["error"]
            cluster.start_server()
            deadline = time.monotonic() + 30
            while (again := httpx.get(f"{url}/healthz", timeout=30)).status_code != 200:
                assert time.monotonic() < deadline, again.text
                time.sleep(0.2)
            assert again.json()["status"] == "ok"
