"""Per-call working state of a metrics computation: the tier tables, each customer's tier over
time and the month's calls with their tiers, as temp tables and a temp table macro."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import duckdb
import pyarrow as pa

from .._times import naive_utc
from ..config import TierTable, load_settings, load_tiers
from ..months import Month
from ..warehouse import Warehouse, open_warehouse
from ._sql import sql_text

__all__ = ["metrics_connection", "month_params", "prepare_month", "TEMP_TABLES"]

TEMP_TABLES = ("_m_tiers", "_m_tier_keys", "_m_price_tier", "_m_tier_timeline", "_m_tier_at")


def month_params(m: Month) -> dict[str, datetime]:
    """The SQL parameters ``$m_start`` and ``$m_next`` of month ``m``, in warehouse time."""
    return {"m_start": naive_utc(m.start), "m_next": naive_utc(m.end)}


def _register_tiers(con: duckdb.DuckDBPyConnection, tiers: TierTable) -> None:
    default = tiers.default.name
    rows = {
        "name": [t.name for t in tiers.tiers],
        "rank": [t.rank for t in tiers.tiers],
        "monthly_api_calls": [t.monthly_api_calls for t in tiers.tiers],
        "overage_per_call": [float(t.overage_per_call) for t in tiers.tiers],
        "next_tier": [(n.name if (n := tiers.next_above(t.name)) else None) for t in tiers.tiers],
        "is_default": [t.name == default for t in tiers.tiers],
    }
    con.register("_m_tiers_src", pa.table(rows))
    con.execute("CREATE OR REPLACE TEMP TABLE _m_tiers AS SELECT * FROM _m_tiers_src")
    con.unregister("_m_tiers_src")
    # Price ids and lookup keys -> tier; a key listed under several tiers maps to the first (§6).
    keys: dict[str, str] = {}
    for t in tiers.tiers:
        for key in t.prices:
            keys.setdefault(key, t.name)
    con.register("_m_keys_src", pa.table({"key": list(keys), "tier": list(keys.values())},
                                          schema=pa.schema([("key", pa.string()), ("tier", pa.string())])))
    con.execute("CREATE OR REPLACE TEMP TABLE _m_tier_keys AS SELECT * FROM _m_keys_src")
    con.unregister("_m_keys_src")
    # The catalog does not change while a connection reports, so prices are mapped to tiers once.
    con.execute(sql_text("price_tier.sql"))


def prepare_month(con: duckdb.DuckDBPyConnection, month: Month, *, currency: str) -> None:
    """Per-month temp state: each customer's tier over the month (_m_tier_timeline, which the calls
    macro _m_calls reads) and at its end (_m_tier_at)."""
    bounds = month_params(month)
    con.execute(sql_text("tier_timeline.sql"), {**bounds, "currency": currency})
    con.execute(sql_text("tier_at.sql"), {"m_next": bounds["m_next"]})
    con.execute(sql_text("calls.sql"))


@contextmanager
def metrics_connection(
    warehouse: Warehouse, *, currency: str, tiers: TierTable | None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the warehouse with the tier tables (_m_tiers, _m_tier_keys, _m_price_tier),
    :func:`prepare_month` adds a month's state.

    The heavy lifting (revenue lines, paying intervals, first payment attempts) is done once per
    load by the warehouse; per month only filters and small joins run.
    """
    # Metrics only read: a path is opened read-only; a connection gets the session settings and
    # helper macros only (it may itself be read-only), never schema changes.
    with open_warehouse(warehouse, read_only=True) as con:
        try:
            _register_tiers(con, tiers if tiers is not None else load_tiers(load_settings().tiers_file))
            yield con
        finally:
            con.execute("DROP MACRO TABLE IF EXISTS _m_calls")
            for t in TEMP_TABLES:
                con.execute(f"DROP TABLE IF EXISTS {t}")
