"""Loading usage logs (metrics.md §1.2): CSV, JSON Lines or Parquet, read natively by DuckDB.

Columns: ``event_id``, ``customer_id``, ``tool_name``, ``timestamp`` (ISO 8601; naive means UTC),
optional ``status`` (ok | error | rejected | interrupted; missing means ok), ``user_id``, ``latency_ms``,
``tier`` (the tier the call was admitted under, as the ledger records it; metrics.md §6 contract v2).
Every row is validated in SQL; malformed rows are counted, kept in ``usage_rejects`` with their
line number (CSV and JSON Lines: physical line, header = line 1; Parquet: 1-based row number),
and the rest loads. A repeated ``event_id`` (in the file or already in the warehouse) counts once:
the first copy stays.

Two ways in: a clean CSV or Parquet file loads in one pass (CLEAN_INSERT_SQL); any other file,
and JSON Lines, goes through a checked temp table (CHECK_SQL, then COUNT_SQL and an INSERT_*).
After a file with a malformed row or a duplicate, the next one skips the one-pass attempt.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb

from .._files import input_file
from ..errors import WarehouseError
from ._db import Warehouse, open_warehouse
from ._lines import MAX_LINE_BYTES, last_line_longer_than, open_input, read_lines, split_into_lines

__all__ = ["USAGE_COLUMNS", "UsageLoad", "load_usage", "insert_usage_rows", "rollback_load"]

UsageFormat = Literal["csv", "jsonl", "parquet"]

REQUIRED = ("event_id", "customer_id", "tool_name", "timestamp")
OPTIONAL = ("status", "user_id", "latency_ms", "tier")
USAGE_COLUMNS = REQUIRED + OPTIONAL
_MAX_LISTED = 100

_SUFFIXES: dict[str, UsageFormat] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}

# Each format is a relation (SQL text) with the text columns _row, event_id, customer_id,
# tool_name, ts_text, ts_value, status_text, user_id, latency_text, tier_text and _bad (a reason
# found while reading); CHECKED_SQL validates it in one pass.
CSV_RELATION_SQL = """
SELECT NULL::BIGINT AS _row, {event_id} AS event_id, {customer_id} AS customer_id, {tool_name} AS tool_name,
       {timestamp} AS ts_text, NULL::TIMESTAMP AS ts_value, {status} AS status_text,
       {user_id} AS user_id, {latency_ms} AS latency_text, NULL::DOUBLE AS latency_value, {tier} AS tier_text,
       NULL::VARCHAR AS _bad
FROM read_csv($path, header = true, columns = {columns}, auto_detect = false,
              delim = ',', quote = '"', escape = '"', null_padding = true{reader_options})
"""
# A CSV file is first read with DuckDB's defaults (reader_options empty): a line the reader cannot
# take (too many fields, over its default 2 MB, invalid UTF-8, a quoted newline) aborts that read,
# and the file is read again with CSV_RECORD_REFUSED_OPTIONS, which skip such lines and keep them in
# _usage_rej. Only the first read is parallel: recording refused lines, or a 256 MiB line limit (the
# read buffer must hold a whole line), puts DuckDB's reader on one thread, and clean files, the
# usual case, would load at about half the speed. parallel = false is stated because the parallel
# reader refuses quoted newlines together with null_padding.
CSV_RECORD_REFUSED_OPTIONS = """,
              max_line_size = {max_line}, ignore_errors = true, store_rejects = true,
              rejects_table = '_usage_rej', rejects_scan = '_usage_rej_scan', parallel = false"""
# The first read refuses lines over DuckDB's default max_line_size (2 MB), except the file's last
# line: one longer than the read buffer (32 MiB) is dropped without an error (DuckDB 2.0.1). A file
# whose last line passes 2 MB goes straight to the recording read, skipping the first read and the
# one-pass load built on it.
FIRST_READ_LINE_BYTES = 2_000_000
# What the first read leaves when it succeeds: nothing refused (CSV_LINE_MAP_SQL reads this table).
NO_REFUSED_SQL = "CREATE OR REPLACE TEMP TABLE _usage_refused (line BIGINT)"
JSONL_RELATION_SQL = """
SELECT line_no AS _row,
       j ->> 'event_id' AS event_id, j ->> 'customer_id' AS customer_id, j ->> 'tool_name' AS tool_name,
       j ->> 'timestamp' AS ts_text, NULL::TIMESTAMP AS ts_value, j ->> 'status' AS status_text,
       j ->> 'user_id' AS user_id, j ->> 'latency_ms' AS latency_text, NULL::DOUBLE AS latency_value,
       j ->> 'tier' AS tier_text,
       CASE WHEN j IS NULL THEN 'invalid JSON' WHEN json_type(j) <> 'OBJECT' THEN 'not a JSON object' END AS _bad
