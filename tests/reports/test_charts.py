"""The report charts (issue 15's polish): built through the chart helpers exactly as the report
notebooks build them, on the frames of the generated book (report_dataset, October 2026), each has
a y-axis title, legends in words, rates formatted as percentages, amounts in major units with the
currency on the axis, one colour for "failed" everywhere, and the success-rate line visible where
the authorization-rate line covers it. Then the same properties on every figure of the published
notebooks, so a chart added to a notebook is held to them too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import nbformat
import pandas as pd
import plotly.graph_objects as go
import pytest

from unifiedmcp import metrics, reports
from unifiedmcp.reports import COLORS

if TYPE_CHECKING:
    from conftest import Published

MONTH = "2026-10"
CUR = "usd"
FAILED = COLORS["failed"]


@pytest.fixture(scope="module")
def con(export_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    c = reports.connect_data(export_dir)
    yield c
    c.close()


@pytest.fixture(scope="module")
def first(con: duckdb.DuckDBPyConnection) -> Any:
    return reports.history_start(con, MONTH, months=6)


def _colour(trace: Any) -> str | None:
    return trace.line.color if trace.type == "scatter" else trace.marker.color


def _readable(fig: go.Figure, plotted: list[str]) -> None:
    """A y-axis title; every trace named, neither by a plotted column's name nor by a snake_case
    word; a legend whenever there is more than one trace."""
    assert (fig.layout.yaxis.title.text or "").strip(), fig.layout.title.text
    for t in fig.data:
        assert t.name and t.name not in plotted and "_" not in t.name, (fig.layout.title.text, t.name)
    if len(fig.data) > 1:
        assert fig.layout.showlegend is True, fig.layout.title.text


def _percent_axis(fig: go.Figure) -> None:
    assert fig.layout.yaxis.tickformat == ".0%", fig.layout.title.text


def _in_major_units(fig: go.Figure, minor: pd.Series | list[float], trace: int = 0) -> None:
    """The trace shows ``minor`` / 100 and the y-axis names the currency."""
    assert fig.layout.yaxis.title.text.endswith(f"({CUR.upper()})"), fig.layout.title.text
    shown = [float(v) for v in fig.data[trace].y]
    assert shown == pytest.approx([float(v) / 100 for v in minor])
    assert any(v != 0 for v in shown)  # a test on all-zero amounts could not tell cents from dollars


def test_payment_rate_lines(con: duckdb.DuckDBPyConnection) -> None:
    """payments: success and authorization rate by day, as percentages, named in words; where the
    two rates are equal the success line still shows: it comes first, solid and wider, and the
    authorization line over it is dashed and thinner with open markers."""
    daily = reports.payments_daily(con, MONTH, currency=CUR)
    fig = reports.line_chart(daily, x="day", y=["success_rate", "authorization_rate"], percent=True,
                             title="rates", y_title="rate", x_title="day (UTC)",
                             labels={"success_rate": "success rate", "authorization_rate": "authorization rate"})
    _readable(fig, ["success_rate", "authorization_rate"])
    _percent_axis(fig)
    success, auth = fig.data
    assert (success.name, auth.name) == ("success rate", "authorization rate")
    assert list(success.y) == pytest.approx(list(daily["success_rate"]))
    assert 0 <= min(success.y) and max(success.y) <= 1  # fractions, shown through the % tickformat
    assert (daily["success_rate"] == daily["authorization_rate"]).any()  # they do coincide in this book
    assert success.line.dash != auth.line.dash and success.line.width > auth.line.width
    assert auth.marker.symbol.endswith("-open") and not success.marker.symbol.endswith("-open")
    assert success.line.color != auth.line.color


def test_payment_attempt_bars_colour_failed_red(con: duckdb.DuckDBPyConnection) -> None:
    """payments: attempts by day, succeeded green and failed red (the colour of failure everywhere)."""
    daily = reports.payments_daily(con, MONTH, currency=CUR)
    fig = reports.bar_chart(daily, x="day", y=["succeeded", "failed"], title="attempts",
                            y_title="payment attempts", x_title="day (UTC)")
    assert fig.layout.yaxis.title.text == "payment attempts" and fig.layout.showlegend is True
    assert {t.name: t.marker.color for t in fig.data} == {"succeeded": COLORS["succeeded"], "failed": FAILED}
    assert FAILED != COLORS["succeeded"]


def test_declines_chart_has_a_legend_of_reasons(con: duckdb.DuckDBPyConnection) -> None:
    """payments: declines by day, one series per decline reason, with a titled legend (the issue
    found it had none); each reason keeps its own colour."""
    declines = reports.declines_by_day(con, MONTH, currency=CUR)
    fig = reports.bar_chart(declines, x="day", y="failed", color="reason", title="declines",
                            y_title="failed payment attempts", x_title="day (UTC)", legend_title="decline reason")
    assert fig.layout.yaxis.title.text == "failed payment attempts"
    assert fig.layout.showlegend is True and fig.layout.legend.title.text == "decline reason"
    assert sorted(t.name for t in fig.data) == sorted(declines["reason"].unique()) and len(fig.data) >= 2
    assert all(t.marker.color == COLORS[t.name] for t in fig.data)


def test_recovery_amounts_and_rate(con: duckdb.DuckDBPyConnection, first: Any) -> None:
    """payments: failed-invoice and recovered amounts by month in dollars on a "(USD)" axis, with
    "failed" red and "recovered" green; the recovery rate as a percentage."""
    frame = metrics.report_frame(con, first, MONTH, currency=CUR)
    fig = reports.bar_chart(frame, x="month", y=["payments_failed_invoice_amount", "payments_recovered_amount"],
                            barmode="group", title="recovery", y_title="amount", x_title="month", amounts=CUR,
                            labels={"payments_failed_invoice_amount": "failed",
                                    "payments_recovered_amount": "recovered"})
    _readable(fig, ["payments_failed_invoice_amount", "payments_recovered_amount"])
    _in_major_units(fig, frame["payments_failed_invoice_amount"], trace=0)
    _in_major_units(fig, frame["payments_recovered_amount"], trace=1)
    assert [(t.name, t.marker.color) for t in fig.data] == [("failed", FAILED), ("recovered", COLORS["recovered"])]
    rate = reports.line_chart(frame, x="month", y="payments_recovery_rate", percent=True, title="recovery rate",
                              y_title="recovered share", x_title="month",
                              labels={"payments_recovery_rate": "recovered"})
    _readable(rate, ["payments_recovery_rate"])
    _percent_axis(rate)


def test_mrr_charts_in_major_units(con: duckdb.DuckDBPyConnection, first: Any) -> None:
    """revenue_churn: the MRR waterfall and MRR by tier show dollars (cents / 100) on an
    "MRR (USD)" axis; tiers in their own colours with a titled legend."""
    mrr = metrics.monthly(con, MONTH, currency=CUR)["mrr"]
    fig = reports.mrr_waterfall(mrr, currency=CUR, title="movements")
    steps = [mrr["start"], mrr["new"], mrr["reactivation"], mrr["expansion"], -mrr["contraction"], -mrr["churned"],
             mrr["end"]]
    _in_major_units(fig, steps)
    assert fig.layout.yaxis.title.text == "MRR (USD)"
    by_tier = metrics.mrr_by_tier(con, first, MONTH, currency=CUR)
    fig = reports.bar_chart(by_tier, x="month", y="mrr", color="tier", title="by tier", y_title="MRR",
                            x_title="month", legend_title="tier", amounts=CUR)
    _readable(fig, ["mrr"])
    assert fig.layout.yaxis.title.text == "MRR (USD)" and fig.layout.legend.title.text == "tier"
    for t in fig.data:
        assert [float(v) for v in t.y] == pytest.approx(list(by_tier[by_tier["tier"] == t.name]["mrr"] / 100))
        assert t.marker.color == COLORS[t.name]


def test_zero_decimal_currency_amounts_are_not_divided(con: duckdb.DuckDBPyConnection) -> None:
    """Amounts in a zero-decimal currency (JPY) are already major units: shown as they are, with
    the currency on the axis."""
    df = pd.DataFrame({"month": ["2026-09", "2026-10"], "mrr": [2900.0, 3100.0]})
    fig = reports.bar_chart(df, x="month", y="mrr", title="jpy", y_title="MRR", amounts="jpy",
                            labels={"mrr": "MRR"})
    assert fig.layout.yaxis.title.text == "MRR (JPY)" and list(fig.data[0].y) == [2900.0, 3100.0]


def test_churn_charts(con: duckdb.DuckDBPyConnection, first: Any) -> None:
    """revenue_churn: churn rates as percentages, three lines told apart by dash; voluntary and
    involuntary ended subscriptions in words, involuntary in the colour of failure."""
    churn = metrics.churn_by_month(con, first, MONTH, currency=CUR, convention="stripe")
    fig = reports.line_chart(churn, x="month", y=["subscriber_churn_rate", "gross_mrr_churn_rate",
                                                  "net_mrr_churn_rate"],
                             title="churn", y_title="rate", x_title="month", percent=True,
                             labels={"subscriber_churn_rate": "subscriber churn rate",
                                     "gross_mrr_churn_rate": "gross MRR churn rate",
                                     "net_mrr_churn_rate": "net MRR churn rate"})
    _readable(fig, ["subscriber_churn_rate", "gross_mrr_churn_rate", "net_mrr_churn_rate"])
    _percent_axis(fig)
    assert len({t.line.dash for t in fig.data}) == 3
    ended = reports.bar_chart(churn, x="month", y=["voluntary", "involuntary"], y_title="subscriptions ended",
                              x_title="month", title="ended")
    _readable(ended, [])  # "voluntary" and "involuntary" are columns, and words
    assert {t.name: t.marker.color for t in ended.data}["involuntary"] == FAILED


def test_cohort_heatmap_shows_percentages(con: duckdb.DuckDBPyConnection, first: Any) -> None:
    """revenue_churn: the cohort heatmap titles both axes and its colour bar reads in percent."""
    fig = reports.cohort_heatmap(reports.cohort_retention(con, first, MONTH, currency=CUR), title="cohorts")
    assert fig.layout.yaxis.title.text and fig.layout.xaxis.title.text
    assert fig.data[0].colorbar.tickformat == ".0%" and (fig.data[0].zmin, fig.data[0].zmax) == (0, 1)


def test_usage_charts(con: duckdb.DuckDBPyConnection) -> None:
    """usage: calls by day, by tool and for the top customers, split by tier (named by their tier,
    with a titled legend, each tier its colour)."""
    by_day = reports.usage_by_day(con, MONTH, currency=CUR)
    by_tool = metrics.usage_by_tier_and_tool(con, MONTH, currency=CUR)
    top = reports.top_customers(con, MONTH, n=10, currency=CUR)
    for df, x in ((by_day, "day"), (by_tool, "tool_name"), (top, "customer")):
        fig = reports.bar_chart(df, x=x, y="calls", color="tier", title="calls", y_title="calls", x_title=x,
                                legend_title="tier of the call")
        _readable(fig, ["calls"])
        assert fig.layout.legend.title.text == "tier of the call"
        assert all(t.marker.color == COLORS[t.name] for t in fig.data)


def test_overage_charts(con: duckdb.DuckDBPyConnection, first: Any) -> None:
    """overages: utilisation as a percentage (never 0.9911), coloured by status (over in the colour
    of failure); overage billed and computed in dollars with the currency on the axis."""
    watch = reports.usage_watchlist(con, MONTH, near=0.8, currency=CUR)
    top = watch.sort_values(["utilisation", "customer"], ascending=[False, True]).head(20)
    fig = reports.bar_chart(top, x="customer", y="utilisation", color="status", percent=True, title="utilisation",
                            y_title="billable calls / included calls", x_title="customer", legend_title="status")
    _readable(fig, ["utilisation"])
    _percent_axis(fig)
    assert {t.name: t.marker.color for t in fig.data}["over"] == COLORS["over"] == FAILED
    frame = metrics.report_frame(con, first, MONTH, currency=CUR)
    fig = reports.bar_chart(frame, x="month", y=["overage_revenue", "overage_expected"], barmode="group",
                            title="overage", y_title="overage", x_title="month", amounts=CUR,
                            labels={"overage_revenue": "billed (invoiced)", "overage_expected": "computed (ledger)"})
    _readable(fig, ["overage_revenue", "overage_expected"])
    _in_major_units(fig, frame["overage_expected"], trace=1)


def test_customers_top_accounts_in_major_units(con: duckdb.DuckDBPyConnection) -> None:
    """customers: top accounts' MRR in dollars on an "MRR (USD)" axis, split by tier."""
    top = reports.top_accounts(con, MONTH, n=10, currency=CUR)
    fig = reports.bar_chart(top, x="customer", y="mrr", color="tier", title="top", y_title="MRR",
                            x_title="customer", legend_title="tier", amounts=CUR)
    _readable(fig, ["mrr"])
    assert fig.layout.yaxis.title.text == "MRR (USD)"
    assert sum(sum(float(v) for v in t.y) for t in fig.data) == pytest.approx(top["mrr"].sum() / 100)


