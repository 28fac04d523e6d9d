"""Webhook receiver throughput: events per second verified (HMAC, 300 s tolerance) and applied.

Two measurements on the same realistic event mix (subscription lifecycle, invoices, duplicates):
  - in-process: verify_delivery + EventProcessor.process in a loop (no HTTP);
  - HTTP: the receiver (uvicorn, one process) on 127.0.0.1, driven by keep-alive connections
    from this process (a minimal asyncio HTTP/1.1 client, so the load generator is not the limit).
Every event is a separate ledger transaction (event log + state), as in production.
Run: .venv/bin/python benchmarks/bench_webhooks.py [--events N] [--connections C]
Target: at least 1,000 events/s over HTTP. Wall-clock rates depend on what else runs on the machine;
the events per CPU second of the receiver process do not (much), so both are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from unifiedmcp.billing import EventProcessor, verify_delivery
from unifiedmcp._loopback import free_port, wait_until_serving
from unifiedmcp.billing.testing import sign_payload
from unifiedmcp.ledger import Ledger

from _http1 import read_response  # benchmarks/_http1.py, next to this script
from _machine import cpu_model

SECRET = "whsec_bench_0123456789abcdef"
TARGET_HTTP = 1000.0


def _sub(sid: str, cid: str, status: str, tier: str, *, cape: bool = False) -> dict:
    return {
        "id": sid, "object": "subscription", "customer": cid, "status": status, "cancel_at_period_end": cape,
        "items": {"object": "list", "data": [{
            "id": "si_" + sid, "object": "subscription_item", "quantity": 1,
            "price": {"id": f"price_{tier}", "object": "price", "lookup_key": f"{tier}_monthly", "metadata": {"tier": tier}},
            "current_period_start": 1_790_000_000, "current_period_end": 1_792_592_000}]},
    }


def make_events(n: int, *, seed: int = 7) -> list[dict]:
    """About ``n`` events: per customer created -> active -> invoice paid -> maybe cancel; 5 % duplicates."""
    rng = random.Random(seed)
    out: list[dict] = []
    i = 0
    t0 = 1_790_000_000
    while len(out) < n:
        i += 1
        cid, sid, tier = f"cus_b{i:07d}", f"sub_b{i:07d}", rng.choice(["pro", "enterprise"])
        t = t0 + i
        evs = [
            ("customer.created", {"id": cid, "object": "customer", "email": f"b{i}@example.com"}, None),
            ("customer.subscription.created", _sub(sid, cid, "incomplete", tier), None),
            ("invoice.paid", {"id": f"in_b{i:07d}", "object": "invoice", "customer": cid, "status": "paid",
                              "amount_due": 2900, "amount_paid": 2900, "attempt_count": 1, "currency": "usd",
                              "parent": {"subscription_details": {"subscription": sid}}}, None),
            ("customer.subscription.updated", _sub(sid, cid, "active", tier), {"status": "incomplete"}),
        ]
        if rng.random() < 0.3:
            evs.append(("customer.subscription.updated", _sub(sid, cid, "active", tier, cape=True),
                        {"cancel_at_period_end": False}))
        for j, (etype, obj, prev) in enumerate(evs):
            data = {"object": obj}
            if prev:
                data["previous_attributes"] = prev
            out.append({"id": f"evt_b{i:07d}_{j}", "object": "event", "type": etype, "created": t + j,
                        "livemode": False, "data": data})
    out = out[:n]
    dups = rng.sample(out, max(1, n // 20))
    out.extend(dups)
    return out


def signed(events: list[dict]) -> list[tuple[bytes, str]]:
    now = int(time.time())
    bodies = [json.dumps(e, separators=(",", ":")).encode() for e in events]
    return [(b, sign_payload(b, SECRET, timestamp=now)) for b in bodies]


def bench_in_process(deliveries: list[tuple[bytes, str]], path: Path) -> tuple[float, float]:
    """(events per wall-clock second, events per CPU second of this process)."""
    with Ledger(path) as ledger:
        proc = EventProcessor(ledger)
        start, cpu = time.perf_counter(), time.process_time()
        for raw, header in deliveries:
            proc.process(verify_delivery(raw, header, [SECRET]), payload=raw.decode())
        elapsed, cpu_used = time.perf_counter() - start, time.process_time() - cpu
    return len(deliveries) / elapsed, len(deliveries) / cpu_used


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _drive(port: int, deliveries: list[tuple[bytes, str]], connections: int) -> tuple[float, dict[int, int]]:
    queue: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue()
    for d in deliveries:
        queue.put_nowait(d)
    codes: dict[int, int] = {}

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                try:
                    raw, header = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                writer.write(
                    b"POST /webhooks/stripe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + f"Stripe-Signature: {header}\r\nContent-Length: {len(raw)}\r\n\r\n".encode() + raw
                )
                code = await read_response(reader)
                codes[code] = codes.get(code, 0) + 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return len(deliveries) / (time.perf_counter() - start), codes


def bench_http(
    deliveries: list[tuple[bytes, str]], path: Path, connections: int
) -> tuple[float, float, dict[int, int]]:
    """(events per wall-clock second, events per CPU second of the receiver process, statuses)."""
    port = free_port()
    env = {**os.environ, "UNIFIEDMCP_LEDGER": str(path), "STRIPE_WEBHOOK_SECRET": SECRET,
           "UNIFIEDMCP_DATA_DIR": str(path.parent)}
    env.pop("STRIPE_API_KEY", None)
    server = subprocess.Popen([sys.executable, "-m", "unifiedmcp.billing.testing", "--port", str(port)], env=env)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/healthz", proc=server, timeout=20, name="receiver")
        cpu = _cpu_seconds(server.pid)
        rate, codes = asyncio.run(_drive(port, deliveries, connections))
        return rate, len(deliveries) / (_cpu_seconds(server.pid) - cpu), codes
    finally:
        server.terminate()
        server.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--strict", action="store_true", help="Exit 1 when the HTTP target is not met.")
    args = parser.parse_args()
    events = make_events(args.events)
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"events: {len(events)} ({len(events) - args.events} duplicates), each verified and applied in its own transaction")
    with tempfile.TemporaryDirectory() as tmp:
        rate, rate_cpu = bench_in_process(signed(events), Path(tmp) / "inproc.sqlite3")
        print(f"in-process: {rate:,.0f} events/s (wall clock); {rate_cpu:,.0f} events per CPU second")
        http_rate, http_cpu, codes = bench_http(signed(events), Path(tmp) / "http.sqlite3", args.connections)
        print(
            f"HTTP (127.0.0.1, {args.connections} keep-alive connections): {http_rate:,.0f} events/s (wall clock); "
            f"{http_cpu:,.0f} events per CPU second of the receiver process; statuses {codes}"
        )
        with Ledger(Path(tmp) / "http.sqlite3") as ledger, ledger.transaction() as conn:
            stored = conn.execute("SELECT count(*) FROM webhook_events").fetchone()[0]
        print(f"stored events: {stored} (distinct ids: {len({e['id'] for e in events})})")
    correct = set(codes) == {200} and stored == args.events
    met = http_rate >= TARGET_HTTP
    print(f"target >= {TARGET_HTTP:,.0f}/s over HTTP: {'met' if met else 'NOT met'} (wall clock)")
    if not correct:
        print("ERROR: a delivery was refused or an event was not stored exactly once")
    return 0 if correct and (met or not args.strict) else 1


if __name__ == "__main__":
    sys.exit(main())