FROM (SELECT line_no, TRY_CAST(line AS JSON) AS j FROM _usage_lines WHERE line IS NOT NULL AND trim(line) <> '')
"""
PARQUET_RELATION_SQL = """
SELECT file_row_number + 1 AS _row,
       CAST(event_id AS VARCHAR) AS event_id, CAST(customer_id AS VARCHAR) AS customer_id,
       CAST(tool_name AS VARCHAR) AS tool_name, {ts_text} AS ts_text, {ts_value} AS ts_value,
       {status} AS status_text, {user_id} AS user_id, {latency_text} AS latency_text,
       {latency_value} AS latency_value, {tier} AS tier_text, NULL::VARCHAR AS _bad
FROM read_parquet($path, file_row_number = true)
"""

# Timestamps: TIMESTAMPTZ parsing reads offsets and takes naive values as UTC (the session's
# zone); make_timestamp(epoch_us(..)) turns the instant into a naive UTC TIMESTAMP.
CHECKED_SQL = """
SELECT _row, event_id, customer_id, tool_name, ts, status, user_id, latency_ms, nullif(trim(tier_text), '') AS tier,
    CASE
        WHEN _bad IS NOT NULL THEN _bad
        WHEN nullif(event_id, '') IS NULL THEN 'missing event_id'
        WHEN nullif(customer_id, '') IS NULL THEN 'missing customer_id'
        WHEN nullif(tool_name, '') IS NULL THEN 'missing tool_name'
        WHEN ts IS NULL AND nullif(trim(ts_text), '') IS NULL THEN 'missing timestamp'
        WHEN ts IS NULL THEN 'invalid timestamp'
        WHEN status NOT IN ('ok', 'error', 'rejected', 'interrupted') THEN 'invalid status'
        WHEN latency_ms IS NULL AND nullif(trim(latency_text), '') IS NOT NULL THEN 'invalid latency_ms'
    END AS reason
FROM (
    SELECT *,
        coalesce(ts_value, make_timestamp(epoch_us(TRY_CAST(ts_text AS TIMESTAMPTZ)))) AS ts,
        CASE WHEN status_text IS NULL OR status_text = '' THEN 'ok'
             WHEN status_text IN ('ok', 'error', 'rejected', 'interrupted') THEN status_text
             ELSE coalesce(nullif(lower(trim(status_text)), ''), 'ok') END AS status,
        coalesce(latency_value, TRY_CAST(latency_text AS DOUBLE)) AS latency_ms
    FROM ({relation})
)
"""

CHECK_SQL = "CREATE OR REPLACE TEMP TABLE _usage_checked AS" + CHECKED_SQL

# Every way in writes the same columns; $source names the file (or ledger) the rows came from.
_INSERT_EVENTS = """
INSERT INTO usage_events (event_id, customer_id, tool_name, ts, status, user_id, latency_ms, source, tier)
SELECT event_id, customer_id, tool_name, ts, status, user_id, latency_ms, $source, tier
"""

# The one-pass load (CSV and Parquet): rows go straight from the file into usage_events, and the
# first malformed row or already-stored id stops the statement (error()), which rolls the attempt
# back; one count then tells whether the file repeated an id. Only a file that passes all three
# keeps this result: any other file is loaded again by the checked path below (a temp table,
# counted, then inserted), which finds what made the attempt fail. The attempt saves writing and
# re-reading the temp table, about 15 % of a clean 10 M-row load; a file that fails it late pays for
# it on top (docs/warehouse.md has the figures).
CLEAN_INSERT_SQL = _INSERT_EVENTS + """FROM ({checked}) c
WHERE CASE WHEN reason IS NOT NULL THEN error('{malformed}') ELSE true END{stored}
"""
CLEAN_STORED_SQL = """
  AND CASE WHEN EXISTS (SELECT 1 FROM usage_events u WHERE u.event_id = c.event_id)
           THEN error('{stored}') ELSE true END"""
# Ids stored before this load are unique and none is in the file (checked above), so the file
# repeats an id exactly when its source's ids are not all distinct.
CLEAN_REPEATS_SQL = "SELECT count(*) - count(DISTINCT event_id) FROM usage_events WHERE source = $source"
_MALFORMED = "unifiedmcp usage: malformed row"
_STORED = "unifiedmcp usage: id already stored"
# Whether to make the attempt: a file that fails it late pays for it on top of the checked path
# (up to about 1.6x at 10 M rows), and files from one pipeline tend to be alike, so after a file
# with a malformed row or a duplicate the next one goes straight to the checked path; a file that
# loads clean there turns the attempt back on.
PREVIOUS_FILE_CLEAN_SQL = """
SELECT rejected = 0 AND CAST(detail ->> 'duplicates' AS BIGINT) = 0
FROM load_log WHERE kind = 'usage' ORDER BY loaded_at DESC, rowid DESC LIMIT 1
"""

COUNT_SQL = """
SELECT count(*), count(*) FILTER (WHERE reason IS NULL),
       count(DISTINCT event_id) FILTER (WHERE reason IS NULL)
