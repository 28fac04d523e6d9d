"""Warehouses and ledgers for the alert tests, built so that each rule has something to judge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from unifiedmcp import warehouse
from unifiedmcp.ledger import Ledger
from unifiedmcp.warehouse import shapes

OCT = datetime(2026, 10, 1, tzinfo=UTC)


def build_warehouse(path: Path, *, failed_charges: int, involuntary: int, rejected: int, newest: datetime) -> Path:
    """Ten pro subscribers from September; in October 10 charges (``failed_charges`` failed),
    ``involuntary`` subscriptions ended for failed payments, usage with ``rejected`` calls refused,
    and nothing newer than ``newest``."""
    export = path.parent / f"{path.stem}-export"
    pro = shapes.price("price_pro_monthly", product="prod_x", unit_amount=2900, tier="pro")
    objs = [shapes.product("prod_x", name="X"), pro]
    for i in range(10):
        cid, sid = f"cus_{i}", f"sub_{i}"
        ended = OCT + timedelta(days=9) if i < involuntary else None
        objs.append(shapes.customer(cid, created=OCT - timedelta(days=30)))
        objs.append(shapes.subscription(sid, customer=cid, price=pro, created=OCT - timedelta(days=30),
                                        current_period_start=OCT, current_period_end=OCT + timedelta(days=31),
                                        status="canceled" if ended else "active", ended_at=ended,
                                        canceled_at=ended, cancellation_reason="payment_failed" if ended else None))
        for k, start in enumerate((OCT - timedelta(days=30), OCT)):
            line = shapes.line(f"il_{i}_{k}", price="price_pro_monthly", amount=2900, period_start=start,
                               period_end=start + timedelta(days=30 if k == 0 else 31), subscription=sid)
            objs.append(shapes.invoice(f"in_{i}_{k}", customer=cid, created=start, lines=[line], subscription=sid))
        objs.append(shapes.charge(f"ch_{i}", customer=cid, created=OCT + timedelta(days=2, hours=i), amount=2900,
                                  status="failed" if i < failed_charges else "succeeded"))
    objs.append(shapes.charge("ch_newest", customer="cus_9", created=newest, amount=100, status="pending"))
    shapes.write_jsonl(export, objs)
    warehouse.load_stripe(path, export)
    usage = path.parent / f"{path.stem}-usage.csv"
    rows = [f"u{k},cus_free,search,2026-10-0{1 + k % 5}T00:00:00Z,{'rejected' if k < rejected else 'ok'}"
            for k in range(rejected + 3)]
    usage.write_text("event_id,customer_id,tool_name,timestamp,status\n" + "\n".join(rows) + "\n")
    warehouse.load_usage(path, usage)
    return path


def build_ledger(target: Path | str, *, received: list[tuple[datetime, str]]) -> Path | str:
    """A migrated ledger (a SQLite file or a PostgreSQL URL) whose webhook log holds one event per
    (received at, status)."""
    with Ledger(target) as ledger, ledger.transaction() as tx:
        for k, (at, status) in enumerate(received):
            iso = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            tx.execute("INSERT INTO webhook_events (event_id, type, created, object_id, received_at, processed_at,"
                       " status, error, payload) VALUES (?, 'invoice.paid', ?, 'in_x', ?, ?, ?, ?, '{}')",
                       (f"evt_{k}", int(at.timestamp()), iso, iso, status, "boom" if status == "failed" else None))
    return target
