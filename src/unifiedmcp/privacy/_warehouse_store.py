"""The DuckDB warehouse as a privacy store.

Erase, in one DuckDB transaction: the raw Stripe objects that mention the customer are scrubbed
(``_scrub``: personal fields cleared, the id replaced by the pseudonym, also as the customer
object's own id), usage events and daily totals move to the pseudonym (``user_id`` cleared), texts
that quote the customer (rejected lines, load log, cursors) are scrubbed, and the typed tables are
rebuilt from the raw ones, so every metric joins on the pseudonym exactly as it joined on the id.
Then the file is rewritten (``COPY FROM DATABASE`` into a new file that replaces it): DuckDB
leaves replaced blocks in its file, and a rewrite holds live rows only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import duckdb

from .. import warehouse as wh
from .._files import PRIVATE_FILE_MODE
from ..errors import WarehouseError
from ._registry import Counts, Holding, Sink
from ._scrub import identifiers, scrub_json
from ._subject import Subject
from ._text import like_any

__all__ = ["RAW_TABLES", "WAREHOUSE_HOLDINGS", "WarehouseStore"]

RAW_TABLES = tuple(table for _, table, _ in wh.STRIPE_TYPES.values())
_STRIPE_PERSONAL = {
    "raw_customers": "e-mails, names, phones, addresses, shipping, metadata",
    "raw_invoices": "the customer's e-mail, name, phone and address as billed",
    "raw_charges": "billing details, card fingerprint, last4 and expiry",
    "raw_payment_intents": "shipping, receipt e-mail, the payment method's billing details",
    "raw_refunds": "descriptions, metadata",
    "raw_subscriptions": "descriptions, metadata",
    "raw_events": "every object above, as it was at each event",
    "raw_products": "",
    "raw_prices": "",
}
# Rebuilt from the raw tables after a load and after an erasure: they follow the raw tables.
DERIVED_TABLES = (
    "customers", "products", "prices", "subscriptions", "subscription_items", "invoices", "invoice_lines",
    "invoice_payments", "charges", "payment_intents", "refunds", "events", "price_catalog", "revenue_lines",
    "paying_intervals", "invoice_attempts",
)
WAREHOUSE_HOLDINGS = (
    *(Holding(t, p, "Stripe objects mentioning the customer" if p else "",
              "objects mentioning the customer scrubbed, the id replaced by the pseudonym" if p else "")
      for t, p in _STRIPE_PERSONAL.items()),
    Holding("usage_events", "user ids, the calls' times and tools", "the customer's calls",
            "kept, moved to the pseudonym; user_id cleared",
            "older than [retention] usage_events_months: rolled up into usage_daily, deleted"),
    Holding("usage_daily", "", "the customer's daily totals", "kept, moved to the pseudonym"),
    Holding("usage_rejects", "rejected lines' reasons", "", "scrubbed"),
    Holding("stripe_rejects", "rejected lines' reasons", "", "scrubbed"),
    Holding("load_log", "sources and details of loads", "", "scrubbed"),
    Holding("sync_state", "cursors (object ids)", "", "cursors naming the customer dropped (that list restarts)"),
    Holding("warehouse_meta", "", "", ""),
    *(Holding(t, "derived from the raw tables", "", "rebuilt from the scrubbed raw tables") for t in DERIVED_TABLES),
)
# Free-text tables, scanned by rowid: (column, its text).
_TEXT = {
    "usage_rejects": (("source", "source"), ("reason", "reason")),
    "stripe_rejects": (("source", "source"), ("reason", "reason")),
    "load_log": (("source", "source"), ("detail", "CAST(detail AS VARCHAR)")),
}
_MOVE_USAGE = (
    "UPDATE usage_events SET customer_id = $p, user_id = NULL, event_id = replace(event_id, $c, $p)"
    " WHERE customer_id = $c"
)
_MOVE_DAILY = "UPDATE usage_daily SET customer_id = $p WHERE customer_id = $c"
_USAGE_EXPORT = ("SELECT event_id, customer_id, tool_name, ts, status, user_id, latency_ms, source, tier"
                 " FROM usage_events WHERE customer_id = ? ORDER BY ts, event_id")
_DAILY_EXPORT = ("SELECT day, customer_id, tier, tool_name, status, calls FROM usage_daily"
                 " WHERE customer_id = ? ORDER BY day, tool_name, status")


class WarehouseStore:
    """The warehouse file (module docstring); absent, it holds nothing."""

    name = "warehouse"
    holdings = WAREHOUSE_HOLDINGS

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _open(self, *, read_only: bool) -> duckdb.DuckDBPyConnection | None:
        return wh.connect(self.path, read_only=read_only) if self.path.exists() else None

    @staticmethod
    def _raw(con: duckdb.DuckDBPyConnection, table: str, subject: Subject) -> list[tuple[str, str]]:
        """(id, JSON text) of the rows of a raw table that mention the subject."""
        where, params = like_any(["CAST(data AS VARCHAR)"], subject.needles())
        rows = con.execute(f"SELECT id, CAST(data AS VARCHAR) FROM {table} WHERE {where}", params).fetchall()
        return [(i, text) for i, text in rows if subject.mentions(text)]

    # -- the store ------------------------------------------------------------------------------

    def terms(self, customer_id: str) -> set[str]:
        con = self._open(read_only=True)
        if con is None:
            return set()
        subject = Subject(customer_id, None)
        try:
            return {t for table in RAW_TABLES for _, text in self._raw(con, table, subject)
                    for t in identifiers(json.loads(text))}
        finally:
            con.close()

    def find(self, subject: Subject) -> Counts:
        con = self._open(read_only=True)
        if con is None:
            return {}
        try:
            counts = {table: len(self._raw(con, table, subject)) for table in RAW_TABLES}
            for table in ("usage_events", "usage_daily"):
                counts[table] = con.execute(f"SELECT count(*) FROM {table} WHERE customer_id = ?",
                                            [subject.customer_id]).fetchone()[0]
        finally:
            con.close()
        return {k: v for k, v in counts.items() if v}

    def export(self, subject: Subject, sink: Sink) -> None:
        con = self._open(read_only=True)
        if con is None:
            return
        try:
            for table in RAW_TABLES:
                sink.objects(self.name, table, [json.loads(text) for _, text in sorted(self._raw(con, table, subject))])
            for place, sql in (("usage_events", _USAGE_EXPORT), ("usage_daily", _DAILY_EXPORT)):
                cur = con.execute(sql, [subject.customer_id])
                sink.rows(self.name, place, [d[0] for d in cur.description], cur.fetchall())
        finally:
            con.close()

    def erase(self, subject: Subject) -> Counts:
        con = self._open(read_only=False)
        if con is None:
            return {}
        counts: Counts = {}
        try:
            con.execute("BEGIN")
            for table in RAW_TABLES:
                rows = self._raw(con, table, subject)
                for oid, text in rows:
                    new = json.dumps(scrub_json(json.loads(text), subject), separators=(",", ":"))
                    new_id = subject.pseudonym if oid == subject.customer_id else oid
                    con.execute(f"UPDATE {table} SET id = ?, data = ? WHERE id = ?", [new_id, new, oid])
                counts[table] = len(rows)
            names = {"c": subject.customer_id, "p": subject.pseudonym}
            counts["usage_events"] = _changed(con.execute(_MOVE_USAGE, names))
            counts["usage_daily"] = _changed(con.execute(_MOVE_DAILY, names))
            for table, columns in _TEXT.items():
                counts[table] = self._scrub_text(con, table, columns, subject)
            counts["sync_state"] = self._drop_cursors(con, subject)
            if any(counts[t] for t in RAW_TABLES):
                wh.rebuild_typed(con, None)
            con.execute("COMMIT")
            con.execute("CHECKPOINT")  # no WAL left for the rewrite to miss
        except BaseException:
            _rollback(con)
            raise
        finally:
            con.close()
        rewrite(self.path)
        return {k: v for k, v in counts.items() if v}

    @staticmethod
    def _scrub_text(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[tuple[str, str], ...],
                    subject: Subject) -> int:
        texts = [expression for _, expression in columns]
        where, params = like_any(texts, subject.needles())
        rows = con.execute(f"SELECT rowid, {', '.join(texts)} FROM {table} WHERE {where}", params).fetchall()
        changed = [(rowid, values) for rowid, *values in rows
                   if any(isinstance(v, str) and subject.mentions(v) for v in values)]
        assignments = ", ".join(f"{name} = ?" for name, _ in columns)
        for rowid, values in changed:
            scrubbed = [subject.scrub_text(v) if isinstance(v, str) else v for v in values]
            con.execute(f"UPDATE {table} SET {assignments} WHERE rowid = ?", [*scrubbed, rowid])
        return len(changed)

    @staticmethod
    def _drop_cursors(con: duckdb.DuckDBPyConnection, subject: Subject) -> int:
        rows = con.execute("SELECT key, value FROM sync_state").fetchall()
        keys = [k for k, v in rows if subject.mentions(f"{k} {v}")]
        for key in keys:
            con.execute("DELETE FROM sync_state WHERE key = ?", [key])
        return len(keys)


def _changed(cur: duckdb.DuckDBPyConnection) -> int:
    row = cur.fetchone()
    return int(row[0]) if row else 0


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass  # no transaction open any more (the failure was the COMMIT or after it)


def rewrite(path: Path) -> None:
    """Replace the DuckDB file at ``path`` with a copy holding its live data only.

    DuckDB reuses freed blocks but does not clear them: a scrubbed value's old block keeps its
    bytes until overwritten. The copy is made while the file is attached read-only (a writer in
    another process fails on DuckDB's lock rather than writing to a file about to be replaced),
    fsynced by DuckDB's checkpoint when detached, then moved over the original.
    """
    if path.with_name(path.name + ".wal").exists():
        raise WarehouseError(f"{path} has an unfinished write-ahead log: open it once to replay it, then retry",
                             path=path)
    fresh = path.with_name(path.name + ".rewrite")
    for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
        leftover.unlink(missing_ok=True)  # of an earlier attempt killed halfway
    con = duckdb.connect(":memory:")
    try:
        con.execute("ATTACH ? AS source_db (READ_ONLY)", [str(path)])
        con.execute("ATTACH ? AS fresh_db", [str(fresh)])
        os.chmod(fresh, PRIVATE_FILE_MODE)
        con.execute("COPY FROM DATABASE source_db TO fresh_db")
        con.execute("DETACH fresh_db")
        con.execute("DETACH source_db")
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot rewrite warehouse {path}: {exc}", path=path) from None
    finally:
        con.close()
    os.replace(fresh, path)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
