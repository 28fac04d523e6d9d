"""UnifiedMCP's own: get_usage (the caller's metered calls this month)."""

from __future__ import annotations

from typing import Any

from ...ledger import Ledger
from .._binding import ToolCall
from .._errors import MeteringUnavailable
from .._registry import tool


@tool(
    "get_usage",
    resource="usage",
    action="read",
    title="My UnifiedMCP usage",
    permission="none (served from UnifiedMCP's ledger)",
    read_only=True,
    open_world=False,
    stripe=False,
)
def get_usage(call: ToolCall) -> dict[str, Any]:
    """Your UnifiedMCP calls this month (this one included): limit, remaining, overage, reset time and tier."""
    ledger = call.runtime.ledger
    if ledger is None or not call.customer:
        raise MeteringUnavailable("this server does not meter calls, so it has no usage to report")
    return usage_of(ledger, call.customer)


def usage_of(ledger: Ledger, customer: str) -> dict[str, Any]:
    """A customer's usage this month as ``get_usage`` and ``unifiedmcp://usage/current`` give it."""
    usage = ledger.usage(customer)
    tier = ledger.tiers[usage.tier]
    return {
        "customer": usage.customer_id,
        "tier": usage.tier,
        "month": usage.month,
        "calls": usage.calls,
        "limit": usage.limit,
        "remaining": usage.remaining,
        "overage": usage.overage,
        "rejected": usage.rejected,
        "limit_kind": tier.limit,
        "overage_per_call": tier.overage_per_call,
        "resets_at": f"{usage.resets_at:%Y-%m-%dT%H:%M:%SZ}",
    }
