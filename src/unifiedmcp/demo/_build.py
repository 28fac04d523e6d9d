"""``build_demo``: a sandbox history, synced into a fresh warehouse, plus usage events."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .. import warehouse as wh
from ..config import DEFAULT_TIERS
from ..errors import InvalidInput, WarehouseError
from ..metrics._context import metrics_connection
from ..months import Month
from ._simulate import plan_customers, run_history
from ._usage import MonthPlan, write_usage

if TYPE_CHECKING:
    from ..sandbox import SandboxServer

__all__ = ["DemoResult", "build_demo"]

DAY = 86_400

# Each customer's tier per month, from the synced warehouse: the highest tier among the prices of
# revenue lines overlapping the month (else the default tier); active from sign-up. Prices map to
# tiers as the metrics do (_m_price_tier, _m_tiers of a metrics connection).
MONTH_TIERS_SQL = """
WITH months AS (
    SELECT i AS month_index, make_timestamp(CAST($start AS BIGINT) * 1000000) + to_months(i) AS m0,
           make_timestamp(CAST($start AS BIGINT) * 1000000) + to_months(i + 1) AS m1
    FROM range($months) t(i)
),
tiers AS (
    SELECT r.customer, m.month_index,
           arg_max(tt.name, tt.rank) AS tier
    FROM revenue_lines r
    JOIN months m ON r.cover_start < m.m1 AND r.cover_end > m.m0
    JOIN _m_price_tier pt ON pt.price = r.price
    JOIN _m_tiers tt ON tt.name = pt.tier
    GROUP BY 1, 2
)
SELECT CAST(c.metadata ->> 'demo_n' AS INTEGER) AS n, c.id, m.month_index,
       coalesce(t.tier, (SELECT name FROM _m_tiers WHERE is_default)) AS tier,
       CAST(epoch(greatest(m.m0, c.created)) AS BIGINT) AS t0, CAST(epoch(m.m1) AS BIGINT) AS t1,
       t.tier IS NULL AND EXISTS (SELECT 1 FROM revenue_lines r2 WHERE r2.customer = c.id AND r2.cover_start < m.m0) AS lapsed
FROM customers c
JOIN months m ON c.created < m.m1
LEFT JOIN tiers t ON t.customer = c.id AND t.month_index = m.month_index
WHERE c.metadata ->> 'demo_n' IS NOT NULL
ORDER BY n, m.month_index
"""


@dataclass
class DemoResult:
    warehouse: Path
    usage_file: Path
    customers: int
    months: list[str]
    usage_events: int
    seconds: float
    skipped_actions: int = 0
    sync_requests: int = 0
    stages: dict[str, float] = field(default_factory=dict)


def build_demo(
    *,
    warehouse: Path,
    usage_file: Path,
    customers: int = 60,
    months: int = 6,
    seed: int = 7,
    first_month: Month | str | None = None,
    replace: bool = False,
    progress: bool = False,
    usage_scale: float = 1.0,
    on_stage: Callable[[str], None] = lambda _: None,
    ledger: Path | None = None,
) -> DemoResult:
    """Drive a fresh in-process sandbox through ``months`` months of ``customers`` customers, sync it
    into ``warehouse`` with :func:`unifiedmcp.warehouse.sync`, and load generated usage events.

    ``first_month`` defaults to ``months`` months before the current one, so the history ends where
    the current month starts. The same seed and first month give the same numbers.
    ``usage_scale`` multiplies every customer's calls (the committed sample uses a small one).
    With ``ledger``, the sandbox's webhooks go through the real receiver into that ledger (which
    must not exist yet), so tiers, the subscription mirror and the webhook event log are filled
    as in production and the ops report has something to show.
    """
    from ..sandbox import serve_in_thread

    if customers < 1 or months < 1:
        raise InvalidInput("demo needs at least 1 customer and 1 month")
    if first_month is not None:
        first = Month.coerce(first_month)
    else:
        first = Month.current()
        for _ in range(months):
            first = first.previous
    last = first
    for _ in range(months - 1):
        last = last.next
    start, end = int(first.start.timestamp()), int(last.end.timestamp())
    if end > time.time() + DAY:
        raise InvalidInput(f"demo months must end by now: {first}+{months} months ends {last.end:%Y-%m-%d}")
    warehouse = Path(warehouse)
    if warehouse.exists():
        if not replace:
            raise WarehouseError(f"{warehouse} exists: pass replace=True (--replace) to rebuild it", path=warehouse)
        for p in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
            p.unlink(missing_ok=True)
    started = time.perf_counter()
    stages: dict[str, float] = {}
    rng = random.Random(seed)
    people = plan_customers(rng, customers=customers, days=(end - start) // DAY)
    if ledger is not None and Path(ledger).exists():
        raise WarehouseError(f"{ledger} exists: the demo fills only a new ledger", path=ledger)
    with serve_in_thread() as sb, _webhooks_into(ledger, sandbox=sb):
        client = sb.client()
        on_stage("simulating")
        t = time.perf_counter()
        history = run_history(client, people=people, start=start, end=end)
        if ledger is not None:
            sb.wait_for_webhooks(timeout=120)
        stages["simulate"] = time.perf_counter() - t
        on_stage("syncing")
        t = time.perf_counter()
        synced = wh.sync(warehouse, client=client, progress=progress, now=lambda: float(end))
        stages["sync"] = time.perf_counter() - t
    on_stage("usage")
    t = time.perf_counter()
    with metrics_connection(warehouse, currency="usd", tiers=DEFAULT_TIERS) as con:
        rows = con.execute(MONTH_TIERS_SQL, {"start": start, "months": months}).fetchall()
    levels = {c.n: c.usage_level for c in people}
    plans = [MonthPlan(customer_n=n, customer_id=cid, month_index=mi, tier=tier, t0=t0, t1=t1,
                       level=levels.get(n, 1.0) * (0.15 if lapsed else 1.0) * usage_scale)
             for n, cid, mi, tier, t0, t1, lapsed in rows]
    events = write_usage(Path(usage_file), plans, seed=seed)
    wh.load_usage(warehouse, usage_file)
    stages["usage"] = time.perf_counter() - t
    return DemoResult(
        warehouse=warehouse,
        usage_file=Path(usage_file),
        customers=customers,
        months=[str(m) for m in _months(first, months)],
        usage_events=events,
        seconds=time.perf_counter() - started,
        skipped_actions=history["skipped_actions"],
        sync_requests=synced.requests,
        stages=stages,
    )


@contextmanager
def _webhooks_into(ledger_path: Path | None, *, sandbox: SandboxServer) -> Iterator[None]:
    """Serve the billing webhook receiver on ``ledger_path`` and subscribe it to every sandbox event."""
    if ledger_path is None:
        yield
        return
    from ..billing import create_webhook_app
    from ..billing.testing import free_port, serve_app
    from ..config import load_settings
    from ..ledger import Ledger

    port = free_port()
    _, secret = sandbox.add_webhook_endpoint(f"http://127.0.0.1:{port}/webhooks/stripe")
    with Ledger(ledger_path) as led:
        app = create_webhook_app(settings=load_settings(stripe_webhook_secret=secret), ledger=led,
                                 client=sandbox.client())
        with serve_app(app, port=port):
            yield


def _months(first: Month, n: int) -> list[Month]:
    out = [first]
    while len(out) < n:
        out.append(out[-1].next)
    return out
