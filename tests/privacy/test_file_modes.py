"""Files that hold personal data are their owner's alone: the ledger with its -wal and -shm, the
warehouse, and whatever a CLI command creates (umask 077), even under a permissive umask."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from unifiedmcp import warehouse as wh
from unifiedmcp.ledger import Ledger


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The machine's default could be anything: 022 lets everyone read new files."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def test_a_new_ledger_and_its_wal_and_shm_are_readable_by_their_owner_only(tmp_path: Path, open_umask: None) -> None:
    with Ledger(tmp_path / "new" / "ledger.sqlite3") as ledger:
        ledger.upsert_customer("cus_modes_1", email="modes@example.org")
        files = {p.name: _mode(p) for p in (tmp_path / "new").iterdir()}
    assert files == {"ledger.sqlite3": 0o600, "ledger.sqlite3-wal": 0o600, "ledger.sqlite3-shm": 0o600}
    assert _mode(tmp_path / "new") == 0o700


def test_a_new_warehouse_file_is_readable_by_its_owner_only(tmp_path: Path, open_umask: None) -> None:
    wh.connect(tmp_path / "new" / "warehouse.duckdb").close()
    assert _mode(tmp_path / "new" / "warehouse.duckdb") == 0o600
    assert _mode(tmp_path / "new") == 0o700


def test_the_cli_creates_files_for_their_owner_only_and_restores_the_umask(
    cli: Callable[..., tuple[int, str, str]], isolated_env: Path, open_umask: None,
) -> None:
    """DuckDB makes its .wal with the umask: the CLI's 077 covers it, and every export."""
    assert cli("customers", "add", "cus_modes_1", "--tier", "pro")[0] == 0
    assert cli("ledger", "export-usage", "--month", "2026-03", "--out", "usage.csv")[0] == 0
    assert _mode(isolated_env / "usage.csv") == 0o600
    assert _mode(isolated_env / "data") == 0o700
    assert os.umask(0o022) == 0o022  # main() gave the caller its umask back
