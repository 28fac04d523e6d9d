from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from unifiedmcp.ledger import Ledger


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A real ledger file with a free and a pro customer."""
    with Ledger(tmp_path / "ledger.sqlite3") as led:
        led.upsert_customer("cus_free", tier="free")
        led.upsert_customer("cus_pro", tier="pro")
        yield led
