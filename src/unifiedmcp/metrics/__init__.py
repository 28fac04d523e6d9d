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
- ``churn_by_month(warehouse, first, last, *, currency="usd", convention="stripe", tiers=None)``
  month, subscriber counts, the four rates, voluntary / involuntary.
- ``payments_by_day(warehouse, first, last, *, currency="usd")``
  day, attempts, succeeded, failed, succeeded_amount, failed_amount, success_rate.
- ``usage_by_tier_and_tool(warehouse, month, *, currency="usd", tiers=None)``
  tier, tool_name, calls, billable_calls, errors, interrupted, rejected, customers.
- ``usage_by_customer(warehouse, month, *, currency="usd", tiers=None)``
  customer, tier, calls, billable_calls, included, over, overage_amount, utilisation, upgrade_threshold.
- ``data_months(warehouse) -> list[Month]``, ``month_range(first, last) -> list[Month]``.

The series helpers return pandas DataFrames; amounts are in minor units, rates fractions.
"""

from ._monthly import CONVENTIONS, monthly
from ._series import (
    churn_by_month,
    data_months,
    month_range,
    mrr_by_month,
    payments_by_day,
    report_frame,
    usage_by_customer,
    usage_by_tier_and_tool,
)

REPORT_KEYS = (
    "month", "currency", "convention", "mrr", "subscribers", "subscriber_churn_rate",
    "gross_mrr_churn_rate", "net_mrr_churn_rate", "net_revenue_retention", "arpu", "churn_reasons",
    "payments", "usage", "overages", "near_limit", "upgrade_candidates", "excluded",
)

__all__ = [
    "CONVENTIONS",
    "REPORT_KEYS",
    "churn_by_month",
    "data_months",
    "month_range",
    "monthly",
    "mrr_by_month",
    "payments_by_day",
    "report_frame",
    "usage_by_customer",
    "usage_by_tier_and_tool",
]
