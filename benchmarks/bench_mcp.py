"""MCP server latency: list_customers against the local sandbox, p50 and p99 per call.

The benchmark customer is connected to a Stripe account of its own with a key it supplied
(tenancy: a customer's tools act on its own account), so every call also resolves that
connection; what resolving costs is timed on its own at the end (cache warm, and a cache miss,
which decrypts the key and builds a client).

Four setups, measured in the same run on the same sandbox (one customer page of 10):
  - in-memory (the SDK's Client wired to the server in process), metering on and off;
  - streamable HTTP (uvicorn on 127.0.0.1, bearer key auth), metering on and off, with an httpx2
    client that sets TCP_NODELAY; and once with the SDK's default client, for comparison.
The difference between "on" and "off" is what metering (check_and_record_async + complete_async)
adds to a call; it is within the run-to-run noise of a Stripe round trip, so the ledger work is
also timed on its own. Metering must add under 1 ms median. The sandbox runs in its own process
(sharing a GIL with it would time the sandbox, not the server); logging is at WARNING.
Run: .venv/bin/python benchmarks/bench_mcp.py [--calls 300] [--warmup 30]
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import subprocess
import sys
import platform
import socket
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp
from mcp.client.streamable_http import streamable_http_client

import stripe

from unifiedmcp.accounts import Accounts, Caller, CredentialCipher, new_secret_key
from unifiedmcp.billing.testing import serve_app
from unifiedmcp.config import Settings
from unifiedmcp.ledger import Ledger
from unifiedmcp.server import Runtime, ServerOptions, build_server, create_app

from _machine import cpu_model  # benchmarks/_machine.py, next to this script

CUSTOMER = "cus_bench_mcp"
_SANDBOX = """
import os, sys, time
from unifiedmcp.sandbox import serve_in_thread
sb = serve_in_thread(api_key=os.environ["BENCH_SANDBOX_KEY"])
print(sb.url, flush=True)
sys.stdin.read()
sb.stop()
"""


@contextmanager
def _sandbox_process() -> Iterator[tuple[str, str]]:
    """A sandbox in a child process: (url, api key). Stops when the parent closes its stdin."""
    key = "sk_test_bench_" + secrets.token_hex(8)
    proc = subprocess.Popen(
        [sys.executable, "-c", _SANDBOX],
        env=os.environ | {"BENCH_SANDBOX_KEY": key},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    url = proc.stdout.readline().strip()
    try:
        yield url, key
    finally:
        proc.stdin.close()
        proc.wait(10)


def _ledger_cost(ledger: Ledger, n: int = 2000) -> tuple[float, float]:
    """The server's metering of one call with nobody else calling: the asyncio path, where a
    lone write runs on the event loop when the ledger is free (else in a worker thread)."""

    async def run() -> list[float]:
        samples = []
        for i in range(n):
            started = time.perf_counter()
            event = f"bench-ledger-{i}"
            await ledger.check_and_record_async(CUSTOMER, "list_customers", event_id=event)
            await ledger.complete_async(event, status="ok", latency_ms=1.0)
            samples.append((time.perf_counter() - started) * 1000)
        return samples

    return _pcts(anyio.run(run))


class _Timed:
    """ASGI wrapper recording how long the server spends on each HTTP request (ms)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.times: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()

        async def timed_send(message: Any) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.times.append((time.perf_counter() - started) * 1000)
            await send(message)

        await self.app(scope, receive, timed_send)


def _quiet() -> None:
    # MCPServer() configures INFO logging; per-request log lines would dominate the timings.
    logging.getLogger().setLevel(logging.WARNING)
    for name in ("stripe", "mcp", "httpx", "httpx2", "uvicorn"):
        logging.getLogger(name).setLevel(logging.WARNING)


async def _measure(client: mcp.Client, calls: int, warmup: int) -> list[float]:
    _quiet()
    for _ in range(warmup):
        await client.call_tool("list_customers", {"limit": 10})
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        result = await client.call_tool("list_customers", {"limit": 10})
        samples.append((time.perf_counter() - started) * 1000)
        assert not result.is_error, result.content
    return samples


def _pcts(samples: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples), q[98]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=30)
    args = ap.parse_args()

    _quiet()
    with _sandbox_process() as (sandbox_url, sandbox_key):
        _run(args, sandbox_url, sandbox_key)


def _resolve_cost(accounts: Accounts, n: int = 5000) -> tuple[tuple[float, float], tuple[float, float]]:
    """What resolving the caller's connection costs per call: (cache warm), (cache miss)."""
    caller = Caller.of_customer(CUSTOMER)
    warm, miss = [], []
    for _ in range(n):
        started = time.perf_counter()
        accounts.resolve(caller)
        warm.append((time.perf_counter() - started) * 1000)
    for _ in range(200):
        accounts.forget()
        started = time.perf_counter()
        accounts.resolve(caller)
        miss.append((time.perf_counter() - started) * 1000)
    return _pcts(warm), _pcts(miss)


