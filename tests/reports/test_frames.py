"""The report frames and helpers agree with unifiedmcp.metrics on the same data, and the small
pieces (offline check, alerts, month selection, formatting) behave at their edges."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from unifiedmcp import metrics, reports
from unifiedmcp.months import Month

MONTHS = ("2026-08", "2026-09", "2026-10")


@pytest.fixture(scope="module")
def con(export_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    c = reports.connect_data(export_dir)
    yield c
    c.close()


def test_cohort_sizes_are_the_months_new_subscribers(con: duckdb.DuckDBPyConnection) -> None:
    """A cohort is the customers whose first paying interval starts in its month: its size equals
    metrics' subscribers.new of that month, and retention never exceeds the cohort."""
    cohorts = reports.cohort_retention(con, "2026-07", "2026-10")
    sizes = cohorts.groupby("cohort")["cohort_size"].max()
    for m in MONTHS:
        assert sizes[m] == metrics.monthly(con, m)["subscribers"]["new"], m
    assert (cohorts["retained"] <= cohorts["cohort_size"]).all()
    assert cohorts.groupby("cohort")["age"].max().to_dict() == {"2026-07": 3, "2026-08": 2, "2026-09": 1, "2026-10": 0}
    # Everyone subscribed in July is still paying at the end of July; churn shows later.
    july = cohorts[cohorts["cohort"] == "2026-07"].set_index("age")
    assert july.loc[0, "retention"] == 1.0 and july.loc[3, "retention"] < 1.0


def test_cohort_retention_at_month_end_matches_active_subscribers(con: duckdb.DuckDBPyConnection) -> None:
    """Summed over cohorts starting in the data's first month onwards, customers retained at the
    end of 2026-10 are exactly the active subscribers then (every one started in a cohort)."""
    cohorts = reports.cohort_retention(con, "2026-07", "2026-10")
    ends = [_add(Month.parse(c), a) for c, a in zip(cohorts["cohort"], cohorts["age"], strict=True)]
    retained = int(cohorts[[e == Month(2026, 10) for e in ends]]["retained"].sum())
    assert retained == metrics.monthly(con, "2026-10")["subscribers"]["end"]


def _add(m: Month, k: int) -> Month:
    for _ in range(k):
        m = m.next
    return m


@pytest.mark.parametrize("month", MONTHS)
def test_daily_payments_add_up_to_the_month(con: duckdb.DuckDBPyConnection, month: str) -> None:
    """Per-day attempts, outcomes, amounts and authorization counts sum to metrics' monthly payments."""
    p = metrics.monthly(con, month)["payments"]
    d = reports.payments_daily(con, month)
    assert (d["attempts"].sum(), d["succeeded"].sum(), d["failed"].sum()) == (p["attempts"], p["succeeded"], p["failed"])
    assert (d["succeeded_amount"].sum(), d["failed_amount"].sum()) == (p["succeeded_amount"], p["failed_amount"])
    assert d["authorized"].sum() / d["authorization_attempts"].sum() == pytest.approx(p["authorization_rate"])
    declines = reports.declines_by_day(con, month).groupby("reason")["failed"].sum().to_dict()
    assert declines == p["decline_reasons"]


def test_usage_by_day_adds_up_by_tier(con: duckdb.DuckDBPyConnection) -> None:
    """Daily calls sum to the month's usage, and per tier to metrics' usage by tier and tool."""
    by_day = reports.usage_by_day(con, "2026-10")
    u = metrics.monthly(con, "2026-10")["usage"]
    assert (by_day["calls"].sum(), by_day["billable_calls"].sum()) == (u["calls"], u["billable_calls"])
    by_tool = metrics.usage_by_tier_and_tool(con, "2026-10").groupby("tier")["calls"].sum().to_dict()
    assert by_day.groupby("tier")["calls"].sum().to_dict() == by_tool
    rejected = reports.rejected_calls(con, "2026-10")
    assert rejected["rejected"].sum() == by_day["rejected"].sum() > 0
    assert set(rejected["tier"]) == {"free"}   # only the hard-limited tier rejects


def test_watchlist_matches_the_reports_lists(con: duckdb.DuckDBPyConnection) -> None:
    """With near=0.8 the watchlist's statuses are metrics.md §6's lists: "upgrade" exactly the
    upgrade candidates (first), then "over" and "near" the rest of the overages and near-limit
    lists; free customers with rejected calls are candidates here."""
    r = metrics.monthly(con, "2026-10")
    w = reports.usage_watchlist(con, "2026-10")
    listed = lambda name: {o["customer"] for o in r[name]}  # noqa: E731
    upgrade = set(w[w.status == "upgrade"].customer)
    assert upgrade == listed("upgrade_candidates") and set(w[w.status == "upgrade"].tier) == {"free"}
    assert set(w[w.status == "over"].customer) == listed("overages") - upgrade
    assert set(w[w.status == "near"].customer) == listed("near_limit") - upgrade
    top = reports.top_customers(con, "2026-10", n=4)
    assert len(top) == 4 and list(top["calls"]) == sorted(top["calls"], reverse=True)


