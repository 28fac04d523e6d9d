"""Several OS processes on one ledger (a SQLite file, or a PostgreSQL database as replicas on
several hosts would share it): limits hold exactly, and a killed writer breaks nothing."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from unifiedmcp import Month
from unifiedmcp.ledger import Ledger

HAMMER = Path(__file__).with_name("hammer.py")


def _spawn(target: Path | str, customer: str, calls: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HAMMER), str(target), customer, str(calls)], stdout=subprocess.PIPE, text=True
    )


def _consistent(target: Path | str) -> tuple[int, int]:
    """(counter total, admitted events): equal when the ledger is consistent."""
    if isinstance(target, Path):
        assert sqlite3.connect(target).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with Ledger(target) as led, led.transaction() as conn:
        counter = conn.execute("SELECT coalesce(sum(calls), 0) FROM usage_counters").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM usage_events WHERE status != 'rejected'").fetchone()[0]
    return counter, events


@pytest.fixture
def ledger_file(ledger_target: Path | str) -> Path | str:
    with Ledger(ledger_target) as led:
        led.upsert_customer("cus_free", tier="free")
        led.upsert_customer("cus_pro", tier="pro")
    return ledger_target


def test_eight_processes_admit_exactly_the_free_limit(ledger_file: Path | str) -> None:
    """8 processes × 40 calls on one free customer: exactly 100 admitted, 220 rejected, all recorded."""
    procs = [_spawn(ledger_file, "cus_free", 40) for _ in range(8)]
    results = [tuple(map(int, p.communicate(timeout=120)[0].split())) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum(a for a, _ in results) == 100
    assert sum(r for _, r in results) == 220
    with Ledger(ledger_file) as led:
        usage = led.usage("cus_free", month=Month.current())
    assert (usage.calls, usage.rejected) == (100, 220)


def test_eight_processes_on_a_pro_customer_count_every_call(ledger_file: Path | str) -> None:
    """Soft limit under contention: the counter equals the number of calls made (8 × 300)."""
    procs = [_spawn(ledger_file, "cus_pro", 300) for _ in range(8)]
    results = [tuple(map(int, p.communicate(timeout=120)[0].split())) for p in procs]
    assert sum(a for a, _ in results) == 2400
    assert _consistent(ledger_file) == (2400, 2400)


def test_a_writer_killed_mid_load_leaves_a_consistent_usable_ledger(ledger_file: Path | str) -> None:
    """SIGKILL during a load: counter == recorded events, and the next process carries on unaided
    (on PostgreSQL the dead session's transaction and locks go with it)."""
    proc = _spawn(ledger_file, "cus_pro", 1_000_000)
    deadline = time.monotonic() + 60
    while _consistent(ledger_file)[1] < 500:
        assert time.monotonic() < deadline, "the writer made no progress"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    counter, events = _consistent(ledger_file)
    assert counter == events >= 500
    with Ledger(ledger_file) as led:
        a = led.check_and_record("cus_pro", "after-the-crash")
    assert a.used == counter + 1
    assert _consistent(ledger_file) == (counter + 1, counter + 1)
