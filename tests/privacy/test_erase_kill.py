"""An erasure killed with SIGKILL halfway, then run again, ends exactly where an erasure that was
never interrupted ends."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
from privacy_data import Demo, byte_search, ledger_rows

from unifiedmcp.ledger import Ledger


def _erase(folder: Path, customer: str, env: dict[str, str], *, kill_after: str | None = None) -> subprocess.Popen:
    """``unifiedmcp privacy erase`` in a process of its own; with ``kill_after``, SIGKILLed as soon
    as it reports that step done (the next steps are under way)."""
    proc = subprocess.Popen([sys.executable, "-m", "unifiedmcp", "privacy", "erase", "--customer", customer],
                            cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    if kill_after is not None:
        for line in proc.stdout:  # bounded: the process ends, closing stdout, if the step never comes
            if line.startswith(f"{kill_after}:"):
                proc.kill()
                break
    proc.wait(timeout=120)
    return proc


def _state(demo: Demo) -> dict[str, object]:
    """Everything the stores hold, without the erasure log's ids and times and the customer row's
    update time (when the run happened, not what it did)."""
    with Ledger(demo.ledger) as ledger:
        rows = ledger_rows(ledger)
    log = [(subject, status, stripe, sorted(json.loads(steps)), pending)
           for _, subject, _, _, status, stripe, steps, pending in rows.pop("erasure_log")]
    rows["customers"] = [r[:5] for r in rows["customers"]]
    con = duckdb.connect(str(demo.warehouse), read_only=True)
    try:
        tables = sorted(r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall())
        warehouse = {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall())) for t in tables}
        log_rows = sorted(map(repr, con.execute("SELECT * FROM read_parquet(?)", [str(demo.usage_log)]).fetchall()))
    finally:
        con.close()
    return {"ledger": rows, "erasure_log": log, "warehouse": warehouse, "usage_log": log_rows}


def test_an_erasure_killed_halfway_and_run_again_ends_as_one_never_interrupted(
    demo_template: Demo, tmp_path: Path, env_of: Callable[[Path], dict[str, str]],
) -> None:
    reference = demo_template.copy_to(tmp_path / "reference" / "data")
    done = _erase(tmp_path / "reference", demo_template.customer, env_of(tmp_path / "reference"))
    assert done.returncode == 0, done.stderr.read() if done.stderr else ""

    killed = demo_template.copy_to(tmp_path / "killed" / "data")
    env = env_of(tmp_path / "killed")
    first = _erase(tmp_path / "killed", killed.customer, env, kill_after="ledger")
    assert first.returncode == -9
    con = sqlite3.connect(killed.ledger)
    try:
        status = con.execute("SELECT status FROM erasure_log").fetchall()
    finally:
        con.close()
    assert status == [("started",)]  # killed halfway: the ledger was erased, the rest not all
    assert byte_search([killed.data], killed.traces())

    again = _erase(tmp_path / "killed", killed.customer, env)
    assert again.returncode == 0, again.stderr.read() if again.stderr else ""
    assert again.stdout is not None and "erased (resumed)" in again.stdout.read()
    assert _state(killed) == _state(reference)
    assert byte_search([killed.data], killed.traces()) == {}
