"""Metered usage billed in arrears: what a subscription's metered items have used and not yet billed.

A metered item (a price with ``recurring.usage_type=metered``) has no quantity: each period it is
billed for its meter's usage by the subscription's customer, by event timestamp, over
``[window start, end)``. The window starts at the item's current period start, or later when the
item's metered price arrived mid-period (``sub["_usage_since"][item id]``, set by a price swap or
a new item). What Stripe does with that usage
(https://docs.stripe.com/billing/subscriptions/usage-based/manage-billing-setup), and the sandbox
with it:

- **Renewal**: the invoice of the new period bills the period that ended (the first invoice of a
  subscription has no metered line). Usage during a trial is not billed.
- **Grace period**: an auto-advancing draft is recomputed when it is finalized
  (``finalize_delay_seconds``, 1 h like Stripe's default), so events that arrive late with a
  timestamp in the period still count: "When the invoice finalizes, Stripe updates it to reflect
  the latest quantity for its billing period."
- **Price swap or removal** mid-period, ``billing_mode=flexible`` (the default for new
  subscriptions since 2025-09-30.clover): an invoice item bills the usage so far at the old
  price, following ``proration_behavior`` (``none``: not billed; ``create_prorations``: pending,
  on the next invoice; ``always_invoice``: invoiced at once). ``billing_mode=classic``: the usage
  before the swap is not billed (Stripe's documented limitation). Either way the new price bills
  from the swap on.
- **Cancellation**: at period end (``cancel_at_period_end``, ``cancel_at``) a final invoice bills
  the last usage; ``DELETE`` bills it only with ``invoice_now=true`` and otherwise discards it.

Late events timestamped before a swap are not billed once the swap's invoice item exists: push
usage before changing prices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import _pricing, _usage
from ._state import Sandbox

__all__ = ["Usage", "restart", "forget", "unbilled", "unbilled_all", "quantity"]

Obj = dict[str, Any]


@dataclass(frozen=True)
class Usage:
    """One metered item's usage over ``[start, end)`` and what it costs."""

    item: str
    price: Obj
    start: int
    end: int
    quantity: int
    amount: int


def _window_start(sub: Obj, item: Obj) -> int:
    return max(item["current_period_start"], (sub.get("_usage_since") or {}).get(item["id"], 0))


def restart(sub: Obj, item_id: str, at: int) -> None:
    """The item's metered price starts counting at ``at`` (a swap or a new item mid-period)."""
    sub.setdefault("_usage_since", {})[item_id] = at


def forget(sub: Obj, item_id: str) -> None:
    (sub.get("_usage_since") or {}).pop(item_id, None)


def quantity(sb: Sandbox, price: Obj, customer: str, start: int, end: int) -> int:
    return _usage.usage(sb, price["recurring"]["meter"], customer, start, end)


def unbilled(sb: Sandbox, sub: Obj, item: Obj, end: int) -> Usage | None:
    """The item's usage from its window start to ``end`` (``None``: not metered, or no window)."""
    price = item["price"]
    start = _window_start(sub, item)
    if not _pricing.is_metered(price) or start >= end:
        return None
    q = quantity(sb, price, sub["customer"], start, end)
    return Usage(item["id"], price, start, end, q, _pricing.amount(sb, price, q))


def unbilled_all(sb: Sandbox, sub: Obj, end: int) -> list[Usage]:
    """Every metered item's usage up to ``end``; nothing while the subscription is trialing (or
    not yet or no longer live)."""
    if sub["status"] not in ("active", "past_due", "unpaid"):
        return []
    found = (unbilled(sb, sub, item, end) for item in sub["items"]["data"])
    return [u for u in found if u is not None]

