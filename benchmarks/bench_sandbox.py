"""Sandbox vs localstripe, side by side in one run.

Measures, for each server (each started here as its own process on 127.0.0.1):

- ``customers.create`` per second on an empty store and again with 5,000 stored customers, through
  stripe-python 16 (what callers see) and through raw HTTP (httpx with TCP_NODELAY: the server's
  own speed, without stripe-python's per-request cost);
- ``customers.list(limit=100)`` latency (median of 15) at both sizes;
- sandbox only (localstripe has no test clocks): the time to advance a test clock carrying 1,000
  active subscriptions by one month (+2 h, so every renewal invoice is finalized and charged);
- sandbox only (localstripe has no meters): meter events per second into one meter for one
  customer, each with its own identifier, through stripe-python and raw HTTP, and the server's
  CPU time per raw event (skipped for a sandbox version without meters, to compare with it).

localstripe re-pickles its whole store on every write, so filling it to 5,000 customers takes
many minutes; its fill stops after ``--localstripe-fill-seconds`` (default 120) and the report
says how many customers it then held.

    .venv/bin/python benchmarks/bench_sandbox.py [--size 5000] [--subs 1000] [--json] [--no-localstripe]

``--no-localstripe`` measures the sandbox alone (about a minute instead of four): enough to compare
two versions of the sandbox in one session. Beside each wall-clock figure the report gives the
server process's own CPU time (user + system, from /proc) per raw create and for the clock
advance: on a shared machine the wall clock varies by 2-3x between runs, the CPU time far less.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import stripe

from unifiedmcp._loopback import free_port, wait_until_serving

BIN = Path(sys.executable).parent
KEY = "sk_test_benchmark"


@dataclass
class Server:
    name: str
    url: str
    proc: subprocess.Popen[bytes]
    tmp: str
    results: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def start(name: str, args: list[str], ready_path: str, *, env: dict[str, str] | None = None) -> Server:
    port = free_port()
    tmp = tempfile.mkdtemp(prefix=f"bench-{name}-")
    cmd = [a.replace("{port}", str(port)).replace("{tmp}", tmp) for a in args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "TMPDIR": tmp, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    wait_until_serving(url + ready_path, proc=proc, name=name)
    return Server(name, url, proc, tmp)


def server_cpu(server: Server) -> float:
    """CPU seconds (user + system) the server process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rate(n: int, fn: Callable[[int], object]) -> float:
    t = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - t)


