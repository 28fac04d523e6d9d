"""MRR and its movements (metrics.md §3), each case computed by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from unifiedmcp import metrics
from unifiedmcp.warehouse import shapes

from metrics_scenario import T, Book, mrr_identity


def test_stripe_mrr_example_100_monthly_and_50_annual_give_12500_dollars(tmp_path: Path) -> None:
    """Stripe's example: 100 customers at $100/month and 50 at $600/year are $12,500 of MRR."""
    book = Book()
    monthly_price = book.price("price_m", 100_00)
    yearly_price = book.price("price_y", 600_00, interval="year")
    for i in range(100):
        book.subscribe(f"cus_m{i:03d}", monthly_price, start=T(2026, 9, 15), periods=3)
    for i in range(50):
        book.subscribe(f"cus_y{i:03d}", yearly_price, start=T(2026, 9, 15), periods=1)
    r = metrics.monthly(book.load(tmp_path), "2026-10")
    assert r["mrr"]["start"] == r["mrr"]["end"] == 1_250_000  # cents
    assert r["subscribers"]["end"] == 150
    assert r["arpu"] == 8333.33  # 1,250,000 / 150, rounded to 2 decimals


def test_chartmogul_example_gross_20_percent_net_10_percent(tmp_path: Path) -> None:
    """ChartMogul's example: $100 at start, $10 churn, $10 contraction, $10 expansion."""
    book = Book()
    p10, p20, p30, p40 = (book.price(f"price_{d}", d * 100) for d in (10, 20, 30, 40))
    sep = T(2026, 9, 1)
    book.subscribe("cus_a", p40, start=sep, periods=3)  # steady $40
    book.subscribe("cus_b", p10, start=sep, periods=1, ended_at=T(2026, 10, 1))  # churns $10
    book.subscribe("cus_c", p30, start=sep, periods=3, prices={1: p20, 2: p20})  # contracts $10
    book.subscribe("cus_d", p20, start=sep, periods=3, prices={1: p30, 2: p30})  # expands $10
    r = metrics.monthly(book.load(tmp_path), "2026-10")
    assert r["mrr"] == {"start": 10_000, "end": 9_000, "new": 0, "reactivation": 0,
                        "expansion": 1_000, "contraction": 1_000, "churned": 1_000}
    assert r["gross_mrr_churn_rate"] == pytest.approx(0.20)
    assert r["net_mrr_churn_rate"] == pytest.approx(0.10)
    assert r["net_revenue_retention"] == pytest.approx(0.90)
    assert mrr_identity(r) == 0


def test_annual_plan_counts_one_twelfth_every_month_of_its_year(tmp_path: Path) -> None:
    """A $1,200/year plan is $100 of MRR in each month its year covers, then churns when it ends."""
    book = Book()
    yearly = book.price("price_y", 1200_00, interval="year")
    book.subscribe("cus_a", yearly, start=T(2026, 1, 1), periods=1, ended_at=T(2027, 1, 1))
    db = book.load(tmp_path)
    for month in ("2026-02", "2026-07", "2026-12"):
        r = metrics.monthly(db, month)
        assert r["mrr"]["end"] == 10_000, month
    r = metrics.monthly(db, "2027-01")
    assert (r["mrr"]["start"], r["mrr"]["end"], r["mrr"]["churned"]) == (10_000, 0, 10_000)
    assert metrics.monthly(db, "2026-01")["mrr"]["new"] == 10_000


def test_interval_normalisation_week_day_and_interval_count(tmp_path: Path) -> None:
    """week x52/12, day x365/12, interval_count divides: rounded per line to 2 decimals."""
    book = Book()
    quarterly = book.price("price_q", 300_00, interval="month", interval_count=3)
    weekly = book.price("price_w", 10_00, interval="week")
    daily = book.price("price_d", 1_00, interval="day")
    start = T(2026, 10, 15)
    book.subscribe("cus_q", quarterly, start=start, periods=1)
    # weekly/daily lines covering the end of October
    book.customer("cus_w", start)
    book.invoice("cus_w", "sub_w", weekly, amount=10_00, period_start=T(2026, 10, 28), period_end=T(2026, 11, 4))
    book.customer("cus_d", start)
    book.invoice("cus_d", "sub_d", daily, amount=1_00, period_start=T(2026, 10, 31), period_end=T(2026, 11, 1))
    r = metrics.monthly(book.load(tmp_path), "2026-10")
    # 30000/3 = 10000; 1000*52/12 = 4333.333.. -> 4333.33; 100*365/12 = 3041.666.. -> 3041.67
    assert r["mrr"]["end"] == pytest.approx(10_000 + 4_333.33 + 3_041.67)
    assert r["mrr"]["new"] == r["mrr"]["end"]


