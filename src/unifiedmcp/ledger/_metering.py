"""Admission of metered calls: the quota decisions and their records, inside one transaction.

The rules live here once, for every backend. A backend supplies a :class:`MeteringStore`: it
reads the state of the batch's customers (holding whatever lock serialises metering of those
customers: SQLite's write lock, PostgreSQL advisory locks) and writes the decided rows. Each
decision reads one counter row, never the month's events, so its cost does not grow with usage
(benchmarks/bench_metering.py). Several calls can share the transaction (group commit, see
``_group_commit``): they are decided one after another, exactly as if each had its own, and each
counter row is written once.

A retried event id can only race with its first attempt in another process on PostgreSQL when
the two name different customers (same-customer calls are serialised by the lock): then fewer
rows are inserted than decided, :class:`MeteringConflict` is raised, and the backend rolls back
and decides the batch again, now seeing the committed first attempt.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from random import getrandbits
from typing import Protocol

from ..config import TierTable
from ..errors import QuotaExceeded, UnknownCustomer
from ..months import Month
from ._records import Admission

__all__ = [
    "Call",
    "Completion",
    "EventRow",
    "MeteringConflict",
    "MeteringStore",
    "Prior",
    "State",
    "admit_all",
    "new_event_id",
]

Key = tuple[str, str]  # (customer_id, month)


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
    # The status an admitted call is recorded with: interrupted until the server completes it (then
    # ok or error); or, for a call metered after it finished (bulk imports), its outcome.
    admitted: str = "ok"
    latency_ms: float | None = None  # a finished call's latency, written with it


@dataclass(frozen=True, slots=True)
class Completion:
    """How an admitted call ended (``ok`` or ``error``, replacing ``interrupted``): a metering
    write like the call itself."""

    event_id: str
    status: str
    latency_ms: float | None


@dataclass(slots=True)
class State:
    """A customer's tier and status, and the month's admitted calls as this transaction stands."""

    tier: str
    active: bool
    used: int


@dataclass(frozen=True, slots=True)
class Prior:
    """What an already recorded event id was: its status and where it was counted."""

    status: str
    customer_id: str
    month: str


#: ``(event_id, customer_id, tool_name, ts, month, status, user_id)``, as ``usage_events`` stores it.
EventRow = tuple[str, str, str, str, str, str, str | None, str, float | None]  # ..., user_id, tier, latency_ms


class MeteringConflict(Exception):
    """Another transaction recorded one of the batch's event ids meanwhile: decide it again."""


class MeteringStore(Protocol):
    """One backend's metering statements, bound to its open transaction."""

    def prepare(self, keys: Sequence[Key], event_ids: Sequence[str]) -> tuple[dict[Key, State], dict[str, Prior]]:
        """Serialise metering of ``keys`` until commit, then read their states (a key of an
        unknown customer is left out) and the already recorded ``event_ids``."""

    def states(self, keys: Sequence[Key]) -> dict[Key, State]:
        """States of further keys (those of retried ids), without locking them."""

    def write(self, events: Sequence[EventRow], counts: dict[Key, list[int]], completions: Sequence[Completion]) -> int:
        """Insert ``events`` (skipping ids already there), add ``counts`` ([admitted, rejected])
        to the counters, apply ``completions``; return how many events were inserted."""


@lru_cache(maxsize=64)
def _resets_at(month: str):
    return Month.parse(month).end


def admit_all(
    store: MeteringStore, tiers: TierTable, calls: Sequence[Call], completions: Sequence[Completion] = ()
) -> list[Admission | QuotaExceeded | UnknownCustomer]:
    """Decide and record ``calls`` in order, and apply ``completions``, in the open transaction.

    One outcome per call: the Admission, or the error to raise to that call's caller. A refused
    call is recorded (status ``rejected``) too, so the caller must commit whatever the outcomes.
    A retried event id (recorded before, or earlier in ``calls``) counts nothing and repeats the
    first outcome.
    """
    keys = list(dict.fromkeys((c.customer_id, c.month) for c in calls))
    states, priors = store.prepare(keys, list(dict.fromkeys(c.event_id for c in calls))) if calls else ({}, {})
    missing = [(p.customer_id, p.month) for p in priors.values() if (p.customer_id, p.month) not in states]
    if missing:
        states.update(store.states(list(dict.fromkeys(missing))))

    outcomes: list[Admission | QuotaExceeded | UnknownCustomer] = []
    events: list[EventRow] = []
    counts: dict[Key, list[int]] = {}  # (customer, month) -> [calls, rejected] to add
    for call in calls:
        current = states.get((call.customer_id, call.month))
        if current is None or not current.active:
            outcomes.append(UnknownCustomer(call.customer_id))
            continue
        tier = tiers[current.tier]
        prior = priors.get(call.event_id)
        if prior is None:
            refuse = tier.hard_limit and current.used >= tier.monthly_api_calls
            status, month = ("rejected" if refuse else call.admitted), call.month
            latency = None if refuse else call.latency_ms
            events.append(
                (call.event_id, call.customer_id, call.tool, call.ts, month, status, call.user_id, tier.name, latency)
            )
            priors[call.event_id] = Prior(status, call.customer_id, month)
            counts.setdefault((call.customer_id, month), [0, 0])[1 if refuse else 0] += 1
            current.used += not refuse
            used = current.used
        else:  # a retried event id (earlier, or earlier in this batch): its first outcome, counted once
            status, month = prior.status, prior.month
            counted = states.get((prior.customer_id, month))
            used = counted.used if counted is not None else 0
        if status == "rejected":
            outcomes.append(QuotaExceeded(
                customer=call.customer_id, tier=tier.name, limit=tier.monthly_api_calls, used=used,
                resets_at=_resets_at(month),
            ))
        else:
            outcomes.append(Admission(
                event_id=call.event_id, customer_id=call.customer_id, tier=tier.name, month=month, used=used,
                limit=tier.monthly_api_calls, resets_at=_resets_at(month), duplicate=prior is not None,
            ))
    if store.write(events, counts, completions) != len(events):
        raise MeteringConflict()
    return outcomes
