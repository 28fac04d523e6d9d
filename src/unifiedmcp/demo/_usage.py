"""Usage events for the demo customers, generated with DuckDB (millions of rows in seconds).

Per customer and month, the number of calls follows its tier at that time and its usage level:
free customers make up to ~130 calls (past 100 they are rejected, the free tier's hard limit), pro
customers a few thousand (heavy ones near or over 10,000), enterprise tens of thousands.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

__all__ = ["MonthPlan", "write_usage"]

TYPICAL_CALLS = {"free": 60, "pro": 4_500, "enterprise": 20_000}
FREE_LIMIT = 100

TOOLS = ["search", "fetch", "list_customers", "retrieve_balance", "create_invoice", "list_subscriptions",
         "create_refund", "summarise_document"]

USAGE_SQL = """
COPY (
    SELECT
        'evt_' || p.seed || '_' || p.customer_n || '_' || p.month_index || '_' || i AS event_id,
        p.customer_id,
        $tools[1 + CAST(hash(p.seed, p.customer_n, p.month_index, i, 'tool') % len($tools) AS BIGINT)] AS tool_name,
        strftime(make_timestamp(CAST((p.t0 + (p.t1 - p.t0) * (i + 0.5) / p.calls) * 1000000 AS BIGINT)),
                 '%Y-%m-%dT%H:%M:%S.%fZ') AS timestamp,
        CASE WHEN p.hard_limit IS NOT NULL AND i >= p.hard_limit THEN 'rejected'
             WHEN hash(p.seed, p.customer_n, p.month_index, i, 'status') % 100 < 3 THEN 'error'
             ELSE 'ok' END AS status,
        'user_' || p.customer_n || '_' || CAST(hash(p.seed, p.customer_n, i) % 3 AS INTEGER) AS user_id,
        round(40 + (hash(p.seed, p.customer_n, p.month_index, i, 'lat') % 4000) / 10.0, 1) AS latency_ms
    FROM plan p, range(p.calls) r(i)
    ORDER BY timestamp, event_id
) TO '{path}' ({options})
"""


@dataclass(frozen=True)
class MonthPlan:
    customer_n: int
    customer_id: str
    month_index: int
    tier: str
    t0: int  # active from (Unix seconds)
    t1: int  # until
    level: float


def write_usage(path: Path, months: list[MonthPlan], *, seed: int) -> int:
    """Write the usage log for ``months`` (Parquet for ``.parquet``, else CSV); return the number of events."""
    rng = random.Random(seed * 7919 + 1)
    rows = []
    for m in months:
        if m.t1 <= m.t0:
            continue
        share = (m.t1 - m.t0) / (30 * 86_400)
        calls = int(TYPICAL_CALLS[m.tier] * m.level * share * rng.uniform(0.7, 1.3))
        if calls <= 0:
            continue
        rows.append((seed, m.customer_n, m.customer_id, m.month_index, m.t0, m.t1, calls,
                     FREE_LIMIT if m.tier == "free" else None))
    names = ["seed", "customer_n", "customer_id", "month_index", "t0", "t1", "calls", "hard_limit"]
    table = pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)},
                     schema=pa.schema([("seed", pa.int64()), ("customer_n", pa.int64()), ("customer_id", pa.string()),
                                       ("month_index", pa.int64()), ("t0", pa.int64()), ("t1", pa.int64()),
                                       ("calls", pa.int64()), ("hard_limit", pa.int64())]))
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        con.register("plan", table)
        options = "FORMAT parquet" if path.suffix == ".parquet" else "FORMAT csv, HEADER true"
        sql = USAGE_SQL.replace("{path}", str(path).replace("'", "''")).replace("{options}", options)
        con.execute(sql, {"tools": TOOLS})
    finally:
        con.close()
    return sum(r[6] for r in rows)
