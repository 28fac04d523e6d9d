"""Subscribers, churn rates in both conventions and churn reasons (metrics.md §4)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from unifiedmcp import metrics

from metrics_scenario import T, Book, add_months, mrr_identity, subscriber_identity


def test_join_and_churn_inside_the_month(tmp_path: Path) -> None:
    """Joined Oct 5, left Oct 20: new 1 and churned 1 in subscribers; no MRR movement at all."""
    book = Book()
    pro = book.price("price_pro", 29_00)
    book.subscribe("cus_steady", pro, start=T(2026, 9, 1), periods=3)
    book.subscribe("cus_blip", pro, start=T(2026, 10, 5), periods=1, ended_at=T(2026, 10, 20))
    db = book.load(tmp_path)
    r = metrics.monthly(db, "2026-10")
    assert r["subscribers"] == {"start": 1, "new": 1, "reactivated": 0, "churned": 1, "end": 1}
    assert r["mrr"] == {"start": 29_00, "end": 29_00, "new": 0, "reactivation": 0, "expansion": 0,
                        "contraction": 0, "churned": 0}
    assert r["subscriber_churn_rate"] == pytest.approx(1 / 2)  # stripe: churned / (start + new + reactivated)
    cm = metrics.monthly(db, "2026-10", convention="chartmogul")
    assert cm["subscriber_churn_rate"] == 0  # (1 - 1 joined_and_churned - 0) / 1
    assert cm["convention"] == "chartmogul"


def test_chartmogul_convention_discounts_churned_and_reactivated(tmp_path: Path) -> None:
    """Churned Oct 10 and back Oct 20: ChartMogul does not count it; Stripe does."""
    book = Book()
    pro = book.price("price_pro", 29_00)
    for c in ("cus_a", "cus_b", "cus_c", "cus_d"):
        book.subscribe(c, pro, start=T(2026, 9, 10), periods=3)
    book.subscribe("cus_flip", pro, start=T(2026, 9, 10), periods=1)  # ends Oct 10
    book.subscribe("cus_flip", pro, start=T(2026, 10, 20), periods=2)
    book.subscribe("cus_gone", pro, start=T(2026, 9, 10), periods=1)  # ends Oct 10
    db = book.load(tmp_path)
    r = metrics.monthly(db, "2026-10")
    assert r["subscribers"] == {"start": 6, "new": 0, "reactivated": 1, "churned": 2, "end": 5}
    assert r["subscriber_churn_rate"] == pytest.approx(2 / 7)
    cm = metrics.monthly(db, "2026-10", convention="chartmogul")
    assert cm["subscriber_churn_rate"] == pytest.approx((2 - 0 - 1) / 6)


def test_leaving_twice_in_a_month_counts_twice(tmp_path: Path) -> None:
    """Two paying intervals ending in M are two churns; touching intervals merge into one."""
    book = Book()
    pro = book.price("price_pro", 29_00)
    book.subscribe("cus_x", pro, start=T(2026, 9, 25), periods=1, ended_at=T(2026, 10, 3))
    book.subscribe("cus_x", pro, start=T(2026, 10, 10), periods=1, ended_at=T(2026, 10, 15))
    book.subscribe("cus_y", pro, start=T(2026, 9, 1), periods=1)  # Sep 1 - Oct 1
    book.subscribe("cus_y", pro, start=T(2026, 10, 1), periods=2)  # touches: one interval
    r = metrics.monthly(book.load(tmp_path), "2026-10")
    assert r["subscribers"] == {"start": 2, "new": 0, "reactivated": 1, "churned": 2, "end": 1}
    assert subscriber_identity(r) == 0


def test_payment_failed_and_disputed_are_involuntary(tmp_path: Path) -> None:
    """Churn reasons: payment_failed and payment_disputed are involuntary, anything else voluntary."""
    book = Book()
    pro = book.price("price_pro", 29_00)
    for cid, reason in (("cus_1", "payment_failed"), ("cus_2", "payment_disputed"),
                        ("cus_3", "cancellation_requested"), ("cus_4", None)):
        book.subscribe(cid, pro, start=T(2026, 9, 1), periods=2, ended_at=T(2026, 10, 12), reason=reason)
    book.subscribe("cus_5", pro, start=T(2026, 9, 1), periods=2, ended_at=T(2026, 11, 1), reason="payment_failed")
    r = metrics.monthly(book.load(tmp_path), "2026-10")
    assert r["churn_reasons"] == {"voluntary": 2, "involuntary": 2}


def test_rates_are_null_without_a_denominator(tmp_path: Path) -> None:
    """An empty month: rates and arpu are null, counts 0."""
    book = Book()
    book.price("price_pro", 29_00)
    r = metrics.monthly(book.load(tmp_path), "2026-10")
    for key in ("subscriber_churn_rate", "gross_mrr_churn_rate", "net_mrr_churn_rate", "net_revenue_retention", "arpu"):
        assert r[key] is None, key
    assert r["payments"]["success_rate"] is None and r["payments"]["recovery_rate"] is None


@pytest.mark.parametrize("seed", range(4))
def test_identities_hold_every_month_of_a_random_book(tmp_path: Path, seed: int) -> None:
    """§3 (MRR) and §4 (subscribers) identities hold exactly, every month, on random histories."""
    rng = random.Random(seed)
    book = Book()
    prices = [book.price(f"price_m{a}", a, tier=None) for a in (9_99, 29_00, 49_50)]
    prices += [book.price(f"price_y{a}", a, interval="year") for a in (299_00, 1_000_01)]
    prices.append(book.price("price_w", 7_77, interval="week"))
    for i in range(40):
        cid = f"cus_{i:03d}"
        start = T(2026, 1, 1 + rng.randrange(28), rng.randrange(24))
        for _ in range(rng.randrange(1, 3)):
            price = rng.choice(prices)
            periods = rng.randrange(1, 8) if price["recurring"]["interval"] == "month" else 1
            overrides = {k: rng.choice(prices[:3]) for k in range(periods) if rng.random() < 0.2}
            ended = None
            if rng.random() < 0.5:
                ended = add_months(start, rng.randrange(1, 7)).replace(day=1 + rng.randrange(28))
            discounts = {k: rng.choice((0, 500, 29_00)) for k in range(periods) if rng.random() < 0.2}
            statuses = {k: rng.choice(("open", "void", "draft")) for k in range(periods) if rng.random() < 0.15}
            if price["recurring"]["interval"] == "week":
                continue
            book.subscribe(cid, price, start=start, periods=periods, prices=overrides, ended_at=ended,
                           discounts={k: min(v, overrides.get(k, price)["unit_amount"]) for k, v in discounts.items()},
                           statuses=statuses, shape=rng.choice(("current", "old")))
            start = add_months(start, rng.randrange(1, 9))
    db = book.load(tmp_path)
    months = metrics.month_range("2026-01", "2027-06")
    frame = metrics.report_frame(db, months[0], months[-1])
    prev_end = None
    for _, row in frame.iterrows():
        lhs = row["mrr_end"]
        rhs = (row["mrr_start"] + row["mrr_new"] + row["mrr_reactivation"] + row["mrr_expansion"]
               - row["mrr_contraction"] - row["mrr_churned"])
        assert round(lhs - rhs, 6) == 0, row["month"]
        assert row["subscribers_end"] == (row["subscribers_start"] + row["subscribers_new"]
                                          + row["subscribers_reactivated"] - row["subscribers_churned"])
        if prev_end is not None:  # the end of M-1 is the start of M
            assert row["mrr_start"] == prev_end
        prev_end = row["mrr_end"]
    assert frame["subscribers_new"].sum() > 0 and frame["mrr_churned"].sum() > 0


def test_report_identity_helpers_agree_with_monthly(tmp_path: Path) -> None:
    """The series helper and monthly() give the same numbers for a month."""
    book = Book()
    pro = book.price("price_pro", 29_00)
    book.subscribe("cus_a", pro, start=T(2026, 9, 1), periods=3)
    book.subscribe("cus_b", pro, start=T(2026, 10, 9), periods=1, ended_at=T(2026, 10, 30))
    db = book.load(tmp_path)
    r = metrics.monthly(db, "2026-10")
    assert mrr_identity(r) == 0 and subscriber_identity(r) == 0
    frame = metrics.churn_by_month(db, "2026-10", "2026-10")
    assert frame.loc[0, "churned"] == r["subscribers"]["churned"] == 1
    mrr = metrics.mrr_by_month(db, "2026-09", "2026-11")
    assert list(mrr["month"]) == ["2026-09", "2026-10", "2026-11"]
    assert mrr.loc[1, "mrr_end"] == r["mrr"]["end"]
