"""``build_demo``: a sandbox history with its customers' calls metered in a ledger and billed
through Stripe meters, synced into a fresh warehouse with that usage."""

from __future__ import annotations

import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from .. import warehouse as wh
from ..billing import UsagePusher, reconcile
from ..errors import InvalidInput, UnknownCustomer, WarehouseError
from ..ledger import CallRecord, Ledger
from ..months import Month
from ._simulate import Customer, plan_customers, planned_actions, run_history
from ._usage import LAPSED_LEVEL, day_calls

if TYPE_CHECKING:
    from ..sandbox import SandboxServer

__all__ = ["DemoResult", "build_demo"]

DAY = 86_400

# The usage log written beside the warehouse (metrics.md §1 columns, the tier of each call).
USAGE_EXPORT_SQL = """
COPY (
    SELECT event_id, customer_id, tool_name, strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ') AS timestamp, status, user_id,
           latency_ms, tier
    FROM usage_events ORDER BY ts, event_id
) TO '{path}' ({options})
"""
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
    # Usage billing, per month: True when `billing reconcile` found no unexplained difference.
    reconciled: dict[str, bool] = field(default_factory=dict)
    overage_events: int = 0  # meter events sent to the sandbox


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
    into ``warehouse`` with :func:`unifiedmcp.warehouse.sync`, with their metered calls.

    ``first_month`` defaults to ``months`` months before the current one, so the history ends where
    the current month starts. The same seed and first month give the same numbers.
    ``usage_scale`` multiplies every customer's calls (the committed sample uses a small one).
    Every call goes through a ledger's metering (``ledger``, which must not exist yet; else a
    temporary one), so the free tier's hard limit holds, also after a paid plan ends, and the
    paying customers' billable calls are pushed to the sandbox's meter each simulated day
    (``billing.UsagePusher``, one event per customer and day), so renewal invoices bill the
    overage. Each month is then reconciled (``DemoResult.reconciled``). The sandbox's webhooks go
    through the real receiver into the ledger, stamped as received at their simulated time, so
    tiers follow the subscriptions and the ops report shows each month's traffic. The usage is
    pulled from the ledger into the warehouse and written to ``usage_file`` (CSV, or Parquet for
    ``.parquet``). ``progress`` shows progress bars on stderr.
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
    if ledger is not None and Path(ledger).exists():
        raise WarehouseError(f"{ledger} exists: the demo fills only a new ledger", path=ledger)
    started = time.perf_counter()
    stages: dict[str, float] = {}
    rng = random.Random(seed)
    people = plan_customers(rng, customers=customers, days=(end - start) // DAY)
    with tempfile.TemporaryDirectory(prefix="unifiedmcp-demo-") as scratch:
        ledger_path = Path(ledger) if ledger is not None else Path(scratch) / "ledger.sqlite3"
        with serve_in_thread() as sb, Ledger(ledger_path) as led, _webhooks_into(led, sandbox=sb):
            client = sb.client()
            traffic = _Traffic(led, UsagePusher(led, client, bucket_seconds=DAY, grace_seconds=0), people,
                               seed=seed, usage_scale=usage_scale, settle=sb.wait_for_webhooks)
            on_stage("simulating")
            t = time.perf_counter()
            with _bar(progress, "simulating", total=(end - start) // DAY) as tick:
                history = run_history(client, people=people, start=start, end=end, ledger=led,
                                      on_day=lambda day: (traffic.day(day), tick("day")))
            sb.wait_for_webhooks(timeout=120)
            traffic.flush()
            reconciled = {str(m): reconcile(led, client, m).ok for m in _months(first, months)}
            stages["simulate"] = time.perf_counter() - t
            on_stage("syncing")
            t = time.perf_counter()
            synced = wh.sync(warehouse, client=client, progress=progress, now=lambda: float(end))
            stages["sync"] = time.perf_counter() - t
        _stamp_simulated_time(ledger_path, start=start, end=end)
        on_stage("usage")
        t = time.perf_counter()
        wh.pull_usage(warehouse, ledger=ledger_path)
        events = _write_usage_file(warehouse, Path(usage_file))
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
        reconciled=reconciled,
        overage_events=traffic.sent,
    )


class _Traffic:
    """The customers' calls, one simulated day at a time: metered in the ledger on the tier the
    ledger holds for each customer that day, then pushed to the sandbox's meter."""

    def __init__(self, ledger: Ledger, pusher: UsagePusher, people: list[Customer], *, seed: int,
                 usage_scale: float, settle: Callable[..., None]) -> None:
        self.ledger, self.pusher, self.people = ledger, pusher, people
        self.seed, self.usage_scale, self.settle = seed, usage_scale, settle
        self.paid_before: set[str] = set()
        self.sent = 0

    def day(self, day: int) -> None:
        self.settle(timeout=120)  # the day's renewals and actions have reached the ledger: tiers are current
        calls: list[CallRecord] = []
        for c in self.people:
            if not c.id:
                continue  # not signed up yet
            try:
                tier = self.ledger.customer(c.id).tier
            except UnknownCustomer:
                continue  # its customer.created webhook is still on the way
            if tier != "free":
                self.paid_before.add(c.id)
            lapsed = tier == "free" and c.id in self.paid_before
            level = c.usage_level * self.usage_scale * (LAPSED_LEVEL if lapsed else 1)
            calls += day_calls(seed=self.seed, customer_n=c.n, customer_id=c.id, tier=tier, level=level, day=day)
        if calls:
            self.ledger.record_calls(calls)
        self.flush()

    def flush(self) -> None:
        self.sent += self.pusher.run_once().sent


def _write_usage_file(warehouse: Path, path: Path) -> int:
    """The warehouse's usage events as a usage log (metrics.md §1); returns the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    options = "FORMAT parquet" if path.suffix == ".parquet" else "FORMAT csv, HEADER true"
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("SET TimeZone = 'UTC'")
        count = con.execute("SELECT count(*) FROM usage_events").fetchone()[0]
        target = str(path).replace("'", "''")
        con.execute(USAGE_EXPORT_SQL.format(path=target, options=options))
    finally:
        con.close()
    return int(count)


@contextmanager
def _webhooks_into(ledger: Ledger, *, sandbox: SandboxServer) -> Iterator[None]:
    """Serve the billing webhook receiver on ``ledger`` and subscribe it to every sandbox event."""
    from ..billing import create_webhook_app
    from ..billing.testing import free_port, serve_app
    from ..config import load_settings

    port = free_port()
    _, secret = sandbox.add_webhook_endpoint(f"http://127.0.0.1:{port}/webhooks/stripe")
    app = create_webhook_app(settings=load_settings(stripe_webhook_secret=secret), ledger=ledger,
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
