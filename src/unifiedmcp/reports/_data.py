"""Where a report's numbers come from: a DuckDB warehouse file, or a directory of exports.

A directory (the committed sample, ``data/sample/``) holds Stripe JSON Lines and a usage file;
it is loaded into an in-memory warehouse. A ``.duckdb`` file is attached read-only under an
in-memory database that sees its tables as views: parallel notebooks never lock or write the file,
and the metrics keep their temp tables in the in-memory database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from .. import warehouse as wh
from .._dsn import is_database_url
from ..config import load_settings
from ..errors import WarehouseError
from ..metrics import data_months, data_span
from ..months import Month

__all__ = [
    "USAGE_PATTERNS",
    "connect_data",
    "copy_warehouse",
    "default_data",
    "default_ledger",
    "history_start",
    "latest_complete_month",
    "load_data",
    "load_exports",
    "open_data",
    "source_tree",
]

# Usage logs inside an export directory, in the order they are loaded.
USAGE_PATTERNS = ("usage*.csv", "usage*.jsonl", "usage*.parquet")


def _usage_files(directory: Path) -> list[Path]:
    return [p for pattern in USAGE_PATTERNS for p in sorted(directory.glob(pattern))]


def load_exports(con: duckdb.DuckDBPyConnection, directory: str | Path) -> None:
    """Load ``directory`` (Stripe ``*.jsonl`` and ``usage*`` files) into the warehouse ``con``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise WarehouseError(f"no export directory at {directory}", path=directory)
    wh.load_stripe(con, directory)
    for f in _usage_files(directory):
        wh.load_usage(con, f)


def load_data(directory: str | Path) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse loaded from ``directory`` (Stripe ``*.jsonl`` and ``usage*`` files)."""
    con = duckdb.connect(":memory:")
    try:
        load_exports(con, directory)
    except BaseException:
        con.close()
        raise
    return con


_ATTACH = "ATTACH ? AS report_source (READ_ONLY)"
_SOURCE_TABLES = """SELECT table_name FROM information_schema.tables
WHERE table_catalog = 'report_source' AND table_schema = 'main' ORDER BY table_name"""


def copy_warehouse(path: str | Path) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse over the file at ``path``, which is only read: its tables are
    attached read-only and exposed as views (no copy). A warehouse of an older schema comes as
    the warehouse package opens it read-only: copied into memory and upgraded there."""
    path = Path(path)
    probe = wh.connect(path, read_only=True)  # a clear WarehouseError when it is missing or unreadable
    if probe.execute("SELECT current_database()").fetchone()[0] == "memory":
        return probe
    probe.close()
    con = duckdb.connect(":memory:")
    try:
        con.execute(_ATTACH, [str(path)])
        for (name,) in con.execute(_SOURCE_TABLES).fetchall():
            con.execute(f'CREATE VIEW memory.main."{name}" AS SELECT * FROM report_source.main."{name}"')
        with wh.open_warehouse(con):  # what every metrics call does first
            pass
    except duckdb.Error as exc:
        con.close()
        raise WarehouseError(f"cannot read warehouse {path}: {exc}", path=path) from None
    return con


def source_tree() -> Path:
    """The project directory the package runs from (an editable install's checkout), else the cwd."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "notebooks").is_dir() else Path.cwd()


def _existing(configured: Path | str) -> Path | None:
    """``configured`` if it is an existing file or directory; a relative path is looked up from the
    working directory, then from the project directory (notebooks run in their own folder)."""
    for candidate in (Path(configured), source_tree() / configured):
        if candidate.exists():
            return candidate
    return None


def default_data() -> Path:
    """What a notebook opened with ``warehouse = ""`` reports on: the configured warehouse
    (``UNIFIEDMCP_WAREHOUSE``, else ``DATA_DIR/warehouse.duckdb``: the demo's after ``make
    report``) when it exists, else the committed sample."""
    return _existing(load_settings().warehouse) or source_tree() / "data" / "sample"


def default_ledger() -> Path | str | None:
    """The ledger a notebook opened with ``ledger = ""`` reads: the configured one, if it exists
    (a PostgreSQL URL as configured: the runner never writes it, or its password, into a notebook)."""
    configured = load_settings().ledger
    return configured if is_database_url(configured) else _existing(configured)


def connect_data(warehouse: str | Path) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse for a notebook (close it at the end): an export directory loaded, or
    a warehouse file copied; ``""`` means :func:`default_data`."""
    path = Path(warehouse) if str(warehouse) else default_data()
    if path.is_dir():
        return load_data(path)
    if path.exists():
        return copy_warehouse(path)
    raise WarehouseError(f"no warehouse or export directory at {path}", path=path)


@contextmanager
def open_data(warehouse: str | Path | duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to report on: an open connection as is, a directory loaded in memory, or a
    warehouse file opened read-only. Closed on exit unless it was passed in."""
    if isinstance(warehouse, duckdb.DuckDBPyConnection):
        yield warehouse
        return
    con = connect_data(warehouse)
    try:
        yield con
    finally:
        con.close()


def latest_complete_month(
    warehouse: str | Path | duckdb.DuckDBPyConnection, *, now: datetime | None = None
) -> Month:
    """The latest complete month of the data: the month of the last data (invoices, charges, usage)
    when the data reaches that month's last day, else the month before; never the current month
    or later (it has not ended)."""
    with open_data(warehouse) as con:
        span = data_span(con)
    first, last = span.first, span.last
    if first is None or last is None:
        raise WarehouseError("the warehouse holds no data: nothing to report", path=None)
    last_month = Month.of(last)
    reaches_end = last >= last_month.end - timedelta(days=1)
    month = min(last_month if reaches_end else last_month.previous, Month.of(now or datetime.now(UTC)).previous)
    if month < Month.of(first):
        raise WarehouseError(f"the warehouse holds no complete month (data starts in {Month.of(first)})", path=None)
    return month


def history_start(con: duckdb.DuckDBPyConnection, month: Month | str, *, months: int) -> Month:
    """The first month of a ``months``-long history ending at ``month``, not before the data starts."""
    m = Month.coerce(month)
    first = m
    for _ in range(max(1, months) - 1):
        first = first.previous
    have = data_months(con)
    return max(first, have[0]) if have and have[0] <= m else m
