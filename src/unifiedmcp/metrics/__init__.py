"""The numbers of shared/specs/metrics.md, computed as SQL on the DuckDB warehouse.

Public API (stable; the report notebooks use it):

- ``monthly(warehouse, month, *, currency="usd", convention="stripe", tiers=None) -> dict``
  the §7 report with exactly its keys. ``warehouse`` is a path (opened read-only) or an open
  ``duckdb`` connection; ``month`` a :class:`unifiedmcp.months.Month` or ``"YYYY-MM"``;
  ``convention`` ``"stripe"`` or ``"chartmogul"`` (subscriber churn rate, §4); ``tiers`` a
  :class:`unifiedmcp.config.TierTable` (default: the configured one).
- ``report_frame(warehouse, first, last, *, currency="usd", convention="stripe", tiers=None)``
  one row per month, every scalar of the report flattened (``mrr_start``, ``payments_success_rate``...).
- ``mrr_by_month(warehouse, first, last, *, currency="usd", tiers=None)``
  month, mrr_start, new, reactivation, expansion, contraction, churned, mrr_end.
- ``mrr_by_customer(warehouse, month, *, currency="usd", tiers=None)``
  customer, mrr_start, mrr_end, movement, tier_start, tier_end.
- ``mrr_by_tier(warehouse, first, last, *, currency="usd", tiers=None)``
  month, tier, mrr (at the month's end), customers.
- ``churn_by_month(warehouse, first, last, *, currency="usd", convention="stripe", tiers=None)``
  month, subscriber counts, the four rates, voluntary / involuntary.
- ``payments_by_day(warehouse, first, last, *, currency="usd")``
  day, attempts, succeeded, failed, succeeded_amount, failed_amount, success_rate.
- ``usage_by_tier_and_tool(warehouse, month, *, currency="usd", tiers=None)``
  tier, tool_name, calls, billable_calls, errors, interrupted, rejected, customers.
- ``usage_by_customer(warehouse, month, *, currency="usd", tiers=None)``
  customer, tier, calls, billable_calls, included, over, overage_amount, utilisation,
  upgrade_threshold, rejected, upgrade_candidate (metrics.md §6, contract v2).
- ``data_months(warehouse) -> list[Month]``, ``month_range(first, last) -> list[Month]``,
  ``data_span(warehouse) -> DataSpan`` (first, stripe_last, usage_last, last: UTC datetimes).
- ``window_counts(warehouse, start, end, *, currency="usd") -> dict``: payments, subscribers,
  churn reasons, involuntary churn rate, calls and rejected calls over any window [start, end).

The series helpers return pandas DataFrames; amounts are in minor units, rates fractions.
"""

from ._monthly import CONVENTIONS, monthly, window_counts
from ._series import (
    DataSpan,
    churn_by_month,
    data_months,
    data_span,
    month_range,
    mrr_by_customer,
    mrr_by_month,
    mrr_by_tier,
    payments_by_day,
    report_frame,
    usage_by_customer,
    usage_by_tier_and_tool,
)

REPORT_KEYS = (
    "month", "currency", "convention", "mrr", "subscribers", "subscriber_churn_rate",
    "gross_mrr_churn_rate", "net_mrr_churn_rate", "net_revenue_retention", "arpu", "churn_reasons",
    "payments", "usage", "overages", "overage_revenue", "overage_expected", "near_limit", "upgrade_candidates",
    "excluded",
)

__all__ = [
    "CONVENTIONS",
    "REPORT_KEYS",
    "DataSpan",
    "churn_by_month",
    "data_months",
    "data_span",
    "month_range",
    "monthly",
    "mrr_by_customer",
    "mrr_by_month",
    "mrr_by_tier",
    "payments_by_day",
    "report_frame",
    "usage_by_customer",
    "usage_by_tier_and_tool",
    "window_counts",
]