def test_ops_charts_colour_failed_red(ledger_file: Path, con: duckdb.DuckDBPyConnection) -> None:
    """ops: webhook events by day split by outcome, "failed" red as in the payments charts (the
    issue found it blue in one chart and red in the next); failed and rejected calls in words."""
    by_day = reports.webhook_by_day(ledger_file, MONTH)
    fig = reports.bar_chart(by_day, x="day", y="events", color="status", title="webhooks",
                            y_title="events received", x_title="day (UTC)", legend_title="outcome")
    _readable(fig, ["events"])
    colours = {t.name: t.marker.color for t in fig.data}
    assert colours["failed"] == FAILED and colours["applied"] == COLORS["succeeded"]
    calls = reports.usage_by_day(con, MONTH, currency=CUR).groupby("day", as_index=False)[["errors", "rejected"]].sum()
    fig = reports.bar_chart(calls, x="day", y=["errors", "rejected"], title="calls", y_title="calls",
                            x_title="day (UTC)")
    assert fig.layout.yaxis.title.text == "calls" and [t.name for t in fig.data] == ["errors", "rejected"]


# -- every figure the published notebooks hold -------------------------------------------------------

# Trace names that are codes by design: decline reasons are Stripe's codes (metrics.md §5), the
# same words as in the table under the chart.
_CODE_LEGENDS = {"decline reason"}


