"""Tiers, usage, overages, near-limit and upgrade candidates (metrics.md §6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from unifiedmcp import metrics
from unifiedmcp.config import Tier, TierTable

from unifiedmcp.warehouse import shapes

from metrics_scenario import T, Book, write_usage_csv

# Small limits so a handful of events exercise every branch.
TIERS = TierTable(
    (
        Tier("free", 2, 1, "hard", 0.0, 0, ()),
        Tier("pro", 10, None, "soft", 0.2, 1, ("price_pro_monthly",)),
        Tier("enterprise", 100, None, "soft", 0.1, 2, ("ent_monthly",)),
    )
)


def _events(customer: str, n: int, *, status: str = "ok", day: int = 10, prefix: str = "") -> list[tuple]:
    return [(f"{prefix or customer}_{status}_{i}", customer, "search", f"2026-10-{day:02d}T12:00:{i % 60:02d}Z", status)
            for i in range(n)]


def _book() -> Book:
    book = Book()
    pro = book.price("price_pro_monthly", 29_00)  # tier from the tier table's price ids
    ent = book.price("price_ent", 30_00, lookup_key="ent_monthly")  # tier from the lookup key
    book.price("price_ent_yearly", 300_00, interval="year", tier="enterprise")  # not the monthly one
    book.subscribe("cus_pro_over", pro, start=T(2026, 9, 1), periods=3)
    book.subscribe("cus_pro_near", pro, start=T(2026, 9, 1), periods=3)
    book.subscribe("cus_pro_upgrade", pro, start=T(2026, 9, 1), periods=3)
    book.subscribe("cus_ent", ent, start=T(2026, 9, 1), periods=3)
    book.subscribe("cus_pro_idle", pro, start=T(2026, 9, 1), periods=3)
    return book


def test_overages_near_limit_and_upgrade_candidates(tmp_path: Path) -> None:
    """Per customer: tier at month end, billable = ok calls, over, overage amount, utilisation, lists."""
    rows = (
        _events("cus_pro_over", 12) + _events("cus_pro_over", 3, status="error")
        + _events("cus_pro_near", 8)
        + _events("cus_pro_upgrade", 16)
        + _events("cus_ent", 80)
        + _events("cus_free", 3) + _events("cus_free", 4, status="rejected")
    )
    usage = write_usage_csv(tmp_path / "usage.csv", rows)
    r = metrics.monthly(_book().load(tmp_path, usage=usage), "2026-10", tiers=TIERS)
    assert r["usage"] == {"calls": 12 + 3 + 8 + 16 + 80 + 7, "billable_calls": 12 + 8 + 16 + 80 + 3, "customers": 5}
    over = {e["customer"]: e for e in r["overages"]}
    assert over["cus_pro_over"] == {"customer": "cus_pro_over", "tier": "pro", "calls": 15, "billable_calls": 12,
                                    "included": 10, "over": 2, "overage_amount": 0.4, "utilisation": 1.2}
    assert over["cus_pro_upgrade"]["overage_amount"] == pytest.approx(1.2)  # 6 x 0.2
    assert over["cus_free"]["tier"] == "free" and over["cus_free"]["overage_amount"] == 0  # hard limit: no price
    # sorted by overage_amount descending, then customer
    assert [e["customer"] for e in r["overages"]] == ["cus_pro_upgrade", "cus_pro_over", "cus_free"]
    assert [e["customer"] for e in r["near_limit"]] == ["cus_ent", "cus_pro_near"]  # 0.8 and 0.8, over 0
    # next tier costs 30.00 - 29.00 = 100 cents/month more: neither 1.2 nor 0.4 exceed it; the free
    # customer whose calls were rejected is one (contract v2; v1 listed none here).
    assert [e["customer"] for e in r["upgrade_candidates"]] == ["cus_free"]


def test_upgrade_candidate_when_overage_exceeds_price_difference(tmp_path: Path) -> None:
    """With enterprise 1 cent/month above pro, a 1.2-cent overage makes an upgrade candidate."""
    book = Book()
    pro = book.price("price_pro_monthly", 29_00)
    book.price("price_ent", 29_01, lookup_key="ent_monthly")
    book.subscribe("cus_pro_upgrade", pro, start=T(2026, 9, 1), periods=3)
    book.subscribe("cus_pro_over", pro, start=T(2026, 9, 1), periods=3)
    usage = write_usage_csv(tmp_path / "usage.csv", _events("cus_pro_upgrade", 16) + _events("cus_pro_over", 12))
    r = metrics.monthly(book.load(tmp_path, usage=usage), "2026-10", tiers=TIERS)
    assert [e["customer"] for e in r["upgrade_candidates"]] == ["cus_pro_upgrade"]  # 1.2 > 1; 0.4 is not


def test_tier_is_the_one_at_the_end_of_the_month_including_trials(tmp_path: Path) -> None:
    """Enterprise from Oct 15: its calls after that are judged on enterprise limits; a trial
    (zero-amount line) still gives its tier. (v1 judged every call of the month on the tier at its
    end; contract v2 judges each on the tier it was made on: the calls here are made on the end tier.)"""
    book = Book()
    pro = book.price("price_pro_monthly", 29_00)
    ent = book.price("price_ent", 30_00, lookup_key="ent_monthly")
    book.subscribe("cus_up", pro, start=T(2026, 9, 1), periods=1)
    book.subscribe("cus_up", ent, start=T(2026, 10, 15), periods=2)
    book.subscribe("cus_trial", pro, start=T(2026, 10, 20), periods=1, amounts={0: 0})
    usage = write_usage_csv(tmp_path / "usage.csv", _events("cus_up", 50, day=20) + _events("cus_trial", 12, day=21))
    r = metrics.monthly(book.load(tmp_path, usage=usage), "2026-10", tiers=TIERS)
    assert [e["customer"] for e in r["overages"]] == ["cus_trial"]
    assert r["overages"][0]["tier"] == "pro" and r["overages"][0]["over"] == 2
    assert r["mrr"]["end"] == 30_00  # the trial is not MRR


def test_price_metadata_tier_wins_over_the_tier_table(tmp_path: Path) -> None:
    """§6 order: price.metadata.tier first, then the product's, then price ids / lookup keys."""
    book = Book()
    odd = book.price("price_pro_monthly", 29_00, tier="enterprise")  # listed under pro, but metadata says enterprise
    book.subscribe("cus_x", odd, start=T(2026, 9, 1), periods=3)
    usage = write_usage_csv(tmp_path / "usage.csv", _events("cus_x", 12))
    r = metrics.monthly(book.load(tmp_path, usage=usage), "2026-10", tiers=TIERS)
    assert r["overages"] == []  # enterprise includes 100