def median_ms(n: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def clients(server: Server) -> tuple[stripe.StripeClient, httpx.Client]:
    """stripe-python, and a raw keep-alive HTTP client with TCP_NODELAY (the server's own speed)."""
    client = stripe.StripeClient(KEY, base_addresses={"api": server.url}, max_network_retries=0)
    transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    return client, httpx.Client(base_url=server.url, transport=transport, headers={"Authorization": f"Bearer {KEY}"})


def measure(server: Server, *, size: int, n: int, fill_seconds: float | None) -> None:
    client, http = clients(server)
    r = server.results
    stored = 0

    def create_sdk(i: int) -> None:
        client.v1.customers.create({"email": f"b{i}@example.com", "metadata": {"n": str(i)}})

    def create_raw(i: int) -> None:
        http.post("/v1/customers", data={"email": f"r{i}@example.com", "metadata[n]": str(i)}).raise_for_status()

    for i in range(20):  # warm-up: connections, route and parameter caches
        create_raw(-i)
    r["create_sdk_empty"] = rate(n, create_sdk)
    cpu = server_cpu(server)
    r["create_raw_empty"] = rate(n, create_raw)
    r["create_raw_empty_cpu_ms"] = (server_cpu(server) - cpu) * 1000 / n
    stored = 2 * n + 20
    r["list_sdk_small"] = median_ms(15, lambda: client.v1.customers.list({"limit": 100}))
    r["list_raw_small"] = median_ms(15, lambda: http.get("/v1/customers", params={"limit": 100}).raise_for_status())
    r["small_size"] = stored
    deadline = None if fill_seconds is None else time.monotonic() + fill_seconds
    while stored < size - 2 * n:
        if deadline is not None and time.monotonic() > deadline:
            break
        create_raw(stored)
        stored += 1
    r["create_sdk_full"] = rate(n, create_sdk)
    cpu = server_cpu(server)
    r["create_raw_full"] = rate(n, create_raw)
    r["create_raw_full_cpu_ms"] = (server_cpu(server) - cpu) * 1000 / n
    stored += 2 * n
    r["full_size"] = stored
    r["list_sdk_full"] = median_ms(15, lambda: client.v1.customers.list({"limit": 100}))
    r["list_raw_full"] = median_ms(15, lambda: http.get("/v1/customers", params={"limit": 100}).raise_for_status())
    http.close()


def meter_events(server: Server, *, n: int) -> None:
    client, http = clients(server)
    created = http.post("/v1/billing/meters", data={"display_name": "Bench", "event_name": "bench_calls",
                                                    "default_aggregation[formula]": "sum"})
    if created.status_code == 404:  # a sandbox version from before meters
        http.close()
        return
    created.raise_for_status()
    cus = http.post("/v1/customers").json()["id"]

    def record_sdk(i: int) -> None:
        client.v1.billing.meter_events.create({"event_name": "bench_calls", "identifier": f"sdk-{i}",
                                               "payload": {"stripe_customer_id": cus, "value": "1"}})

    def record_raw(i: int) -> None:
        http.post("/v1/billing/meter_events", data={"event_name": "bench_calls", "identifier": f"raw-{i}",
                                                    "payload[stripe_customer_id]": cus, "payload[value]": "1"}).raise_for_status()

    for i in range(20):  # warm-up
        record_raw(-1 - i)
    r = server.results
    r["meter_sdk"] = rate(n, record_sdk)
    cpu = server_cpu(server)
    r["meter_raw"] = rate(n, record_raw)
    r["meter_raw_cpu_ms"] = (server_cpu(server) - cpu) * 1000 / n
    http.close()


def clock_advance(server: Server, *, subs: int) -> None:
    client = stripe.StripeClient(KEY, base_addresses={"api": server.url}, max_network_retries=0)
    t0 = 1_767_225_600  # 2026-01-01
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": t0})
    prod = client.v1.products.create({"name": "Bench"})
    price = client.v1.prices.create({"product": prod.id, "unit_amount": 2000, "currency": "usd", "recurring": {"interval": "month"}})
    t = time.perf_counter()
    for i in range(subs):
        cus = client.v1.customers.create({"test_clock": clock.id, "payment_method": "pm_card_visa",
                                          "invoice_settings": {"default_payment_method": "pm_card_visa"}})
        client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}]})
    server.results["setup_subs_seconds"] = time.perf_counter() - t
    t, cpu = time.perf_counter(), server_cpu(server)
    done = client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": t0 + 31 * 86400 + 7200})
    server.results["advance_seconds"] = time.perf_counter() - t
    server.results["advance_cpu_seconds"] = server_cpu(server) - cpu
    assert done.status == "ready"
    paid = sum(1 for _ in client.v1.invoices.list({"status": "paid", "limit": 100}).auto_paging_iter())
    assert paid == 2 * subs, f"expected {2 * subs} paid invoices, found {paid}"
    server.results["advance_subs"] = subs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=5000)
    ap.add_argument("--n", type=int, default=300, help="creates (and meter events) per rate measurement")
    ap.add_argument("--subs", type=int, default=1000)
    ap.add_argument("--localstripe-fill-seconds", type=float, default=120)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-localstripe", action="store_true", help="measure the sandbox only")
    args = ap.parse_args()

    servers = [
        ("sandbox (SQLite)", [str(BIN / "unifiedmcp"), "sandbox", "serve", "--port", "{port}", "--db", "{tmp}/sb.sqlite3"], "/_sandbox/health", None),
        ("sandbox (--memory)", [str(BIN / "unifiedmcp"), "sandbox", "serve", "--port", "{port}", "--memory"], "/_sandbox/health", None),
        ("localstripe 1.15.10", [str(BIN / "localstripe"), "--port", "{port}", "--from-scratch"], "/js.stripe.com/v3/", args.localstripe_fill_seconds),
    ]
    if args.no_localstripe:
        servers = [s for s in servers if not s[0].startswith("localstripe")]
    report = []
    for name, cmd, ready, fill in servers:
        server = start(name, cmd, ready)
        try:
            measure(server, size=args.size, n=args.n, fill_seconds=fill)
            if name.startswith("sandbox"):
                meter_events(server, n=args.n)
            if name.startswith("sandbox (SQLite)"):
                clock_advance(server, subs=args.subs)
        finally:
            server.stop()
        report.append({"server": name, **server.results})
        print(f"  measured {name}", file=sys.stderr)

    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"nproc={os.cpu_count()}  load average={os.getloadavg()[0]:.1f}  python={sys.version.split()[0]}  stripe={stripe.VERSION}")
    head = (f"{'server':22} {'create/s SDK':>13} {'create/s raw':>13} {'server CPU ms/create':>21} "
            f"{'list ms SDK':>12} {'list ms raw':>12}  stored")
    print(head)
    for row in report:
        for phase, size_key in (("empty", "small_size"), ("full", "full_size")):
            lst = "small" if phase == "empty" else "full"
            label = f"{row['server'][:22]:22}" if phase == "empty" else " " * 22
            print(f"{label} {row[f'create_sdk_{phase}']:13.0f} {row[f'create_raw_{phase}']:13.0f} "
                  f"{row[f'create_raw_{phase}_cpu_ms']:21.2f} "
                  f"{row[f'list_sdk_{lst}']:12.1f} {row[f'list_raw_{lst}']:12.1f}  {'0' if phase == 'empty' else row[size_key]:>6} "
                  f"(list at {row[size_key]})")
    for row in report:
        if "meter_raw" in row:
            print(f"{row['server']}: meter events/s SDK {row['meter_sdk']:.0f}, raw {row['meter_raw']:.0f}, "
                  f"server CPU {row['meter_raw_cpu_ms']:.2f} ms per raw event")
    for row in report:
        if "advance_seconds" in row:
            print(f"{row['server']}: test clock with {row['advance_subs']} subscriptions advanced one month in "
                  f"{row['advance_seconds']:.2f} s, server CPU {row['advance_cpu_seconds']:.2f} s "
                  f"(setup {row['setup_subs_seconds']:.1f} s)")
    print("localstripe: no test clocks, no meters (advance and meter events not measurable)")


if __name__ == "__main__":
    main()
