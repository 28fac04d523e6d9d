"""The DuckDB warehouse: Stripe objects, usage events, and the typed tables metrics read.

    from unifiedmcp import warehouse
    warehouse.load_stripe("data/warehouse.duckdb", "exports/2026-10/")   # *.jsonl per object type
    warehouse.load_usage("data/warehouse.duckdb", "usage.csv")           # or .jsonl / .parquet
    warehouse.pull_usage("data/warehouse.duckdb", ledger="data/ledger.sqlite3")
    con = warehouse.connect("data/warehouse.duckdb", read_only=True)

Every function taking ``warehouse`` accepts a path (opened and closed for the call) or an open
``duckdb`` connection (reused). Tables are documented in docs/warehouse.md.

Public API:
- ``connect(path, *, read_only=False) -> duckdb.DuckDBPyConnection``
- ``open_warehouse(warehouse, *, read_only=False)`` (context manager: a prepared connection)
- ``load_stripe(warehouse, directory) -> StripeLoad`` (``<type>s.jsonl`` or ``.jsonl.gz``)
- ``load_stripe_file(warehouse, path, *, object_type, source=None, rebuild=True) -> StripeLoad``
- ``load_stripe_objects(warehouse, objects, *, object_type, source, rebuild=True) -> StripeLoad``
- ``load_usage(warehouse, path, *, format=None) -> UsageLoad`` (csv, jsonl, parquet; gzip csv)
- ``pull_usage(warehouse, *, ledger, batch_size=200_000) -> UsagePull``
- ``sync(warehouse, *, client, full=False, progress=True, max_retries=8, sleep=time.sleep,
  now=time.time) -> SyncResult``
- ``rebuild_typed(con, types)``: re-derive the typed tables (all for ``None``)
- ``unifiedmcp.warehouse.shapes``: builders of Stripe objects in both API shapes (tests, samples)
"""

from ._db import SCHEMA_VERSION, STRIPE_TYPES, Warehouse, connect, open_warehouse, rebuild_typed
from ._pull import UsagePull, pull_usage
from ._stripe import FileLoad, StripeLoad, load_stripe, load_stripe_file, load_stripe_objects
from ._sync import SyncPart, SyncResult, sync
from ._usage import USAGE_COLUMNS, UsageLoad, load_usage

__all__ = [
    "SCHEMA_VERSION",
    "STRIPE_TYPES",
    "USAGE_COLUMNS",
    "FileLoad",
    "StripeLoad",
    "SyncPart",
    "SyncResult",
    "UsageLoad",
    "UsagePull",
    "Warehouse",
    "connect",
    "load_stripe",
    "load_stripe_file",
    "load_stripe_objects",
    "load_usage",
    "open_warehouse",
    "pull_usage",
    "rebuild_typed",
    "sync",
]
