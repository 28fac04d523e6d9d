"""The ledger file: migrations, unwritable paths, and the usage export formats."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from unifiedmcp import InvalidInput, LedgerError, Month
from unifiedmcp.ledger import USAGE_COLUMNS, Ledger, export_usage, latest_version


def test_a_new_ledger_is_migrated_to_the_latest_version_in_wal_mode(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite3"):
        pass
    conn = sqlite3.connect(tmp_path / "l.sqlite3")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # Opening again is a no-op, not a second migration.
    with Ledger(tmp_path / "l.sqlite3") as again:
        assert again.customers() == []


def test_an_unwritable_path_is_a_ledger_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(LedgerError, match="cannot open ledger"):
        Ledger(blocker / "ledger.sqlite3")


def test_a_file_that_is_not_sqlite_is_a_ledger_error(tmp_path: Path) -> None:
    f = tmp_path / "junk.sqlite3"
    f.write_bytes(b"this is not a database" * 100)
    with pytest.raises(LedgerError):
        Ledger(f)
    assert f.read_bytes() == b"this is not a database" * 100


def test_a_full_disk_surfaces_disk_full_not_a_failed_second_rollback(tmp_path: Path) -> None:
    """On a full database SQLite ends the transaction itself; the error raised is "database or disk
    is full" (not "cannot rollback - no transaction is active"), and the ledger stays usable."""
    with Ledger(tmp_path / "l.sqlite3") as ledger:
        with ledger.transaction() as conn:  # the file may not grow: a full disk, as SQLite sees it
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages + 1}")
        with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
            ledger.upsert_customer("cus_big", email="x" * 200_000)
        assert ledger.customers() == []
        ledger.upsert_customer("cus_small")  # the next transaction begins and commits normally
        assert [c.customer_id for c in ledger.customers()] == ["cus_small"]


@pytest.fixture
def october(ledger: Ledger) -> Ledger:
    at = datetime(2026, 10, 2, 3, 4, 5, tzinfo=UTC)
    ledger.check_and_record("cus_pro", "list_customers", event_id="e1", at=at, user_id="u1")
    ledger.complete("e1", status="ok", latency_ms=3.5)
    ledger.check_and_record("cus_free", "create_customer", event_id="e2", at=at)
    ledger.check_and_record("cus_pro", "other_month", event_id="e3", at=datetime(2026, 11, 1, tzinfo=UTC))
    return ledger


def test_csv_export_has_the_usage_log_columns(october: Ledger, tmp_path: Path) -> None:
    out = tmp_path / "u.csv"
    assert export_usage(october, month=Month(2026, 10), format="csv", out=out) == 2
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert tuple(rows[0]) == USAGE_COLUMNS
    assert rows[0]["event_id"] == "e1" and rows[0]["timestamp"] == "2026-10-02T03:04:05.000000Z"
    assert rows[0]["latency_ms"] == "3.5" and rows[0]["user_id"] == "u1"


def test_jsonl_and_parquet_exports_carry_the_same_rows(october: Ledger, tmp_path: Path) -> None:
    export_usage(october, month=Month(2026, 10), format="jsonl", out=tmp_path / "u.jsonl")
    export_usage(october, month=Month(2026, 10), format="parquet", out=tmp_path / "u.parquet")
    from_jsonl = [json.loads(line) for line in (tmp_path / "u.jsonl").read_text().splitlines()]
    from_parquet = pq.read_table(tmp_path / "u.parquet").to_pylist()
    assert from_jsonl == from_parquet
    assert [r["event_id"] for r in from_jsonl] == ["e1", "e2"]


def test_bad_export_arguments_change_nothing(october: Ledger, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        export_usage(october, month=Month(2026, 10), format="xml", out=tmp_path / "u.xml")
    with pytest.raises(InvalidInput):
        export_usage(october, month=Month(2026, 10), format="parquet", out=None)
    assert list(tmp_path.glob("u.*")) == []
