"""One month's report (metrics.md §7) as a dict with exactly the contract's keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import duckdb

from .._times import naive_utc
from ..config import TierTable
from ..errors import InvalidInput
from ..months import Month
from ..warehouse import Warehouse, open_warehouse
from ._context import metrics_connection, month_params, prepare_month
from ._sql import sql_text, subquery

__all__ = ["CONVENTIONS", "monthly", "monthly_on", "window_counts"]

Convention = Literal["stripe", "chartmogul"]
CONVENTIONS = ("stripe", "chartmogul")


def amount(value: Any) -> int | float:
    """An amount for the report: at most 2 decimals, an int when whole."""
    x = round(float(value), 2)
    return int(x) if x == int(x) else x


def _x100(value: Any) -> int | float:
    return amount(int(value) / 100)


def _rate(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _all(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return _rows(con, sql_text(name), params)


def _one(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]) -> dict[str, Any]:
    return _all(con, name, params)[0]


# The month's payment totals are the sums of its days (payments_by_day.sql, also a chart series).
PAYMENT_TOTALS_SQL = """
SELECT coalesce(sum(attempts), 0) AS attempts, coalesce(sum(succeeded), 0) AS succeeded,
       coalesce(sum(failed), 0) AS failed, coalesce(sum(authorized), 0) AS authorized,
       coalesce(sum(authorization_attempts), 0) AS authorization_attempts,
       coalesce(sum(succeeded_amount), 0) AS succeeded_amount, coalesce(sum(failed_amount), 0) AS failed_amount