def test_product_metadata_tier_comes_before_the_tier_table(tmp_path: Path) -> None:
    """§6 order, second step: a price without its own tier takes its product's metadata.tier (from
    the products export), even when the tier table lists the price under another tier."""
    book = Book()
    book.objects.append(shapes.product("prod_ent", name="Enterprise", tier="enterprise"))
    price = shapes.price("price_pro_monthly", product="prod_ent", unit_amount=29_00, interval="month",
                         interval_count=1, currency="usd", tier=None, lookup_key=None)
    book.prices[price["id"]] = price
    book.objects.append(price)
    book.subscribe("cus_x", price, start=T(2026, 9, 1), periods=3)
    usage = write_usage_csv(tmp_path / "usage.csv", _events("cus_x", 12))
    r = metrics.monthly(book.load(tmp_path, usage=usage), "2026-10", tiers=TIERS)
    assert r["overages"] == []  # enterprise includes 100; as pro (10 included) it would be 2 over
    assert r["usage"]["billable_calls"] == 12


def test_duplicate_event_ids_count_once(tmp_path: Path) -> None:
    """A repeated event_id (within the file and across loads) is one call."""
    book = Book()
    rows = _events("cus_a", 5) + _events("cus_a", 5)  # the same five ids twice
    usage = write_usage_csv(tmp_path / "usage.csv", rows)
    db = book.load(tmp_path, usage=usage)
    from unifiedmcp import warehouse

    again = warehouse.load_usage(db, usage)
    assert (again.loaded, again.duplicates) == (0, 10)
    assert metrics.monthly(db, "2026-10", tiers=TIERS)["usage"]["calls"] == 5


