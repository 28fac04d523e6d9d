"""Admission of metered calls: the quota decisions and their records, inside one transaction.

The caller holds a ``BEGIN IMMEDIATE`` transaction, so concurrent processes are serialised and
never admit more than a hard limit allows. Each decision reads one counter row, never the month's
events, so its cost does not grow with usage (benchmarks/bench_metering.py). Several calls can
share the transaction (group commit, see ``_group_commit``): they are decided one after another,
exactly as if each had its own, and each counter row is written once.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from random import getrandbits

from ..config import TierTable
from ..errors import QuotaExceeded, UnknownCustomer
from ..months import Month
from ._records import Admission

__all__ = ["Call", "admit_all", "new_event_id"]

_STATE = """
SELECT c.tier, c.status, coalesce(u.calls, 0)
FROM customers c LEFT JOIN usage_counters u ON u.customer_id = c.customer_id AND u.month = ?
WHERE c.customer_id = ?
"""
_INSERT_EVENT = """
INSERT INTO usage_events (event_id, customer_id, tool_name, ts, month, status, user_id, tier)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING
"""
_PRIOR = "SELECT status, customer_id, month FROM usage_events WHERE event_id = ?"
_COUNT = """
INSERT INTO usage_counters (customer_id, month, calls, rejected) VALUES (?, ?, ?, ?)
ON CONFLICT (customer_id, month) DO UPDATE
SET calls = calls + excluded.calls, rejected = rejected + excluded.rejected
"""


def new_event_id() -> str:
    """A unique event id that sorts by creation time.

    Time-ordered ids land at the right edge of the ``event_id`` index, so each call dirties one
    index page instead of a random one: the cost of a call stays flat as the month fills up.
    The 64 random bits come from ``random`` (reseeded in each forked child), not the OS: ids
    need to be unique, not secret, and this is on every metered call's path.
    """
    return f"{time.time_ns():016x}{getrandbits(64):016x}"


@dataclass(frozen=True, slots=True)
class Call:
    customer_id: str
    tool: str
    event_id: str
    ts: str  # ISO-8601 UTC
    month: str  # YYYY-MM of ts
    user_id: str | None


@dataclass(slots=True)
class _State:
    """A customer's tier and status, and the month's admitted calls as this transaction stands."""

    tier: str
    active: bool
    used: int


@lru_cache(maxsize=64)
def _resets_at(month: str):
    return Month.parse(month).end


def admit_all(
    conn: sqlite3.Connection, tiers: TierTable, calls: Sequence[Call]
) -> list[Admission | QuotaExceeded | UnknownCustomer]:
    """Decide and record ``calls`` in order, in the open transaction; one outcome per call.

    An outcome is the Admission, or the error to raise to that call's caller. A refused call is
    recorded (status ``rejected``) too, so the caller must commit whatever the outcomes. A retried
    event id (recorded before, or earlier in ``calls``) counts nothing and repeats the first outcome.
    """
    states: dict[tuple[str, str], _State | None] = {}

    def state(customer_id: str, month: str) -> _State | None:
        key = (customer_id, month)
        if key not in states:
            row = conn.execute(_STATE, (month, customer_id)).fetchone()
            states[key] = None if row is None else _State(row[0], row[1] == "active", row[2])
        return states[key]

    outcomes: list[Admission | QuotaExceeded | UnknownCustomer] = []
    counts: dict[tuple[str, str], list[int]] = {}  # (customer, month) -> [calls, rejected] to add
    for call in calls:
        current = state(call.customer_id, call.month)
        if current is None or not current.active:
            outcomes.append(UnknownCustomer(call.customer_id))
            continue
        tier = tiers[current.tier]
        refuse = tier.hard_limit and current.used >= tier.monthly_api_calls
        status, month = ("rejected" if refuse else "ok"), call.month
        inserted = conn.execute(
            _INSERT_EVENT, (call.event_id, call.customer_id, call.tool, call.ts, month, status, call.user_id, tier.name)
        ).rowcount
        if inserted:
            count = counts.setdefault((call.customer_id, month), [0, 0])
            count[1 if refuse else 0] += 1
            current.used += not refuse
            used = current.used
        else:  # a retried event id (earlier, or earlier in this batch): its first outcome, counted once
            status, customer_id, month = conn.execute(_PRIOR, (call.event_id,)).fetchone()
            counted = state(customer_id, month)
            used = counted.used if counted is not None else 0
        if status == "rejected":
            outcomes.append(QuotaExceeded(
                customer=call.customer_id, tier=tier.name, limit=tier.monthly_api_calls, used=used,
                resets_at=_resets_at(month),
            ))
        else:
            outcomes.append(Admission(
                event_id=call.event_id, customer_id=call.customer_id, tier=tier.name, month=month, used=used,
                limit=tier.monthly_api_calls, resets_at=_resets_at(month), duplicate=not inserted,
            ))
    for (customer_id, month), (admitted, rejected) in counts.items():
        conn.execute(_COUNT, (customer_id, month, admitted, rejected))
    return outcomes