FROM ({by_day})
"""

# Only the customers a list can show: over the limit, near it, or an upgrade candidate.
LISTED_USAGE_SQL = """
SELECT * FROM ({usage})
WHERE over > 0 OR utilisation >= 0.8 OR upgrade_candidate
ORDER BY overage_amount DESC, customer
"""


def _usage_entry(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "customer": r["customer"],
        "tier": r["tier"],
        "calls": int(r["calls"]),
        "billable_calls": int(r["billable_calls"]),
        "included": int(r["included"]),
        "over": int(r["over"]),
        "overage_amount": amount(r["overage_amount"]),
        "utilisation": None if r["utilisation"] is None else float(r["utilisation"]),
    }


def monthly_on(
    con: duckdb.DuckDBPyConnection, month: Month, *, currency: str, convention: str
) -> dict[str, Any]:
    """The report on a connection prepared by :func:`metrics_connection`."""
    cur = currency.lower()
    bounds = month_params(month)
    prepare_month(con, month, currency=cur)
    mrr = _rows(con, sql_text("mrr.sql").format(customers=subquery("customer_mrr.sql")), {**bounds, "currency": cur})[0]
    subs = _one(con, "subscribers.sql", {**bounds, "currency": cur})
    reasons = _one(con, "churn_reasons.sql", bounds)
    pay = _rows(con, PAYMENT_TOTALS_SQL.format(by_day=subquery("payments_by_day.sql")),
                {"from": bounds["m_start"], "to": bounds["m_next"], "currency": cur})[0]
    declines = _all(con, "decline_reasons.sql", {**bounds, "currency": cur})
    recovery = _one(con, "recovery.sql", {**bounds, "currency": cur})
    people = _rows(con, LISTED_USAGE_SQL.format(usage=subquery("usage.sql")), {**bounds, "currency": cur})
    totals = _one(con, "usage_totals.sql", bounds)
    excluded = _one(con, "excluded.sql", {**bounds, "currency": cur})
    billed = _one(con, "overage_revenue.sql", {**bounds, "currency": cur})

    start, end = int(mrr["mrr_start"]), int(mrr["mrr_end"])
    churned, contraction = int(mrr["churned"]), int(mrr["contraction"])
    expansion, reactivation = int(mrr["expansion"]), int(mrr["reactivation"])
    s_start, s_new, s_react = int(subs["start"]), int(subs["new"]), int(subs["reactivated"])
    s_churned, s_end = int(subs["churned"]), int(subs["end"])
    if convention == "stripe":
        churn_rate = _rate(s_churned, s_start + s_new + s_react)
    else:
        churn_rate = _rate(
            s_churned - int(subs["joined_and_churned"]) - int(subs["churned_and_reactivated"]), s_start
        )
    succeeded, failed = int(pay["succeeded"]), int(pay["failed"])
    failed_invoices, recovered = int(recovery["failed_invoice_amount"]), int(recovery["recovered_amount"])

    entries = [(_usage_entry(r), bool(r["upgrade_candidate"])) for r in people]
    return {
        "month": str(month),
        "currency": cur,
        "convention": convention,
        "mrr": {
            "start": _x100(start),
            "end": _x100(end),
            "new": _x100(mrr["new"]),
            "reactivation": _x100(reactivation),
            "expansion": _x100(expansion),
            "contraction": _x100(contraction),
            "churned": _x100(churned),
        },
        "subscribers": {"start": s_start, "new": s_new, "reactivated": s_react, "churned": s_churned, "end": s_end},
        "subscriber_churn_rate": churn_rate,
        "gross_mrr_churn_rate": _rate(churned + contraction, start),
        "net_mrr_churn_rate": _rate(churned + contraction - expansion - reactivation, start),
        "net_revenue_retention": _rate(start - churned - contraction + expansion, start),
        "arpu": None if s_end == 0 else amount(end / 100 / s_end),
        "churn_reasons": {"voluntary": int(reasons["voluntary"]), "involuntary": int(reasons["involuntary"])},
        "payments": {
            "attempts": int(pay["attempts"]),
            "succeeded": succeeded,
            "failed": failed,
            "success_rate": _rate(succeeded, succeeded + failed),
            "authorization_rate": _rate(int(pay["authorized"]), int(pay["authorization_attempts"])),
            "succeeded_amount": amount(pay["succeeded_amount"]),
            "failed_amount": amount(pay["failed_amount"]),
            "decline_reasons": {r["reason"]: int(r["n"]) for r in declines},
            "failed_invoice_amount": amount(failed_invoices),
            "recovered_amount": amount(recovered),
            "recovery_rate": _rate(recovered, failed_invoices),
        },
        "usage": {
            "calls": int(totals["calls"]),
            "billable_calls": int(totals["billable_calls"]),
            "customers": int(totals["customers"]),
        },
        "overages": [e for e, _ in entries if e["over"] > 0],
        "near_limit": [
            e for e, _ in entries if e["over"] == 0 and e["utilisation"] is not None and e["utilisation"] >= 0.8
        ],
        "upgrade_candidates": [e for e, candidate in entries if candidate],
        "overage_revenue": amount(billed["overage_revenue"]),
        "overage_expected": amount(sum(e["overage_amount"] for e, _ in entries)),
        "excluded": {
            "other_currency_lines": int(excluded["other_currency_lines"]),
            "malformed_usage_rows": int(excluded["malformed_usage_rows"]),
            "truncated_lists": int(excluded["truncated_lists"]),
        },
    }


def window_counts(
    warehouse: Warehouse, start: datetime, end: datetime, *, currency: str = "usd"
) -> dict[str, Any]:
    """The counts of metrics.md §4-§6 over any window [start, end) (aware or naive-UTC datetimes),
    with the SQL of :func:`monthly`: payment attempts and their success rate (§5), subscribers
    at the start, joining, and ending by reason (§4) with the involuntary churn rate (involuntary
    ends / (start + new + reactivated), the stripe convention's denominator), calls and rejected
    calls (§6), and the subscriptions live at ``end``. What alerts watch over "the last 24 hours"
    as well as over a month."""
    cur = currency.lower()
    bounds = {"m_start": naive_utc(start), "m_next": naive_utc(end)}
    with open_warehouse(warehouse, read_only=True) as con:
        pay = _rows(con, PAYMENT_TOTALS_SQL.format(by_day=subquery("payments_by_day.sql")),
                    {"from": bounds["m_start"], "to": bounds["m_next"], "currency": cur})[0]
        subs = _one(con, "subscribers.sql", {**bounds, "currency": cur})
        reasons = _one(con, "churn_reasons.sql", bounds)
        usage = _one(con, "usage_totals.sql", bounds)
        live = _one(con, "live_subscriptions.sql", {"at": bounds["m_next"]})
    succeeded, failed = int(pay["succeeded"]), int(pay["failed"])
    at_risk = int(subs["start"]) + int(subs["new"]) + int(subs["reactivated"])
    return {
        "payments": {"attempts": int(pay["attempts"]), "succeeded": succeeded, "failed": failed,
                     "success_rate": _rate(succeeded, succeeded + failed)},
        "subscribers": {"start": int(subs["start"]), "new": int(subs["new"]),
                        "reactivated": int(subs["reactivated"]), "end": int(subs["end"])},
        "churn_reasons": {"voluntary": int(reasons["voluntary"]), "involuntary": int(reasons["involuntary"])},
        "involuntary_churn_rate": _rate(int(reasons["involuntary"]), at_risk),
        "usage": {"calls": int(usage["calls"]), "rejected_calls": int(usage["rejected_calls"])},
        "live_subscriptions": int(live["live"]),
    }


def monthly(
    warehouse: Warehouse,
    month: Month | str,
    *,
    currency: str = "usd",
    convention: str = "stripe",
    tiers: TierTable | None = None,
) -> dict[str, Any]:
    """The metrics.md §7 report for ``month`` (a :class:`Month` or ``"YYYY-MM"``).

    ``warehouse`` is a path (opened read-only) or an open DuckDB connection. ``tiers`` defaults to
    the configured tier table. Amounts are in minor units (at most 2 decimals), rates fractions or
    None when their denominator is 0.
    """
    if convention not in CONVENTIONS:
        raise InvalidInput(f"unknown convention {convention!r}: expected stripe or chartmogul")
    month = Month.coerce(month)
    if not currency or not currency.isalpha() or len(currency) != 3:
        raise InvalidInput(f"invalid currency {currency!r}: expected a 3-letter ISO code such as usd")
    with metrics_connection(warehouse, currency=currency, tiers=tiers) as con:
        return monthly_on(con, month, currency=currency, convention=convention)