def test_hundred_percent_off_coupon_is_not_mrr_nor_a_subscriber(tmp_path: Path) -> None:
    """A 100%-off coupon makes the line's monthly amount 0: no MRR, not an active subscriber."""
    book = Book()
    pro = book.price("price_pro_monthly", 29_00, tier="pro")
    book.subscribe("cus_free_ride", pro, start=T(2026, 9, 1), periods=3, discounts={0: 29_00, 1: 29_00, 2: 29_00})
    book.subscribe("cus_half", pro, start=T(2026, 9, 1), periods=3, discounts={1: 14_50, 2: 14_50})
    r = metrics.monthly(book.load(tmp_path), "2026-10")
    assert r["mrr"]["end"] == 14_50
    assert r["mrr"]["contraction"] == 14_50  # cus_half: 2900 -> 1450
    assert r["subscribers"]["end"] == 1


def test_trial_is_not_mrr_until_the_first_paid_period(tmp_path: Path) -> None:
    """A trial line (amount 0) adds nothing; the customer is new in the month the paid period starts."""
    book = Book()
    pro = book.price("price_pro", 29_00)
    book.subscribe("cus_t", pro, start=T(2026, 9, 20), periods=3, amounts={0: 0})
    db = book.load(tmp_path)
    sep, octo = metrics.monthly(db, "2026-09"), metrics.monthly(db, "2026-10")
    assert (sep["mrr"]["end"], sep["subscribers"]["new"]) == (0, 0)
    assert (octo["mrr"]["new"], octo["subscribers"]["new"], octo["subscribers"]["end"]) == (29_00, 1, 1)


def test_past_due_customer_stays_in_mrr(tmp_path: Path) -> None:
    """An open (unpaid, past_due) invoice still counts: the customer is in MRR until it is voided or churns."""
    book = Book()
    pro = book.price("price_pro", 29_00)
    book.subscribe("cus_late", pro, start=T(2026, 9, 1), periods=3, statuses={1: "open", 2: "open"})
    r = metrics.monthly(book.load(tmp_path), "2026-10")
    assert r["mrr"]["end"] == 29_00 and r["mrr"]["churned"] == 0


@pytest.mark.parametrize("status", ["void", "draft", "uncollectible"])
def test_void_draft_and_uncollectible_invoices_do_not_count(tmp_path: Path, status: str) -> None:
    """Lines of invoices that are not paid or open are ignored; the customer churns in that month."""
    book = Book()
    pro = book.price("price_pro", 29_00)
    book.subscribe("cus_v", pro, start=T(2026, 9, 1), periods=2, statuses={1: status})
    r = metrics.monthly(book.load(tmp_path), "2026-10")
    assert (r["mrr"]["start"], r["mrr"]["end"], r["mrr"]["churned"]) == (29_00, 0, 29_00)


def test_prorations_and_one_off_items_are_not_mrr(tmp_path: Path) -> None:
    """Only subscription lines count: a proration line and an invoice item line add nothing."""
    book = Book()
    pro = book.price("price_pro", 29_00)
    book.subscribe("cus_a", pro, start=T(2026, 9, 1), periods=3)
    book.invoice("cus_a", None, pro, amount=5_00, period_start=T(2026, 10, 10), period_end=T(2026, 11, 10),
                 proration=True)
    book.invoice("cus_a", None, pro, amount=7_00, period_start=T(2026, 10, 10), period_end=T(2026, 11, 10),
                 kind="invoiceitem")
    book.invoice("cus_a", None, pro, amount=7_00, period_start=T(2026, 10, 10), period_end=T(2026, 11, 10),
                 kind="invoiceitem", shape="old")
    r = metrics.monthly(book.load(tmp_path), "2026-10")
    assert r["mrr"]["end"] == 29_00


def test_scheduled_cancellation_ending_exactly_at_a_month_boundary(tmp_path: Path) -> None:
    """Ended at 2026-11-01T00:00Z: still in MRR at the end of October, churned in November (§2)."""
    book = Book()
    pro = book.price("price_pro", 29_00)
    book.subscribe("cus_leaving", pro, start=T(2026, 9, 1), periods=2, ended_at=T(2026, 11, 1))
    db = book.load(tmp_path)
    octo, nov = metrics.monthly(db, "2026-10"), metrics.monthly(db, "2026-11")
    assert octo["mrr"]["end"] == 29_00 and octo["subscribers"]["churned"] == 0
    assert octo["churn_reasons"] == {"voluntary": 0, "involuntary": 0}
    assert nov["mrr"]["churned"] == 29_00 and nov["subscribers"]["churned"] == 1
    assert nov["churn_reasons"] == {"voluntary": 1, "involuntary": 0}


def test_cancellation_mid_period_cuts_coverage_at_ended_at(tmp_path: Path) -> None:
    """A line covers [period.start, ended_at) when the subscription ended before period.end."""
    book = Book()
    pro = book.price("price_pro", 29_00)
    # period Oct 15 - Nov 15, but the subscription ended Oct 20: gone at the end of October
    book.subscribe("cus_cut", pro, start=T(2026, 9, 15), periods=2, ended_at=T(2026, 10, 20), reason="payment_failed")
    r = metrics.monthly(book.load(tmp_path), "2026-10")
    assert (r["mrr"]["start"], r["mrr"]["end"], r["mrr"]["churned"]) == (29_00, 0, 29_00)
    assert r["churn_reasons"] == {"voluntary": 0, "involuntary": 1}


