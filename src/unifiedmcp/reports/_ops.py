"""Webhook health from the ledger's event log, read-only (the ops report).

Reads the billing core's tables (``webhook_events``, ``webhook_rejections``) with a read-only
SQLite connection, so a report never migrates or locks the live ledger. A missing ledger, or one
without the billing tables, reads as "no webhook data" rather than an error.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from .._times import utc_text
from ..months import Month
from ._sql import sql_text

__all__ = ["WebhookHealth", "webhook_alerts", "webhook_by_day", "webhook_failures", "webhook_health"]


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class WebhookHealth:
    """Events received in the month by outcome, and the latest successful one as of ``as_of``.

    ``rejected`` counts deliveries refused before storage (bad signature, stale, not JSON); the
    ledger keeps those as all-time totals. ``available`` is False when there is no ledger or it
    has no webhook tables.
    """

    month: str
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

    @property
    def hours_since_success(self) -> float | None:
        if self.last_success_at is None:
            return None
        return round((self.as_of - self.last_success_at).total_seconds() / 3600, 1)

    def as_dict(self) -> dict[str, object]:
        return {
            "month": self.month, "available": self.available, "received": self.received,
            "applied": self.applied, "ignored": self.ignored, "failed": self.failed,
            "pending": self.pending, "replayed": self.replayed, "rejected": self.rejected,
            "last_success_at": self.last_success_at.isoformat() if self.last_success_at else None,
            "hours_since_success": self.hours_since_success,
        }


def _connect(ledger: str | Path | None) -> sqlite3.Connection | None:
    if not ledger:
        return None
    path = Path(ledger)
    if not path.is_file():
        return None
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    has = con.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('webhook_events', 'webhook_rejections')"
    ).fetchone()[0]
    if has < 2:
        con.close()
        return None
    return con


def _window(month: Month | str, now: datetime | None) -> tuple[Month, datetime, dict[str, str]]:
    m = Month.coerce(month)
    as_of = min(m.end, now or datetime.now(UTC))
    return m, as_of, {"from": utc_text(m.start), "to": utc_text(as_of)}


def webhook_health(ledger: str | Path | None, month: Month | str, *, now: datetime | None = None) -> WebhookHealth:
    """Webhook health for events received in ``month``, as of its end (or now, if earlier)."""
    m, as_of, window = _window(month, now)
    con = _connect(ledger)
    if con is None:
        return WebhookHealth(month=str(m), as_of=as_of, available=False)
    try:
        row = con.execute(sql_text("webhook_health.sql"), window).fetchone()
        rejected = sum(r[1] for r in con.execute(sql_text("webhook_rejections.sql")).fetchall())
    finally:
        con.close()
    received, applied, ignored, failed, pending, replayed, last = row
    return WebhookHealth(
        month=str(m), as_of=as_of, available=True, received=received, applied=applied, ignored=ignored,
        failed=failed, pending=pending, replayed=replayed, rejected=rejected, last_success_at=_parse(last),
    )


def webhook_by_day(ledger: str | Path | None, month: Month | str, *, now: datetime | None = None) -> pd.DataFrame:
    """Columns: day (YYYY-MM-DD), status, events; empty without webhook data."""
    _, _, window = _window(month, now)
    con = _connect(ledger)
    if con is None:
        return pd.DataFrame(columns=["day", "status", "events"])
    try:
        return pd.read_sql_query(sql_text("webhook_by_day.sql"), con, params=window)
    finally:
        con.close()


def webhook_failures(
    ledger: str | Path | None, month: Month | str, *, limit: int = 20, now: datetime | None = None
) -> pd.DataFrame:
    """The latest failed events of the month: event_id, type, object_id, attempts, received_at,
    processed_at, error."""
    _, _, window = _window(month, now)
    con = _connect(ledger)
    cols = ["event_id", "type", "object_id", "attempts", "received_at", "processed_at", "error"]
    if con is None:
        return pd.DataFrame(columns=cols)
    try:
        return pd.read_sql_query(sql_text("webhook_failures.sql"), con, params={**window, "limit": limit})
    finally:
        con.close()


def webhook_alerts(
    health: WebhookHealth, *, max_failed_events: int, max_hours_since_success: float | None = None
) -> list[str]:
    """The alerts the ops report raises: failed events past ``max_failed_events``, and no successful
    event for more than ``max_hours_since_success`` hours (when given and there is a ledger)."""
    out: list[str] = []
    if not health.available:
        return out
    if health.failed > max_failed_events:
        out.append(f"{health.failed} webhook event(s) failed in {health.month} "
                   f"(threshold {max_failed_events}); replay them with `unifiedmcp webhooks replay --failed`")
    hours = health.hours_since_success
    if max_hours_since_success is not None and health.received and (hours is None or hours > max_hours_since_success):
        since = "no successful event" if hours is None else f"{hours:g} h since the last successful event"
        out.append(f"{since} as of {health.as_of:%Y-%m-%d %H:%M} UTC (threshold {max_hours_since_success:g} h)")
    return out