def test_latest_complete_month(export_dir: Path) -> None:
    """The data's last instants are 2026-11-01 renewals, so 2026-10 is the latest complete month;
    a clock inside October makes it September."""
    assert reports.latest_complete_month(export_dir, now=datetime(2026, 11, 26, tzinfo=UTC)) == Month(2026, 10)
    assert reports.latest_complete_month(export_dir, now=datetime(2026, 10, 15, tzinfo=UTC)) == Month(2026, 9)


def test_history_start_is_clipped_to_the_data(con: duckdb.DuckDBPyConnection) -> None:
    """Six months back from 2026-10 would be 2026-05; the data starts in 2026-07."""
    assert reports.history_start(con, "2026-10", months=6) == Month(2026, 7)
    assert reports.history_start(con, "2026-10", months=2) == Month(2026, 9)


def test_webhook_health_counts_come_from_the_ledger(ledger_file: Path, tmp_path: Path) -> None:
    """Counts, the latest success and the latest event come from the ledger's log (as of the
    month's end); no ledger means no data. (The alert rules on them: tests/alerts.)"""
    h = reports.webhook_health(ledger_file, "2026-10")
    assert (h.available, h.received, h.applied, h.ignored, h.failed, h.replayed, h.rejected) == (True, 20, 13, 4, 3, 1, 4)
    assert h.last_success_at == datetime(2026, 10, 17, 12, tzinfo=UTC) and h.hours_since_success == 348.0
    assert h.last_received_at == datetime(2026, 10, 20, 12, tzinfo=UTC) and h.hours_since_received == 276.0
    none = reports.webhook_health(tmp_path / "missing.sqlite3", "2026-10")
    assert not none.available and none.received == 0
    assert reports.webhook_health(ledger_file, "2026-09").received == 0


def test_check_offline_refuses_network_references(tmp_path: Path) -> None:
    """Remote scripts, stylesheets, protocol-relative sources and CSS imports are refused; URLs
    inside inline code (plotly.js has many) are not references and pass."""
    page = tmp_path / "p.html"
    for bad in ('<script src="https://cdn.plot.ly/plotly.min.js"></script>',
                '<link rel="stylesheet" href="//fonts.example.com/a.css">',
                '<script src="vendor/cdn/require.js"></script>',
                '<style>@import url("https://example.com/x.css");</style>'):
        page.write_text(f"<html><head>{bad}</head><body></body></html>")
        with pytest.raises(reports.NotOffline):
            reports.check_offline(page)
    page.write_text('<html><script>var u = "https://example.com"; Plotly.newPlot()</script>'
                    '<img src="data:image/png;base64,AAAA"></html>')
    reports.check_offline(page)


def test_formatting_and_display() -> None:
    """Money in major units (zero-decimal currencies as is), percentages, and the stable text
    form nbval compares."""
    assert reports.money(129900) == "1,299.00 USD" and reports.money(500, "jpy") == "500.00 JPY"
    assert reports.money(None) == "n/a" and reports.percent(0.125) == "12.5%" and reports.percent(None) == "n/a"
    assert repr(reports.KPIs("T", {"a": "1", "bbb": "2"})) == "T\n  a    1\n  bbb  2"
    assert repr(reports.Alerts([])) == "No alert." and repr(reports.Alerts(["x"])) == "ALERT: x"


def test_notebooks_default_to_the_configured_warehouse_else_the_sample(
    isolated_env: Path, warehouse_file: Path, ledger_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notebook opened with warehouse = "" (and ledger = "") reads the configured warehouse (the
    demo's after make report) when it exists, else the committed sample; the ledger likewise."""
    sample = reports.source_tree() / "data" / "sample"
    assert reports.default_data() == sample and reports.default_ledger() is None
    monkeypatch.setenv("UNIFIEDMCP_WAREHOUSE", str(warehouse_file))
    monkeypatch.setenv("UNIFIEDMCP_LEDGER", str(ledger_file))
    assert reports.default_data() == warehouse_file and reports.default_ledger() == ledger_file
    with reports.open_data("") as con:
        assert metrics.monthly(con, "2026-10")["usage"]["calls"] > 0
