"""Usage push: meter events per second into the sandbox, and the lag from a call to its meter event
while 64 callers meter calls, against the ledger's own peak rate and Stripe's live-mode limit.

The sandbox runs as its own process on 127.0.0.1 (SQLite store), the ledger is a SQLite file, and
the pusher is the real ``UsagePusher`` over stripe-python, as ``serve`` and ``billing push-usage``
run it.

1. **Throughput.** ``--events`` billable calls already in the ledger, each in its own (customer,
   second), so each is one meter event: the time to stage them, and to send them (events/s),
   sending one event at a time (concurrency 1, the baseline) and with ``--concurrency``; on
   loopback, and again through a proxy that holds each answer ``--rtt-ms`` (a round trip to live
   Stripe, which on loopback the sandbox's CPU hides).
2. **Lag under load.** ``--callers`` asyncio tasks meter calls for ``--seconds`` (admit with
   ``completes=True``, then complete, as the MCP server does) for ``--customers`` pro customers,
   while a thread runs the pusher every ``--interval`` seconds. Reported: the ledger's call rate
   (its peak, with the pusher running), the meter events that rate makes (one per active customer
   and second), the events pushed per second, and the lag of each event (sent_at minus the
   second of its calls: an upper bound for each call in it) at p50, p99 and max; then how long
   the backlog took to drain after the load stopped.

The baseline printed beside the figures: Stripe's documented live-mode limit for meter events
(1,000 per second per account, docs "Rate limits"; the sandbox does not enforce it), and the
event rate the ledger's peak makes (what the pusher must keep up with).

    .venv/bin/python benchmarks/bench_push.py [--events 3000] [--callers 64] [--customers 200]
        [--seconds 20] [--interval 1.0] [--concurrency 8] [--rtt-ms 50] [--far-events 400]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import stripe

from _machine import cpu_model
from unifiedmcp._loopback import ServerDidNotStart, free_port, wait_until_serving
from unifiedmcp.billing import UsagePusher, ensure_catalog
from unifiedmcp.ledger import CallRecord, Ledger

STRIPE_LIVE_METER_EVENTS_PER_S = 1000
KEY = "sk_test_benchmark"


def start_sandbox(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [str(Path(sys.executable).parent / "unifiedmcp"), "sandbox", "serve", "--port", str(port),
           "--db", str(tmp / "sandbox.sqlite3")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url + "/_sandbox/health", proc=proc, name="the sandbox")
    except ServerDidNotStart:
        proc.kill()
        raise
    return proc, url


class SlowLink:
    """A TCP proxy on 127.0.0.1 that holds each answer ``delay`` seconds: a round trip to a distant
    API (live Stripe) without leaving loopback."""

    def __init__(self, target_port: int, *, delay: float) -> None:
        self.port, self.delay, self._target = free_port(), delay, target_port
        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        threading.Thread(target=self._run, args=(started,), daemon=True).start()
        started.wait(10)

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port))
        started.set()
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, delay: float) -> None:
            while data := await src.read(65536):
                if delay:
                    await asyncio.sleep(delay)
                dst.write(data)
                await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer, 0), pipe(up_reader, writer, self.delay), return_exceptions=True)


def make_customers(client: stripe.StripeClient, ledger: Ledger, n: int) -> list[str]:
    ids = []
    for i in range(n):
        cus = client.v1.customers.create({"email": f"bench-{i}@example.com"}).id
        ledger.upsert_customer(cus, tier="pro")
        ids.append(cus)
    return ids


def throughput(ledger: Ledger, client: stripe.StripeClient, customers: list[str], *, events: int,
               concurrency: int, hours_ago: int) -> dict[str, float]:
    """``events`` calls, one per (customer, second), in the past: stage, then send."""
    base = int(time.time()) - 3600 * hours_ago
    calls = [CallRecord(customers[i % len(customers)], "list_customers",
                        datetime.fromtimestamp(base + i // len(customers), UTC), f"tp-{hours_ago}-{i}", latency_ms=1.0)
             for i in range(events)]
    ledger.record_calls(calls)
    pusher = UsagePusher(ledger, client, grace_seconds=0, concurrency=concurrency)
    t = time.perf_counter()
    staged = pusher.stage()
    stage_s = time.perf_counter() - t
    t = time.perf_counter()
    sent = pusher.send()
    send_s = time.perf_counter() - t
    assert staged.staged_events == events and sent.sent == events, (staged, sent)
    return {"stage_s": stage_s, "send_s": send_s, "events_per_s": events / send_s}


def lag_under_load(ledger: Ledger, client: stripe.StripeClient, customers: list[str], *, callers: int,
                   seconds: float, interval: float, concurrency: int) -> dict[str, float]:
    pusher = UsagePusher(ledger, client, grace_seconds=60, concurrency=concurrency)
    stop_pushing = threading.Event()
    pushed = {"events": 0}

    def push_loop() -> None:
        while not stop_pushing.is_set():
            pushed["events"] += pusher.run_once().sent
            stop_pushing.wait(interval)
        pusher.run_once()  # the rest, after the load stopped

    async def load() -> int:
        done = 0
        deadline = time.monotonic() + seconds

        async def caller(n: int) -> None:
            nonlocal done
            rng = random.Random(n)
            i = 0
            while time.monotonic() < deadline:
                event = f"lag-{n}-{i}"
                await ledger.check_and_record_async(rng.choice(customers), "list_customers", event_id=event,
                                                    completes=True)
                await ledger.complete_async(event, status="ok", latency_ms=1.0)
                done += 1
                i += 1

        await asyncio.gather(*(caller(n) for n in range(callers)))
        return done

    with ledger.transaction() as conn:
        first_new = conn.execute("SELECT coalesce(max(ts), 0) FROM meter_outbox").fetchone()[0]
    thread = threading.Thread(target=push_loop, daemon=True)
    thread.start()
    t = time.perf_counter()
    calls = asyncio.run(load())
    load_s = time.perf_counter() - t
    sent_during_load = pushed["events"]
    t = time.perf_counter()
    stop_pushing.set()
    thread.join()
    drain_s = time.perf_counter() - t
    with ledger.transaction() as conn:
        rows = conn.execute("SELECT ts, sent_at, status FROM meter_outbox WHERE ts > ?", (first_new,)).fetchall()
    lags = sorted(datetime.fromisoformat(sent_at.replace("Z", "+00:00")).timestamp() - ts for ts, sent_at, _ in rows)
    assert all(status == "sent" for *_, status in rows)
    assert sum(1 for _ in rows) == len(lags) and lags
    return {
        "calls": calls, "calls_per_s": calls / load_s, "events": len(rows), "events_made_per_s": len(rows) / load_s,
        "pushed_during_load_per_s": sent_during_load / load_s, "lag_p50": statistics.median(lags),
        "lag_p99": lags[int(0.99 * (len(lags) - 1))], "lag_max": lags[-1], "drain_s": drain_s,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=3000, help="meter events for the throughput figure")
    ap.add_argument("--callers", type=int, default=64)
    ap.add_argument("--customers", type=int, default=200, help="pro customers the callers spread over")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of the load")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between pusher runs")
    ap.add_argument("--concurrency", type=int, default=8, help="the pusher's concurrency (against 1)")
    ap.add_argument("--rtt-ms", type=float, default=50.0, help="added to each answer, as from a distant API")
    ap.add_argument("--far-events", type=int, default=400, help="meter events for the throughput over --rtt-ms")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-push-"))
    proc, url = start_sandbox(tmp)
    try:
        client = stripe.StripeClient(KEY, base_addresses={"api": url}, max_network_retries=0)
        with Ledger(tmp / "ledger.sqlite3") as ledger:
            ensure_catalog(client, ledger=ledger)
            customers = make_customers(client, ledger, args.customers)
            print(f"  {len(customers)} pro customers created", file=sys.stderr)
            slow = SlowLink(int(url.rsplit(":", 1)[1]), delay=args.rtt_ms / 1000)
            far = stripe.StripeClient(KEY, base_addresses={"api": f"http://127.0.0.1:{slow.port}"},
                                      max_network_retries=0)
            tps = {}
            runs = [("loopback", client, 1), ("loopback", client, args.concurrency),
                    (f"+{args.rtt_ms:g} ms", far, 1), (f"+{args.rtt_ms:g} ms", far, args.concurrency)]
            for hours_ago, (link, via, concurrency) in enumerate(runs, start=2):
                n = args.events if link == "loopback" else args.far_events
                tps[(link, concurrency)] = (n, throughput(ledger, via, customers, events=n, concurrency=concurrency,
                                                          hours_ago=hours_ago))
                print(f"  throughput measured ({link}, concurrency {concurrency})", file=sys.stderr)
            lag = lag_under_load(ledger, client, customers, callers=args.callers, seconds=args.seconds,
                                 interval=args.interval, concurrency=args.concurrency)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"machine: {os.cpu_count()} cores, {cpu_model()}, load average {os.getloadavg()[0]:.1f}, "
          f"Python {platform.python_version()}, stripe {stripe.VERSION}")
    print(f"baseline: Stripe live-mode limit {STRIPE_LIVE_METER_EVENTS_PER_S:,} meter events/s per account")
    for (link, concurrency), (n, tp) in tps.items():
        print(f"throughput, {link}, concurrency {concurrency}: {n:,} events staged in {tp['stage_s']:.2f} s, sent "
              f"in {tp['send_s']:.2f} s = {tp['events_per_s']:,.0f} events/s "
              f"({tp['events_per_s'] / STRIPE_LIVE_METER_EVENTS_PER_S:.0%} of Stripe's limit)")
    print(f"load: {args.callers} callers, {args.customers} customers, {args.seconds:.0f} s, pusher every "
          f"{args.interval:g} s, concurrency {args.concurrency}")
    print(f"  ledger peak: {lag['calls']:,} calls = {lag['calls_per_s']:,.0f} calls/s, making "
          f"{lag['events']:,} meter events = {lag['events_made_per_s']:,.0f} events/s")
    print(f"  pushed during the load: {lag['pushed_during_load_per_s']:,.0f} events/s (the last run's events "
          f"are sent after it)")
    print(f"  lag call -> meter event: p50 {lag['lag_p50']:.2f} s, p99 {lag['lag_p99']:.2f} s, "
          f"max {lag['lag_max']:.2f} s; backlog drained {lag['drain_s']:.2f} s after the load stopped")


if __name__ == "__main__":
    main()
