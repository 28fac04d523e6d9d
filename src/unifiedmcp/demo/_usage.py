"""Usage events for the demo customers, generated with DuckDB (millions of rows in seconds).

Each customer's month is cut into segments by its tier (from the synced warehouse's tier
timeline), and every call carries the tier of its segment, as the ledger records it. Calls per
segment follow the tier's typical monthly volume, the customer's usage level and the segment's
length: free customers make up to ~130 calls a month (past 100 in the month they are rejected,
the free tier's hard limit), pro customers a few thousand (heavy ones near or over 10,000),
enterprise tens of thousands. Each customer favours a few tools of its own.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

__all__ = ["MonthPlan", "TOOLS", "write_usage"]

TYPICAL_CALLS = {"free": 60, "pro": 4_500, "enterprise": 20_000}
FREE_LIMIT = 100

TOOLS = ["search", "fetch", "list_customers", "retrieve_balance", "create_invoice", "list_subscriptions",
         "create_refund", "summarise_document", "list_payment_intents", "create_payment_link"]

USAGE_SQL = """
COPY (
    SELECT
        'evt_' || p.seed || '_' || p.customer_n || '_' || p.segment || '_' || i AS event_id,
        p.customer_id,
        p.tools[1 + CAST(hash(p.seed, p.customer_n, p.segment, i, 'tool') % len(p.tools) AS BIGINT)] AS tool_name,
        strftime(make_timestamp(CAST((p.t0 + (p.t1 - p.t0) * (i + 0.5) / p.calls) * 1000000 AS BIGINT)),
                 '%Y-%m-%dT%H:%M:%S.%fZ') AS timestamp,
        CASE WHEN p.hard_limit IS NOT NULL AND i >= p.hard_limit THEN 'rejected'
             WHEN hash(p.seed, p.customer_n, p.segment, i, 'status') % 100 < 3 THEN 'error'
             ELSE 'ok' END AS status,
        'user_' || p.customer_n || '_' || CAST(hash(p.seed, p.customer_n, i) % 3 AS INTEGER) AS user_id,
        round(40 + (hash(p.seed, p.customer_n, p.segment, i, 'lat') % 4000) / 10.0, 1) AS latency_ms,
        p.tier
    FROM plan p, range(p.calls) r(i)
    ORDER BY timestamp, event_id
) TO '{path}' ({options})
"""


@dataclass(frozen=True)
class MonthPlan:
    """One stretch of a customer's month on one tier: ``[t0, t1)`` (Unix seconds)."""

    customer_n: int
    customer_id: str
    month_index: int
    tier: str
    t0: int
    t1: int
    level: float


def _tool_mix(seed: int, customer_n: int) -> list[str]:
    """A customer's tools, repeated by how much it uses each: 2 to 5 favourites, one dominant."""
    rng = random.Random(seed * 104_729 + customer_n)
    picked = rng.sample(TOOLS, rng.randint(2, 5))
    return [tool for rank, tool in enumerate(picked) for _ in range(max(1, 6 - 2 * rank))]


def write_usage(path: Path, segments: list[MonthPlan], *, seed: int) -> int:
    """Write the usage log for ``segments`` (in time order per customer and month; Parquet for
    ``.parquet``, else CSV); return the number of events."""
    rng = random.Random(seed * 7919 + 1)
    rows = []
    free_used: dict[tuple[int, int], int] = {}  # admitted free calls so far, per customer and month
    for k, m in enumerate(segments):
        if m.t1 <= m.t0:
            continue
        share = (m.t1 - m.t0) / (30 * 86_400)
        calls = int(TYPICAL_CALLS[m.tier] * m.level * share * rng.uniform(0.7, 1.3))
        if calls <= 0:
            continue
        hard_limit = None
        if m.tier == "free":
            used = free_used.get((m.customer_n, m.month_index), 0)
            hard_limit = max(0, FREE_LIMIT - used)
            free_used[(m.customer_n, m.month_index)] = used + min(calls, hard_limit)
        rows.append((seed, m.customer_n, m.customer_id, k, m.t0, m.t1, calls, hard_limit, m.tier,
                     _tool_mix(seed, m.customer_n)))
    names = ["seed", "customer_n", "customer_id", "segment", "t0", "t1", "calls", "hard_limit", "tier", "tools"]
    types = [pa.int64(), pa.int64(), pa.string(), pa.int64(), pa.int64(), pa.int64(), pa.int64(), pa.int64(),
             pa.string(), pa.list_(pa.string())]
    table = pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)},
                     schema=pa.schema(list(zip(names, types, strict=True))))
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        con.register("plan", table)
        options = "FORMAT parquet" if path.suffix == ".parquet" else "FORMAT csv, HEADER true"
        sql = USAGE_SQL.replace("{path}", str(path).replace("'", "''")).replace("{options}", options)
        con.execute(sql)
    finally:
        con.close()
    return sum(r[6] for r in rows)
