"""A small, deterministic demo ledger: a few customers per tier and a month of metered calls."""

from __future__ import annotations

import random
from datetime import timedelta

from ..errors import QuotaExceeded
from ..months import Month
from ._ledger import Ledger

__all__ = ["build_demo_ledger"]

_TOOLS = ("list_customers", "create_customer", "list_invoices", "search_stripe_resources", "retrieve_balance")
# (tier, customers, calls per customer): one free customer runs past its hard limit,
# one pro customer into overage.
_PLAN = (("free", 4, (20, 60, 95, 130)), ("pro", 3, (2_500, 8_200, 10_600)), ("enterprise", 1, (40_000,)))


def build_demo_ledger(ledger: Ledger, *, month: Month, seed: int = 7) -> int:
    """Fill ``ledger`` with demo customers and their calls in ``month``; returns the calls attempted.

    Event ids are derived from the seed, so running it twice on the same ledger adds nothing.
    """
    rng = random.Random(seed)
    span = (month.end - month.start).total_seconds()
    attempted = 0
    for tier, count, calls in _PLAN:
        for i in range(count):
            customer = f"cus_demo_{tier}_{i + 1}"
            ledger.upsert_customer(customer, tier=tier, email=f"{tier}{i + 1}@example.com")
            instants = sorted(rng.random() * span for _ in range(calls[i]))
            for n, offset in enumerate(instants):
                attempted += 1
                try:
                    ledger.check_and_record(
                        customer,
                        rng.choice(_TOOLS),
                        event_id=f"demo-{seed}-{customer}-{n}",
                        at=month.start + timedelta(seconds=offset),
                    )
                except QuotaExceeded:
                    pass  # recorded as rejected, as the free tier's hard limit requires
    return attempted
