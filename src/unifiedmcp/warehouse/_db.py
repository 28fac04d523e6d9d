"""Opening the warehouse: one DuckDB file, its schema, and the typed tables derived from raw JSON."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from .._files import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE
from ..errors import WarehouseError
from ._sql import sql_text

__all__ = [
    "SCHEMA_VERSION",
    "STRIPE_TYPES",
    "Warehouse",
    "connect",
    "open_warehouse",
    "rebuild_typed",
]

SCHEMA_VERSION = "5"
# Raw-table changes per version, applied before the derived tables are rebuilt. 3: usage_events.tier.
# 4: no raw change (prices and price_catalog gain usage_type, revenue lines skip metered prices).
# 5: usage_daily, the daily totals of rolled-up usage (new tables come from schema.sql itself).
_UPGRADE_SQL = "ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS tier VARCHAR"

# Stripe object type -> (JSON Lines file, raw table, typed SQL files rebuilt after a load).
STRIPE_TYPES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "product": ("products.jsonl", "raw_products", ("products",)),
    "price": ("prices.jsonl", "raw_prices", ("prices",)),
    "customer": ("customers.jsonl", "raw_customers", ("customers",)),
    "subscription": ("subscriptions.jsonl", "raw_subscriptions", ("subscriptions",)),
    "invoice": ("invoices.jsonl", "raw_invoices", ("invoices", "invoice_lines")),
    "charge": ("charges.jsonl", "raw_charges", ("charges",)),
    "payment_intent": ("payment_intents.jsonl", "raw_payment_intents", ("payment_intents",)),
    "refund": ("refunds.jsonl", "raw_refunds", ("refunds",)),
    "event": ("events.jsonl", "raw_events", ("events",)),
}
# Derived from several types, in build order: (file, the types whose load makes it stale).
_DERIVED: tuple[tuple[str, frozenset[str]], ...] = (
    ("price_catalog", frozenset({"price", "subscription", "invoice"})),
    ("revenue_lines", frozenset({"price", "subscription", "invoice"})),
    ("paying_intervals", frozenset({"price", "subscription", "invoice"})),
    ("invoice_attempts", frozenset({"invoice", "charge"})),
)
_ALL_TYPED = tuple(f for _, _, files in STRIPE_TYPES.values() for f in files) + tuple(
    name for name, _ in _DERIVED
) + ("truncated_lists",)

Warehouse = str | Path | duckdb.DuckDBPyConnection


def _session(con: duckdb.DuckDBPyConnection) -> None:
    """Per-connection settings: UTC, no progress bar on the terminal, the helper macros."""
    con.execute("SET TimeZone = 'UTC'")
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.InvalidInputException:
        pass  # in a Jupyter kernel without ipywidgets DuckDB refuses even to switch it off
    con.execute(sql_text("macros.sql"))


def _prepare(con: duckdb.DuckDBPyConnection) -> None:
    _session(con)
    con.execute(sql_text("schema.sql"))
    rows = con.execute("SELECT value FROM warehouse_meta WHERE key = 'schema_version'").fetchall()
    if not rows:
        rebuild_typed(con, None)
        con.execute("INSERT INTO warehouse_meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
    elif rows[0][0] != SCHEMA_VERSION:
        # The raw tables gain columns (never lose any); the derived tables are rebuilt.
        con.execute(_UPGRADE_SQL)
        rebuild_typed(con, None)
        con.execute("UPDATE warehouse_meta SET value = ? WHERE key = 'schema_version'", [SCHEMA_VERSION])


def _prepared(con: duckdb.DuckDBPyConnection) -> bool:
    """True when this connection already has the schema, at this version, and the helper macros."""
    try:
        return bool(con.execute(
            "SELECT count(*) FROM duckdb_functions() WHERE function_name = 'json_items' AND NOT internal"
        ).fetchall()[0][0]) and bool(con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'warehouse_meta'"
        ).fetchall()[0][0]) and _stored_version(con) == SCHEMA_VERSION
    except duckdb.Error:
        return False


def connect(path: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the warehouse at ``path``, with its schema and helper macros."""
    path = Path(path)
    if read_only and not path.exists():
        raise WarehouseError(f"no warehouse at {path}: load data first", path=path)
    try:
        new = not read_only and not path.exists()
        if new:
            path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        con = duckdb.connect(str(path), read_only=read_only)
        if new:
            # DuckDB refuses to open an empty file made beforehand, so the file is made private
            # right after DuckDB creates it, before the schema or any row is written. Its .wal
            # comes and goes with the process umask (the CLI's is 077; docs/privacy.md).
            os.chmod(path, PRIVATE_FILE_MODE)
    except (duckdb.IOException, OSError) as exc:
        raise WarehouseError(f"cannot open warehouse {path}: {exc}", path=path) from None
    if read_only:
        _session(con)
        if _stored_version(con) not in (None, SCHEMA_VERSION):
            con.close()
            return _upgraded_copy(path)
    else:
        _prepare(con)
    return con


def _stored_version(con: duckdb.DuckDBPyConnection) -> str | None:
    try:
        rows = con.execute("SELECT value FROM warehouse_meta WHERE key = 'schema_version'").fetchall()
    except duckdb.CatalogException:
        return None
    return rows[0][0] if rows else None


def _upgraded_copy(path: Path) -> duckdb.DuckDBPyConnection:
    """A warehouse of an older schema, read without writing it: its tables copied into memory and
    upgraded there (what opening it for writing would do to the file)."""
    con = duckdb.connect(":memory:")
    try:
        con.execute("ATTACH ? AS old_schema (READ_ONLY)", [str(path)])
        for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'old_schema'"
            " AND table_type = 'BASE TABLE'"
        ).fetchall():
            con.execute(f'CREATE TABLE memory.main."{name}" AS SELECT * FROM old_schema.main."{name}"')
        con.execute("DETACH old_schema")
        _prepare(con)
    except duckdb.Error as exc:
        con.close()
        raise WarehouseError(f"cannot read warehouse {path}: {exc}", path=path) from None
    return con


@contextmanager
def open_warehouse(warehouse: Warehouse, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection for ``warehouse`` (a path, or an open connection that is prepared and reused)."""
    if isinstance(warehouse, duckdb.DuckDBPyConnection):
        if not read_only and not _prepared(warehouse):
            _prepare(warehouse)
        else:
            _session(warehouse)
        yield warehouse
        return
    con = connect(warehouse, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def rebuild_typed(con: duckdb.DuckDBPyConnection, types: Iterable[str] | None) -> None:
    """Rebuild the typed tables derived from the given Stripe types (all of them for None)."""
    if types is None:
        files = _ALL_TYPED
    else:
        wanted = set(types)
        files = tuple(f for t in STRIPE_TYPES if t in wanted for f in STRIPE_TYPES[t][2])
        files += tuple(name for name, inputs in _DERIVED if wanted & inputs)
    for name in files:
        con.execute(sql_text(f"typed/{name}.sql"))
