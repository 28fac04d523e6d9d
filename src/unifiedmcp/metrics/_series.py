"""Series for charts: the §3-§6 numbers month by month (or day by day), as pandas DataFrames.

Each helper computes on DuckDB with the same SQL as :func:`unifiedmcp.metrics.monthly`, so a
chart and the monthly report never disagree; pandas appears only in the returned frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .._times import naive_utc
from ..config import TierTable
from ..errors import InvalidInput
from ..months import Month
from ..warehouse import Warehouse, open_warehouse
from ._context import metrics_connection, month_params, prepare_month
from ._monthly import CONVENTIONS, monthly_on
from ._sql import sql_text, subquery

if TYPE_CHECKING:  # pandas is imported where a frame is built (the CLI never needs it)
    import pandas as pd

__all__ = [
    "DataSpan",
    "churn_by_month",
    "data_months",
    "data_span",
    "month_range",
    "mrr_by_customer",
    "mrr_by_month",
    "mrr_by_tier",
    "payments_by_day",
    "report_frame",
    "usage_by_customer",
    "usage_by_tier_and_tool",
]


def month_range(first: Month | str, last: Month | str) -> list[Month]:
    """Months from ``first`` to ``last`` inclusive."""
    a, b = Month.coerce(first), Month.coerce(last)
    if b < a:
        raise InvalidInput(f"empty month range: {a} is after {b}")
    out = [a]
    while out[-1] < b:
        out.append(out[-1].next)
    return out


@dataclass(frozen=True)
class DataSpan:
    """When the warehouse's data starts and how far it runs (UTC; None when there is none):
    ``stripe_last`` the newest invoice, charge or event, ``usage_last`` the newest usage event."""

    first: datetime | None
    stripe_last: datetime | None
    usage_last: datetime | None

    @property
    def last(self) -> datetime | None:
        known = [t for t in (self.stripe_last, self.usage_last) if t is not None]
        return max(known) if known else None


def data_span(warehouse: Warehouse) -> DataSpan:
    """The first and newest instants of the warehouse's data (Stripe objects and usage)."""
    with open_warehouse(warehouse, read_only=True) as con:
        row = con.execute(sql_text("data_span.sql")).fetchall()[0]
    first, stripe_last, usage_last = (None if t is None else t.replace(tzinfo=UTC) for t in row)
    return DataSpan(first, stripe_last, usage_last)


def data_months(warehouse: Warehouse) -> list[Month]:
    """Every month from the first to the last with data in the warehouse (empty when none)."""
    span = data_span(warehouse)
    if span.first is None or span.last is None:
        return []
    return month_range(Month.of(span.first), Month.of(span.last))


def _reports(
    warehouse: Warehouse, months: list[Month], *, currency: str, convention: str, tiers: TierTable | None
) -> list[dict[str, Any]]:
    if convention not in CONVENTIONS:
        raise InvalidInput(f"unknown convention {convention!r}: expected stripe or chartmogul")
    with metrics_connection(warehouse, currency=currency, tiers=tiers) as con:
        return [monthly_on(con, m, currency=currency, convention=convention) for m in months]


def report_frame(
    warehouse: Warehouse, first: Month | str, last: Month | str, *, currency: str = "usd",
    convention: str = "stripe", tiers: TierTable | None = None,
) -> pd.DataFrame:
    """One row per month with every scalar of the §7 report, flattened (``mrr.start`` -> ``mrr_start``)."""
    import pandas as pd

    rows = []
    for r in _reports(warehouse, month_range(first, last), currency=currency, convention=convention, tiers=tiers):
        flat = pd.json_normalize(
            {k: v for k, v in r.items() if k not in ("overages", "near_limit", "upgrade_candidates")}, sep="_"
        ).iloc[0].to_dict()
        flat.pop("payments_decline_reasons", None)
        flat = {k: v for k, v in flat.items() if not k.startswith("payments_decline_reasons_")}
        flat["overage_customers"] = len(r["overages"])
        flat["overage_amount"] = round(sum(e["overage_amount"] for e in r["overages"]), 2)
        rows.append(flat)
    return pd.DataFrame(rows)


