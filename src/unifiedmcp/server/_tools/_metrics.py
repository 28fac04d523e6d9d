"""Billing metrics from the DuckDB warehouse: billing_metrics, usage_report (one month each).

They report on the whole business (every customer), so they are operator tools: never part of
``--tools all``; select them by name or with ``--tools all,metrics`` (stdio, for operators).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from .._binding import ToolCall
from .._errors import ToolFailure
from .._registry import tool
from .._types import Currency

MonthText = Annotated[
    str,
    StringConstraints(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$"),
    Field(description="Month as YYYY-MM (UTC)"),
]


def _warehouse(call: ToolCall) -> Any:
    path = call.runtime.options.warehouse
    if path is None or not path.exists():
        raise ToolFailure(
            "no warehouse to report from: build it with `unifiedmcp warehouse sync` "
            "and start the server with UNIFIEDMCP_WAREHOUSE set",
            warehouse=str(path) if path else None,
        )
    return path


def _tiers(call: ToolCall) -> Any:
    return call.runtime.ledger.tiers if call.runtime.ledger is not None else None


@tool(
    "billing_metrics",
    resource="metrics",
    action="read",
    title="Monthly billing metrics",
    permission="none (served from UnifiedMCP's warehouse)",
    read_only=True,
    open_world=False,
    stripe=False,
)
def billing_metrics(
    call: ToolCall,
    *,
    month: MonthText,
    currency: Currency = "usd",
    convention: Literal["stripe", "chartmogul"] = "stripe",
) -> dict[str, Any]:
    """The month's billing report: MRR movements, subscribers and churn, NRR, ARPU, payments, usage, overages.

    Amounts are in minor units, rates are fractions.
    """
    from ...metrics import monthly

    return monthly(_warehouse(call), month, currency=currency, convention=convention, tiers=_tiers(call))


@tool(
    "usage_report",
    resource="metrics",
    action="read",
    title="Monthly usage report",
    permission="none (served from UnifiedMCP's warehouse)",
    read_only=True,
    open_world=False,
    stripe=False,
)
def usage_report(
    call: ToolCall,
    *,
    month: MonthText,
    currency: Currency = "usd",
) -> dict[str, Any]:
    """Metered calls in a month per customer (included, over, overage amount) and per tier and tool."""
    from ...metrics import usage_by_customer, usage_by_tier_and_tool

    warehouse = _warehouse(call)
    tiers = _tiers(call)
    customers = usage_by_customer(warehouse, month, currency=currency, tiers=tiers)
    tools = usage_by_tier_and_tool(warehouse, month, currency=currency, tiers=tiers)
    return {
        "month": month,
        "currency": currency,
        "by_customer": _records(customers),
        "by_tier_and_tool": _records(tools),
    }


def _records(frame: Any) -> list[dict[str, Any]]:
    import json

    return json.loads(frame.to_json(orient="records", date_format="iso"))
