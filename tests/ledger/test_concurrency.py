"""Several OS processes on one ledger file: limits hold exactly, and a killed writer breaks nothing."""

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


def _spawn(path: Path, customer: str, calls: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HAMMER), str(path), customer, str(calls)], stdout=subprocess.PIPE, text=True
    )


def _consistent(path: Path) -> tuple[int, int]:
    """(counter total, admitted events): equal when the ledger is consistent."""
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    counter = conn.execute("SELECT coalesce(sum(calls), 0) FROM usage_counters").fetchone()[0]
    events = conn.execute("SELECT count(*) FROM usage_events WHERE status != 'rejected'").fetchone()[0]
    return counter, events


@pytest.fixture
def ledger_file(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite3"
    with Ledger(path) as led:
        led.upsert_customer("cus_free", tier="free")
        led.upsert_customer("cus_pro", tier="pro")
    return path


def test_eight_processes_admit_exactly_the_free_limit(ledger_file: Path) -> None:
    """8 processes × 40 calls on one free customer: exactly 100 admitted, 220 rejected, all recorded."""
    procs = [_spawn(ledger_file, "cus_free", 40) for _ in range(8)]
    results = [tuple(map(int, p.communicate(timeout=120)[0].split())) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum(a for a, _ in results) == 100
    assert sum(r for _, r in results) == 220
    with Ledger(ledger_file) as led:
        usage = led.usage("cus_free", month=Month.current())
    assert (usage.calls, usage.rejected) == (100, 220)


def test_eight_processes_on_a_pro_customer_count_every_call(ledger_file: Path) -> None:
    """Soft limit under contention: the counter equals the number of calls made (8 × 300)."""
    procs = [_spawn(ledger_file, "cus_pro", 300) for _ in range(8)]
    results = [tuple(map(int, p.communicate(timeout=120)[0].split())) for p in procs]
    assert sum(a for a, _ in results) == 2400
    assert _consistent(ledger_file) == (2400, 2400)


def test_a_writer_killed_mid_load_leaves_a_consistent_usable_ledger(ledger_file: Path) -> None:
    """SIGKILL during a load: counter == recorded events, and the next process carries on unaided."""
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
