"""The at-risk drill-down's "near limit" branch (metrics.md §6: utilisation at least ``near``, not
over, on the calls made on the tier held at the month's end), worked by hand on a small book with
small limits; and the published customers page listing the generated data's near-limit customers."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd
import pytest

from unifiedmcp import reports
from unifiedmcp import warehouse as wh
from unifiedmcp.config import Tier, TierTable
from unifiedmcp.warehouse import shapes

if TYPE_CHECKING:
    from conftest import Published

TIERS = TierTable((
    Tier("free", 2, 1, "hard", 0.0, 0, ()),
    Tier("pro", 10, None, "soft", 0.2, 1, ("price_pro_monthly",)),
    Tier("enterprise", 100, None, "soft", 0.1, 2, ("price_ent_monthly",)),
))


def T(m: int, d: int = 1) -> datetime:
    return datetime(2026, m, d, tzinfo=UTC)


class _Book:
    """Stripe objects and October usage rows for the near-limit cases."""

    def __init__(self) -> None:
        self.pro = shapes.price("price_pro_monthly", product="prod_x", unit_amount=2900)
        self.ent = shapes.price("price_ent_monthly", product="prod_x", unit_amount=29900)
        self.objects: list[dict[str, Any]] = [shapes.product("prod_x", name="X"), self.pro, self.ent]
        self.usage: list[str] = []
        self.n = 0

    def _id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}_{self.n:04d}"

    def customer(self, cid: str, name: str) -> None:
        self.objects.append(shapes.customer(cid, created=T(8, 20), name=name, email=f"{cid}@example.com"))

    def subscription(self, cid: str, price: dict[str, Any], periods: list[tuple[datetime, datetime]], *,
                     ended_at: datetime | None = None, failed_first: bool = False) -> None:
        """Paid monthly invoices for ``periods``; with ``failed_first`` the last one's first charge
        fails (insufficient funds) and a retry a day later succeeds."""
        sid = self._id("sub")
        self.objects.append(shapes.subscription(
            sid, customer=cid, price=price, created=periods[0][0], current_period_start=periods[-1][0],
            current_period_end=periods[-1][1], status="canceled" if ended_at else "active", ended_at=ended_at,
            canceled_at=ended_at))
        for k, (ps, pe) in enumerate(periods):
            iid = self._id("in")
            line = shapes.line(self._id("il"), price=price["id"], amount=price["unit_amount"], period_start=ps,
                               period_end=pe, subscription=sid)
            self.objects.append(shapes.invoice(iid, customer=cid, created=ps, lines=[line], subscription=sid))
            paid_at = ps + timedelta(hours=2)
            if failed_first and k == len(periods) - 1:
                self.objects.append(shapes.charge(
                    self._id("ch"), customer=cid, created=ps + timedelta(hours=1), amount=price["unit_amount"],
                    status="failed", outcome_reason="insufficient_funds", failure_code="card_declined",
                    invoice=iid))
                paid_at += timedelta(days=1)
            self.objects.append(shapes.charge(self._id("ch"), customer=cid, created=paid_at,
                                              amount=price["unit_amount"], invoice=iid))

    def calls(self, cid: str, n: int, *, day: int, status: str = "ok") -> None:
        for i in range(n):
            self.usage.append(f"{cid}_{day}_{status}_{i},{cid},search,2026-10-{day:02d}T12:00:{i:02d}Z,{status}")

    def load(self, d: Path) -> duckdb.DuckDBPyConnection:
        export = shapes.write_jsonl(d / "export", self.objects)
        (export / "usage.csv").write_text("event_id,customer_id,tool_name,timestamp,status\n"
                                          + "\n".join(self.usage) + "\n", encoding="utf-8")
        db = d / "w.duckdb"
        con = wh.connect(db)
        try:
            reports.load_exports(con, export)
        finally:
            con.close()
        return reports.connect_data(db)


PRO_MONTHS = [(T(9), T(10)), (T(10), T(11))]


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    """Five customers on pro (10 calls included) in October, all paid up unless said:

    - cus_a_near: 8 billable calls (and 2 errors, not billable): 8/10 = 80 %, exactly ``near``;
    - cus_b_below: 7 billable: 70 %, not near;
    - cus_c_over: 11 billable: over by 1, so over, not near;
    - cus_d_failed: 9 billable (90 %) and its October invoice's first charge failed
      (insufficient_funds), paid by the retry: near limit and a failed payment;
    - cus_e_down: enterprise from September until Oct 15, pro from then: 50 calls on Oct 10
      (enterprise's 100), 9 on Oct 20 (pro's 10): judged per call, 9/10 = 90 % of pro, near and
      not over. (Judged on the tier at the month's end for all 59 calls it would be over.)
    """
    b = _Book()
    for cid, name in (("cus_a_near", "Ann Near"), ("cus_b_below", "Bo Below"), ("cus_c_over", "Cy Over"),
                      ("cus_d_failed", "Di Failed"), ("cus_e_down", "Ed Down")):
        b.customer(cid, name)
    for cid in ("cus_a_near", "cus_b_below", "cus_c_over"):
        b.subscription(cid, b.pro, PRO_MONTHS)
    b.subscription("cus_d_failed", b.pro, PRO_MONTHS, failed_first=True)
    b.subscription("cus_e_down", b.ent, [(T(9), T(10)), (T(10), T(11))], ended_at=T(10, 15))
    b.subscription("cus_e_down", b.pro, [(T(10, 15), T(11, 15))])
    b.calls("cus_a_near", 8, day=5)
    b.calls("cus_a_near", 2, day=6, status="error")
    b.calls("cus_b_below", 7, day=5)
    b.calls("cus_c_over", 11, day=5)
    b.calls("cus_d_failed", 9, day=5)
    b.calls("cus_e_down", 50, day=10)
    b.calls("cus_e_down", 9, day=20)
    con = b.load(tmp_path_factory.mktemp("near"))
    yield con
    con.close()


def test_near_limit_customers_are_at_risk_with_risk_near_limit(book: duckdb.DuckDBPyConnection) -> None:
    """At 80 % (the default ``near``) and 90 % of pro, not over: listed with risk "near limit",
    their utilisation, name and e-mail; 70 % and over-the-limit customers are not at risk; a
    near-limit customer whose payment also failed has both risks. Ties on MRR (all 29.00) are
    ordered by id."""
    risk = reports.at_risk_customers(book, "2026-10", tiers=TIERS)
    rows = {r["customer"]: r for r in risk.to_dict("records")}
    assert list(risk["customer"]) == ["cus_a_near", "cus_d_failed", "cus_e_down"]
    assert pd.isna(rows["cus_a_near"].pop("last_decline"))  # no failed charge: no decline to show
    assert rows["cus_a_near"] == {
        "customer": "cus_a_near", "name": "Ann Near", "email": "cus_a_near@example.com", "tier": "pro",
        "mrr": 2900.0, "past_due_amount": 0.0, "failed_payments": 0, "utilisation": 0.8,
        "risks": "near limit"}
    d = rows["cus_d_failed"]
    assert (d["risks"], d["utilisation"], d["failed_payments"], d["last_decline"], d["past_due_amount"]) == (
        "failed payment, near limit", 0.9, 1, "insufficient_funds", 0.0)


def test_near_limit_is_judged_on_the_calls_made_on_the_tier_held_at_month_end(
    book: duckdb.DuckDBPyConnection,
) -> None:
    """cus_e_down moved from enterprise to pro on Oct 15: its 50 enterprise calls do not count
    against pro's 10, so it is near (9/10), not over, and shown on pro at 29.00."""
    row = reports.at_risk_customers(book, "2026-10", tiers=TIERS).set_index("customer").loc["cus_e_down"]
    assert (row["tier"], row["mrr"], row["utilisation"], row["risks"]) == ("pro", 2900.0, 0.9, "near limit")


def test_the_near_threshold_is_a_parameter(book: duckdb.DuckDBPyConnection) -> None:
    """near=0.85 drops the customer at 80 %; near=0.95 drops those at 90 % too, leaving the failed
    payment as cus_d_failed's only risk."""
    at_85 = reports.at_risk_customers(book, "2026-10", tiers=TIERS, near=0.85)
    assert list(at_85["customer"]) == ["cus_d_failed", "cus_e_down"]
    at_95 = reports.at_risk_customers(book, "2026-10", tiers=TIERS, near=0.95)
    assert at_95[["customer", "risks"]].to_dict("records") == [{"customer": "cus_d_failed",
                                                                "risks": "failed payment"}]


def _october_billable(export_dir: Path, customer: str) -> int:
    with (export_dir / "usage.csv").open(encoding="utf-8") as fh:
        return sum(1 for r in csv.DictReader(fh)
                   if r["customer_id"] == customer and r["timestamp"].startswith("2026-10") and r["status"] == "ok")


@pytest.mark.xdist_group("reports-published")
def test_published_customers_page_lists_near_limit_customers(published: Published, export_dir: Path) -> None:
    """The generated book's pro customers with 8,600 calls in October (cus_r019, cus_r035, on pro
    all month: report_dataset) are at risk on the published customers page as "near limit", at
    their billable share of pro's 10,000 calls counted from usage.csv (about 85 %); the ones at
    12,500 calls (over) are not."""
    page = (published.directory / "customers.html").read_text(encoding="utf-8")
    at_risk = page.split("At risk", 1)[1].split("Churned this month", 1)[0]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"<tr>\s*<t[hd][^>]*>[^<]*</t[hd]>\s*<td>(cus_r\d+)</td>"
                                                          r".*?</tr>", at_risk, re.DOTALL)}
    for customer in ("cus_r019", "cus_r035"):
        share = _october_billable(export_dir, customer) / 10_000
        assert 0.8 <= share < 1
        assert customer in rows, sorted(rows)
        assert "near limit" in rows[customer] and f"{share:.1%}" in rows[customer], rows[customer]
    assert "cus_r017" not in rows and "cus_r025" not in rows  # 12,500 calls: over pro's limit
