"""Webhook health from the ledger's event log, read-only (alerts and the ops report).

Reads the billing core's tables (``webhook_events``, ``webhook_rejections``, ``subscriptions``)
with a read-only connection (a SQLite file opened ``mode=ro``, or a PostgreSQL URL in a read-only
session), so neither alerts nor a report ever migrates or locks the live ledger. A missing SQLite
file, or a ledger without the billing tables, reads as "no webhook data"; a PostgreSQL ledger
that cannot be reached is an error (it is configured, so silence would hide an outage).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._dsn import is_database_url, scrub
from .._times import utc_text
from ..errors import LedgerError
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


_TABLES = ("webhook_events", "webhook_rejections", "subscriptions")


class _Reader:
    """Queries with ``:name`` parameters on either backend (PostgreSQL through the ledger's own
    placeholder translation); rows as tuples, with column names."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def rows(self, sql: str, params: dict[str, object] | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        cur = self._conn.execute(sql, params or {})
        return [d[0] for d in cur.description], [tuple(r) for r in cur.fetchall()]


@contextmanager
def _reader(ledger: str | Path | None) -> Iterator[_Reader | None]:
    """A read-only reader of ``ledger``, or None when it holds no webhook data."""
    if not ledger:
        yield None
    elif is_database_url(ledger):
        import psycopg

        from ..ledger._postgres import PgConnection

        url = str(ledger)
        try:
            conn = psycopg.connect(url, options="-c default_transaction_read_only=on", connect_timeout=10)
        except psycopg.Error as exc:
            raise LedgerError(f"cannot read the ledger's webhook log: {scrub(str(exc), url)}") from None
        with conn:
            found = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
                                 " AND table_name = ANY(%s)", (list(_TABLES),)).fetchone()[0]
            yield _Reader(PgConnection(conn)) if found == len(_TABLES) else None
    else:
        path = Path(ledger)
        if not path.is_file():
            yield None
            return
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            marks = ", ".join("?" for _ in _TABLES)
            found = con.execute(f"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ({marks})",
                                _TABLES).fetchone()[0]
            yield _Reader(con) if found == len(_TABLES) else None
        finally:
            con.close()


def _params(window: Window) -> dict[str, str]:
    return {"from": utc_text(window.start), "to": utc_text(window.end)}


def webhook_health(
    ledger: str | Path | None, window: Window | Month | str, *, now: datetime | None = None
) -> WebhookHealth:
    """Webhook health for events received in ``window`` (a Window, or a month as of its end or
    ``now`` if earlier)."""
    w = Window.of(window, now=now)
    with _reader(ledger) as db:
        if db is None:
            return WebhookHealth(month=w.label, as_of=w.end, available=False)
        [row] = db.rows(sql_text("webhook_health.sql"), _params(w))[1]
        rejected = sum(r[1] for r in db.rows(sql_text("webhook_rejections.sql"))[1])
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

    with _reader(ledger) as db:
        if db is None:
            return pd.DataFrame(columns=["day", "status", "events"])
        columns, rows = db.rows(sql_text("webhook_by_day.sql"), _params(Window.of(window, now=now)))
    return pd.DataFrame(rows, columns=columns)


def webhook_failures(
    ledger: str | Path | None, window: Window | Month | str, *, limit: int = 20, now: datetime | None = None
) -> pd.DataFrame:
    """The latest failed events of the window: event_id, type, object_id, attempts, received_at,
    processed_at, error."""
    import pandas as pd

    cols = ["event_id", "type", "object_id", "attempts", "received_at", "processed_at", "error"]
    with _reader(ledger) as db:
        if db is None:
            return pd.DataFrame(columns=cols)
        params = {**_params(Window.of(window, now=now)), "limit": limit}
        columns, rows = db.rows(sql_text("webhook_failures.sql"), params)
    return pd.DataFrame(rows, columns=columns)
