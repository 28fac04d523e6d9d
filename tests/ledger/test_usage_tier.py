"""The tier in force is recorded with each metered call (metrics.md §6, contract v2), and the
usage export carries it."""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from unifiedmcp import QuotaExceeded
from unifiedmcp.ledger import USAGE_COLUMNS, Ledger, export_usage
from unifiedmcp.ledger._migrations import migrate
from unifiedmcp.ledger._sqlite import SqliteMigrator
from unifiedmcp.months import Month

OCT = datetime(2026, 10, 15, 12, tzinfo=UTC)


def _tiers(ledger: Ledger) -> dict[str, str | None]:
    """Each recorded call's tier, through the ledger (either backend)."""
    return {r[1]: r[8] for r in ledger.usage_events()}


def test_each_call_records_the_tier_it_was_admitted_under(ledger: Ledger) -> None:
    """Two calls on pro, a downgrade to free, one call more, one refused on free's hard limit:
    each row keeps the tier of its own admission, the refused one included."""
    ledger.check_and_record("cus_pro", "search", event_id="on-pro-1", at=OCT)
    ledger.check_and_record("cus_pro", "search", event_id="on-pro-2", at=OCT)
    ledger.set_tier("cus_pro", "free")
    ledger.check_and_record("cus_pro", "search", event_id="on-free", at=OCT)
    for i in range(97):
        ledger.check_and_record("cus_pro", "search", event_id=f"fill-{i}", at=OCT)
    with pytest.raises(QuotaExceeded):
        ledger.check_and_record("cus_pro", "search", event_id="refused", at=OCT)
    tiers = _tiers(ledger)
    assert (tiers["on-pro-1"], tiers["on-pro-2"], tiers["on-free"], tiers["refused"]) == ("pro", "pro", "free", "free")


def test_export_carries_the_tier_column(ledger: Ledger, tmp_path: Path) -> None:
    """The usage export's last column is the tier; metrics.md §1 reads it as optional."""
    ledger.check_and_record("cus_enterprise", "fetch", event_id="e1", at=OCT)
    out = tmp_path / "u.csv"
    export_usage(ledger, month=Month(2026, 10), format="csv", out=out)
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert tuple(rows[0]) == USAGE_COLUMNS and USAGE_COLUMNS[-1] == "tier"
    assert (rows[0]["event_id"], rows[0]["tier"]) == ("e1", "enterprise")


def test_a_ledger_from_before_the_tier_column_migrates_and_keeps_its_calls(tmp_path: Path) -> None:
    """A schema-v3 ledger with a recorded call opens: the call stays, with no tier (NULL), and
    new calls record theirs."""
    path = tmp_path / "old.sqlite3"
    con = sqlite3.connect(path, isolation_level=None)
    migrate(SqliteMigrator(con), until=3)
    con.execute("INSERT INTO customers VALUES ('cus_a', NULL, 'pro', 'active', 'x', 'x')")
    con.execute("INSERT INTO usage_events (event_id, customer_id, tool_name, ts, month, status)"
                " VALUES ('old', 'cus_a', 't', '2026-10-01T00:00:00.000000Z', '2026-10', 'ok')")
    con.close()
    with Ledger(path) as ledger:
        ledger.check_and_record("cus_a", "t", event_id="new", at=OCT)
        assert _tiers(ledger) == {"old": None, "new": "pro"}
