"""``retention apply``: raw records past the ``[retention]`` periods rolled up or removed.

- **Usage** (``usage_events_months``): events before the first day of the month that many months
  before the current one become daily totals per customer, tier, tool and status
  (``usage_daily``), then are deleted; in the ledger and in the warehouse, each in one
  transaction. The metrics read the totals for those days (``metrics/sql/calls.sql``), so every
  month's numbers stay the same.
  The ledger keeps events that are still needed: not yet staged for Stripe's meters (after
  ``meter_push_state.staged_seq``: they are unbilled calls), not yet pulled by the warehouse
  (after its ``seq`` watermark for this ledger), and always its newest event (a SQLite rowid
  is one more than the largest left: deleting every row would start ``seq`` again at 1, under
  the warehouse's watermark and the pusher's).
  The warehouse moves its roll-up horizon (``sync_state``) forward only: each day is rolled up
  once, and raw events loaded again for days before the horizon are dropped, never counted.
- **Webhook payloads** (``webhook_payload_days``): payloads of events received earlier are
  emptied, with the object id, note and error; id, type, status and times stay. Such an event
  can no longer be replayed.
- **Rejected deliveries** (``rejected_delivery_days``): the per-reason counts of refused deliveries
  last seen earlier are deleted.

Deleted ledger rows are overwritten (SQLite ``secure_delete``). ``dry_run`` counts and changes
nothing (the warehouse is opened read-only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .. import warehouse as wh
from .._times import naive_utc, utc_text
from ..config import RetentionSettings
from ..ledger import Ledger, LedgerConnection
from ..months import Month

__all__ = ["RetentionResult", "apply_retention", "usage_cutoff"]

HORIZON_KEY = "usage_rollup_horizon"

_MAX_SEQ = "SELECT max(seq) FROM usage_events"
_STAGED = "SELECT min(staged_seq) FROM meter_push_state"
_OLD = "SELECT count(*) FROM usage_events WHERE ts < :cutoff"
_ROLLABLE = "FROM usage_events WHERE ts < :cutoff AND seq <= :bound"
_ROLLABLE_COUNT = f"SELECT count(*) {_ROLLABLE}"
_GROUPS = "substr(ts, 1, 10), customer_id, coalesce(tier, ''), tool_name, status"
_ROLLABLE_GROUPS = f"SELECT count(*) FROM (SELECT 1 {_ROLLABLE} GROUP BY {_GROUPS}) AS g"
_LEDGER_ROLL_UP = f"""
INSERT INTO usage_daily (day, customer_id, tier, tool_name, status, calls)
SELECT {_GROUPS}, count(*) {_ROLLABLE} GROUP BY {_GROUPS}
ON CONFLICT (day, customer_id, tier, tool_name, status) DO UPDATE SET calls = usage_daily.calls + excluded.calls
"""
_LEDGER_DELETE = f"DELETE {_ROLLABLE}"
_PAYLOADS = "FROM webhook_events WHERE received_at < :cutoff AND payload_purged_at IS NULL"
_PAYLOADS_COUNT = f"SELECT count(*) {_PAYLOADS}"
_PURGE_PAYLOADS = ("UPDATE webhook_events SET payload = '', object_id = NULL, note = NULL, error = NULL,"
                   " payload_purged_at = :now WHERE received_at < :cutoff AND payload_purged_at IS NULL")
_REJECTIONS_COUNT = "SELECT count(*) FROM webhook_rejections WHERE last_at < :cutoff"
_DELETE_REJECTIONS = "DELETE FROM webhook_rejections WHERE last_at < :cutoff"

_HORIZON = f"SELECT max(CAST(value AS TIMESTAMP)) FROM sync_state WHERE key = '{HORIZON_KEY}'"
_WH_DAY = "CAST(date_trunc('day', ts) AS TIMESTAMP)"
_WH_NEW = ("FROM usage_events WHERE (CAST($old AS TIMESTAMP) IS NULL OR ts >= CAST($old AS TIMESTAMP))"
           " AND ts < $new")
_WH_COUNTS = (f"SELECT coalesce(sum(n), 0), count(*) FROM (SELECT count(*) AS n {_WH_NEW}"
              f" GROUP BY {_WH_DAY}, customer_id, tier, tool_name, status)")
_WH_STALE = "SELECT count(*) FROM usage_events WHERE ts < CAST($old AS TIMESTAMP)"
_WH_ROLL_UP = f"""
INSERT INTO usage_daily (day, customer_id, tier, tool_name, status, calls)
SELECT {_WH_DAY}, customer_id, tier, tool_name, status, count(*) {_WH_NEW}
GROUP BY ALL
"""
_WH_DELETE = "DELETE FROM usage_events WHERE ts < $new"
_WH_HORIZON = f"INSERT OR REPLACE INTO sync_state VALUES ('{HORIZON_KEY}', CAST($new AS VARCHAR), now()::TIMESTAMP)"

@dataclass(frozen=True)
class RetentionResult:
    """What retention removed (or would remove, with ``dry_run``), per store."""

    dry_run: bool
    usage_before: datetime
    payloads_before: datetime
    rejections_before: datetime
    ledger: dict[str, int]
    warehouse: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run, "usage_before": self.usage_before.isoformat(),
            "payloads_before": self.payloads_before.isoformat(),
            "rejections_before": self.rejections_before.isoformat(), "ledger": self.ledger,
            "warehouse": self.warehouse,
        }


def usage_cutoff(policy: RetentionSettings, now: datetime) -> datetime:
    """The first instant whose usage stays raw: the start of the month ``usage_events_months``
    months before the current one."""
    month = Month.of(now)
    for _ in range(policy.usage_events_months):
        month = month.previous
    return month.start


def apply_retention(
    *,
    policy: RetentionSettings,
    ledger: Ledger | None,
    warehouse: Path | None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> RetentionResult:
    """Apply ``policy`` to the ledger and the warehouse (either may be None: skipped)."""
    now = now or datetime.now(UTC)
    usage_before = usage_cutoff(policy, now)
    payloads_before = now - timedelta(days=policy.webhook_payload_days)
    rejections_before = now - timedelta(days=policy.rejected_delivery_days)
    warehouse = warehouse if warehouse is not None and Path(warehouse).exists() else None
    ledger_counts: dict[str, int] = {}
    warehouse_counts: dict[str, int] = {}
    if ledger is not None:
        watermark = _watermark(warehouse, ledger) if warehouse is not None else None
        ledger_counts = _ledger(ledger, usage_before=usage_before, payloads_before=payloads_before,
                                rejections_before=rejections_before, watermark=watermark, dry_run=dry_run, now=now)
    if warehouse is not None:
        warehouse_counts = _warehouse(warehouse, usage_before=usage_before, dry_run=dry_run)
    return RetentionResult(dry_run, usage_before, payloads_before, rejections_before, ledger_counts, warehouse_counts)


def _watermark(warehouse: Path, ledger: Ledger) -> int | None:
    """The highest ledger ``seq`` the warehouse has pulled from this ledger, or None (never)."""
    name = str(ledger.path.resolve()) if ledger.path is not None else ledger.location
    with wh.open_warehouse(warehouse, read_only=True) as con:
        row = con.execute("SELECT value FROM sync_state WHERE key = ?", [f"ledger_seq:{name}"]).fetchall()
    return int(row[0][0]) if row else None


def _ledger(
    ledger: Ledger, *, usage_before: datetime, payloads_before: datetime, rejections_before: datetime,
    watermark: int | None, dry_run: bool, now: datetime,
) -> dict[str, int]:
    ledger.secure_delete()
    # A dry run only reads: no write lock held over metering while it counts.
    with (ledger.snapshot() if dry_run else ledger.transaction()) as conn:
        bound, kept_unstaged, kept_unpulled = _bound(conn, utc_text(usage_before), watermark)
        usage = {"cutoff": utc_text(usage_before), "bound": bound}
        old = int(conn.execute(_OLD, {"cutoff": usage["cutoff"]}).fetchone()[0])
        counts = {
            "usage_events_rolled_up": int(conn.execute(_ROLLABLE_COUNT, usage).fetchone()[0]),
            "usage_daily_rows": int(conn.execute(_ROLLABLE_GROUPS, usage).fetchone()[0]),
            "webhook_payloads_purged": int(conn.execute(_PAYLOADS_COUNT, {"cutoff": utc_text(payloads_before)}).fetchone()[0]),
            "rejection_reasons_deleted": int(
                conn.execute(_REJECTIONS_COUNT, {"cutoff": utc_text(rejections_before)}).fetchone()[0]),
        }
        counts["usage_events_kept"] = old - counts["usage_events_rolled_up"]
        counts["usage_events_kept_unstaged"] = kept_unstaged
        counts["usage_events_kept_unpulled"] = kept_unpulled
        if dry_run:
            return counts
        conn.execute(_LEDGER_ROLL_UP, usage)
        conn.execute(_LEDGER_DELETE, usage)
        conn.execute(_PURGE_PAYLOADS, {"cutoff": utc_text(payloads_before), "now": utc_text(now)})
        conn.execute(_DELETE_REJECTIONS, {"cutoff": utc_text(rejections_before)})
    return counts


def _bound(conn: LedgerConnection, cutoff: str, watermark: int | None) -> tuple[int, int, int]:
    """The highest ``seq`` retention may delete, and how many old events the usage push and the
    warehouse keep from it (module docstring)."""
    newest = conn.execute(_MAX_SEQ).fetchone()[0]
    staged = conn.execute(_STAGED).fetchone()[0]
    bound = (newest or 0) - 1
    kept = []
    for limit in (staged, watermark):
        if limit is None:
            kept.append(0)
            continue
        kept.append(int(conn.execute("SELECT count(*) FROM usage_events WHERE ts < ? AND seq > ?",
                                     (cutoff, limit)).fetchone()[0]))
        bound = min(bound, int(limit))
    return bound, kept[0], kept[1]


def _warehouse(path: Path, *, usage_before: datetime, dry_run: bool) -> dict[str, int]:
    with wh.open_warehouse(path, read_only=dry_run) as con:
        old = con.execute(_HORIZON).fetchone()[0]
        new = max(naive_utc(usage_before), old) if old is not None else naive_utc(usage_before)
        params = {"old": old, "new": new}
        rolled, groups = con.execute(_WH_COUNTS, params).fetchone()
        stale = con.execute(_WH_STALE, {"old": old}).fetchone()[0] if old is not None else 0
        counts = {"usage_events_rolled_up": int(rolled), "usage_daily_rows": int(groups),
                  "usage_events_dropped_already_rolled_up": int(stale)}
        if dry_run:
            return counts
        try:
            con.execute("BEGIN")
            con.execute(_WH_ROLL_UP, params)
            con.execute(_WH_DELETE, {"new": new})
            con.execute(_WH_HORIZON, {"new": new})
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return counts
