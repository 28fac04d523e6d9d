"""Webhook health from the ledger's event log, read-only (alerts and the ops report).

Reads the billing core's tables (``webhook_events``, ``webhook_rejections``, ``subscriptions``)
with a read-only SQLite connection, so neither alerts nor a report ever migrates or locks the
live ledger. A missing ledger, or one without the billing tables, reads as "no webhook data"
rather than an error.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .._times import utc_text
from ..months import Month
from ._sql import sql_text
from ._window import Window

if TYPE_CHECKING:  # pandas is imported where a frame is built (alerts check never needs it)
    import pandas as pd

__all__ = ["WebhookHealth", "webhook_by_day", "webhook_failures", "webhook_health"]


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class WebhookHealth:
    """Events received in the window by outcome, the latest received and the latest successful
    one as of ``as_of`` (the window's end), and the subscriptions the ledger's mirror holds live.

    ``rejected`` counts deliveries refused before storage (bad signature, stale, not JSON); the
    ledger keeps those as all-time totals. ``available`` is False when there is no ledger or it
    has no webhook tables.
    """

    month: str  # the window's label: "2026-10", or "last 24h"
    as_of: datetime
    available: bool
    received: int = 0
    applied: int = 0
    ignored: int = 0
    failed: int = 0
    pending: int = 0
    replayed: int = 0
    rejected: int = 0
    last_success_at: datetime | None = None
    last_received_at: datetime | None = None
    live_subscriptions: int = 0

    @property
    def hours_since_success(self) -> float | None:
        return self._hours_since(self.last_success_at)

    @property
    def hours_since_received(self) -> float | None:
        return self._hours_since(self.last_received_at)

    def _hours_since(self, at: datetime | None) -> float | None:
        return None if at is None else round((self.as_of - at).total_seconds() / 3600, 1)

    def as_dict(self) -> dict[str, object]:
        return {
            "month": self.month, "available": self.available, "received": self.received,
            "applied": self.applied, "ignored": self.ignored, "failed": self.failed,
            "pending": self.pending, "replayed": self.replayed, "rejected": self.rejected,
            "last_success_at": self.last_success_at.isoformat() if self.last_success_at else None,
            "hours_since_success": self.hours_since_success,
            "last_received_at": self.last_received_at.isoformat() if self.last_received_at else None,
            "live_subscriptions": self.live_subscriptions,
        }


def _connect(ledger: str | Path | None) -> sqlite3.Connection | None:
    if not ledger:
        return None
    path = Path(ledger)
    if not path.is_file():
        return None
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    has = con.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
        " AND name IN ('webhook_events', 'webhook_rejections', 'subscriptions')"
    ).fetchone()[0]
    if has < 3:
        con.close()
        return None
    return con


def _params(window: Window) -> dict[str, str]:
    return {"from": utc_text(window.start), "to": utc_text(window.end)}


def webhook_health(
    ledger: str | Path | None, window: Window | Month | str, *, now: datetime | None = None
) -> WebhookHealth:
    """Webhook health for events received in ``window`` (a Window, or a month as of its end or
    ``now`` if earlier)."""
    w = Window.of(window, now=now)
    con = _connect(ledger)
    if con is None:
        return WebhookHealth(month=w.label, as_of=w.end, available=False)
    try:
        row = con.execute(sql_text("webhook_health.sql"), _params(w)).fetchone()
        rejected = sum(r[1] for r in con.execute(sql_text("webhook_rejections.sql")).fetchall())
    finally:
        con.close()
    received, applied, ignored, failed, pending, replayed, last_success, last_received, live = row
    return WebhookHealth(
        month=w.label, as_of=w.end, available=True, received=received, applied=applied, ignored=ignored,
        failed=failed, pending=pending, replayed=replayed, rejected=rejected, last_success_at=_parse(last_success),
        last_received_at=_parse(last_received), live_subscriptions=live,
    )


def webhook_by_day(
    ledger: str | Path | None, window: Window | Month | str, *, now: datetime | None = None
) -> pd.DataFrame:
    """Columns: day (YYYY-MM-DD), status, events; empty without webhook data."""
    import pandas as pd

    con = _connect(ledger)
    if con is None:
        return pd.DataFrame(columns=["day", "status", "events"])
    try:
        return pd.read_sql_query(sql_text("webhook_by_day.sql"), con, params=_params(Window.of(window, now=now)))
    finally:
        con.close()


def webhook_failures(
    ledger: str | Path | None, window: Window | Month | str, *, limit: int = 20, now: datetime | None = None
) -> pd.DataFrame:
    """The latest failed events of the window: event_id, type, object_id, attempts, received_at,
    processed_at, error."""
    import pandas as pd

    con = _connect(ledger)
    cols = ["event_id", "type", "object_id", "attempts", "received_at", "processed_at", "error"]
    if con is None:
        return pd.DataFrame(columns=cols)
    try:
        return pd.read_sql_query(sql_text("webhook_failures.sql"), con,
                                 params={**_params(Window.of(window, now=now)), "limit": limit})
    finally:
        con.close()
