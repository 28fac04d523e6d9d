"""Pulling metered calls from the ledger into the warehouse, incrementally.

The ledger's ``usage_events.seq`` only grows, so the warehouse keeps the highest ``seq`` it has
copied (per ledger) in ``sync_state`` and asks only for rows above it. Rows go through the
same validation and ``event_id`` de-duplication as usage files, so a pull that is interrupted and
re-run never duplicates an event. A row is copied once, so a pull stops before the first call that
may still be running (a recent ``interrupted`` row: ``unifiedmcp._usage_status``) and takes it, with
its outcome, next time. A SQLite ledger file is read here directly; a PostgreSQL ledger through the
``read`` function its caller passes (``Ledger.usage_events``, which keeps the same bound and never
returns a row an open transaction could still precede: the ledger sits above the warehouse). The
tier each call was admitted under (ledger schema v4) comes along; an older ledger has none, and
metrics then take the tier at the call's instant.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from .._files import input_file
from .._usage_status import SETTLED_SQL, in_flight_cutoff
from ..errors import WarehouseError
from ._db import Warehouse, open_warehouse
from ._usage import insert_usage_rows, rollback_load

__all__ = ["UsagePull", "UsageReader", "pull_usage"]

#: ``read(after_seq, limit)`` -> ledger rows ``(seq, event_id, customer_id, tool_name, ts, status,
#: latency_ms, user_id, tier)`` with seq above ``after_seq``, in seq order.
UsageReader = Callable[[int, int], list[tuple]]

# {tier}: the column, or NULL for a ledger from before the ledger recorded tiers (schema v4).
LEDGER_BATCH_SQL = """
SELECT seq, event_id, customer_id, tool_name, ts, status, latency_ms, user_id, {tier}
FROM usage_events WHERE seq > ?{settled} ORDER BY seq LIMIT ?
"""

BATCH_RELATION_SQL = """
SELECT seq AS _row, event_id, customer_id, tool_name, ts AS ts_text, NULL::TIMESTAMP AS ts_value,
       status AS status_text, user_id, NULL::VARCHAR AS latency_text, latency_ms AS latency_value,
       tier AS tier_text, NULL::VARCHAR AS _bad
FROM _ledger_batch
"""

_COLUMNS = ("seq", "event_id", "customer_id", "tool_name", "ts", "status", "latency_ms", "user_id", "tier")
_TYPES = (pa.int64(), pa.string(), pa.string(), pa.string(), pa.string(), pa.string(), pa.float64(), pa.string(),
          pa.string())


@dataclass(frozen=True)
class UsagePull:
    ledger: Path | str  # the file, or the database URL without its password
    rows: int  # ledger rows read
    loaded: int  # new events stored
    duplicates: int  # rows whose event_id the warehouse already had
    malformed: int
    watermark: int  # the highest ledger seq copied
    seconds: float


def _has_tier(src: sqlite3.Connection) -> bool:
    try:
        return any(r[1] == "tier" for r in src.execute("PRAGMA table_info(usage_events)").fetchall())
    except sqlite3.Error:
        return False  # unreadable: the batch query names the ledger and the cause


def _sqlite_reader(ledger: Path) -> tuple[UsageReader, Callable[[], None]]:
    if not ledger.exists():
        raise WarehouseError(f"no ledger at {ledger}", path=ledger)
    input_file(ledger)
    try:
        src = sqlite3.connect(f"{ledger.resolve().as_uri()}?mode=ro", uri=True)  # as_uri escapes # ? %
    except sqlite3.Error as exc:
        raise WarehouseError(f"cannot open ledger {ledger}: {exc}", path=ledger) from None
    sql = LEDGER_BATCH_SQL.format(tier="tier" if _has_tier(src) else "NULL", settled=SETTLED_SQL)

    def read(after_seq: int, limit: int) -> list[tuple]:
        try:
            return src.execute(sql, (after_seq, after_seq, in_flight_cutoff(), limit)).fetchall()
        except sqlite3.Error as exc:
            raise WarehouseError(f"cannot read usage_events from {ledger}: {exc}", path=ledger) from None

    return read, src.close


def pull_usage(
    warehouse: Warehouse, *, ledger: str | Path, batch_size: int = 200_000, read: UsageReader | None = None
) -> UsagePull:
    """Copy the ledger's usage events above the stored watermark; return what was copied.

    ``ledger`` names the ledger (its watermark is kept under that name); without ``read`` it is a
    SQLite file read directly.
    """
    started = time.perf_counter()
    if read is None:
        ledger = Path(ledger)
        read, close = _sqlite_reader(ledger)
        name = str(ledger.resolve())
    else:
        close, name = (lambda: None), str(ledger)
    key = f"ledger_seq:{name}"
    rows = loaded = duplicates = malformed = 0
    try:
        with open_warehouse(warehouse) as con:
            row = con.execute("SELECT value FROM sync_state WHERE key = ?", [key]).fetchall()
            watermark = int(row[0][0]) if row else 0
            while True:
                batch = read(watermark, batch_size)
                if not batch:
                    break
                columns = list(zip(*batch, strict=True))
                table = pa.table(
                    {n: pa.array(col, type=t) for n, col, t in zip(_COLUMNS, columns, _TYPES, strict=True)}
                )
                con.execute("BEGIN")
                try:
                    con.register("_ledger_batch", table)
                    n, new, dups = insert_usage_rows(con, BATCH_RELATION_SQL, source=f"ledger:{name}")
                    con.unregister("_ledger_batch")
                    watermark = int(columns[0][-1])
                    con.execute(
                        "INSERT OR REPLACE INTO sync_state VALUES (?, ?, now()::TIMESTAMP)", [key, str(watermark)]
                    )
                    con.execute("COMMIT")
                except BaseException:
                    rollback_load(con)
                    raise
                rows += n
                loaded += new
                malformed += n - new - dups
                duplicates += dups
    finally:
        close()
    return UsagePull(
        ledger=ledger,
        rows=rows,
        loaded=loaded,
        duplicates=duplicates,
        malformed=malformed,
        watermark=watermark,
        seconds=time.perf_counter() - started,
    )