def _published_figures(directory: Path) -> list[tuple[str, dict]]:
    figures = []
    for path in sorted((directory / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                fig = out.get("data", {}).get("application/vnd.plotly.v1+json")
                if fig is not None:
                    figures.append((path.stem, fig))
    return figures


@pytest.mark.xdist_group("reports-published")
def test_every_published_figure_is_readable(published: Published) -> None:
    """Every figure in every executed report notebook: a y-axis title, traces named (in words
    without underscores, decline-reason codes aside), a legend when there are several traces,
    a percent axis for every rate and share, the currency on every amount axis, and any trace
    named "failed" in the one failure colour."""
    figures = _published_figures(published.directory)
    assert {name for name, _ in figures} == set(reports.REPORTS)
    failed_colours = set()
    for name, fig in figures:
        layout, title = fig["layout"], fig["layout"].get("title", {}).get("text")
        y_title = layout.get("yaxis", {}).get("title", {}).get("text", "")
        assert y_title.strip(), (name, title)
        traces = [t for t in fig["data"] if t["type"] in ("bar", "scatter")]
        legend = layout.get("legend", {}).get("title", {}).get("text", "")
        for t in traces:
            assert t.get("name"), (name, title)
            assert "_" not in t["name"] or legend in _CODE_LEGENDS, (name, title, t["name"])
            if t["name"] == "failed":
                failed_colours.add(t["marker"]["color"] if t["type"] == "bar" else t["line"]["color"])
        if len(traces) > 1:
            assert layout.get("showlegend") is True, (name, title)
        if any(w in y_title for w in ("rate", "share", "/")):
            assert layout["yaxis"].get("tickformat") == ".0%", (name, title)
        if any(w in y_title.lower() for w in ("mrr", "amount", "overage")):
            assert y_title.endswith("(USD)"), (name, title, y_title)
    assert failed_colours == {FAILED}  # payments (two charts) and ops