FROM _usage_checked
"""

# First copy of each id in the file, minus ids the warehouse already has.
INSERT_DEDUP_SQL = _INSERT_EVENTS + """FROM (
    SELECT * FROM _usage_checked WHERE reason IS NULL
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY rowid) = 1
) c
WHERE NOT EXISTS (SELECT 1 FROM usage_events u WHERE u.event_id = c.event_id)
"""
INSERT_UNIQUE_SQL = _INSERT_EVENTS + """FROM _usage_checked c
WHERE reason IS NULL
  AND NOT EXISTS (SELECT 1 FROM usage_events u WHERE u.event_id = c.event_id)
"""
INSERT_FRESH_SQL = _INSERT_EVENTS + "FROM _usage_checked WHERE reason IS NULL"

# CSV record r (0-based, as the reader returns them) -> physical line: the (r+1)-th non-blank line
# after the header that the reader did not refuse. (After a quoted field spanning lines the numbers
# are off by the extra lines.)
CSV_BAD_SQL = """
SELECT rowid - (SELECT min(rowid) FROM _usage_checked) AS r, reason FROM _usage_checked WHERE reason IS NOT NULL
"""
CSV_LINE_MAP_SQL = """
CREATE OR REPLACE TEMP TABLE _usage_line_map AS
SELECT row_number() OVER (ORDER BY line_no) - 1 AS r, line_no
FROM _usage_lines
WHERE line_no > 1 AND line IS NOT NULL AND line <> ''
  AND line_no NOT IN (SELECT line FROM _usage_refused)
"""


@dataclass(frozen=True)
class UsageLoad:
    """What loading one usage file did."""

    path: Path
    format: str
    rows: int  # data rows read (blank lines not counted)
    loaded: int  # new events stored
    duplicates: int  # rows whose event_id was already seen (in this file or the warehouse)
    malformed: int
    malformed_rows: tuple[tuple[int, str], ...]  # (line or row number, reason), the first 100
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "format": self.format,
            "rows": self.rows,
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "malformed": self.malformed,
            "malformed_rows": [list(x) for x in self.malformed_rows],
            "seconds": round(self.seconds, 3),
        }


def _format_of(path: Path, fmt: str | None) -> UsageFormat:
    if fmt is not None:
        if fmt not in ("csv", "jsonl", "parquet"):
            raise WarehouseError(f"unknown usage format {fmt!r}: expected csv, jsonl or parquet", path=path)
        return fmt  # type: ignore[return-value]
    suffixes = [s.lower() for s in path.suffixes]
    for s in reversed(suffixes):
        if s in _SUFFIXES:
            return _SUFFIXES[s]
    raise WarehouseError(
        f"cannot tell the format of {path.name}: use .csv, .jsonl or .parquet (or --format)", path=path
    )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _csv_relations(path: Path) -> tuple[str, str]:
    """The file's relation as first read, and as read again recording the lines the reader refuses."""
    with open_input(path, "rt", newline="", encoding="utf-8-sig", errors="replace") as fh:
        header = next(csv.reader(fh), None)
    if not header:
        raise WarehouseError(f"{path}: empty file, expected a header line", path=path)
    names = [h.strip() for h in header]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise WarehouseError(f"{path}: missing column(s) {', '.join(missing)}", path=path)
    columns = "{" + ", ".join(f"{_sql_str(n or f'column{i}')}: 'VARCHAR'" for i, n in enumerate(names)) + "}"
    cols = {c: (_quote(c) if c in names else "NULL::VARCHAR") for c in USAGE_COLUMNS}
    recording = CSV_RECORD_REFUSED_OPTIONS.format(max_line=MAX_LINE_BYTES)
    return (CSV_RELATION_SQL.format(columns=columns, reader_options="", **cols),
            CSV_RELATION_SQL.format(columns=columns, reader_options=recording, **cols))


