"""Frames the report notebooks need beyond :mod:`unifiedmcp.metrics`, as SQL on the warehouse.

Nothing here re-implements a metric: a customer's tier comes from ``metrics.usage_by_customer``
and cohorts from the warehouse's ``paying_intervals`` table (the one the subscriber counts use),
so these frames never disagree with ``metrics.monthly``.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from .._times import naive_utc
from ..config import TierTable
from .. import metrics
from ..metrics import usage_by_customer
from ..metrics._context import month_params
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


def _with_tier(
    df: pd.DataFrame, con: duckdb.DuckDBPyConnection, month: Month, *, currency: str, tiers: TierTable | None
) -> pd.DataFrame:
    """``df`` (with a ``customer`` column) plus each customer's tier at the end of ``month``."""
    tier_of = usage_by_customer(con, month, currency=currency, tiers=tiers)[["customer", "tier"]]
    out = df.merge(tier_of, on="customer", how="left")
    return out.astype({"tier": "object"})


def usage_by_day(
    con: duckdb.DuckDBPyConnection, month: Month | str, *, currency: str = "usd", tiers: TierTable | None = None
) -> pd.DataFrame:
    """Columns: day, tier (at the end of the month), calls, billable_calls, errors, interrupted, rejected."""
    m = Month.coerce(month)
    per_customer = _with_tier(con.execute(sql_text("usage_by_day.sql"), month_params(m)).df(), con, m,
                              currency=currency, tiers=tiers)
    cols = ["calls", "billable_calls", "errors", "interrupted", "rejected"]
    if per_customer.empty:
        return pd.DataFrame(columns=["day", "tier", *cols])
    return per_customer.groupby(["day", "tier"], as_index=False)[cols].sum().sort_values(["day", "tier"],
                                                                                         ignore_index=True)


def rejected_calls(
    con: duckdb.DuckDBPyConnection, month: Month | str, *, currency: str = "usd", tiers: TierTable | None = None
) -> pd.DataFrame:
    """Columns: customer, tier, rejected, first_rejected_at, last_rejected_at (most rejected first)."""
    m = Month.coerce(month)
    df = _with_tier(con.execute(sql_text("rejected_calls.sql"), month_params(m)).df(), con, m,
                    currency=currency, tiers=tiers)
    return df[["customer", "tier", "rejected", "first_rejected_at", "last_rejected_at"]]


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
    """Per customer usage with a ``status``: ``over`` (past the included calls), ``near`` (utilisation
    at least ``near`` and not over), ``upgrade`` (overage above the price step to the next tier, also
    over) or ``ok``. ``near=0.8`` gives metrics.md §6's near-limit list."""
    df = usage_by_customer(con, month, currency=currency, tiers=tiers)
    over = df["over"] > 0
    upgrade = over & df["upgrade_threshold"].notna() & (df["overage_amount"] > df["upgrade_threshold"])
    near_mask = ~over & (df["utilisation"].fillna(0) >= near)
    df["status"] = "ok"
    df.loc[near_mask, "status"] = "near"
    df.loc[over, "status"] = "over"
    df.loc[upgrade, "status"] = "upgrade"
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
