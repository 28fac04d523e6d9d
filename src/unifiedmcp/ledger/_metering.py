"""Admission of one metered call: the quota decision and its record, inside one transaction.

The caller holds a ``BEGIN IMMEDIATE`` transaction, so concurrent processes are serialised and
never admit more than a hard limit allows. The decision reads one counter row, never the month's
events, so its cost does not grow with usage (benchmarks/bench_metering.py).
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from dataclasses import dataclass
from functools import lru_cache

from ..config import TierTable
from ..errors import QuotaExceeded, UnknownCustomer
from ..months import Month
from ._records import Admission

__all__ = ["Call", "admit", "new_event_id"]

_STATE = """
SELECT c.tier, c.status, coalesce(u.calls, 0)
FROM customers c LEFT JOIN usage_counters u ON u.customer_id = c.customer_id AND u.month = ?
WHERE c.customer_id = ?
"""
_INSERT_EVENT = """
INSERT INTO usage_events (event_id, customer_id, tool_name, ts, month, status, user_id)
VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING
"""
_COUNT_CALL = """
INSERT INTO usage_counters (customer_id, month, calls, rejected) VALUES (?, ?, 1, 0)
ON CONFLICT (customer_id, month) DO UPDATE SET calls = calls + 1
"""
_COUNT_REJECTED = """
INSERT INTO usage_counters (customer_id, month, calls, rejected) VALUES (?, ?, 0, 1)
ON CONFLICT (customer_id, month) DO UPDATE SET rejected = rejected + 1
"""
_PRIOR = """
SELECT e.status, e.month, coalesce(u.calls, 0) FROM usage_events e
LEFT JOIN usage_counters u ON u.customer_id = e.customer_id AND u.month = e.month
WHERE e.event_id = ?
"""


def new_event_id() -> str:
    """A unique event id that sorts by creation time.

    Time-ordered ids land at the right edge of the ``event_id`` index, so each call dirties one
    index page instead of a random one: the cost of a call stays flat as the month fills up.
    """
    return f"{time.time_ns():016x}{secrets.token_hex(8)}"


@dataclass(frozen=True, slots=True)
class Call:
    customer_id: str
    tool: str
    event_id: str
    ts: str  # ISO-8601 UTC
    month: str  # YYYY-MM of ts
    user_id: str | None


@lru_cache(maxsize=64)
def _resets_at(month: str):
    return Month.parse(month).end


def admit(conn: sqlite3.Connection, tiers: TierTable, call: Call) -> Admission:
    """Decide and record ``call`` in the open transaction; raises QuotaExceeded or UnknownCustomer.

    A refused call is recorded (status ``rejected``) before QuotaExceeded is raised, so the
    caller must commit on QuotaExceeded too.
    """
    state = conn.execute(_STATE, (call.month, call.customer_id)).fetchone()
    if state is None or state[1] != "active":
        raise UnknownCustomer(call.customer_id)
    tier = tiers[state[0]]
    used = state[2]
    refuse = tier.hard_limit and used >= tier.monthly_api_calls
    status = "rejected" if refuse else "ok"
    inserted = conn.execute(
        _INSERT_EVENT, (call.event_id, call.customer_id, call.tool, call.ts, call.month, status, call.user_id)
    ).rowcount
    month = call.month
    if inserted:
        conn.execute(_COUNT_REJECTED if refuse else _COUNT_CALL, (call.customer_id, call.month))
        used += not refuse
    else:  # a retried event id: report the first outcome, count nothing
        status, month, used = conn.execute(_PRIOR, (call.event_id,)).fetchone()
        refuse = status == "rejected"
    if refuse:
        raise QuotaExceeded(
            customer=call.customer_id, tier=tier.name, limit=tier.monthly_api_calls, used=used,
            resets_at=_resets_at(month),
        )
    return Admission(
        event_id=call.event_id,
        customer_id=call.customer_id,
        tier=tier.name,
        month=month,
        used=used,
        limit=tier.monthly_api_calls,
        resets_at=_resets_at(month),
        duplicate=not inserted,
    )
