"""The optional ``tier`` column of usage logs (metrics.md §1 and §6, contract v2): loaded from
every format and from the ledger, absent means NULL, and older warehouses gain the column."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from unifiedmcp import warehouse
from unifiedmcp.ledger import Ledger

ROWS = [
    {"event_id": "e1", "customer_id": "cus_a", "tool_name": "search", "timestamp": "2026-10-01T00:00:00Z",
     "tier": "pro"},
    {"event_id": "e2", "customer_id": "cus_a", "tool_name": "search", "timestamp": "2026-10-02T00:00:00Z",
     "tier": " "},
    {"event_id": "e3", "customer_id": "cus_b", "tool_name": "fetch", "timestamp": "2026-10-03T00:00:00Z",
     "tier": None},
]


def _tiers(db: Path) -> dict[str, str | None]:
    con = warehouse.connect(db, read_only=True)
    try:
        return dict(con.execute("SELECT event_id, tier FROM usage_events").fetchall())
    finally:
        con.close()


def _write(path: Path, fmt: str, rows: list[dict]) -> Path:
    if fmt == "csv":
        cols = list(rows[0])
        path.write_text(",".join(cols) + "\n" + "".join(
            ",".join("" if r[c] is None else r[c] for c in cols) + "\n" for r in rows))
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps({k: v for k, v in r.items() if v is not None}) + "\n" for r in rows))
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_tier_column_loads_in_every_format_and_blank_is_null(tmp_path: Path, fmt: str) -> None:
    """A given tier is stored as is; a blank or missing one is NULL (metrics then use the tier
    at the call's instant)."""
    db = tmp_path / "w.duckdb"
    r = warehouse.load_usage(db, _write(tmp_path / f"u.{fmt}", fmt, ROWS))
    assert (r.loaded, r.malformed) == (3, 0)
    assert _tiers(db) == {"e1": "pro", "e2": None, "e3": None}


def test_a_log_without_the_column_loads_with_no_tier(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    rows = [{k: v for k, v in r.items() if k != "tier"} for r in ROWS]
    warehouse.load_usage(db, _write(tmp_path / "u.csv", "csv", rows))
    assert set(_tiers(db).values()) == {None}


def test_pull_usage_carries_the_ledgers_tier(tmp_path: Path) -> None:
    """Calls metered on pro, then on free after a downgrade, arrive with the tier of each call."""
    at = datetime(2026, 10, 5, tzinfo=UTC)
    with Ledger(tmp_path / "ledger.sqlite3") as led:
        led.upsert_customer("cus_a", tier="pro")
        led.check_and_record("cus_a", "search", event_id="p1", at=at)
        led.set_tier("cus_a", "free")
        led.check_and_record("cus_a", "search", event_id="f1", at=at)
    db = tmp_path / "w.duckdb"
    assert warehouse.pull_usage(db, ledger=tmp_path / "ledger.sqlite3").loaded == 2
    assert _tiers(db) == {"p1": "pro", "f1": "free"}


def test_pull_usage_from_a_ledger_without_the_tier_column(tmp_path: Path) -> None:
    """A ledger from before schema v3 (no tier column), read read-only and not migrated: its calls
    load with no tier."""
    path = tmp_path / "old.sqlite3"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE usage_events (seq INTEGER PRIMARY KEY, event_id TEXT, customer_id TEXT, tool_name TEXT,"
                " ts TEXT, month TEXT, status TEXT, latency_ms REAL, user_id TEXT)")
    con.execute("INSERT INTO usage_events VALUES (1, 'o1', 'cus_a', 't', '2026-10-01T00:00:00.000000Z', '2026-10',"
                " 'ok', NULL, NULL)")
    con.commit()
    con.close()
    db = tmp_path / "w.duckdb"
    assert warehouse.pull_usage(db, ledger=path).loaded == 1
    assert _tiers(db) == {"o1": None}


def test_a_warehouse_from_schema_2_gains_the_column_and_keeps_its_events(tmp_path: Path) -> None:
    """Opening a schema-2 warehouse (usage_events without tier) adds the column; stored calls
    stay, with no tier, and new loads fill it."""
    db = tmp_path / "w.duckdb"
    warehouse.load_usage(db, _write(tmp_path / "a.csv", "csv", ROWS[:1]))
    con = duckdb.connect(str(db))
    con.execute("ALTER TABLE usage_events DROP COLUMN tier")
    con.execute("UPDATE warehouse_meta SET value = '2' WHERE key = 'schema_version'")
    con.close()
    warehouse.load_usage(db, _write(tmp_path / "b.csv", "csv", ROWS[2:]))
    assert _tiers(db) == {"e1": None, "e3": None}
    warehouse.load_usage(db, _write(tmp_path / "c.csv", "csv", [dict(ROWS[0], event_id="e4")]))
    assert _tiers(db)["e4"] == "pro"