def _check_csv(
    con: duckdb.DuckDBPyConnection, relations: tuple[str, str], params: dict[str, Any], *, strict_first: bool
) -> list[tuple[int, str]]:
    """Validate a CSV file into _usage_checked (``relations`` from _csv_relations); return the
    lines the reader refused. ``strict_first=False`` skips the first read, known to fail.

    The load must not have written anything before: a failed first read restarts the transaction.
    """
    strict, recording = relations
    if strict_first:
        try:
            _check(con, strict, params)
        except duckdb.InterruptException:
            raise
        except duckdb.Error:
            # Normally a line the reader refuses. The failed statement aborted the transaction, which
            # had done nothing else: start it again and read the file keeping what the reader
            # refuses (an error of another kind, such as an unreadable file, comes back from this read).
            con.execute("ROLLBACK")
            con.execute("BEGIN")
        else:
            con.execute(NO_REFUSED_SQL)
            return []
    _check(con, recording, params)
    return _csv_refused(con)


def _csv_refused(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str]]:
    refused = con.execute(
        "SELECT line, any_value(error_type) FROM _usage_rej GROUP BY line ORDER BY line"
    ).fetchall()
    con.execute("CREATE OR REPLACE TEMP TABLE _usage_refused AS SELECT DISTINCT line FROM _usage_rej")
    con.execute("DROP TABLE _usage_rej; DROP TABLE _usage_rej_scan")
    return [(int(line), str(kind).lower().replace("_", " ")) for line, kind in refused]


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _parquet_relation(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    try:
        schema = dict(
            con.execute("SELECT name, type FROM parquet_schema($path)", {"path": str(path)}).fetchall()
        )
        types = {str(n): str(t) for n, t in con.execute(
            "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet($path))", {"path": str(path)}
        ).fetchall()}
        ts_type = types.get("timestamp", "")
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot read Parquet file {path}: {exc}", path=path) from None
    missing = [c for c in REQUIRED if c not in schema]
    if missing:
        raise WarehouseError(f"{path}: missing column(s) {', '.join(missing)}", path=path)
    # Typed columns pass through; only text needs parsing (and then its text is kept for the checks).
    ts_text, ts_value = "CAST(timestamp AS VARCHAR)", "NULL::TIMESTAMP"
    if ts_type.startswith("TIMESTAMP WITH TIME ZONE"):
        ts_text, ts_value = "NULL::VARCHAR", "make_timestamp(epoch_us(timestamp))"
    elif ts_type.startswith("TIMESTAMP"):
        ts_text, ts_value = "NULL::VARCHAR", "CAST(timestamp AS TIMESTAMP)"
    lat_type = types.get("latency_ms", "")
    latency_text, latency_value = "NULL::VARCHAR", "NULL::DOUBLE"
    if lat_type in _NUMERIC:
        latency_value = "CAST(latency_ms AS DOUBLE)"
    elif "latency_ms" in schema:
        latency_text = "CAST(latency_ms AS VARCHAR)"
    opt = {c: (f"CAST({_quote(c)} AS VARCHAR)" if c in schema else "NULL::VARCHAR") for c in ("status", "user_id", "tier")}
    return PARQUET_RELATION_SQL.format(ts_text=ts_text, ts_value=ts_value, latency_text=latency_text,
                                       latency_value=latency_value, **opt)


_NUMERIC = {"DOUBLE", "FLOAT", "REAL", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT",
            "UINTEGER", "USMALLINT", "UTINYINT"}


def _check(con: duckdb.DuckDBPyConnection, relation: str, params: dict[str, Any] | None = None) -> None:
    """Validate ``relation`` (see CHECK_SQL) into the temp table _usage_checked."""
    con.execute(CHECK_SQL.format(relation=relation), params or {})


def _store(con: duckdb.DuckDBPyConnection, *, source: str) -> tuple[int, int, int]:
    """Insert the good rows of _usage_checked; return (rows, loaded, duplicates)."""
    rows, valid, distinct = (int(x) for x in con.execute(COUNT_SQL).fetchall()[0])
    before = _stored_count(con)
    if before == 0 and distinct == valid:
        sql = INSERT_FRESH_SQL
    elif distinct == valid:
        sql = INSERT_UNIQUE_SQL
    else:
        sql = INSERT_DEDUP_SQL
    loaded = _insert_unordered(con, sql, {"source": source})
    return rows, loaded, valid - loaded


def _stored_count(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT count(*) FROM usage_events").fetchall()[0][0])


def rollback_load(con: duckdb.DuckDBPyConnection) -> None:
    """Roll a load's transaction back and keep rows in file order again for the connection (a
    failed INSERT left that off; the setting outlives the transaction and the load)."""
    con.execute("ROLLBACK")
    con.execute("RESET preserve_insertion_order")


def _insert_unordered(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> int:
    """Run an INSERT, letting DuckDB write rows in any order (in parallel); return the rows inserted.

    If the INSERT fails, the setting stays off (an aborted transaction refuses even RESET) until
    rollback_load.
    """
    con.execute("SET preserve_insertion_order = false")
    inserted = int(con.execute(sql, params).fetchall()[0][0])
    con.execute("RESET preserve_insertion_order")
    return inserted


_Fallback = Literal["malformed", "stored", "repeated", "refused", "previous file"]


def _previous_file_clean(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse's last usage file (if any) loaded without a malformed row or duplicate."""
    last = con.execute(PREVIOUS_FILE_CLEAN_SQL).fetchall()
    return not last or bool(last[0][0])


def _insert_clean(
    con: duckdb.DuckDBPyConnection, relation: str, params: dict[str, Any], *, source: str
) -> int | _Fallback:
    """The one-pass load (CLEAN_INSERT_SQL): return the rows stored, or why the file needs the
    checked path, in which case the attempt is rolled back and a new transaction begun.

    The load must not have written anything before: the rollback would undo it.
    """
    stored = "" if _stored_count(con) == 0 else CLEAN_STORED_SQL.format(stored=_STORED)
    sql = CLEAN_INSERT_SQL.format(checked=CHECKED_SQL.format(relation=relation), malformed=_MALFORMED, stored=stored)
    why: _Fallback
    try:
        rows = _insert_unordered(con, sql, {**params, "source": source})
        if con.execute(CLEAN_REPEATS_SQL, {"source": source}).fetchall()[0][0] == 0:
            return rows
        why = "repeated"
    except duckdb.InterruptException:
        raise
    except duckdb.Error as exc:
        # Our own stops, or an error of DuckDB's reader (normally a line it refuses; the checked
        # path reports it, or raises it again if it is of another kind).
        why = "malformed" if _MALFORMED in str(exc) else "stored" if _STORED in str(exc) else "refused"
    rollback_load(con)
    con.execute("BEGIN")
    return why


def _load(
    con: duckdb.DuckDBPyConnection, fmt: UsageFormat, path: Path, *, source: str
) -> tuple[int, int, int, list[tuple[int, str]]]:
    """Put the file's new, good rows into usage_events; return (rows, loaded, duplicates, malformed
    rows as (line or row number, reason))."""
    params = {"path": str(path)}
    refused: list[tuple[int, str]] = []
    if fmt == "jsonl":
        refused = read_lines(con, path, target="_usage_lines")
        _check(con, JSONL_RELATION_SQL)
    else:
        csv_reads = _csv_relations(path) if fmt == "csv" else None
        relation = csv_reads[0] if csv_reads else _parquet_relation(con, path)
        attempt: int | _Fallback = "previous file"
        if csv_reads and last_line_longer_than(path, FIRST_READ_LINE_BYTES):
            attempt = "refused"
        elif _previous_file_clean(con):
            attempt = _insert_clean(con, relation, params, source=source)
        if not isinstance(attempt, str):
            return attempt, attempt, 0, []
        if csv_reads:
            with split_into_lines(path):
                refused = _check_csv(con, csv_reads, params, strict_first=attempt != "refused")
        else:
            _check(con, relation, params)
    rows, loaded, duplicates = _store(con, source=source)
    if rows == loaded + duplicates:  # every row checked out
        bad = []
    elif fmt == "csv":
        bad = _csv_lines(con, path)
    else:
        bad = con.execute(
            "SELECT _row, reason FROM _usage_checked WHERE reason IS NOT NULL ORDER BY _row"
        ).fetchall()
    malformed = sorted([(int(r), str(reason)) for r, reason in bad] + refused)
    return rows + len(refused), loaded, duplicates, malformed


def load_usage(
    warehouse: Warehouse, path: str | Path, *, format: str | None = None
) -> UsageLoad:
    """Load one usage file into ``usage_events``; malformed rows are counted, not loaded."""
    path = input_file(Path(path))
    fmt = _format_of(path, format)
    source = str(path.resolve())
    started = time.perf_counter()
    with open_warehouse(warehouse) as con:
        con.execute("BEGIN")
        try:
            rows, loaded, duplicates, malformed = _load(con, fmt, path, source=source)
            con.execute("DELETE FROM usage_rejects WHERE source = ?", [source])
            if malformed:
                con.execute("CREATE OR REPLACE TEMP TABLE _usage_bad (line BIGINT, reason VARCHAR)")
                con.executemany("INSERT INTO _usage_bad VALUES (?, ?)", malformed)
                con.execute(
                    "INSERT INTO usage_rejects SELECT ?, line, reason, now()::TIMESTAMP FROM _usage_bad",
                    [source],
                )
                con.execute("DROP TABLE _usage_bad")
            result = UsageLoad(
                path=path,
                format=fmt,
                rows=rows,
                loaded=loaded,
                duplicates=duplicates,
                malformed=len(malformed),
                malformed_rows=tuple(malformed[:_MAX_LISTED]),
                seconds=time.perf_counter() - started,
            )
            con.execute(
                "INSERT INTO load_log VALUES (now()::TIMESTAMP, 'usage', ?, ?, 0, ?, ?)",
                [source, loaded, len(malformed), json.dumps(result.as_dict())],
            )
            for t in ("_usage_checked", "_usage_refused", "_usage_line_map", "_usage_lines"):
                con.execute(f"DROP TABLE IF EXISTS {t}")
            con.execute("COMMIT")
        except BaseException:
            rollback_load(con)
            raise
    return result


def _csv_lines(con: duckdb.DuckDBPyConnection, path: Path) -> list[tuple[Any, ...]]:
    """Malformed CSV records with their physical line numbers (read only when there are some)."""
    read_lines(con, path, target="_usage_lines")
    con.execute(CSV_LINE_MAP_SQL)
    return con.execute(
        f"""SELECT coalesce(m.line_no, c.r + 2), c.reason
            FROM ({CSV_BAD_SQL}) c LEFT JOIN _usage_line_map m ON m.r = c.r ORDER BY 1"""
    ).fetchall()


def insert_usage_rows(
    con: duckdb.DuckDBPyConnection, relation_sql: str, *, source: str, params: dict[str, Any] | None = None
) -> tuple[int, int, int]:
    """Validate and insert rows from ``relation_sql`` (a SELECT with the text columns _row,
    event_id, customer_id, tool_name, ts_text, ts_value, status_text, user_id, latency_text,
    tier_text, _bad); used by the ledger pull. Returns (rows, loaded, duplicates)."""
    _check(con, relation_sql, params)
    result = _store(con, source=source)
    con.execute("DROP TABLE IF EXISTS _usage_checked")
    return result
