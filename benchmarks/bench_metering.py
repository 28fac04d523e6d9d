"""Metering cost: our check_and_record against the seed's naive trackUsage, on the same SQLite;
then SQLite and PostgreSQL side by side with one and three processes.

For 0, 100k and 1M usage rows already in the month, it prints calls per second and p50/p99
latency per call for
  - ours, one caller: check_and_record, one BEGIN IMMEDIATE transaction per call reading a
           monthly counter (O(1) in the month's rows);
  - ours, concurrent: 64 asyncio tasks calling check_and_record_async, as the MCP server meters
           concurrent tool calls: calls queued while a transaction commits share the next one
           (group commit), each still decided on its own;
  - naive: the seed's approach, insert a row and then count the month's rows for the user
           (with an index on (user_id, timestamp), which is the kindest form of it).
Across processes, for each backend (a SQLite file; PostgreSQL in a throwaway local cluster with
its default, durable settings) and 0 and 1M rows already in the month: 1 and 3 processes, each
with 64 asyncio callers metering one customer, as replicas of the MCP server would; calls/s over
all processes, and a check that the counter and the recorded events equal the calls made.
Run: .venv/bin/python benchmarks/bench_metering.py [--calls N] [--callers 64] [--sizes 0,100000,1000000]
     [--process-calls 20000] [--process-sizes 0,1000000] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from unifiedmcp.ledger import Ledger, new_event_id
from unifiedmcp.months import Month

MONTH_START = datetime(2026, 11, 1, tzinfo=UTC)
CUSTOMER = "cus_bench"

NAIVE_SCHEMA = """
CREATE TABLE usage_logs (user_id TEXT, tool_name TEXT, timestamp TEXT);
CREATE INDEX usage_logs_user_time ON usage_logs (user_id, timestamp);
"""


def _prefill_ours(ledger: Ledger, rows: int) -> None:
    """Put `rows` earlier calls of this month into the ledger, with ids as check_and_record makes them."""
    batch = 50_000
    with ledger.transaction() as conn:
        for start in range(0, rows, batch):
            n = min(batch, rows - start)
            conn.executemany(
                "INSERT INTO usage_events (event_id, customer_id, tool_name, ts, month, status)"
                " VALUES (?, ?, 'prefill', ?, '2026-11', 'ok')",
                ((new_event_id(), CUSTOMER, f"2026-11-01T00:00:{i % 60:02d}.000000Z") for i in range(n)),
            )
        conn.execute(
            "INSERT INTO usage_counters (customer_id, month, calls) VALUES (?, '2026-11', ?)", (CUSTOMER, rows)
        )


def _naive(path: Path, rows: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(NAIVE_SCHEMA)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO usage_logs VALUES (?, 'prefill', ?)",
        ((CUSTOMER, f"2026-11-01T00:00:{i % 60:02d}.000000Z") for i in range(rows)),
    )
    conn.execute("COMMIT")
    return conn


def _naive_track(conn: sqlite3.Connection, at: datetime) -> int:
    """The seed's trackUsage: log the call, then count this month's calls to compare with the limit."""
    conn.execute("INSERT INTO usage_logs VALUES (?, ?, ?)", (CUSTOMER, "bench", at.isoformat()))
    return conn.execute(
        "SELECT count(*) FROM usage_logs WHERE user_id = ? AND timestamp >= ? AND timestamp < ?",
        (CUSTOMER, "2026-11-01", "2026-12-01"),
    ).fetchone()[0]


def _measure(fn, calls: int) -> dict[str, float]:
    samples = []
    start = time.perf_counter()
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t0)
    total = time.perf_counter() - start
    samples.sort()
    return {
        "calls_per_s": calls / total,
        "p50_us": statistics.median(samples) / 1000,
        "p99_us": samples[int(len(samples) * 0.99) - 1] / 1000,
    }


def _measure_concurrent(ledger: Ledger, at: datetime, calls: int, callers: int) -> dict[str, float]:
    samples: list[int] = []

    async def caller() -> None:
        for _ in range(calls // callers):
            t0 = time.perf_counter_ns()
            await ledger.check_and_record_async(CUSTOMER, "bench", at=at)
            samples.append(time.perf_counter_ns() - t0)

    async def run() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(callers)))
        return time.perf_counter() - start

    total = asyncio.run(run())
    samples.sort()
    return {
        "calls_per_s": len(samples) / total,
        "p50_us": statistics.median(samples) / 1000,
        "p99_us": samples[int(len(samples) * 0.99) - 1] / 1000,
    }


def _prefill_postgres(ledger: Ledger, rows: int) -> None:
    """The same prefill as _prefill_ours, generated inside PostgreSQL (1M rows in seconds)."""
    with ledger.transaction() as conn:
        if rows:
            conn.execute(
                "INSERT INTO usage_events (event_id, customer_id, tool_name, ts, month, status)"
                " SELECT lpad(to_hex(i), 32, '0'), ?, 'prefill', '2026-11-01T00:00:00.000000Z', '2026-11', 'ok'"
                " FROM generate_series(1, ?) AS i",
                (CUSTOMER, rows),
            )
        conn.execute(
            "INSERT INTO usage_counters (customer_id, month, calls) VALUES (?, '2026-11', ?)", (CUSTOMER, rows)
        )
        conn.execute("ANALYZE usage_events")


def _worker(target: str, calls: int, callers: int, start_at: float) -> None:
    """One metering process (``--worker``): waits for ``start_at``, meters, prints its figures as JSON."""
    ledger = Ledger(target)
    time.sleep(max(0.0, start_at - time.time()))
    figures = _measure_concurrent(ledger, MONTH_START + timedelta(days=3), calls, callers)
    ended = time.time()
    ledger.close()
    print(json.dumps(figures | {"calls": calls // callers * callers, "ended": ended}))


def _processes(target: str, *, processes: int, calls: int, callers: int) -> dict[str, float]:
    """``processes`` metering processes at once on ``target``: calls/s over all of them."""
    start_at = time.time() + 3  # every process imported and connected before the clock starts
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", target, str(calls), str(callers), repr(start_at)],
            stdout=subprocess.PIPE, text=True,
        )
        for _ in range(processes)
    ]
    results = [json.loads(p.communicate(timeout=600)[0]) for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit("a metering process failed")
    made = sum(r["calls"] for r in results)
    return {
        "calls": made,
        "calls_per_s": made / (max(r["ended"] for r in results) - start_at),
        "p50_us": max(r["p50_us"] for r in results),
        "p99_us": max(r["p99_us"] for r in results),
    }


def _exact(target: str, expected: int) -> bool:
    """The counter and the recorded events both equal the calls made (prefill included)."""
    with Ledger(target) as ledger:
        usage = ledger.usage(CUSTOMER, month=Month(2026, 11))
        with ledger.transaction() as conn:
            events = conn.execute("SELECT count(*) FROM usage_events WHERE customer_id = ?", (CUSTOMER,)).fetchone()[0]
    return usage.calls == events == expected


def _across_processes(args: argparse.Namespace, tmp: Path) -> list[tuple[str, int, int, dict[str, float], bool]]:
    """(backend, rows, processes, figures, exact) for SQLite, and PostgreSQL unless --no-postgres."""
    from contextlib import ExitStack

    from unifiedmcp.ledger.testing import PostgresCluster

    sizes = [int(s) for s in args.process_sizes.split(",")]
    out = []
    with ExitStack() as stack:
        cluster = None if args.no_postgres else stack.enter_context(PostgresCluster.start(settings={}))
        if cluster is not None:
            print(f"postgresql: {cluster.bin_dir} (default settings: fsync on; metering commits asynchronously)")
        for backend in ["sqlite"] + ([] if cluster is None else ["postgres"]):
            for rows in sizes:
                for processes in (1, 3):
                    if backend == "sqlite":
                        target = str(tmp / f"procs-{rows}-{processes}.sqlite3")
                        with Ledger(target) as ledger:
                            ledger.upsert_customer(CUSTOMER, tier="enterprise")
                            _prefill_ours(ledger, rows)
                    else:
                        target = cluster.create_database()
                        with Ledger(target) as ledger:
                            ledger.upsert_customer(CUSTOMER, tier="enterprise")
                            _prefill_postgres(ledger, rows)
                    figures = _processes(target, processes=processes, calls=args.process_calls, callers=args.callers)
                    out.append((backend, rows, processes, figures, _exact(target, rows + int(figures["calls"]))))
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000, help="metered calls per measurement (ours)")
    parser.add_argument("--callers", type=int, default=64, help="concurrent asyncio callers (ours, concurrent)")
    parser.add_argument("--naive-calls", type=int, default=300, help="calls per measurement (naive)")
    parser.add_argument("--sizes", default="0,100000,1000000", help="rows already in the month")
    parser.add_argument("--process-calls", type=int, default=20_000, help="metered calls per process (across processes)")
    parser.add_argument("--process-sizes", default="0,1000000", help="rows already in the month (across processes)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only (no local PostgreSQL)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()} sqlite {sqlite3.sqlite_version}")
    at = MONTH_START + timedelta(days=3)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            ledger = Ledger(Path(tmp) / f"ours-{rows}.sqlite3")
            ledger.upsert_customer(CUSTOMER, tier="enterprise")
            _prefill_ours(ledger, rows)
            ours = _measure(lambda: ledger.check_and_record(CUSTOMER, "bench", at=at), args.calls)
            concurrent = _measure_concurrent(ledger, at, args.calls, args.callers)
            ledger.close()
            naive_conn = _naive(Path(tmp) / f"naive-{rows}.sqlite3", rows)
            naive = _measure(lambda: _naive_track(naive_conn, at), args.naive_calls)
            naive_conn.close()
            results[rows] = (ours, concurrent, naive)
    print(
        f"{'rows in month':>14} | {'ours, 1 caller':>14} {'p50 µs':>8} {'p99 µs':>8} | "
        f"{f'ours, {args.callers} callers':>16} {'p50 µs':>8} {'p99 µs':>8} | "
        f"{'naive calls/s':>13} {'p50 µs':>9} {'p99 µs':>9} | 1 caller vs naive"
    )
    for rows, (ours, concurrent, naive) in results.items():
        print(
            f"{rows:>14,} | {ours['calls_per_s']:>14,.0f} {ours['p50_us']:>8.1f} {ours['p99_us']:>8.1f} | "
            f"{concurrent['calls_per_s']:>16,.0f} {concurrent['p50_us']:>8.1f} {concurrent['p99_us']:>8.1f} | "
            f"{naive['calls_per_s']:>13,.0f} {naive['p50_us']:>9.1f} {naive['p99_us']:>9.1f} | "
            f"{ours['calls_per_s'] / naive['calls_per_s']:>7.1f}x"
        )
    best = {rows: max(o["calls_per_s"], c["calls_per_s"]) for rows, (o, c, _) in results.items()}
    print(f"ours, calls/s in one process: {min(best.values()):,.0f} at worst over the sizes (target >= 20,000)")
    if 0 in results and max(sizes) > 0:
        big = max(sizes)
        ratio = results[0][0]["calls_per_s"] / results[big][0]["calls_per_s"]
        print(f"ours, 1 caller: cost at {big:,} rows / cost at 0 rows = {ratio:.2f} (target <= 1.5)")
        print(f"ours, 1 caller vs naive at {big:,} rows: {results[big][0]['calls_per_s'] / results[big][2]['calls_per_s']:.0f}x (target >= 100x)")

    with tempfile.TemporaryDirectory() as tmp:
        across = _across_processes(args, Path(tmp))
    print(f"\nacross processes, {args.callers} asyncio callers each, {args.process_calls:,} calls per process")
    print(f"{'backend':>8} | {'rows in month':>13} | {'processes':>9} | {'calls/s, all':>12} {'p50 µs':>8} {'p99 µs':>8} | exact counts")
    for backend, rows, processes, f, exact in across:
        print(
            f"{backend:>8} | {rows:>13,} | {processes:>9} | {f['calls_per_s']:>12,.0f} {f['p50_us']:>8.0f} "
            f"{f['p99_us']:>8.0f} | {'yes' if exact else 'NO'}"
        )
    for backend in sorted({b for b, *_ in across}):
        three = [(f["calls_per_s"], exact) for b, _, n, f, exact in across if b == backend and n == 3]
        print(
            f"{backend}, 3 processes: {min(c for c, _ in three):,.0f} calls/s at worst over the sizes "
            f"(target >= 10,000), counts {'exact' if all(e for _, e in three) else 'WRONG'}"
        )
    if not all(exact for *_, exact in across):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