def mrr_by_month(
    warehouse: Warehouse, first: Month | str, last: Month | str, *, currency: str = "usd",
    tiers: TierTable | None = None,
) -> pd.DataFrame:
    """Columns: month, mrr_start, new, reactivation, expansion, contraction, churned, mrr_end
    (minor units). For each row mrr_end = mrr_start + new + reactivation + expansion - contraction - churned."""
    import pandas as pd

    reports = _reports(warehouse, month_range(first, last), currency=currency, convention="stripe", tiers=tiers)
    return pd.DataFrame(
        [
            {"month": r["month"], "mrr_start": r["mrr"]["start"], "new": r["mrr"]["new"],
             "reactivation": r["mrr"]["reactivation"], "expansion": r["mrr"]["expansion"],
             "contraction": r["mrr"]["contraction"], "churned": r["mrr"]["churned"], "mrr_end": r["mrr"]["end"]}
            for r in reports
        ]
    )


# Each customer's MRR movement (customer_mrr.sql) with its tier at the end of the prepared month.
CUSTOMER_TIER_SQL = """
SELECT c.customer, c.a / 100 AS mrr_start, c.b / 100 AS mrr_end, c.movement,
       coalesce(t.tier, (SELECT name FROM _m_tiers WHERE is_default)) AS tier_end
FROM ({customers}) c LEFT JOIN _m_tier_at t ON t.customer = c.customer
ORDER BY c.b DESC, c.a DESC, c.customer
"""
TIER_TOTALS_SQL = """
SELECT coalesce(t.tier, (SELECT name FROM _m_tiers WHERE is_default)) AS tier, sum(c.b) / 100 AS mrr,
       count(*) AS customers
FROM ({customers}) c LEFT JOIN _m_tier_at t ON t.customer = c.customer
WHERE c.b > 0
GROUP BY 1
"""


def mrr_by_customer(
    warehouse: Warehouse, month: Month | str, *, currency: str = "usd", tiers: TierTable | None = None
) -> pd.DataFrame:
    """Columns: customer, mrr_start, mrr_end (minor units, at the ends of the previous month and of
    ``month``), movement (new, reactivation, expansion, contraction, churned or none: metrics.md
    §3), tier_start, tier_end (§6, at the same instants); by mrr_end descending. The movements
    add up to :func:`monthly`'s ``mrr``."""
    m, cur = Month.coerce(month), currency.lower()
    params = {**month_params(m), "currency": cur}
    sql = CUSTOMER_TIER_SQL.format(customers=subquery("customer_mrr.sql"))
    with metrics_connection(warehouse, currency=cur, tiers=tiers) as con:
        prepare_month(con, m.previous, currency=cur)
        before = con.execute(sql, {**month_params(m.previous), "currency": cur}).df()
        prepare_month(con, m, currency=cur)
        df = con.execute(sql, params).df()
        default = con.execute("SELECT name FROM _m_tiers WHERE is_default").fetchone()[0]
    df.insert(4, "tier_start", df["customer"].map(before.set_index("customer")["tier_end"]).fillna(default))
    return df


def mrr_by_tier(
    warehouse: Warehouse, first: Month | str, last: Month | str, *, currency: str = "usd",
    tiers: TierTable | None = None,
) -> pd.DataFrame:
    """Columns: month, tier, mrr (minor units at the month's end), customers (paying ones); the
    customer's tier at the month's end (§6). Per month, mrr sums to ``mrr.end``."""
    import pandas as pd

    cur = currency.lower()
    sql = TIER_TOTALS_SQL.format(customers=subquery("customer_mrr.sql"))
    frames = []
    with metrics_connection(warehouse, currency=cur, tiers=tiers) as con:
        for m in month_range(first, last):
            prepare_month(con, m, currency=cur)
            frames.append(con.execute(sql, {**month_params(m), "currency": cur}).df().assign(month=str(m)))
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["tier", "mrr", "customers", "month"])
    return df[["month", "tier", "mrr", "customers"]].sort_values(["month", "tier"], ignore_index=True)


