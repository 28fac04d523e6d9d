"""Frames the report notebooks need beyond :mod:`unifiedmcp.metrics`, as SQL on the warehouse.

Nothing here re-implements a metric: a call's tier comes from metrics' ``_m_calls``, a customer's
from ``metrics.usage_by_customer``, and cohorts from the warehouse's ``paying_intervals`` table
(the one the subscriber counts use), so these frames never disagree with ``metrics.monthly``.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from .._times import naive_utc
from ..config import TierTable
from .. import metrics
from ..metrics import usage_by_customer
from ..metrics._context import metrics_connection, month_params, prepare_month
from ..months import Month
from ._sql import sql_text

__all__ = [
    "cohort_retention",
    "declines_by_day",
    "payments_daily",
    "rejected_calls",
    "top_customers",
    "usage_by_day",
    "usage_watchlist",
]


def _calls_frame(
    con: duckdb.DuckDBPyConnection, month: Month, name: str, *, currency: str, tiers: TierTable | None
) -> pd.DataFrame:
    """``sql/<name>`` on the month's calls, each with the tier it was made on (metrics' _m_calls)."""
    with metrics_connection(con, currency=currency, tiers=tiers) as c:
        prepare_month(c, month, currency=currency.lower())
        return c.execute(sql_text(name), month_params(month)).df()


def usage_by_day(
    con: duckdb.DuckDBPyConnection, month: Month | str, *, currency: str = "usd", tiers: TierTable | None = None
) -> pd.DataFrame:
    """Columns: day, tier (the calls' own, metrics.md §6 v2), calls, billable_calls, errors, rejected."""
    return _calls_frame(con, Month.coerce(month), "usage_by_day.sql", currency=currency, tiers=tiers)


def rejected_calls(
    con: duckdb.DuckDBPyConnection, month: Month | str, *, currency: str = "usd", tiers: TierTable | None = None
) -> pd.DataFrame:
    """Columns: customer, tier, rejected, first_rejected_at, last_rejected_at (most rejected first)."""
    return _calls_frame(con, Month.coerce(month), "rejected_calls.sql", currency=currency, tiers=tiers)


def top_customers(
    con: duckdb.DuckDBPyConnection, month: Month | str, *, n: int = 10, currency: str = "usd",
    tiers: TierTable | None = None,
) -> pd.DataFrame:
    """The ``n`` customers with the most calls in the month (metrics' per-customer usage rows)."""
    df = usage_by_customer(con, month, currency=currency, tiers=tiers)
    df = df[df["calls"] > 0].sort_values(["calls", "customer"], ascending=[False, True])
    return df.head(n).reset_index(drop=True)


def usage_watchlist(
    con: duckdb.DuckDBPyConnection, month: Month | str, *, near: float = 0.8, currency: str = "usd",
    tiers: TierTable | None = None,
) -> pd.DataFrame:
    """Per customer usage with a ``status``: ``upgrade`` (metrics.md §6 v2 upgrade candidate: on
    the free tier with rejected calls, or an overage above the price step to the next tier),
    ``over`` (past the included calls), ``near`` (utilisation at least ``near`` and not over) or
    ``ok``. ``near=0.8`` gives metrics.md §6's near-limit list."""
    df = usage_by_customer(con, month, currency=currency, tiers=tiers)
    over = df["over"] > 0
    near_mask = ~over & (df["utilisation"].fillna(0) >= near)
    df["status"] = "ok"
    df.loc[near_mask, "status"] = "near"
    df.loc[over, "status"] = "over"
    df.loc[df["upgrade_candidate"], "status"] = "upgrade"
    return df


def cohort_retention(
    con: duckdb.DuckDBPyConnection, first: Month | str, last: Month | str, *, currency: str = "usd"
) -> pd.DataFrame:
    """Monthly cohorts (month of a customer's first paying interval) from ``first`` to ``last``.

    Columns: cohort (YYYY-MM), age (months since the cohort month, 0 = its own month end),
    cohort_size, retained (active subscribers at the end of cohort + age), retention (fraction).
    Only ages whose month ends by ``last`` are present.
    """
    a, b = Month.coerce(first), Month.coerce(last)
    df = con.execute(
        sql_text("cohort_retention.sql"),
        {"from": naive_utc(a.start), "to": naive_utc(b.end), "currency": currency.lower()},
    ).df()
    df["retention"] = (df["retained"] / df["cohort_size"]).where(df["cohort_size"] > 0)
    return df


def payments_daily(
    con: duckdb.DuckDBPyConnection, month: Month | str, *, currency: str = "usd"
) -> pd.DataFrame:
    """Per UTC day of the month: attempts, succeeded, failed, authorized, authorization_attempts,
    amounts, success_rate and authorization_rate (NaN when undefined), as metrics.md §5 per day."""
    return metrics.payments_by_day(con, month, month, currency=currency)


def declines_by_day(
    con: duckdb.DuckDBPyConnection, month: Month | str, *, currency: str = "usd"
) -> pd.DataFrame:
    """Failed charges per UTC day and decline reason: columns day, reason, failed."""
    m = Month.coerce(month)
    return con.execute(sql_text("declines_by_day.sql"), {**month_params(m), "currency": currency.lower()}).df()
