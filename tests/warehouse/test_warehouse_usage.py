"""Loading usage logs (metrics.md §1.2): three formats, validation with line numbers, de-duplication."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from unifiedmcp import warehouse
from unifiedmcp.errors import WarehouseError

ROWS = [
    {"event_id": "e1", "customer_id": "cus_a", "tool_name": "search", "timestamp": "2026-10-01T00:00:00Z",
     "status": "ok", "user_id": "u1", "latency_ms": "12.5"},
    {"event_id": "e2", "customer_id": "cus_a", "tool_name": "search", "timestamp": "2026-10-01 08:00:00",
     "status": "error", "user_id": None, "latency_ms": None},
    {"event_id": "e3", "customer_id": "cus_b", "tool_name": "fetch", "timestamp": "2026-10-01T10:00:00+02:00",
     "status": None, "user_id": None, "latency_ms": "3"},
]


def _events(db: Path) -> list[tuple]:
    con = warehouse.connect(db, read_only=True)
    try:
        return con.execute(
            "SELECT event_id, customer_id, tool_name, ts, status, user_id, latency_ms FROM usage_events ORDER BY event_id"
        ).fetchall()
    finally:
        con.close()


EXPECTED = [
    ("e1", "cus_a", "search", datetime(2026, 10, 1, 0, 0), "ok", "u1", 12.5),
    ("e2", "cus_a", "search", datetime(2026, 10, 1, 8, 0), "error", None, None),
    ("e3", "cus_b", "fetch", datetime(2026, 10, 1, 8, 0), "ok", None, 3.0),
]


def _csv(path: Path, rows: list[dict]) -> Path:
    cols = list(rows[0])
    path.write_text(",".join(cols) + "\n" + "".join(",".join("" if r[c] is None else r[c] for c in cols) + "\n"
                                                     for r in rows))
    return path


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_three_formats_load_the_same_events(tmp_path: Path, fmt: str) -> None:
    """CSV, JSON Lines and Parquet give identical rows: UTC timestamps, missing status = ok."""
    path = tmp_path / f"usage.{fmt}"
    if fmt == "csv":
        _csv(path, ROWS)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps({k: v for k, v in r.items() if v is not None}) + "\n" for r in ROWS))
    else:
        pq.write_table(pa.Table.from_pylist(ROWS), path)
    db = tmp_path / "w.duckdb"
    r = warehouse.load_usage(db, path)
    assert (r.rows, r.loaded, r.duplicates, r.malformed) == (3, 3, 0, 0)
    assert _events(db) == EXPECTED


def test_event_ids_are_stored_with_zstd_and_read_back_intact(tmp_path: Path) -> None:
    """A new warehouse keeps usage event ids with zstd (the fast choice for unique strings, see
    schema.sql), and a reopened file reads them back and de-duplicates against them."""
    db = tmp_path / "w.duckdb"
    rows = [dict(ROWS[0], event_id=f"evt_{i:07d}") for i in range(5_000)]
    warehouse.load_usage(db, _csv(tmp_path / "a.csv", rows))
    again = warehouse.load_usage(db, _csv(tmp_path / "b.csv", rows[-10:] + [dict(ROWS[0], event_id="evt_new")]))
    assert (again.loaded, again.duplicates) == (1, 10)
    con = warehouse.connect(db)
    try:
        con.execute("CHECKPOINT")
        kinds = con.execute("SELECT DISTINCT compression FROM pragma_storage_info('usage_events') "
                            "WHERE column_name = 'event_id' AND segment_type = 'VARCHAR'").fetchall()
        ids = con.execute("SELECT event_id FROM usage_events ORDER BY event_id").fetchall()
    finally:
        con.close()
    assert kinds == [("ZSTD",)]
    assert [i for (i,) in ids] == [r["event_id"] for r in rows] + ["evt_new"]


def test_parquet_with_typed_timestamp_column(tmp_path: Path) -> None:
    """A Parquet TIMESTAMP column is used as is (UTC)."""
    path = tmp_path / "u.parquet"
    pq.write_table(pa.table({"event_id": ["p1"], "customer_id": ["cus_a"], "tool_name": ["t"],
                             "timestamp": pa.array([datetime(2026, 10, 5, 1, 2, 3)], pa.timestamp("us"))}), path)
    db = tmp_path / "w.duckdb"
    assert warehouse.load_usage(db, path).loaded == 1
    assert _events(db)[0][3] == datetime(2026, 10, 5, 1, 2, 3)


def test_malformed_csv_rows_are_counted_with_physical_line_numbers(tmp_path: Path) -> None:
    """Bad rows are reported by line (header = line 1, blank lines counted), the good ones load."""
    path = tmp_path / "u.csv"
    path.write_text(
        "event_id,customer_id,tool_name,timestamp,status\n"   # 1
        "a1,cus_a,t,2026-10-01T00:00:00Z,ok\n"                # 2
        "a2,cus_a,t,not-a-time,ok\n"                          # 3 invalid timestamp
        "a3,cus_a,t,2026-10-01T00:00:00Z,ok,extra\n"          # 4 too many columns
        "\n"                                                  # 5 blank
        "a4,,t,2026-10-01T00:00:00Z,ok\n"                     # 6 missing customer
        "a5,cus_a,t,2026-10-01T00:00:00Z,sometimes\n"         # 7 invalid status
        "a6,cus_a,t,2026-10-01T00:00:00Z\n"                   # 8 fine (status missing = ok)
        "a1,cus_a,t,2026-10-02T00:00:00Z,ok\n"                # 9 duplicate id
    )
    db = tmp_path / "w.duckdb"
    r = warehouse.load_usage(db, path)
    assert (r.loaded, r.duplicates, r.malformed) == (2, 1, 4)
    assert r.malformed_rows == ((3, "invalid timestamp"), (4, "too many columns"), (6, "missing customer_id"),
                                (7, "invalid status"))
    con = warehouse.connect(db, read_only=True)
    try:
        assert con.execute("SELECT line FROM usage_rejects ORDER BY line").fetchall() == [(3,), (4,), (6,), (7,)]
        # the first copy of a duplicated id is kept
        assert con.execute("SELECT ts FROM usage_events WHERE event_id = 'a1'").fetchall() == [(datetime(2026, 10, 1),)]
    finally:
        con.close()
    # loading the same file again replaces its reject rows instead of adding more
    warehouse.load_usage(db, path)
    con = warehouse.connect(db, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM usage_rejects").fetchall() == [(4,)]
    finally:
        con.close()


@pytest.mark.parametrize("refused", [False, True], ids=["reader-takes-all", "reader-refuses-a-line"])
def test_csv_read_whole_or_again_gives_the_same_result(tmp_path: Path, refused: bool) -> None:
    """A file the CSV reader takes whole (the fast, parallel read) and the same file with a line it
    refuses (read again, recording refused lines) give the same counts, line numbers and events."""
    path = tmp_path / "u.csv"
    path.write_text(
        "event_id,customer_id,tool_name,timestamp,status\n"  # 1
        "b1,cus_a,t,2026-10-01T00:00:00Z,ok\n"               # 2
        "\n"                                                 # 3 blank
        "b2,cus_a,t,yesterday,ok\n"                          # 4 invalid timestamp
        "b1,cus_a,t,2026-10-02T00:00:00Z,ok\n"               # 5 duplicate id
        "b3,cus_b,t,2026-10-01T02:00:00+02:00\n"             # 6 fine (status missing = ok)
        "b4,cus_a,t,2026-10-01T00:00:00Z,maybe\n"            # 7 invalid status
        + ("b5,cus_a,t,2026-10-01T00:00:00Z,ok,extra\n" if refused else "")  # 8 too many columns
    )
    db = tmp_path / "w.duckdb"
    r = warehouse.load_usage(db, path)
    expected = ((4, "invalid timestamp"), (7, "invalid status")) + (((8, "too many columns"),) if refused else ())
    assert (r.rows, r.loaded, r.duplicates, r.malformed) == (5 + refused, 2, 1, 2 + refused)
    assert r.malformed_rows == expected
    assert [e[:5] for e in _events(db)] == [("b1", "cus_a", "t", datetime(2026, 10, 1), "ok"),
                                            ("b3", "cus_b", "t", datetime(2026, 10, 1), "ok")]
    con = warehouse.connect(db, read_only=True)
    try:
        assert con.execute("SELECT line, reason FROM usage_rejects ORDER BY line").fetchall() == list(expected)
    finally:
        con.close()


def test_csv_quoted_field_spanning_lines_is_read(tmp_path: Path) -> None:
    """A quoted value containing a newline is one value (DuckDB's parallel reader refuses these)."""
    path = tmp_path / "u.csv"
    path.write_text('event_id,customer_id,tool_name,timestamp\n'
                    'q1,cus_a,"two\nlines",2026-10-01T00:00:00Z\n'
                    'q2,cus_a,t,2026-10-01T00:00:00Z\n')
    db = tmp_path / "w.duckdb"
    r = warehouse.load_usage(db, path)
    assert (r.rows, r.loaded, r.malformed) == (2, 2, 0)
    assert [e[2] for e in _events(db)] == ["two\nlines", "t"]


def test_csv_line_longer_than_duckdbs_default_limit_loads(tmp_path: Path) -> None:
    """A 3 MB line (over DuckDB's default 2 MB, which the first, parallel read uses) still loads."""
    path = tmp_path / "u.csv"
    path.write_text("event_id,customer_id,tool_name,timestamp,user_id\n"
                    f"l1,cus_a,t,2026-10-01T00:00:00Z,{'u' * 3_000_000}\nl2,cus_a,t,2026-10-01T00:00:00Z,\n")
    db = tmp_path / "w.duckdb"
    r = warehouse.load_usage(db, path)
    assert (r.rows, r.loaded, r.malformed) == (2, 2, 0)
    assert len(_events(db)[0][5]) == 3_000_000


# Past DuckDB's 32 MiB read buffer: its default (parallel) read drops such a line without an error
# when it is the last one of the file.
_LONG = 33 * 1024 * 1024


@pytest.mark.parametrize("case", ["valid", "after-blank-lines", "gzip", "malformed"])
def test_a_last_line_past_the_readers_buffer_is_loaded_or_malformed_never_dropped(tmp_path: Path, case: str) -> None:
    """A last line of 33 MiB (a 33 MB tool name) loads like any other line, also when blank lines
    follow it or the file is gzip-compressed; a malformed one is reported with its line number."""
    import gzip

    ts = "not-a-time" if case == "malformed" else "2026-10-01T00:00:00Z"
    text = ("event_id,customer_id,tool_name,timestamp\n"
            "s1,cus_a,t,2026-10-01T00:00:00Z\n"
            f"s2,cus_a,{'x' * _LONG},{ts}\n" + ("\n\n" if case == "after-blank-lines" else ""))
    path = tmp_path / ("u.csv.gz" if case == "gzip" else "u.csv")
    if case == "gzip":
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    db = tmp_path / "w.duckdb"
    r = warehouse.load_usage(db, path)
    if case == "malformed":
        assert (r.rows, r.loaded, r.malformed_rows) == (2, 1, ((3, "invalid timestamp"),))
        return
    assert (r.rows, r.loaded, r.malformed) == (2, 2, 0)
    assert [len(e[2]) for e in _events(db)] == [1, _LONG]


def test_a_failed_load_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error after the rows went in rolls the whole load back, also when the file had to be
    read a second time (a line the reader refuses)."""
    from unifiedmcp.warehouse import _usage

    db = tmp_path / "w.duckdb"
    warehouse.load_usage(db, _csv(tmp_path / "good.csv", ROWS))
    bad = tmp_path / "bad.csv"
    bad.write_text("event_id,customer_id,tool_name,timestamp\n"
                   "f1,cus_a,t,2026-10-01T00:00:00Z\n"
                   "f2,cus_a,t,2026-10-01T00:00:00Z,ok,extra\n"
                   "f3,cus_a,t,later\n")

    def fail(*args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(_usage, "_csv_lines", fail)  # runs after the insert, when rows are malformed
    with pytest.raises(RuntimeError, match="disk on fire"):
        warehouse.load_usage(db, bad)
    assert _events(db) == EXPECTED
    con = warehouse.connect(db, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM usage_rejects").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM load_log WHERE kind = 'usage'").fetchall() == [(1,)]
    finally:
        con.close()
    monkeypatch.undo()
    r = warehouse.load_usage(db, bad)
    assert (r.loaded, r.malformed_rows) == (1, ((3, "too many columns"), (4, "invalid timestamp")))


CLEAN_CASES = {
    # name: (rows after the header, why the one-pass attempt hands the file on, or the rows it stored)
    "clean": (["k1,cus_a,t,2026-10-01T00:00:00Z", "", "k2,cus_a,t,2026-10-01T01:00:00Z"], 2),  # blank line skipped
    "malformed": (["k1,cus_a,t,2026-10-01T00:00:00Z", "k2,cus_a,t,soon"], "malformed"),
    "repeated": (["k1,cus_a,t,2026-10-01T00:00:00Z", "k1,cus_a,t,2026-10-01T01:00:00Z"], "repeated"),
    "stored": (["k1,cus_a,t,2026-10-01T00:00:00Z", "e1,cus_a,t,2026-10-01T01:00:00Z"], "stored"),
    "refused": (["k1,cus_a,t,2026-10-01T00:00:00Z", "k2,cus_a,t,2026-10-01T01:00:00Z,extra"], "refused"),
}


@pytest.mark.parametrize("case", list(CLEAN_CASES))
def test_one_pass_attempt_keeps_only_a_clean_file(tmp_path: Path, case: str) -> None:
    """The one-pass insert keeps a clean file; any other file is handed to the checked path with
    the reason, and the attempt leaves nothing behind: no rows, an open transaction, and rows
    kept in file order again (the checked path's line numbers and first copies depend on it)."""
    from unifiedmcp.warehouse import _usage

    db = tmp_path / "w.duckdb"
    warehouse.load_usage(db, _csv(tmp_path / "stored.csv", ROWS))  # e1, e2, e3
    lines, expected = CLEAN_CASES[case]
    path = tmp_path / "u.csv"
    path.write_text("event_id,customer_id,tool_name,timestamp\n" + "".join(f"{x}\n" for x in lines))
    con = warehouse.connect(db)
    try:
        con.execute("BEGIN")
        relation = _usage._csv_relations(path)[0]
        assert _usage._insert_clean(con, relation, {"path": str(path)}, source=str(path)) == expected
        stored = con.execute("SELECT count(*) FROM usage_events").fetchall()[0][0]
        assert stored == 3 + (expected if isinstance(expected, int) else 0)
        assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchall() == [(True,)]
        con.execute("ROLLBACK")  # fails unless the attempt left a transaction open
    finally:
        con.close()


def test_after_a_file_with_faults_the_next_goes_straight_to_the_checked_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file with a repeated id or a malformed row turns the one-pass attempt off for the next
    file (files of one pipeline tend to be alike); a file that loads clean turns it back on."""
    from unifiedmcp.warehouse import _usage

    attempted: list[str] = []
    real = _usage._insert_clean

    def spy(*args: object, source: str, **kwargs: object) -> object:
        attempted.append(Path(source).stem)
        return real(*args, source=source, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_usage, "_insert_clean", spy)
    ts = "2026-10-01T00:00:00Z"
    files = {  # name: (rows after the header, expected (loaded, duplicates, malformed))
        "clean1": (["c1", "c2"], (2, 0, 0)),
        "repeats": (["d1", "d1"], (1, 1, 0)),
        "clean2": (["c3"], (1, 0, 0)),
        "malformed": (["m1", ""], (1, 0, 1)),
        "clean3": (["c4"], (1, 0, 0)),
        "clean4": (["c5"], (1, 0, 0)),
    }
    db = tmp_path / "w.duckdb"
    for name, (ids, expected) in files.items():
        path = tmp_path / f"{name}.csv"
        path.write_text("event_id,customer_id,tool_name,timestamp\n" + "".join(f"{i},cus_a,t,{ts}\n" for i in ids))
        r = warehouse.load_usage(db, path)
        assert (r.loaded, r.duplicates, r.malformed) == expected, name
    assert attempted == ["clean1", "repeats", "malformed", "clean4"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_file_whose_only_fault_is_a_repeated_id_keeps_the_first_copy(tmp_path: Path, fmt: str) -> None:
    """Repeated ids spread over a file big enough to be read in parallel: the one-pass attempt
    gives way, and the checked path keeps the first copy of each in file order."""
    n = 300_000
    rows = [dict(ROWS[0], event_id=f"r{i}", timestamp="2026-10-01T00:00:00Z") for i in range(n)]
    # 100 of them (r0, r10, ... r990) come again at the end, with a later timestamp
    rows += [dict(ROWS[0], event_id=f"r{i}", timestamp="2026-10-02T00:00:00Z") for i in range(0, 1_000, 10)]
    path = tmp_path / f"u.{fmt}"
    if fmt == "csv":
        _csv(path, rows)
    else:
        pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=30_000)  # read in parallel
    db = tmp_path / "w.duckdb"
    r = warehouse.load_usage(db, path)
    assert (r.rows, r.loaded, r.duplicates, r.malformed) == (n + 100, n, 100, 0)
    con = warehouse.connect(db, read_only=True)
    try:
        assert con.execute("SELECT DISTINCT ts FROM usage_events").fetchall() == [(datetime(2026, 10, 1),)]
    finally:
        con.close()


def test_a_load_failing_in_its_insert_leaves_a_reused_connection_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An INSERT runs with row order off; when it fails, the load rolls back, raises that error
    (not DuckDB's "transaction aborted"), and turns row order back on for a connection the caller
    goes on using: later loads' line numbers and first copies depend on it."""
    import duckdb

    from unifiedmcp.warehouse import _usage

    con = warehouse.connect(tmp_path / "w.duckdb")
    try:
        warehouse.load_usage(con, _csv(tmp_path / "good.csv", ROWS))
        # a repeated id takes the checked path, whose de-duplicating INSERT fails here
        monkeypatch.setattr(_usage, "INSERT_DEDUP_SQL", "SELECT error('disk on fire') WHERE $source IS NOT NULL")
        with pytest.raises(duckdb.Error, match="disk on fire"):
            warehouse.load_usage(con, _csv(tmp_path / "bad.csv", [dict(ROWS[0], event_id="x")] * 2))
        assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchall() == [(True,)]
        assert con.execute("SELECT count(*) FROM usage_events").fetchall() == [(3,)]
    finally:
        con.close()


def test_malformed_jsonl_lines(tmp_path: Path) -> None:
    """JSON Lines: invalid JSON and missing fields are reported by line."""
    path = tmp_path / "u.jsonl"
    path.write_text(
        json.dumps({"event_id": "j1", "customer_id": "c", "tool_name": "t", "timestamp": "2026-10-01"}) + "\n"
        "{oops\n"
        + json.dumps({"event_id": "j2", "customer_id": "c", "tool_name": "t"}) + "\n"
        + json.dumps({"event_id": "j3", "customer_id": "c", "tool_name": "t", "timestamp": "2026-10-01",
                      "latency_ms": "fast"}) + "\n"
    )
    r = warehouse.load_usage(tmp_path / "w.duckdb", path)
    assert r.loaded == 1
    assert r.malformed_rows == ((2, "invalid JSON"), (3, "missing timestamp"), (4, "invalid latency_ms"))


def test_missing_required_column_or_unknown_format_is_an_error(tmp_path: Path) -> None:
    """A file without a required column, or of unknown format, is refused as a whole with one line."""
    bad = tmp_path / "u.csv"
    bad.write_text("event_id,customer_id,timestamp\ne,c,2026-10-01\n")
    with pytest.raises(WarehouseError, match="missing column"):
        warehouse.load_usage(tmp_path / "w.duckdb", bad)
    other = tmp_path / "u.xlsx"
    other.write_text("x")
    with pytest.raises(WarehouseError, match="cannot tell the format"):
        warehouse.load_usage(tmp_path / "w.duckdb", other)


def _ledger(path: Path, rows: list[tuple]) -> None:
    con = sqlite3.connect(path)
    con.execute("""CREATE TABLE IF NOT EXISTS usage_events (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE,
                   customer_id TEXT NOT NULL, tool_name TEXT NOT NULL, ts TEXT NOT NULL, month TEXT NOT NULL,
                   status TEXT NOT NULL, latency_ms REAL, user_id TEXT)""")
    con.executemany("INSERT INTO usage_events (event_id, customer_id, tool_name, ts, month, status, latency_ms, user_id)"
                    " VALUES (?, ?, ?, ?, substr(?, 1, 7), ?, ?, ?)", [(r[0], r[1], r[2], r[3], r[3], *r[4:]) for r in rows])
    con.commit()
    con.close()


def test_pull_usage_is_incremental_by_seq(tmp_path: Path) -> None:
    """pull-usage copies only rows above the watermark; re-running copies nothing; events carry over intact."""
    ledger, db = tmp_path / "ledger.sqlite3", tmp_path / "w.duckdb"
    _ledger(ledger, [(f"l{i}", "cus_a", "search", f"2026-10-01T00:00:{i:02d}.000000Z", "ok", 1.5, None) for i in range(5)])
    first = warehouse.pull_usage(db, ledger=ledger, batch_size=2)
    assert (first.rows, first.loaded, first.watermark) == (5, 5, 5)
    again = warehouse.pull_usage(db, ledger=ledger)
    assert (again.rows, again.loaded, again.watermark) == (0, 0, 5)
    _ledger(ledger, [("l9", "cus_b", "fetch", "2026-10-02T00:00:00.000000Z", "rejected", None, "u")])
    third = warehouse.pull_usage(db, ledger=ledger)
    assert (third.rows, third.loaded, third.watermark) == (1, 1, 6)
    assert _events(db)[-1] == ("l9", "cus_b", "fetch", datetime(2026, 10, 2), "rejected", "u", None)


@pytest.mark.parametrize("folder", ["a#b", "50% off?", "plain"])
def test_pull_usage_reads_a_ledger_whatever_its_folder_is_called(tmp_path: Path, folder: str) -> None:
    """The ledger is opened read-only by URI: a #, ? or % in its path is part of the name."""
    (tmp_path / folder).mkdir()
    ledger, db = tmp_path / folder / "ledger.sqlite3", tmp_path / "w.duckdb"
    _ledger(ledger, [("p1", "cus_a", "search", "2026-10-01T00:00:00.000000Z", "ok", 1.0, None)])
    assert warehouse.pull_usage(db, ledger=ledger).loaded == 1


def test_pull_usage_after_a_file_load_does_not_duplicate(tmp_path: Path) -> None:
    """An event already loaded from an export is not counted again when pulled from the ledger."""
    ledger, db = tmp_path / "ledger.sqlite3", tmp_path / "w.duckdb"
    _ledger(ledger, [("e1", "cus_a", "search", "2026-10-01T00:00:00Z", "ok", None, None)])
    _csv(tmp_path / "u.csv", ROWS)
    warehouse.load_usage(db, tmp_path / "u.csv")
    pulled = warehouse.pull_usage(db, ledger=ledger)
    assert (pulled.loaded, pulled.duplicates) == (0, 1)


def test_a_pull_failing_in_its_insert_leaves_a_reused_connection_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pull-usage rolls back like a file load: the error comes through, the watermark and events
    stay, and row order is back on for the caller's connection."""
    import duckdb

    from unifiedmcp.warehouse import _usage

    ledger = tmp_path / "ledger.sqlite3"
    _ledger(ledger, [("p1", "cus_a", "search", "2026-10-01T00:00:00Z", "ok", None, None)])
    monkeypatch.setattr(_usage, "INSERT_FRESH_SQL", "SELECT error('disk on fire') WHERE $source IS NOT NULL")
    con = warehouse.connect(tmp_path / "w.duckdb")
    try:
        with pytest.raises(duckdb.Error, match="disk on fire"):
            warehouse.pull_usage(con, ledger=ledger)
        assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchall() == [(True,)]
        assert con.execute("SELECT count(*) FROM usage_events").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM sync_state").fetchall() == [(0,)]
    finally:
        con.close()
