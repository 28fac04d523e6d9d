"""The privacy registry cannot forget a store: every table of the ledger (both backends' schema is
the same, tests/ledger/test_migrations.py) and of the warehouse is declared by a privacy store,
every ledger table keyed by customer is erased and exported, and docs/privacy.md lists every
declared place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb

from unifiedmcp import warehouse as wh
from unifiedmcp.ledger import Ledger
from unifiedmcp.privacy import holdings
from unifiedmcp.privacy._ledger_store import CUSTOMER_TABLES, LedgerStore
from unifiedmcp.privacy._subject import Subject

DOCS = Path(__file__).resolve().parents[2] / "docs" / "privacy.md"


def _declared(store: str) -> set[str]:
    return {h.place for h in holdings()[store]}


def test_every_ledger_table_is_declared_by_the_ledger_store(tmp_path: Path) -> None:
    Ledger(tmp_path / "ledger.sqlite3").close()
    con = sqlite3.connect(tmp_path / "ledger.sqlite3")
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        con.close()
    assert tables == _declared("ledger"), "a ledger table holds data privacy does not know about: declare it"


class _Recorder:
    """A sink that keeps which ledger tables an export wrote."""

    def __init__(self) -> None:
        self.written: set[str] = set()

    def rows(self, store: str, place: str, columns: object, rows: object) -> None:
        self.written.add(place)

    def objects(self, store: str, place: str, objects: object) -> None:
        self.written.add(place)


def test_every_ledger_table_with_a_customer_id_is_erased_and_exported(tmp_path: Path) -> None:
    """A table added with a customer_id column (as the meter outbox and the OAuth grants were) is
    one erase deletes or moves to the pseudonym, and one the export writes."""
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        sink = _Recorder()
        LedgerStore(ledger).export(Subject("cus_registry_1", None), sink)
    con = sqlite3.connect(tmp_path / "ledger.sqlite3")
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        keyed = {t for t in tables if "customer_id" in {c[1] for c in con.execute(f"PRAGMA table_info({t})")}}
    finally:
        con.close()
    assert keyed == set(CUSTOMER_TABLES), "erase must delete or pseudonymise the customer's rows of every such table"
    assert keyed <= sink.written, "the export must hold the customer's rows of every such table"


def test_every_warehouse_table_is_declared_by_the_warehouse_store(tmp_path: Path) -> None:
    wh.connect(tmp_path / "warehouse.duckdb").close()
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    finally:
        con.close()
    assert tables == _declared("warehouse"), "a warehouse table holds data privacy does not know about: declare it"


def test_docs_privacy_lists_every_declared_place() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [place for places in holdings().values() for h in places
               if (place := h.place.split(" (")[0]) and f"`{place}`" not in text]
    assert not missing, f"docs/privacy.md does not list {missing}"