def test_malformed_usage_rows_are_counted_in_the_report(tmp_path: Path) -> None:
    """Malformed rows are reported under excluded.malformed_usage_rows, the rest loads."""
    rows = _events("cus_a", 3) + [("e_bad_ts", "cus_a", "search", "yesterday", "ok"),
                                  ("e_bad_status", "cus_a", "search", "2026-10-02T00:00:00Z", "maybe"),
                                  ("", "cus_a", "search", "2026-10-02T00:00:00Z", "ok")]
    usage = write_usage_csv(tmp_path / "usage.csv", rows)
    r = metrics.monthly(Book().load(tmp_path, usage=usage), "2026-10", tiers=TIERS)
    assert r["excluded"]["malformed_usage_rows"] == 3
    assert r["usage"]["calls"] == 3


def test_usage_month_boundaries_and_naive_timestamps(tmp_path: Path) -> None:
    """Naive timestamps are UTC; an event at exactly M_next belongs to the next month; offsets convert."""
    rows = [("e1", "cus_a", "t", "2026-10-31T23:59:59.999999", "ok"),
            ("e2", "cus_a", "t", "2026-11-01T00:00:00", "ok"),
            ("e3", "cus_a", "t", "2026-11-01T01:30:00+02:00", "ok"),  # 2026-10-31T23:30Z
            ("e4", "cus_a", "t", "2026-10-01T00:00:00Z", "")]  # status missing means ok
    usage = write_usage_csv(tmp_path / "usage.csv", rows)
    db = Book().load(tmp_path, usage=usage)
    assert metrics.monthly(db, "2026-10", tiers=TIERS)["usage"] == {"calls": 3, "billable_calls": 3, "customers": 1}
    assert metrics.monthly(db, "2026-11", tiers=TIERS)["usage"]["calls"] == 1


def test_usage_by_tier_and_tool_frame(tmp_path: Path) -> None:
    """The chart helper groups October calls by the tier they were made on and by tool."""
    book = Book()
    pro = book.price("price_pro_monthly", 29_00)
    book.subscribe("cus_p", pro, start=T(2026, 9, 1), periods=3)
    rows = _events("cus_p", 4) + [("x1", "cus_p", "fetch", "2026-10-03T00:00:00Z", "error"),
                                  ("x2", "cus_f", "fetch", "2026-10-03T00:00:00Z", "rejected")]
    db = book.load(tmp_path, usage=write_usage_csv(tmp_path / "usage.csv", rows))
    df = metrics.usage_by_tier_and_tool(db, "2026-10", tiers=TIERS)
    got = {(r.tier, r.tool_name): (r.calls, r.billable_calls, r.errors, r.rejected) for r in df.itertuples()}
    assert got == {("pro", "search"): (4, 4, 0, 0), ("pro", "fetch"): (1, 0, 1, 0), ("free", "fetch"): (1, 0, 0, 1)}


def test_interrupted_calls_are_calls_but_never_billable(tmp_path: Path) -> None:
    """A usage log's `interrupted` rows (admitted, never seen ending) load as calls of their own
    outcome: counted in `calls` and in the per-tool `interrupted` column, not in `billable_calls`."""
    book = Book()
    pro = book.price("price_pro_monthly", 29_00)
    book.subscribe("cus_p", pro, start=T(2026, 9, 1), periods=3)
    rows = _events("cus_p", 11) + _events("cus_p", 2, status="interrupted") + _events("cus_p", 1, status="error")
    db = book.load(tmp_path, usage=write_usage_csv(tmp_path / "usage.csv", rows))
    r = metrics.monthly(db, "2026-10", tiers=TIERS)
    assert r["excluded"]["malformed_usage_rows"] == 0
    assert r["usage"] == {"calls": 14, "billable_calls": 11, "customers": 1}
    assert {e["customer"]: e["over"] for e in r["overages"]} == {"cus_p": 1}  # 11 ok calls on 10 included
    df = metrics.usage_by_tier_and_tool(db, "2026-10", tiers=TIERS)
    got = {r.tool_name: (r.calls, r.billable_calls, r.errors, r.interrupted, r.rejected) for r in df.itertuples()}
    assert got == {"search": (14, 11, 1, 2, 0)}
