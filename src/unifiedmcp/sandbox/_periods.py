"""Billing-period arithmetic: calendar months anchored on a day, like Stripe's billing cycles."""

from __future__ import annotations

import calendar
from datetime import datetime, timezone

__all__ = ["add_interval"]


def add_interval(anchor: int, interval: str, count: int) -> int:
    """``anchor`` plus ``count`` intervals; month ends clamp (Jan 31 + 1 month = Feb 28/29).

    Always computed from the anchor rather than from the previous period end, so a cycle that
    once clamped to the 28th returns to the 31st afterwards, as Stripe does.
    """
    if interval == "day":
        return anchor + 86400 * count
    if interval == "week":
        return anchor + 7 * 86400 * count
    months = count * (12 if interval == "year" else 1)
    dt = datetime.fromtimestamp(anchor, tz=timezone.utc)
    total = dt.year * 12 + (dt.month - 1) + months
    year, month = divmod(total, 12)
    day = min(dt.day, calendar.monthrange(year, month + 1)[1])
    return int(dt.replace(year=year, month=month + 1, day=day).timestamp())