def _run(args: argparse.Namespace, sandbox_url: str, sandbox_key: str) -> None:
    # The sandbox's key stands for both the operator and the customer's own account here: the
    # benchmark times the server, not isolation (tests/server/test_isolation.py does that).
    stripe_client = stripe.StripeClient(sandbox_key, base_addresses={"api": sandbox_url}, max_network_retries=0)
    for i in range(20):
        stripe_client.v1.customers.create({"name": f"bench {i}"})
    tmp = Path(tempfile.mkdtemp(prefix="bench-mcp-"))
    ledger = Ledger(tmp / "ledger.sqlite3")
    ledger.upsert_customer(CUSTOMER, tier="enterprise")
    token = ledger.create_key(CUSTOMER).token
    secret = new_secret_key()
    cipher = CredentialCipher(secret)
    ledger.add_connection(CUSTOMER, "stripe", account="acct_bench", kind="api_key", credential=cipher.encrypt(sandbox_key))
    settings = Settings(_env_file=None, stripe_api_key=sandbox_key, stripe_api_base=sandbox_url, secret_key=secret)
    accounts = Accounts(ledger=ledger, settings=settings, operator_client=stripe_client, cipher=cipher,
                        max_network_retries=0)
    results: dict[tuple[str, str], tuple[float, float]] = {}

    def runtime(metering: bool) -> Runtime:
        return Runtime(
            stripe_client=stripe_client, ledger=ledger, accounts=accounts,
            options=ServerOptions(customer=CUSTOMER, metering=metering),
        )

    async def in_memory(metering: bool) -> list[float]:
        async with mcp.Client(build_server(runtime(metering)), raise_exceptions=True) as client:
            return await _measure(client, args.calls, args.warmup)

    async def over_http(url: str, nodelay: bool = True) -> list[float]:
        # The SDK's default httpx2 transport leaves Nagle on: ~40 ms per request on loopback.
        options = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)] if nodelay else None
        http = httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
            transport=httpx2.AsyncHTTPTransport(socket_options=options),
        )
        async with mcp.Client(streamable_http_client(f"{url}/mcp", http_client=http), raise_exceptions=True) as client:
            return await _measure(client, args.calls, args.warmup)

    # Interleave on/off so drift from other load on the machine hits both alike.
    for metering in (True, False, True, False):
        label = "on" if metering else "off"
        samples = anyio.run(in_memory, metering)
        results.setdefault(("in-memory", label), _pcts(samples))
        results[("in-memory", label)] = min(results[("in-memory", label)], _pcts(samples))
    server_side: dict[str, tuple[float, float]] = {}
    for metering in (True, False, True, False):
        label = "on" if metering else "off"
        timed = _Timed(create_app(runtime(metering), base_url="http://127.0.0.1"))
        with serve_app(timed) as url:
            samples = anyio.run(over_http, url)
        results.setdefault(("streamable HTTP", label), _pcts(samples))
        results[("streamable HTTP", label)] = min(results[("streamable HTTP", label)], _pcts(samples))
        measured = _pcts(timed.times[-args.calls :])
        server_side[label] = min(server_side.get(label, measured), measured)
    with serve_app(create_app(runtime(True), base_url="http://127.0.0.1")) as url:
        results[("HTTP, SDK default client", "on")] = _pcts(anyio.run(over_http, url, False))

    print(f"list_customers (limit 10) against the sandbox, {args.calls} calls per run, best of 2 runs")
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}")
    print(f"{'transport':<26} {'metering':<9} {'p50 ms':>8} {'p99 ms':>8}")
    for (transport, label), (p50, p99) in results.items():
        print(f"{transport:<26} {label:<9} {p50:>8.2f} {p99:>8.2f}")
    for label, (p50, p99) in server_side.items():
        print(f"streamable HTTP, time inside the server, metering {label}: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    for transport in ("in-memory", "streamable HTTP"):
        added = results[(transport, "on")][0] - results[(transport, "off")][0]
        print(f"metering adds {added:+.2f} ms median ({transport})")
    p50, p99 = _ledger_cost(ledger)
    print(f"ledger work per metered call, one caller (check_and_record_async + complete_async): p50 {p50:.3f} ms, p99 {p99:.3f} ms")
    (w50, w99), (m50, m99) = _resolve_cost(accounts)
    call_p50 = results[("in-memory", "on")][0]
    print(f"resolving the caller's connection per call, cache warm: p50 {w50:.3f} ms, p99 {w99:.3f} ms "
          f"({w50 / call_p50:.1%} of an in-memory call's p50 {call_p50:.2f} ms; target p50 < 0.2 ms)")
    print(f"resolving with a cache miss (decrypt the key, build a client; at most once per connection "
          f"per 5 minutes): p50 {m50:.3f} ms, p99 {m99:.3f} ms")
    ledger.close()


if __name__ == "__main__":
    main()
