"""Metering latency of a real `serve` under a flood of refused (unsigned) webhook deliveries.

Starts `unifiedmcp serve` on 127.0.0.1 (SQLite ledger in a temp dir, one enterprise customer and its key,
a webhook secret, Prometheus on a second port), then times `get_usage` tool calls (metered, no
Stripe round trip) made one after another over streamable HTTP:
  - baseline: nothing else running;
  - flood: meanwhile, another process keeps `--connections` keep-alive connections posting
    unsigned deliveries to /webhooks/stripe, `--rate` per second in all (0: as fast as the server
    answers, which saturates its one core whatever each delivery costs: then the calls only wait
    their turn, so the default is a rate the server takes with room to spare).
For each phase it prints the calls' p50/p99 latency and the server's own mean metering time
(`unifiedmcp_metering_seconds` sum / count over the phase); for the flood, its rate and how many
rows it made the server write to `webhook_rejections` (counted by a trigger). Loopback only, and
bounded: the flood stops after the calls or `--seconds`, whichever comes first.
Run: .venv/bin/python benchmarks/bench_webhook_flood.py [--calls 300] [--connections 32] [--rate 300] [--seconds 60]
To compare with another version, put its `src` first on PYTHONPATH (`serve` inherits it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from unifiedmcp._loopback import free_port, wait_until_serving
from unifiedmcp.ledger import Ledger

from _http1 import read_response  # benchmarks/_http1.py, next to this script
from _machine import cpu_model

SECRET = "whsec_bench_flood_0123456789abcdef"
CUSTOMER = "cus_bench_flood"


async def _flood(port: int, connections: int, rate: float, seconds: float) -> dict[str, float]:
    """Unsigned deliveries on ``connections`` keep-alive connections, ``rate`` per second in all
    (0: no pause), for ``seconds`` or until SIGTERM."""
    body = b'{"id": "evt_forged", "type": "customer.created"}'
    request = (
        b"POST /webhooks/stripe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    )
    codes: dict[int, int] = {}
    end = time.monotonic() + seconds
    stopped = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)

    pause = connections / rate if rate else 0.0  # between one connection's deliveries

    async def worker(offset: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        next_at = time.monotonic() + offset
        try:
            while time.monotonic() < end and not stopped.is_set():
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                next_at += pause
                writer.write(request)
                code = await read_response(reader)
                codes[code] = codes.get(code, 0) + 1
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker(pause * i / connections) for i in range(connections)))
    return {"deliveries": sum(codes.values()), "per_second": sum(codes.values()) / (time.monotonic() - started),
            "refused": codes.get(400, 0)}


def _metering(metrics_url: str) -> tuple[float, float]:
    """(sum, count) of unifiedmcp_metering_seconds as the server reports them now."""
    from prometheus_client.parser import text_string_to_metric_families

    values = {}
    for family in text_string_to_metric_families(httpx.get(metrics_url, timeout=10).text):
        for sample in family.samples:
            if sample.name in ("unifiedmcp_metering_seconds_sum", "unifiedmcp_metering_seconds_count"):
                values[sample.name] = sample.value
    return values.get("unifiedmcp_metering_seconds_sum", 0.0), values.get("unifiedmcp_metering_seconds_count", 0.0)


async def _calls(mcp_url: str, token: str, calls: int) -> list[float]:
    """Seconds per get_usage call, one call after another, after 20 unmeasured ones."""
    import httpx2
    import mcp
    from mcp.client.streamable_http import streamable_http_client

    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
    async with mcp.Client(streamable_http_client(mcp_url, http_client=http), raise_exceptions=True) as client:
        for _ in range(20):
            await client.call_tool("get_usage", {})
        took = []
        for _ in range(calls):
            t0 = time.perf_counter()
            result = await client.call_tool("get_usage", {})
            took.append(time.perf_counter() - t0)
            if result.is_error:
                raise SystemExit(f"get_usage failed: {result.content}")
    return took


def _phase(mcp_url: str, metrics_url: str, token: str, calls: int) -> dict[str, float]:
    before = _metering(metrics_url)
    took = sorted(asyncio.run(_calls(mcp_url, token, calls)))
    after = _metering(metrics_url)
    metered = after[1] - before[1]
    return {
        "p50_ms": statistics.median(took) * 1000,
        "p99_ms": took[int(len(took) * 0.99) - 1] * 1000,
        "metering_mean_ms": (after[0] - before[0]) / metered * 1000 if metered else float("nan"),
    }


def _writes(path: Path) -> int:
    with Ledger(path) as ledger, ledger.transaction() as conn:
        return conn.execute("SELECT count(*) FROM rejection_writes").fetchone()[0]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--flood":  # the flood process
        print(json.dumps(asyncio.run(_flood(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="get_usage calls per phase")
    parser.add_argument("--connections", type=int, default=32, help="flood connections")
    parser.add_argument("--rate", type=float, default=300.0, help="flood deliveries per second in all (0: no pause)")
    parser.add_argument("--seconds", type=float, default=60.0, help="the flood's longest duration")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.sqlite3"
        with Ledger(path) as ledger:
            ledger.upsert_customer(CUSTOMER, tier="enterprise")
            token = ledger.create_key(CUSTOMER).token
            with ledger.transaction() as conn:  # every row the server writes to webhook_rejections
                conn.execute("CREATE TABLE rejection_writes (n INTEGER)")
                for op in ("INSERT", "UPDATE"):
                    conn.execute(f"CREATE TRIGGER count_{op.lower()} AFTER {op} ON webhook_rejections"
                                 " BEGIN INSERT INTO rejection_writes VALUES (1); END")
        port, metrics_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "UNIFIEDMCP_"))} | {
            "UNIFIEDMCP_LEDGER": str(path), "UNIFIEDMCP_DATA_DIR": tmp, "STRIPE_WEBHOOK_SECRET": SECRET}
        server = subprocess.Popen(
            [sys.executable, "-m", "unifiedmcp", "serve", "--port", str(port), "--metrics-port", str(metrics_port),
             "--tools", "customers.read"], env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_serving(f"{base}/healthz", proc=server, name="serve")
            metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
            quiet = _phase(f"{base}/mcp", metrics_url, token, args.calls)
            flood = subprocess.Popen([sys.executable, __file__, "--flood", str(port), str(args.connections),
                                      str(args.rate), str(args.seconds)], stdout=subprocess.PIPE, text=True)
            time.sleep(1.0)  # the flood is under way
            loud = _phase(f"{base}/mcp", metrics_url, token, args.calls)
            flood.terminate()  # the calls are done: stop the flood now rather than at --seconds
            flooded = json.loads(flood.communicate(timeout=30)[0])
            writes = _writes(path)
        finally:
            server.terminate()
            server.wait(30)
    print(f"get_usage over streamable HTTP, {args.calls} calls per phase, one at a time")
    print(f"{'phase':>9} | {'p50 ms':>7} {'p99 ms':>7} | {'metering mean ms':>16}")
    for name, f in (("baseline", quiet), ("flood", loud)):
        print(f"{name:>9} | {f['p50_ms']:>7.2f} {f['p99_ms']:>7.2f} | {f['metering_mean_ms']:>16.3f}")
    print(f"flood: {args.connections} connections, {flooded['deliveries']:,.0f} unsigned deliveries "
          f"({flooded['per_second']:,.0f}/s, {flooded['refused']:,.0f} answered 400); "
          f"rows the server wrote to webhook_rejections: {writes:,}")
    print(f"p50 under the flood / baseline: {loud['p50_ms'] / quiet['p50_ms']:.2f}x; "
          f"metering mean: {loud['metering_mean_ms'] / quiet['metering_mean_ms']:.2f}x")


if __name__ == "__main__":
    main()
