from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from unifiedmcp.ledger import Ledger


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A real ledger file with one customer per default tier."""
    with Ledger(tmp_path / "ledger.sqlite3") as led:
        for tier in ("free", "pro", "enterprise"):
            led.upsert_customer(f"cus_{tier}", tier=tier)
        yield led
