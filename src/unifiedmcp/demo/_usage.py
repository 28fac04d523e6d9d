"""The demo customers' MCP calls, day by day, metered through the ledger like real traffic.

Each day, each signed-up customer makes a number of calls that follows its tier's typical monthly
volume and its usage level: free customers up to ~130 calls a month (past 100 in the month the
ledger refuses them: the free tier's hard limit, also for customers whose paid plan ended), pro
customers a few thousand (heavy ones near or over 10,000), enterprise about ten thousand. About
3 % fail. Each customer favours a few tools of its own. The same seed gives the same calls.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from ..ledger import CallRecord

__all__ = ["LAPSED_LEVEL", "TOOLS", "TYPICAL_CALLS", "day_calls"]

DAY = 86_400
TYPICAL_CALLS = {"free": 60, "pro": 4_500, "enterprise": 8_000}  # a month's calls at usage level 1
# A customer on the free tier after paying once (lapsed) calls far less.
LAPSED_LEVEL = 0.15

TOOLS = ["search", "fetch", "list_customers", "retrieve_balance", "create_invoice", "list_subscriptions",
         "create_refund", "summarise_document", "list_payment_intents", "create_payment_link"]


def _tool_mix(seed: int, customer_n: int) -> list[str]:
    """A customer's tools, repeated by how much it uses each: 2 to 5 favourites, one dominant."""
    rng = random.Random(seed * 104_729 + customer_n)
    picked = rng.sample(TOOLS, rng.randint(2, 5))
    return [tool for rank, tool in enumerate(picked) for _ in range(max(1, 6 - 2 * rank))]


def day_calls(*, seed: int, customer_n: int, customer_id: str, tier: str, level: float, day: int) -> list[CallRecord]:
    """The calls of one customer on the day starting at ``day`` (Unix seconds), spread over it."""
    rng = random.Random(f"{seed}:{customer_n}:{day}")
    expected = TYPICAL_CALLS[tier] * level / 30 * rng.uniform(0.7, 1.3)
    calls = int(expected) + (1 if rng.random() < expected % 1 else 0)  # small volumes stay unbiased
    tools = _tool_mix(seed, customer_n)
    return [
        CallRecord(
            customer_id=customer_id,
            tool=rng.choice(tools),
            at=datetime.fromtimestamp(day + (i + 0.5) * DAY / calls, UTC),
            event_id=f"evt_{seed}_{customer_n}_{day}_{i}",
            status="error" if rng.random() < 0.03 else "ok",
            latency_ms=round(40 + rng.random() * 400, 1),
            user_id=f"user_{customer_n}_{rng.randrange(3)}",
        )
        for i in range(calls)
    ]
