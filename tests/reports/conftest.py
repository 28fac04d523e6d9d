"""Fixtures for the report tests: a generated export (Stripe JSON Lines + usage CSV), the same data
as a DuckDB warehouse file, a ledger with webhook events, and one full published report run that
several tests share (papermill runs are slow)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import report_dataset

from unifiedmcp import warehouse as wh
from unifiedmcp.reports import load_exports

# Recognisable secrets: they must never appear in any output notebook, HTML file or log.
CANARY_KEY = "sk_test_CANARY7f3a9c1e5b2d4f6a8c0e"
CANARY_WEBHOOK = "whsec_CANARY4e1b7d9a3c5f2e8b6d0a"


@pytest.fixture(scope="session")
def canaries() -> tuple[str, ...]:
    """The canary secrets and their distinctive middles (a partial leak counts too)."""
    return (CANARY_KEY, CANARY_WEBHOOK, "CANARY7f3a9c1e", "CANARY4e1b7d9a")


@pytest.fixture(scope="session")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return report_dataset.build_export(tmp_path_factory.mktemp("export"))


@pytest.fixture(scope="session")
def warehouse_file(export_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    con = wh.connect(path)
    try:
        load_exports(con, export_dir)
    finally:
        con.close()
    return path


@pytest.fixture(scope="session")
def ledger_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return report_dataset.build_ledger(tmp_path_factory.mktemp("ledger") / "ledger.sqlite3")


@pytest.fixture(scope="session")
def ledger_digest(ledger_file: Path) -> str:
    """The ledger's bytes as built (``published`` takes it first, so it is from before the run)."""
    import hashlib

    return hashlib.sha256(ledger_file.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Published:
    out: Path          # the --out folder
    month: str
    directory: Path    # out/<month>
    stdout: str
    stderr: str
    seconds: float


@pytest.fixture(scope="session")
def published(warehouse_file: Path, ledger_file: Path, ledger_digest: str,
              tmp_path_factory: pytest.TempPathFactory) -> Published:
    """``unifiedmcp report --latest`` in a subprocess, configured through the environment only, with
    canary secrets set as a real deployment would have them. All the while this process holds the
    warehouse open read-only: DuckDB then refuses any other process a connection that could
    write, so the run succeeding shows every connection it opened was read-only."""
    import time

    import duckdb

    work = tmp_path_factory.mktemp("publish")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "UNIFIEDMCP_"))}
    env.update({
        "STRIPE_API_KEY": CANARY_KEY,
        "STRIPE_WEBHOOK_SECRET": CANARY_WEBHOOK,
        "UNIFIEDMCP_DATA_DIR": str(work / "data"),
        "UNIFIEDMCP_WAREHOUSE": str(warehouse_file),
        "UNIFIEDMCP_LEDGER": str(ledger_file),
    })
    started = time.perf_counter()
    holder = duckdb.connect(str(warehouse_file), read_only=True)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "unifiedmcp", "report", "--latest", "--out", str(work / "reports")],
            cwd=work, env=env, capture_output=True, text=True, timeout=400, check=False,
        )
    finally:
        holder.close()
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, f"unifiedmcp report failed:\n{proc.stdout}\n{proc.stderr}"
    month = report_dataset.LAST_MONTH
    return Published(work / "reports", month, work / "reports" / month, proc.stdout, proc.stderr, seconds)
