"""MRR with mid-period changes (metrics.md §3, "Mid-period changes", contract v2): an upgrade,
downgrade or quantity change shows from the instant it happens. Each case is worked by hand; the
comment beside it gives what contract v1 reported, which is what changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from unifiedmcp import metrics

from metrics_scenario import T, Book, mrr_identity, subscriber_identity


def _months(db: Path, *months: str) -> dict[str, dict[str, Any]]:
    reports = {m: metrics.monthly(db, m) for m in months}
    for m, r in reports.items():
        assert mrr_identity(r) == pytest.approx(0, abs=1e-9), m
        assert subscriber_identity(r) == 0, m
    return reports


def _movements(r: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in r["mrr"].items() if v}


def _tier(db: Path, month: str, customer: str) -> str:
    rows = metrics.usage_by_customer(db, month)
    return rows.set_index("customer").loc[customer, "tier"]


def _downgrade_book(*, shape: str = "current") -> Book:
    """cus_down: enterprise ($299) billed on the 1st from Sep 1, downgraded to pro ($29) on Oct 10
    with create_prorations (the pair billed on the Nov 1 renewal, which bills pro)."""
    book = Book()
    pro = book.price("price_pro", 29_00, tier="pro")
    ent = book.price("price_ent", 299_00, tier="enterprise")
    sid = book.subscribe("cus_down", ent, start=T(2026, 9, 1), periods=3, prices={2: pro}, shape=shape)
    book.change("cus_down", sid, ent, pro, at=T(2026, 10, 10), period_start=T(2026, 10, 1), period_end=T(2026, 11, 1),
                shape=shape)
    return book


def test_upgrade_on_28_october_shows_in_october_across_the_month_boundary(tmp_path: Path) -> None:
    """Pro ($29) billed on the 20th; upgraded to enterprise ($299) on Oct 28. The proration pair
    [Oct 28, Nov 20) is billed on the Nov 20 renewal. The positive half counts at the full
    enterprise amount from Oct 28, replacing the pro line: +270 of expansion in October (it covers
    the end of October), nothing in November (the regular enterprise line follows on Nov 20).

    v1 (prorations never counted): October 29 -> 29, November 29 -> 299 (expansion 270 in November).
    """
    book = Book()
    pro = book.price("price_pro", 29_00, tier="pro")
    ent = book.price("price_ent", 299_00, tier="enterprise")
    sid = book.subscribe("cus_up", pro, start=T(2026, 9, 20), periods=3, prices={2: ent})
    book.change("cus_up", sid, pro, ent, at=T(2026, 10, 28), period_start=T(2026, 10, 20), period_end=T(2026, 11, 20))
    db = book.load(tmp_path)
    r = _months(db, "2026-09", "2026-10", "2026-11")
    assert _movements(r["2026-09"]) == {"end": 29_00, "new": 29_00}
    assert _movements(r["2026-10"]) == {"start": 29_00, "end": 299_00, "expansion": 270_00}
    assert _movements(r["2026-11"]) == {"start": 299_00, "end": 299_00}
    assert r["2026-10"]["subscribers"] == {"start": 1, "new": 0, "reactivated": 0, "churned": 0, "end": 1}
    assert _tier(db, "2026-10", "cus_up") == "enterprise"  # v1: pro


def test_downgrade_on_10_october_is_contraction_in_october(tmp_path: Path) -> None:
    """Enterprise ($299) billed on the 1st; downgraded to pro ($29) on Oct 10; prorations billed on
    Nov 1. The pro half covers [Oct 10, Nov 1) at $29: contraction of 270 in October, and the
    customer's tier at the end of October is pro.

    v1: October 299 -> 299 (tier enterprise), November 299 -> 29 (contraction 270 in November).
    """
    db = _downgrade_book().load(tmp_path)
    r = _months(db, "2026-10", "2026-11")
    assert _movements(r["2026-10"]) == {"start": 299_00, "end": 29_00, "contraction": 270_00}
    assert _movements(r["2026-11"]) == {"start": 29_00, "end": 29_00}
    assert _tier(db, "2026-10", "cus_down") == "pro"


def test_quantity_change_with_a_discount_counts_the_same_share_of_discount(tmp_path: Path) -> None:
    """3 seats at $10 billed on the 1st; 5 seats from Oct 16 with 25 % of the remaining-time line
    discounted. The positive line: 5000 x 16/31 = 2580.6 -> 2581, discount 645. Its monthly
    amount is the full 5 x 1000 less the same share of discount: 5000 x (2581 - 645) / 2581 =
    3750.484... -> 3750.48. The November line bills 5 seats at 5000, undiscounted.

    v1: October 30 -> 30, November 30 -> 50 (expansion 20 in November).
    """
    book = Book()
    seat = book.price("price_seat", 10_00)
    sid = book.subscribe("cus_team", seat, start=T(2026, 9, 1), periods=3, quantity=3, amounts={2: 50_00})
    book.change("cus_team", sid, seat, seat, at=T(2026, 10, 16), period_start=T(2026, 10, 1),
                period_end=T(2026, 11, 1), old_quantity=3, new_quantity=5, discount_share=0.25)
    r = _months(book.load(tmp_path), "2026-10", "2026-11")
    assert _movements(r["2026-10"]) == {"start": 30_00, "end": 3750.48, "expansion": 750.48}
    assert _movements(r["2026-11"]) == {"start": 3750.48, "end": 50_00, "expansion": 1249.52}


def test_two_changes_in_one_yearly_period_the_latest_wins(tmp_path: Path) -> None:
    """A yearly pro plan ($240/year = $20/month) from Jan 1. Upgrade to yearly enterprise
    ($1,200/year = $100/month) on Mar 10, then 2 seats on Jun 5, each invoiced at once
    (always_invoice). From Mar 10 the first positive line counts ($100); from Jun 5 the second
    replaces it and the regular line ($200); the items never count twice.

    v1: $20 all year (prorations never counted).
    """
    book = Book()
    pro_y = book.price("price_pro_y", 240_00, interval="year", tier="pro")
    ent_y = book.price("price_ent_y", 1200_00, interval="year", tier="enterprise")
    year = (T(2026, 1, 1), T(2027, 1, 1))
    sid = book.subscribe("cus_y", pro_y, start=year[0], periods=1)
    book.change("cus_y", sid, pro_y, ent_y, at=T(2026, 3, 10), period_start=year[0], period_end=year[1],
                invoiced=T(2026, 3, 10))
    book.change("cus_y", sid, ent_y, ent_y, at=T(2026, 6, 5), period_start=year[0], period_end=year[1],
                invoiced=T(2026, 6, 5), new_quantity=2)
    r = _months(book.load(tmp_path), "2026-02", "2026-03", "2026-05", "2026-06", "2026-12", "2027-01")
    assert r["2026-02"]["mrr"]["end"] == 20_00
    assert _movements(r["2026-03"]) == {"start": 20_00, "end": 100_00, "expansion": 80_00}
    assert r["2026-05"]["mrr"]["end"] == 100_00
    assert _movements(r["2026-06"]) == {"start": 100_00, "end": 200_00, "expansion": 100_00}
    assert r["2026-12"]["mrr"]["end"] == 200_00
    assert _movements(r["2027-01"]) == {"start": 200_00, "churned": 200_00}


def test_a_change_without_prorations_shows_from_the_next_regular_line(tmp_path: Path) -> None:
    """proration_behavior=none leaves no line: the upgrade on Oct 14 shows on Nov 1, as in v1."""
    book = Book()
    pro = book.price("price_pro", 29_00)
    ent = book.price("price_ent", 299_00)
    book.subscribe("cus_none", pro, start=T(2026, 9, 1), periods=3, prices={2: ent})
    r = _months(book.load(tmp_path), "2026-10", "2026-11")
    assert _movements(r["2026-10"]) == {"start": 29_00, "end": 29_00}
    assert _movements(r["2026-11"]) == {"start": 29_00, "end": 299_00, "expansion": 270_00}


def test_a_cancellation_cuts_the_proration_short_and_void_prorations_do_not_count(tmp_path: Path) -> None:
    """cus_gone upgrades on Oct 10 (invoiced at once) and its subscription ends on Oct 25: the
    positive line covers [Oct 10, Oct 25) only, so October ends at 0 and the start MRR churns.
    cus_void's proration invoice was voided: its regular pro line stays.

    v1: the same October numbers (a proration that ends inside the month never reaches its end).
    """
    book = Book()
    pro = book.price("price_pro", 29_00)
    ent = book.price("price_ent", 299_00)
    gone = book.subscribe("cus_gone", pro, start=T(2026, 9, 1), periods=2, ended_at=T(2026, 10, 25))
    book.change("cus_gone", gone, pro, ent, at=T(2026, 10, 10), period_start=T(2026, 10, 1),
                period_end=T(2026, 11, 1), invoiced=T(2026, 10, 10))
    kept = book.subscribe("cus_void", pro, start=T(2026, 9, 1), periods=3)
    book.change("cus_void", kept, pro, ent, at=T(2026, 10, 10), period_start=T(2026, 10, 1),
                period_end=T(2026, 11, 1), invoiced=T(2026, 10, 10), status="void")
    r = _months(book.load(tmp_path), "2026-10")["2026-10"]
    assert _movements(r) == {"start": 58_00, "end": 29_00, "churned": 29_00}
    assert r["subscribers"]["churned"] == 1


def test_old_api_shape_prorations_count_like_current_ones(tmp_path: Path) -> None:
    """Pre-2025 invoices carry prorations as invoice items with a top-level subscription_item:
    the downgrade example gives the same numbers."""
    r = _months(_downgrade_book(shape="old").load(tmp_path), "2026-10")["2026-10"]
    assert _movements(r) == {"start": 299_00, "end": 29_00, "contraction": 270_00}


def test_a_warehouse_of_the_previous_schema_is_read_with_v2_without_being_written(tmp_path: Path) -> None:
    """A schema-2 warehouse (v1 revenue lines, usage without tier) opened read-only by metrics and
    by the reports: upgraded in memory, so the downgrade counts in October; the file is untouched."""
    import duckdb
    import hashlib

    from unifiedmcp import reports

    db = _downgrade_book().load(tmp_path)
    con = duckdb.connect(str(db))
    con.execute("DELETE FROM revenue_lines")  # whatever schema 2 had derived: it is re-derived
    con.execute("ALTER TABLE usage_events DROP COLUMN tier")
    con.execute("UPDATE warehouse_meta SET value = '2' WHERE key = 'schema_version'")
    con.close()
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    assert metrics.monthly(db, "2026-10")["mrr"]["contraction"] == 270_00
    with reports.open_data(db) as data:
        assert metrics.monthly(data, "2026-10")["mrr"]["end"] == 29_00
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_mrr_by_customer_and_by_tier_add_up_to_the_month(tmp_path: Path) -> None:
    """Per customer in October: the downgrade (enterprise -> pro on Oct 10) is contraction with its
    tiers, a churned pro customer lost 29, a new one came; the per-customer movements and the
    per-tier MRR add up to the month's mrr."""
    book = _downgrade_book()
    pro, ent = book.prices["price_pro"], book.prices["price_ent"]
    book.subscribe("cus_gone", pro, start=T(2026, 9, 1), periods=2, ended_at=T(2026, 10, 20))
    book.subscribe("cus_new", ent, start=T(2026, 10, 5), periods=2)
    db = book.load(tmp_path)
    rows = metrics.mrr_by_customer(db, "2026-10").set_index("customer")
    assert rows.to_dict("index") == {
        "cus_new": {"mrr_start": 0.0, "mrr_end": 299_00.0, "movement": "new", "tier_start": "free",
                    "tier_end": "enterprise"},
        "cus_down": {"mrr_start": 299_00.0, "mrr_end": 29_00.0, "movement": "contraction",
                     "tier_start": "enterprise", "tier_end": "pro"},
        "cus_gone": {"mrr_start": 29_00.0, "mrr_end": 0.0, "movement": "churned", "tier_start": "pro",
                     "tier_end": "free"},
    }
    assert list(rows.index) == ["cus_new", "cus_down", "cus_gone"]  # by MRR at the end, descending
    r = metrics.monthly(db, "2026-10")["mrr"]
    assert rows["mrr_end"].sum() == r["end"] and rows["mrr_start"].sum() == r["start"]
    by_tier = metrics.mrr_by_tier(db, "2026-09", "2026-10")
    assert by_tier.to_dict("records") == [
        {"month": "2026-09", "tier": "enterprise", "mrr": 299_00.0, "customers": 1},
        {"month": "2026-09", "tier": "pro", "mrr": 29_00.0, "customers": 1},
        {"month": "2026-10", "tier": "enterprise", "mrr": 299_00.0, "customers": 1},
        {"month": "2026-10", "tier": "pro", "mrr": 29_00.0, "customers": 1},
    ]
