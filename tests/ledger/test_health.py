"""Ledger.health(): what `serve`'s /healthz reports. A probe speaks for the moment it runs; a failed
write keeps the ledger unhealthy until a write succeeds (or for a minute); each episode is logged
once when it starts and once when it ends."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from unifiedmcp import LedgerError
from unifiedmcp.ledger import Ledger, LedgerHealth
from unifiedmcp.ledger._health import HealthWatch


def test_a_working_ledger_is_healthy(ledger: Ledger) -> None:
    assert ledger.health() == LedgerHealth(ok=True)


def test_a_failed_write_makes_the_ledger_unhealthy_until_a_write_succeeds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A full database (reads still work, so a probe alone would not see it): the failure is
    reported and logged once, however many writes fail, until one succeeds."""
    caplog.set_level(logging.WARNING, logger="unifiedmcp.ledger")
    with Ledger(tmp_path / "l.sqlite3") as ledger:
        ledger.upsert_customer("cus_pro", tier="pro")
        with ledger.transaction() as conn:  # the file may not grow: a full disk, as SQLite sees it
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")
        for i in range(3):
            with pytest.raises(LedgerError, match="full"):
                ledger.check_and_record("cus_pro", "t", event_id=f"big-{i}-" + "x" * 100_000)
        health = ledger.health()
        assert not health.ok and "full" in (health.error or "")
        with ledger.transaction() as conn:
            conn.execute(f"PRAGMA max_page_count = {pages + 1000}")
        ledger.check_and_record("cus_pro", "t")
        assert ledger.health() == LedgerHealth(ok=True)
    messages = [r.getMessage() for r in caplog.records]
    assert [m.split(":")[0].endswith("is failing") for m in messages] == [True, False]
    assert messages[1].endswith("works again")


def test_a_failed_write_no_longer_counts_once_its_memory_has_passed() -> None:
    """A replica taken out of rotation gets no writes: after `memory` seconds the probe decides."""
    watch = HealthWatch("ledger.sqlite3", memory=0.05)
    watch.write_failed(LedgerError("cannot write ledger ledger.sqlite3: disk I/O error"))
    assert watch.probed(None) == LedgerHealth(ok=False, error="cannot write ledger ledger.sqlite3: disk I/O error")
    time.sleep(0.1)
    assert watch.probed(None) == LedgerHealth(ok=True)
