"""``build_demo``: a sandbox history, synced into a fresh warehouse, plus usage events."""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .. import warehouse as wh
from ..config import DEFAULT_TIERS
from ..errors import InvalidInput, WarehouseError
from ..metrics._context import metrics_connection, prepare_month
from ..months import Month
from ._simulate import Customer, plan_customers, planned_actions, run_history
from ._usage import MonthPlan, write_usage

if TYPE_CHECKING:
    from ..sandbox import SandboxServer

__all__ = ["DemoResult", "build_demo"]

DAY = 86_400

DEMO_CUSTOMERS_SQL = """
SELECT CAST(c.metadata ->> 'demo_n' AS INTEGER) AS n, c.id, CAST(epoch(c.created) AS BIGINT) AS created,
       (SELECT CAST(epoch(min(r.cover_start)) AS BIGINT) FROM revenue_lines r
        WHERE r.customer = c.id AND r.mrr_x100 > 0) AS first_paid
FROM customers c
WHERE c.metadata ->> 'demo_n' IS NOT NULL
ORDER BY n
"""
# The month's tier timeline (metrics' _m_tier_timeline, prepared for the month), in Unix seconds.
TIMELINE_SQL = """
SELECT customer, tier, CAST(epoch(valid_from) AS BIGINT), CAST(epoch(valid_to) AS BIGINT)
FROM _m_tier_timeline ORDER BY customer, valid_from
"""
# A customer on the free tier after paying once (lapsed) calls far less.
LAPSED_LEVEL = 0.15
# Received and processed at the event's simulated time (ISO text like the ledger's own times).
STAMP_SQL = """
UPDATE webhook_events
SET received_at = strftime('%Y-%m-%dT%H:%M:%S.000000Z', at, 'unixepoch'),
    processed_at = CASE WHEN processed_at IS NULL THEN NULL
                        ELSE strftime('%Y-%m-%dT%H:%M:%S.500000Z', at, 'unixepoch') END
FROM (SELECT event_id AS id, CASE WHEN created > :end THEN :start ELSE created END AS at FROM webhook_events) t
WHERE t.id = webhook_events.event_id
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
    as in production, the events stamped as received at their simulated time (the test clock's),
    so the ops report shows them in their month. ``progress`` shows progress bars on stderr.
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
        with _bar(progress, "simulating", total=len(planned_actions(people, start=start, end=end))) as tick:
            history = run_history(client, people=people, start=start, end=end, tick=tick)
        if ledger is not None:
            sb.wait_for_webhooks(timeout=120)
        stages["simulate"] = time.perf_counter() - t
        on_stage("syncing")
        t = time.perf_counter()
        synced = wh.sync(warehouse, client=client, progress=progress, now=lambda: float(end))
        stages["sync"] = time.perf_counter() - t
    if ledger is not None:
        _stamp_simulated_time(Path(ledger), start=start, end=end)
    on_stage("usage")
    t = time.perf_counter()
    segments = _segments(warehouse, _months(first, months), people, usage_scale=usage_scale)
    events = write_usage(Path(usage_file), segments, seed=seed)
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


@contextmanager
def _bar(show: bool, description: str, *, total: int) -> Iterator[Callable[[str], None]]:
    """A rich progress bar on stderr while in the block (nothing when ``show`` is False); yields
    the callback that advances it by one."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  disable=not show, console=Console(stderr=True)) as progress:
        task = progress.add_task(description, total=total)
        yield lambda _: progress.advance(task)


def _segments(warehouse: Path, months: list[Month], people: list[Customer], *, usage_scale: float) -> list[MonthPlan]:
    """Each demo customer's months cut by tier (the metrics' tier timeline; no line means free),
    from sign-up, in time order."""
    levels = {c.n: c.usage_level * usage_scale for c in people}
    out: list[MonthPlan] = []
    with metrics_connection(warehouse, currency="usd", tiers=DEFAULT_TIERS) as con:
        customers = con.execute(DEMO_CUSTOMERS_SQL).fetchall()
        for index, month in enumerate(months):
            prepare_month(con, month, currency="usd")
            pieces: dict[str, list[tuple[str, int, int]]] = {}
            for cid, tier, t0, t1 in con.execute(TIMELINE_SQL).fetchall():
                pieces.setdefault(cid, []).append((tier, t0, t1))
            m0, m1 = int(month.start.timestamp()), int(month.end.timestamp())
            for n, cid, created, first_paid in customers:
                at = max(m0, created)
                stretches = []
                for tier, t0, t1 in pieces.get(cid, []) + [("free", m1, m1)]:
                    t0, t1 = max(t0, at), min(t1, m1)
                    if t0 > at:
                        stretches.append(("free", at, t0))
                    if t1 > t0:
                        stretches.append((tier, t0, t1))
                    at = max(at, t1)
                for tier, t0, t1 in _merged(stretches):
                    lapsed = tier == "free" and first_paid is not None and first_paid < t0
                    out.append(MonthPlan(customer_n=n, customer_id=cid, month_index=index, tier=tier, t0=t0, t1=t1,
                                         level=levels.get(n, 1.0) * (LAPSED_LEVEL if lapsed else 1.0)))
    return out


def _merged(stretches: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Touching stretches of one tier as one."""
    out: list[tuple[str, int, int]] = []
    for tier, t0, t1 in stretches:
        if out and out[-1][0] == tier and out[-1][2] == t0:
            out[-1] = (tier, out[-1][1], t1)
        else:
            out.append((tier, t0, t1))
    return out


def _stamp_simulated_time(ledger: Path, *, start: int, end: int) -> None:
    """Stamp the demo ledger's webhook events as received (and processed) at their simulated time,
    the event's ``created`` on the test clock, rather than at the wall-clock second the simulation
    delivered them: a demo month then shows its own webhook traffic. Events off the clock (the
    catalog, made at wall-clock time) count as the history's start, as the sample dates them.
    Only a ledger the demo has just created is touched."""
    con = sqlite3.connect(ledger)
    try:
        with con:
            con.execute(STAMP_SQL, {"start": start, "end": end})
    finally:
        con.close()


def _months(first: Month, n: int) -> list[Month]:
    out = [first]
    while len(out) < n:
        out.append(out[-1].next)
    return out
