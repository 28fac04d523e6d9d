"""Every ledger test that does not name a backend runs on both: a SQLite file and a PostgreSQL
database of its own (on the session's throwaway cluster, see ``unifiedmcp.ledger.testing``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from unifiedmcp.ledger import Ledger


@pytest.fixture
def ledger(ledger_target: Path | str) -> Iterator[Ledger]:
    """A real ledger with one customer per default tier."""
    with Ledger(ledger_target) as led:
        for tier in ("free", "pro", "enterprise"):
            led.upsert_customer(f"cus_{tier}", tier=tier)
        yield led


def table(ledger: Ledger, name: str) -> list[tuple]:
    """Every row of a ledger table, on either backend (to check what is stored, not how)."""
    with ledger.transaction() as conn:
        return [tuple(r) for r in conn.execute(f"SELECT * FROM {name}").fetchall()]
