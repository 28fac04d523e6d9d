"""Usage judged against the tier each call was made on (metrics.md §6, contract v2), and upgrade
candidates redefined. Worked by hand with small limits (free 2 calls, pro 10, enterprise 100);
the comment beside each case gives what contract v1 reported."""

from __future__ import annotations

from pathlib import Path

from unifiedmcp import metrics
from unifiedmcp.config import Tier, TierTable

from metrics_scenario import T, Book, write_usage_csv

TIERS = TierTable(
    (
        Tier("free", 2, 1, "hard", 0.0, 0, ()),
        Tier("pro", 10, None, "soft", 0.2, 1, ("price_pro_monthly",)),
        Tier("enterprise", 100, None, "soft", 0.1, 2, ("price_ent_monthly",)),
    )
)
HEADER = "event_id,customer_id,tool_name,timestamp,status,tier"


def _calls(customer: str, n: int, *, day: int, status: str = "ok", tier: str = "") -> list[tuple]:
    return [(f"{customer}_{day}_{status}_{tier}_{i}", customer, "search", f"2026-10-{day:02d}T12:00:{i:02d}Z", status,
             tier) for i in range(n)]


def _book() -> Book:
    book = Book()
    book.price("price_pro_monthly", 29_00)
    book.price("price_ent_monthly", 30_00)
    return book


def _entry(report: dict, customer: str) -> dict:
    for name in ("overages", "near_limit", "upgrade_candidates"):
        for e in report[name]:
            if e["customer"] == customer:
                return e
    raise AssertionError(f"{customer} in no list")


def test_a_customer_who_left_pro_mid_month_is_not_a_free_customer_far_over_its_limit(tmp_path: Path) -> None:
    """Pro until its subscription ended on Oct 12: 12 billable calls on pro (2 over, 0.4 cents),
    then 1 billable and 3 rejected on free. At the end of October it is free, at 1/2 = 50 % of
    free's 2 calls.

    v1: tier free, billable 13, over 11 (overage 0: free has no price), utilisation 650 %.
    """
    book = _book()
    book.subscribe("cus_left", book.prices["price_pro_monthly"], start=T(2026, 9, 1), periods=2,
                   ended_at=T(2026, 10, 12))
    rows = (_calls("cus_left", 12, day=5) + _calls("cus_left", 1, day=20)
            + _calls("cus_left", 3, day=21, status="rejected"))
    usage = write_usage_csv(tmp_path / "u.csv", rows, header=HEADER)
    r = metrics.monthly(book.load(tmp_path, usage=usage), "2026-10", tiers=TIERS)
    assert _entry(r, "cus_left") == {"customer": "cus_left", "tier": "free", "calls": 16, "billable_calls": 13,
                                     "included": 2, "over": 2, "overage_amount": 0.4, "utilisation": 0.5}
    assert [e["customer"] for e in r["overages"]] == ["cus_left"]
    assert [e["customer"] for e in r["upgrade_candidates"]] == ["cus_left"]  # free now, with rejected calls


def test_an_upgrade_mid_month_keeps_the_overage_made_before_it(tmp_path: Path) -> None:
    """Pro in September and until Oct 15, enterprise from then: 12 billable calls before (2 over
    pro's 10: 0.4 cents), 50 after, on enterprise's 100 (50 %).

    v1: tier enterprise for all 62 calls: not over, utilisation 62 %.
    """
    book = _book()
    book.subscribe("cus_up", book.prices["price_pro_monthly"], start=T(2026, 9, 15), periods=1)
    book.subscribe("cus_up", book.prices["price_ent_monthly"], start=T(2026, 10, 15), periods=2)
    usage = write_usage_csv(tmp_path / "u.csv", _calls("cus_up", 12, day=10) + _calls("cus_up", 50, day=20),
                            header=HEADER)
    r = metrics.monthly(book.load(tmp_path, usage=usage), "2026-10", tiers=TIERS)
    assert _entry(r, "cus_up") == {"customer": "cus_up", "tier": "enterprise", "calls": 62, "billable_calls": 62,
                                   "included": 100, "over": 2, "overage_amount": 0.4, "utilisation": 0.5}


