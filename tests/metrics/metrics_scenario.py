"""A small book of Stripe objects for metric tests, written as JSON Lines and loaded for real.

    book = Book()
    pro = book.price("price_pro", 2900)
    book.subscribe("cus_a", pro, start=T(2026, 9, 1), periods=3)
    db = book.load(tmp_path)          # JSONL files -> warehouse.load_stripe -> DuckDB file
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from unifiedmcp import warehouse
from unifiedmcp.warehouse import shapes


def T(y: int, m: int, d: int = 1, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, s, tzinfo=UTC)


def add_months(t: datetime, n: int) -> datetime:
    y, m = divmod(t.month - 1 + n, 12)
    return t.replace(year=t.year + y, month=m + 1)


class Book:
    def __init__(self) -> None:
        self.objects: list[dict[str, Any]] = []
        self.prices: dict[str, dict[str, Any]] = {}
        self._customers: set[str] = set()
        self._n = 0
        self.objects.append(shapes.product("prod_main", name="UnifiedMCP"))

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n:05d}"

    def price(self, id: str, unit_amount: int, *, interval: str = "month", interval_count: int = 1,
              currency: str = "usd", tier: str | None = None, lookup_key: str | None = None,
              export: bool = True) -> dict[str, Any]:
        p = shapes.price(id, product="prod_main", unit_amount=unit_amount, interval=interval,
                         interval_count=interval_count, currency=currency, tier=tier, lookup_key=lookup_key)
        self.prices[id] = p
        if export:
            self.objects.append(p)
        return p

    def customer(self, cid: str, created: datetime) -> None:
        if cid not in self._customers:
            self._customers.add(cid)
            self.objects.append(shapes.customer(cid, created=created))

    def subscribe(
        self,
        cid: str,
        price: Mapping[str, Any],
        *,
        start: datetime,
        periods: int,
        amounts: Mapping[int, int] | None = None,
        prices: Mapping[int, Mapping[str, Any]] | None = None,
        statuses: Mapping[int, str] | None = None,
        discounts: Mapping[int, int] | None = None,
        ended_at: datetime | None = None,
        reason: str | None = None,
        shape: shapes.Shape = "current",
        quantity: int = 1,
        sub_id: str | None = None,
    ) -> str:
        """A subscription invoiced for ``periods`` consecutive periods of its price's interval.

        Per period k (0-based) the price, line amount, invoice status and discount may be overridden.
        """
        self.customer(cid, start)
        sid = sub_id or self._id("sub")
        step = price["recurring"]["interval_count"] * (12 if price["recurring"]["interval"] == "year" else 1)
        last_end = add_months(start, step * periods)
        self.objects.append(
            shapes.subscription(
                sid, customer=cid, price=price, created=start,
                current_period_start=add_months(start, step * (periods - 1)), current_period_end=last_end,
                status="canceled" if ended_at else "active", ended_at=ended_at, canceled_at=ended_at,
                cancellation_reason=reason, shape=shape, quantity=quantity,
            )
        )
        for k in range(periods):
            p = (prices or {}).get(k, price)
            amount = (amounts or {}).get(k, p["unit_amount"] * quantity)
            ps, pe = add_months(start, step * k), add_months(start, step * (k + 1))
            if ended_at is not None and ps >= ended_at:
                break
            self.invoice(cid, sid, p, amount=amount, period_start=ps, period_end=pe,
                         status=(statuses or {}).get(k, "paid"), discount=(discounts or {}).get(k, 0),
                         shape=shape, quantity=quantity, item=item_of(sid))
        return sid

    def change(self, cid: str, sid: str, old: Mapping[str, Any], new: Mapping[str, Any], *, at: datetime,
               period_end: datetime, period_start: datetime, old_quantity: int = 1, new_quantity: int = 1,
               invoiced: datetime | None = None, discount_share: float = 0.0, status: str = "paid",
               shape: shapes.Shape = "current") -> dict[str, Any]:
        """A mid-period change made with ``create_prorations``: one invoice (created ``invoiced``,
        default: at the period end, the renewal that bills them) with Stripe's pair of proration
        lines on the subscription's item, both from ``at`` to ``period_end``: unused time on the old
        price and quantity (negative), remaining time on the new ones (positive, with
        ``discount_share`` of it taken off as a discount)."""
        left = (period_end - at) / (period_end - period_start)
        kind = "invoiceitem" if shape == "old" else "subscription"  # old API: proration items
        unused = -round(old["unit_amount"] * old_quantity * left)
        remaining = round(new["unit_amount"] * new_quantity * left)
        lines = [
            shapes.line(self._id("il"), price=old if shape == "old" else old["id"], amount=unused, period_start=at,
                        period_end=period_end, subscription=sid, subscription_item=item_of(sid), proration=True,
                        quantity=old_quantity, shape=shape, kind=kind),
            shapes.line(self._id("il"), price=new if shape == "old" else new["id"], amount=remaining,
                        period_start=at, period_end=period_end, subscription=sid, subscription_item=item_of(sid),
                        proration=True, quantity=new_quantity, discount=round(remaining * discount_share),
                        shape=shape, kind=kind),
        ]
        inv = shapes.invoice(self._id("in"), customer=cid, created=invoiced or period_end, lines=lines,
                             status=status, subscription=sid, shape=shape)
        self.objects.append(inv)
        return inv

    def invoice(self, cid: str, sid: str | None, price: Mapping[str, Any], *, amount: int,
                period_start: datetime, period_end: datetime, status: str = "paid", discount: int = 0,
                shape: shapes.Shape = "current", quantity: int = 1, proration: bool = False,
                currency: str = "usd", kind: str = "subscription", payment_intent: str | None = None,
                created: datetime | None = None, item: str | None = None) -> dict[str, Any]:
        iid = self._id("in")
        ln = shapes.line(
            self._id("il"), price=price if shape == "old" else price["id"], amount=amount,
            period_start=period_start, period_end=period_end, subscription=sid, subscription_item=item,
            proration=proration,
            discount=discount, shape=shape, quantity=quantity, currency=currency, kind=kind,  # type: ignore[arg-type]
        )
        inv = shapes.invoice(iid, customer=cid, created=created or period_start, lines=[ln], status=status,
                             subscription=sid, shape=shape, currency=currency, payment_intent=payment_intent)
        self.objects.append(inv)
        return inv

    def add(self, *objs: dict[str, Any]) -> None:
        self.objects.extend(objs)

    def write(self, directory: Path) -> Path:
        return shapes.write_jsonl(directory, self.objects)

    def load(self, tmp: Path, *, usage: Path | None = None) -> Path:
        db = tmp / "warehouse.duckdb"
        warehouse.load_stripe(db, self.write(tmp / "export"))
        if usage is not None:
            warehouse.load_usage(db, usage)
        return db


def item_of(sid: str) -> str:
    """The subscription item id ``shapes.subscription`` gives a subscription's one item."""
    return f"si_{sid.removeprefix('sub_')}"


def write_usage_csv(path: Path, rows: list[tuple[Any, ...]], *,
                    header: str = "event_id,customer_id,tool_name,timestamp,status") -> Path:
    path.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows), encoding="utf-8")
    return path


def mrr_identity(report: dict[str, Any]) -> float:
    """end - (start + new + reactivation + expansion - contraction - churned): 0 when it holds."""
    m = report["mrr"]
    return m["end"] - (m["start"] + m["new"] + m["reactivation"] + m["expansion"] - m["contraction"] - m["churned"])


def subscriber_identity(report: dict[str, Any]) -> int:
    s = report["subscribers"]
    return s["end"] - (s["start"] + s["new"] + s["reactivated"] - s["churned"])
