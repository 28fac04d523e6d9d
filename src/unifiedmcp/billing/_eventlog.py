"""Read the webhook event log and the subscription mirror (for the CLI and the ops report)."""

from __future__ import annotations

from dataclasses import dataclass

from ..ledger import Ledger

__all__ = ["StoredEvent", "MirroredSubscription", "webhook_events", "subscriptions"]

_EVENTS = """
SELECT event_id, type, created, object_id, status, note, error, attempts, received_at, processed_at, replayed_at
FROM webhook_events {where} ORDER BY created DESC, received_at DESC LIMIT ?
"""
_SUBS = """
SELECT subscription_id, customer_id, status, price_id, tier, current_period_end, cancel_at_period_end,
       state_created
FROM subscriptions {where} ORDER BY customer_id, subscription_id
"""


@dataclass(frozen=True)
class StoredEvent:
    event_id: str
    type: str
    created: int
    object_id: str | None
    status: str
    note: str | None
    error: str | None
    attempts: int
    received_at: str
    processed_at: str | None
    replayed_at: str | None


@dataclass(frozen=True)
class MirroredSubscription:
    subscription_id: str
    customer_id: str
    status: str
    price_id: str | None
    tier: str | None
    current_period_end: int | None
    cancel_at_period_end: bool
    state_created: int


def webhook_events(ledger: Ledger, *, status: str | None = None, limit: int = 100) -> list[StoredEvent]:
    """Stored events, newest first; ``status`` filters (``failed``, ``applied``, ``ignored``)."""
    where, params = ("WHERE status = ?", [status]) if status else ("", [])
    with ledger.transaction() as conn:
        rows = conn.execute(_EVENTS.format(where=where), (*params, limit)).fetchall()
    return [StoredEvent(*r) for r in rows]


def subscriptions(ledger: Ledger, *, customer: str | None = None) -> list[MirroredSubscription]:
    """The subscription mirror (every subscription the receiver has seen)."""
    where, params = ("WHERE customer_id = ?", [customer]) if customer else ("", [])
    with ledger.transaction() as conn:
        rows = conn.execute(_SUBS.format(where=where), params).fetchall()
    return [MirroredSubscription(*r[:6], bool(r[6]), r[7]) for r in rows]
