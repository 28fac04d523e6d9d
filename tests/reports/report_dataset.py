"""A deterministic small SaaS book for report tests: Stripe JSON Lines plus a usage CSV.

Four months of subscriptions (2026-07 .. 2026-10, renewals invoiced up to 2026-11-01), with
upgrades, voluntary and involuntary churn, failed first payments that are recovered or not, and
usage per tier (free customers past their hard limit, pro customers over and near theirs). The
latest complete month is 2026-10. Used until, and beside, the committed sample in data/sample.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from unifiedmcp.warehouse import shapes

FIRST = datetime(2026, 7, 1, tzinfo=UTC)
LAST_MONTH = "2026-10"
TOOLS = ("list_customers", "create_customer", "list_invoices", "search_stripe_resources", "retrieve_balance")
DECLINES = ("insufficient_funds", "do_not_honor", "expired_card", "generic_decline")


def _add_months(t: datetime, n: int) -> datetime:
    y, m = divmod(t.month - 1 + n, 12)
    return t.replace(year=t.year + y, month=m + 1)


class _Book:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.objects: list[dict[str, Any]] = [shapes.product("prod_mcp", name="UnifiedMCP")]
        self.n = 0
        self.pro = shapes.price("price_pro_monthly", product="prod_mcp", unit_amount=2900, tier="pro")
        self.ent = shapes.price("price_enterprise_monthly", product="prod_mcp", unit_amount=29900, tier="enterprise")
        self.objects += [self.pro, self.ent]

    def id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}_{self.n:05d}"

    def pay(self, cid: str, inv_id: str, amount: int, at: datetime, outcome: str) -> tuple[str, str]:
        """Charges for one invoice: 'ok', 'recovered' (fails, then succeeds 3 days later) or 'lost'."""
        pi = self.id("pi")
        attempts = {"ok": ["succeeded"], "recovered": ["failed", "succeeded"], "lost": ["failed", "failed", "failed"]}[outcome]
        for k, status in enumerate(attempts):
            reason = self.rng.choice(DECLINES) if status == "failed" else None
            self.objects.append(shapes.charge(
                self.id("ch"), customer=cid, created=at + timedelta(days=3 * k, hours=1), amount=amount,
                status=status, payment_intent=pi, outcome_reason=reason,
                failure_code="card_declined" if status == "failed" else None))
        final = "succeeded" if attempts[-1] == "succeeded" else "requires_payment_method"
        self.objects.append(shapes.payment_intent(pi, customer=cid, created=at, amount=amount, status=final))
        return pi, ("paid" if final == "succeeded" else "open")

    def subscription(self, cid: str, start: datetime, plan: list[dict[str, Any]], *, end: int | None,
                     reason: str | None, outcomes: dict[int, str]) -> None:
        """Monthly periods from ``start``; ``plan[k]`` is the price of period k; ends after period
        ``end`` (exclusive) with ``reason``, else runs to 2026-11."""
        sid = self.id("sub")
        periods = []
        k = 0
        while True:
            ps, pe = _add_months(start, k), _add_months(start, k + 1)
            if (end is not None and k >= end) or ps > datetime(2026, 11, 1, tzinfo=UTC):
                break
            periods.append((k, ps, pe))
            k += 1
        ended = _add_months(start, end) if end is not None else None
        if reason == "payment_failed" and end is not None:
            ended = _add_months(start, end - 1) + timedelta(days=9)  # after the dunning retries
        last = periods[-1]
        self.objects.append(shapes.subscription(
            sid, customer=cid, price=plan[min(last[0], len(plan) - 1)], created=start,
            current_period_start=last[1], current_period_end=last[2],
            status="canceled" if ended else "active", ended_at=ended, canceled_at=ended,
            cancellation_reason=reason))
        for k, ps, pe in periods:
            price = plan[min(k, len(plan) - 1)]
            iid = self.id("in")
            outcome = outcomes.get(k, "ok")
            pi, status = self.pay(cid, iid, price["unit_amount"], ps, outcome)
            ln = shapes.line(self.id("il"), price=price["id"], amount=price["unit_amount"],
                             period_start=ps, period_end=pe, subscription=sid)
            self.objects.append(shapes.invoice(iid, customer=cid, created=ps, lines=[ln], status=status,
                                               subscription=sid, payment_intent=pi,
                                               billing_reason="subscription_create" if k == 0 else "subscription_cycle"))


def build_export(directory: Path, *, seed: int = 11, customers: int = 36) -> Path:
    """Write the book into ``directory`` (``*.jsonl`` + ``usage.csv``); returns ``directory``."""
    b = _Book(seed)
    rng = b.rng
    paying: list[tuple[str, str]] = []  # (customer, tier in 2026-10)
    for i in range(customers):
        cid = f"cus_r{i:03d}"
        created = FIRST + timedelta(days=rng.randrange(0, 100))
        b.objects.append(shapes.customer(cid, created=created, email=f"c{i}@example.com", name=f"Person {i:03d}"))
        kind = i % 6
        start = datetime(created.year, created.month, 1, tzinfo=UTC) + timedelta(days=rng.randrange(0, 27))
        if start.month > 10:
            start = start.replace(month=10)
        if kind == 0:
            continue  # free customer, usage only
        if kind == 1:
            b.subscription(cid, start, [b.pro], end=None, reason=None, outcomes={})
            paying.append((cid, "pro"))
        elif kind == 2:
            b.subscription(cid, start, [b.pro, b.ent], end=None, reason=None, outcomes={1: "recovered"})
            paying.append((cid, "enterprise" if start.month < 10 else "pro"))
        elif kind == 3:
            b.subscription(cid, start, [b.pro], end=2, reason="cancellation_requested", outcomes={})
        elif kind == 4:
            b.subscription(cid, start, [b.pro], end=2, reason="payment_failed", outcomes={1: "lost"})
        else:
            b.subscription(cid, start, [b.ent, b.pro], end=None, reason=None, outcomes={0: "recovered"})
            paying.append((cid, "pro"))
    shapes.write_jsonl(directory, b.objects)
    _write_usage(directory / "usage.csv", rng, customers, paying)
    return directory


def _write_usage(path: Path, rng: random.Random, customers: int, paying: list[tuple[str, str]]) -> None:
    rows = ["event_id,customer_id,tool_name,timestamp,status"]
    n = 0
    for month in (9, 10):
        start = datetime(2026, month, 1)
        span = int((datetime(2026, month + 1, 1) - start).total_seconds()) - 1  # up to the month's last second
        plan: list[tuple[str, int, int | None]] = []
        for i in range(0, customers, 6):
            plan.append((f"cus_r{i:03d}", rng.choice((30, 80, 140)), 100))      # free: hard limit 100
        for j, (cid, tier) in enumerate(paying):
            calls = (12_500, 8_600, 3_000, 1_200)[j % 4] if tier == "pro" else 20_000
            plan.append((cid, calls, None))
        for cid, calls, hard in plan:
            for k in range(calls):
                n += 1
                ts = start + timedelta(seconds=int(span * (k + rng.random()) / calls))
                status = "rejected" if hard is not None and k >= hard else ("error" if rng.random() < 0.01 else "ok")
                rows.append(f"ev{n:07d},{cid},{TOOLS[k % len(TOOLS)]},{ts:%Y-%m-%dT%H:%M:%S},{status}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def build_ledger(target: Path | str, *, month: str = LAST_MONTH, failed: int = 3) -> Path | str:
    """A ledger (a SQLite file or a PostgreSQL URL) whose webhook log has applied, ignored, failed
    and replayed events in ``month``, and rejected deliveries."""
    from unifiedmcp.ledger import Ledger

    y, m = map(int, month.split("-"))
    with Ledger(target) as ledger, ledger.transaction() as con:
        for k in range(20):
            at = datetime(y, m, 1 + k, 12, tzinfo=UTC)
            iso = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            status = "failed" if k >= 20 - failed else ("ignored" if k % 5 == 0 else "applied")
            con.execute(
                "INSERT INTO webhook_events (event_id, type, created, object_id, received_at, processed_at,"
                " status, error, attempts, replayed_at, payload) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (f"evt_{k:03d}", "invoice.paid", int(at.timestamp()), f"in_{k}", iso, iso, status,
                 "handler error" if status == "failed" else None, 2 if k == 3 else 1,
                 iso if k == 3 else None, "{}"),
            )
        con.execute("INSERT INTO webhook_rejections (reason, count, last_at) VALUES ('bad_signature', 4, ?)",
                    (f"{month}-15T00:00:00.000000Z",))
    return target