def test_the_recorded_tier_wins_over_the_tier_at_the_calls_instant(tmp_path: Path) -> None:
    """The ledger admitted 12 calls as pro (its webhook arrived before the invoice did): they are
    judged on pro (2 over), not on free where the invoices put the customer. A tier name the tier
    table does not know falls back to the instant's tier (free: 4 billable, 2 over, no price)."""
    book = _book()
    rows = _calls("cus_rec", 12, day=3, tier="pro") + _calls("cus_odd", 4, day=3, tier="gold")
    usage = write_usage_csv(tmp_path / "u.csv", rows, header=HEADER)
    r = metrics.monthly(book.load(tmp_path, usage=usage), "2026-10", tiers=TIERS)
    rec, odd = _entry(r, "cus_rec"), _entry(r, "cus_odd")
    assert (rec["tier"], rec["over"], rec["overage_amount"], rec["utilisation"]) == ("free", 2, 0.4, 0.0)
    assert (odd["tier"], odd["over"], odd["overage_amount"], odd["utilisation"]) == ("free", 2, 0, 2.0)


def test_upgrade_candidates_are_free_customers_with_rejections_and_paid_ones_past_the_price_step(
    tmp_path: Path,
) -> None:
    """Free with rejected calls: candidate. Free at its limit without a rejection: not (near its
    limit). Pro whose overage (16 - 10 = 6 calls, 1.2 cents) exceeds the step to enterprise
    (30.00 - 29.00 = 100 cents)? no; with enterprise at 29.01 (1 cent) it does.

    v1: no free customer could ever be a candidate (free has no overage price).
    """
    book = Book()
    pro = book.price("price_pro_monthly", 29_00)
    book.price("price_ent_monthly", 29_01)
    book.subscribe("cus_pro", pro, start=T(2026, 9, 1), periods=3)
    rows = (_calls("cus_hit", 2, day=4) + _calls("cus_hit", 5, day=4, status="rejected")
            + _calls("cus_full", 2, day=4) + _calls("cus_pro", 16, day=4))
    usage = write_usage_csv(tmp_path / "u.csv", rows, header=HEADER)
    r = metrics.monthly(book.load(tmp_path, usage=usage), "2026-10", tiers=TIERS)
    assert [e["customer"] for e in r["upgrade_candidates"]] == ["cus_pro", "cus_hit"]  # 1.2 cents, then 0
    assert [e["customer"] for e in r["near_limit"]] == ["cus_full", "cus_hit"]       # both at 2/2, not over
    frame = metrics.usage_by_customer(book.load(tmp_path / "again", usage=usage), "2026-10", tiers=TIERS)
    assert frame.set_index("customer")["rejected"].to_dict() == {"cus_hit": 5, "cus_full": 0, "cus_pro": 0}


def test_usage_by_tier_counts_each_call_on_its_own_tier(tmp_path: Path) -> None:
    """The customer who left pro on Oct 12: its calls split between pro and free in the chart
    helper (v1 put all 16 under free)."""
    book = _book()
    book.subscribe("cus_left", book.prices["price_pro_monthly"], start=T(2026, 9, 1), periods=2,
                   ended_at=T(2026, 10, 12))
    rows = _calls("cus_left", 12, day=5) + _calls("cus_left", 4, day=20)
    usage = write_usage_csv(tmp_path / "u.csv", rows, header=HEADER)
    df = metrics.usage_by_tier_and_tool(book.load(tmp_path, usage=usage), "2026-10", tiers=TIERS)
    assert df.groupby("tier")["calls"].sum().to_dict() == {"free": 4, "pro": 12}