def churn_by_month(
    warehouse: Warehouse, first: Month | str, last: Month | str, *, currency: str = "usd",
    convention: str = "stripe", tiers: TierTable | None = None,
) -> pd.DataFrame:
    """Columns: month, subscribers_start, new, reactivated, churned, subscribers_end,
    subscriber_churn_rate, gross_mrr_churn_rate, net_mrr_churn_rate, net_revenue_retention,
    voluntary, involuntary."""
    import pandas as pd

    reports = _reports(warehouse, month_range(first, last), currency=currency, convention=convention, tiers=tiers)
    return pd.DataFrame(
        [
            {"month": r["month"], "subscribers_start": r["subscribers"]["start"], "new": r["subscribers"]["new"],
             "reactivated": r["subscribers"]["reactivated"], "churned": r["subscribers"]["churned"],
             "subscribers_end": r["subscribers"]["end"], "subscriber_churn_rate": r["subscriber_churn_rate"],
             "gross_mrr_churn_rate": r["gross_mrr_churn_rate"], "net_mrr_churn_rate": r["net_mrr_churn_rate"],
             "net_revenue_retention": r["net_revenue_retention"],
             "voluntary": r["churn_reasons"]["voluntary"], "involuntary": r["churn_reasons"]["involuntary"]}
            for r in reports
        ]
    )


def payments_by_day(
    warehouse: Warehouse, first: Month | str, last: Month | str, *, currency: str = "usd"
) -> pd.DataFrame:
    """Columns: day, attempts, succeeded, failed, authorized, authorization_attempts,
    succeeded_amount, failed_amount, success_rate and authorization_rate (NaN when undefined),
    for every day with charges in the months."""
    a, b = Month.coerce(first), Month.coerce(last)
    with open_warehouse(warehouse, read_only=True) as con:
        df = con.execute(
            sql_text("payments_by_day.sql"),
            {"from": naive_utc(a.start), "to": naive_utc(b.end), "currency": currency.lower()},
        ).df()
    decided = df["succeeded"] + df["failed"]
    df["success_rate"] = (df["succeeded"] / decided).where(decided > 0)
    df["authorization_rate"] = (df["authorized"] / df["authorization_attempts"]).where(
        df["authorization_attempts"] > 0
    )
    return df


def usage_by_tier_and_tool(
    warehouse: Warehouse, month: Month | str, *, currency: str = "usd", tiers: TierTable | None = None
) -> pd.DataFrame:
    """Columns: tier (at the end of the month), tool_name, calls, billable_calls, errors, interrupted,
    rejected, customers."""
    m = Month.coerce(month)
    with metrics_connection(warehouse, currency=currency, tiers=tiers) as con:
        prepare_month(con, m, currency=currency.lower())
        return con.execute(
            sql_text("usage_by_tool.sql"), month_params(m)
        ).df()


def usage_by_customer(
    warehouse: Warehouse, month: Month | str, *, currency: str = "usd", tiers: TierTable | None = None
) -> pd.DataFrame:
    """Columns: customer, tier, calls, billable_calls, included, over, overage_amount, utilisation,
    upgrade_threshold (§6), one row per customer with usage or a paid tier, by overage descending."""
    m = Month.coerce(month)
    with metrics_connection(warehouse, currency=currency, tiers=tiers) as con:
        prepare_month(con, m, currency=currency.lower())
        return con.execute(
            sql_text("usage.sql"),
            {**month_params(m), "currency": currency.lower()},
        ).df()
