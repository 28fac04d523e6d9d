"""Privacy tests: a small demo (built once per worker through the public API) whose best-paying
customer changed its name and e-mail to distinctive ones, as Stripe would report it; ledgers on
both backends; byte searches and file hashes."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from privacy_data import EMAIL, FIRST, MONTHS, NAME, PSEUDONYM_KEY, Demo

from unifiedmcp import warehouse as wh
from unifiedmcp.billing import EventProcessor
from unifiedmcp.demo import build_demo
from unifiedmcp.ledger import Ledger

_BEST_PAYER = """
SELECT customer FROM revenue_lines
WHERE cover_start < TIMESTAMP '2026-05-01' AND cover_end >= TIMESTAMP '2026-04-30'
ORDER BY mrr_x100 DESC, customer LIMIT 1
"""


def _rename(demo: Path, customer: str) -> tuple[str, str]:
    """The customer changes its name and e-mail: Stripe sends customer.updated, which the receiver
    logs; the customer's contact e-mail is updated in the ledger; the warehouse syncs the new copy."""
    with wh.open_warehouse(demo / "warehouse.duckdb") as con:
        obj = json.loads(con.execute("SELECT data FROM raw_customers WHERE id = ?", [customer]).fetchone()[0])
    before = {"email": obj["email"], "name": obj["name"]}
    obj |= {"email": EMAIL, "name": NAME}
    wh.load_stripe_objects(demo / "warehouse.duckdb", [obj], object_type="customer", source="sync")
    event = {"id": "evt_privacy_rename", "object": "event", "type": "customer.updated", "livemode": False,
             "created": obj["created"] + 86_400, "data": {"object": obj, "previous_attributes": before}}
    with Ledger(demo / "ledger.sqlite3") as ledger:
        EventProcessor(ledger).process(event)
        ledger.upsert_customer(customer, email=EMAIL)
    return before["email"], before["name"]


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    data = tmp_path_factory.mktemp("privacy-demo") / "data"
    result = build_demo(warehouse=data / "warehouse.duckdb", usage_file=data / "demo" / "usage.parquet", customers=6,
                        months=MONTHS, seed=109, first_month=FIRST, ledger=data / "ledger.sqlite3")
    with wh.open_warehouse(result.warehouse, read_only=True) as con:
        customer = con.execute(_BEST_PAYER).fetchone()[0]
    old_email, old_name = _rename(data, customer)
    return Demo(data, tuple(result.months), customer, old_email, old_name)


@pytest.fixture
def demo(demo_template: Demo, privacy_env: Path) -> Demo:
    """A copy of the demo in this test's data directory (``privacy_env / "data"``)."""
    return demo_template.copy_to(privacy_env / "data")


@pytest.fixture
def privacy_env(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The isolated environment (cwd = the test's folder, data in ./data) with a pseudonym key."""
    monkeypatch.setenv("UNIFIEDMCP_PSEUDONYM_KEY", PSEUDONYM_KEY)
    return isolated_env


@pytest.fixture
def env_of() -> Iterator[Callable[[Path], dict[str, str]]]:
    """The environment for a CLI subprocess working in a test folder."""

    def make(folder: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "UNIFIEDMCP_"))}
        return env | {"UNIFIEDMCP_DATA_DIR": str(folder / "data"), "UNIFIEDMCP_PSEUDONYM_KEY": PSEUDONYM_KEY}

    yield make