def test_reactivation_is_not_new(tmp_path: Path) -> None:
    """A customer who paid before, left and came back is reactivation, not new."""
    book = Book()
    pro = book.price("price_pro", 29_00)
    book.subscribe("cus_back", pro, start=T(2026, 7, 1), periods=2, ended_at=T(2026, 9, 1))
    book.subscribe("cus_back", pro, start=T(2026, 10, 5), periods=2)
    book.subscribe("cus_new", pro, start=T(2026, 10, 7), periods=2)
    r = metrics.monthly(book.load(tmp_path), "2026-10")
    assert (r["mrr"]["new"], r["mrr"]["reactivation"]) == (29_00, 29_00)
    assert (r["subscribers"]["new"], r["subscribers"]["reactivated"]) == (1, 1)


def test_old_and_current_api_shapes_mixed(tmp_path: Path) -> None:
    """Old-shape invoices (top-level subscription, line type/price object) and current ones add up."""
    book = Book()
    pro = book.price("price_pro", 29_00)
    legacy = book.price("price_legacy", 19_00, export=False)  # known only from the old lines' embedded price
    yearly_legacy = book.price("price_legacy_y", 240_00, interval="year", export=False)
    book.subscribe("cus_new_shape", pro, start=T(2026, 9, 1), periods=3)
    book.subscribe("cus_old_shape", legacy, start=T(2026, 9, 1), periods=3, shape="old")
    book.subscribe("cus_old_year", yearly_legacy, start=T(2026, 9, 1), periods=1, shape="old")
    r = metrics.monthly(book.load(tmp_path), "2026-10")
    assert r["mrr"]["end"] == 29_00 + 19_00 + 20_00
    assert r["subscribers"]["end"] == 3


def test_other_currencies_are_excluded_and_counted(tmp_path: Path) -> None:
    """EUR lines stay out of a USD report (and are counted); the EUR report shows them."""
    book = Book()
    pro = book.price("price_pro", 29_00)
    eur = book.price("price_eur", 25_00, currency="eur")
    book.subscribe("cus_usd", pro, start=T(2026, 9, 1), periods=3)
    book.customer("cus_eur", T(2026, 9, 1))
    for start, end in ((T(2026, 9, 1), T(2026, 10, 1)), (T(2026, 10, 1), T(2026, 11, 1))):
        book.invoice("cus_eur", "sub_eur", eur, amount=25_00, period_start=start, period_end=end, currency="eur")
    db = book.load(tmp_path)
    usd = metrics.monthly(db, "2026-10")
    assert usd["mrr"]["end"] == 29_00 and usd["excluded"]["other_currency_lines"] == 2
    assert metrics.monthly(db, "2026-10", currency="EUR")["mrr"]["end"] == 25_00


def test_quantity_and_invoice_status_paid_later_count_once(tmp_path: Path) -> None:
    """A quantity-3 line counts its whole amount; a renewal line and its old copy re-exported replace."""
    book = Book()
    seat = book.price("price_seat", 10_00)
    book.subscribe("cus_team", seat, start=T(2026, 10, 3), periods=2, quantity=3)
    export = book.write(tmp_path / "export")
    db = tmp_path / "w.duckdb"
    from unifiedmcp import warehouse

    warehouse.load_stripe(db, export)
    warehouse.load_stripe(db, export)  # the same export twice: nothing doubles
    r = metrics.monthly(db, "2026-10")
    assert r["mrr"]["end"] == 30_00 and r["mrr"]["new"] == 30_00


def test_line_with_expanded_price_object_in_current_shape(tmp_path: Path) -> None:
    """pricing.price_details.price may be an expanded object; its interval is used."""
    book = Book()
    y = book.price("price_y2", 120_00, interval="year", export=False)
    book.customer("cus_x", T(2026, 10, 1))
    inv = book.invoice("cus_x", "sub_x", y, amount=120_00, period_start=T(2026, 10, 1), period_end=T(2027, 10, 1))
    inv["lines"]["data"][0]["pricing"]["price_details"]["price"] = shapes.price(
        "price_y2", product="prod_main", unit_amount=120_00, interval="year")
    r = metrics.monthly(book.load(tmp_path), "2026-10")
    assert r["mrr"]["end"] == 10_00


def test_monthly_on_an_open_read_only_connection(tmp_path: Path) -> None:
    """monthly() accepts an open DuckDB connection, even a read-only one, and leaves it usable."""
    import duckdb

    book = Book()
    pro = book.price("price_pro", 29_00)
    book.subscribe("cus_a", pro, start=T(2026, 9, 1), periods=3)
    db = book.load(tmp_path)
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert metrics.monthly(con, "2026-10")["mrr"]["end"] == 29_00
        assert metrics.mrr_by_month(con, "2026-10", "2026-11")["mrr_end"].tolist() == [29_00, 29_00]
        assert con.execute("SELECT count(*) FROM invoices").fetchall() == [(3,)]
    finally:
        con.close()
