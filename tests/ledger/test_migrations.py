"""One list of migrations for both backends: shared scripts, dialect scripts, and the same
schema at the end on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import psycopg
import pytest

from unifiedmcp.ledger import Ledger, latest_version
from unifiedmcp.ledger._migrations import DIALECTS, layout, scripts
from unifiedmcp.ledger._postgres import PostgresMigrator
from unifiedmcp.ledger._sqlite import SqliteMigrator


def _schema_sqlite(path: Path) -> dict[str, set[tuple[str, bool]]]:
    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    # (column, NOT NULL): a primary key column counts as NOT NULL, as PostgreSQL makes it.
    return {t: {(r[1], bool(r[3] or r[5])) for r in conn.execute(f"PRAGMA table_info({t})")} for t in tables}


def _schema_postgres(url: str) -> dict[str, set[tuple[str, bool]]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name, is_nullable = 'NO' FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name != 'ledger_schema'"
        ).fetchall()
    schema: dict[str, set[tuple[str, bool]]] = {}
    for table, column, not_null in rows:
        schema.setdefault(table, set()).add((column, not_null))
    return schema


def test_every_dialect_has_every_version() -> None:
    versions = {d: [v for v, _ in scripts(d)] for d in DIALECTS}
    assert versions["sqlite"] == versions["postgres"] == list(range(1, latest_version() + 1))


def test_both_dialects_build_the_same_tables_and_columns(tmp_path: Path, postgres_url: str) -> None:
    """Same tables, same columns, same NOT NULL rules: code written against one runs on the other."""
    Ledger(tmp_path / "l.sqlite3").close()
    assert _schema_sqlite(tmp_path / "l.sqlite3") == _schema_postgres(postgres_url)


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_a_shared_script_serves_both_dialects_next_to_dialect_scripts(tmp_path: Path) -> None:
    """How a new portable migration lands: sql/NNN_x.sql, after versions kept per dialect."""
    found = layout(_write(tmp_path, {
        "sqlite/001_init.sql": "CREATE TABLE t (b BLOB)",
        "postgres/001_init.sql": "CREATE TABLE t (b BYTEA)",
        "002_tier.sql": "ALTER TABLE t ADD COLUMN tier TEXT",
    }))
    assert found["sqlite"] == [(1, "CREATE TABLE t (b BLOB)"), (2, "ALTER TABLE t ADD COLUMN tier TEXT")]
    assert found["postgres"] == [(1, "CREATE TABLE t (b BYTEA)"), (2, "ALTER TABLE t ADD COLUMN tier TEXT")]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"001_a.sql": "x", "sqlite/002_b.sql": "y"}, "002 has a dialect script but none in sql/postgres/"),
        ({"001_a.sql": "x", "003_c.sql": "z"}, "without gaps"),
        ({"sqlite/001_a.sql": "x", "postgres/001_b.sql": "y"}, "named differently"),
    ],
)
def test_a_broken_layout_is_refused(tmp_path: Path, files: dict[str, str], message: str) -> None:
    with pytest.raises(RuntimeError, match=message):
        layout(_write(tmp_path, files))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_servers_opening_a_new_ledger_together_migrate_it_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Three replicas starting at once on an empty database: all open it, each migration runs once."""
    if backend == "sqlite":
        target: Path | str = tmp_path / "new.sqlite3"
    else:
        target = request.getfixturevalue("postgres_cluster").create_database()  # empty
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def open_it() -> None:
        start.wait()
        try:
            Ledger(target).close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    if backend == "sqlite":
        assert SqliteMigrator(sqlite3.connect(target)).schema_version() == latest_version()
    else:
        with psycopg.connect(target, autocommit=True) as conn:
            assert PostgresMigrator(conn).schema_version() == latest_version()
    with Ledger(target) as ledger:
        ledger.upsert_customer("cus_1", tier="free")  # a usable schema, not a half-migrated one


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migration_7_keeps_every_usage_row_and_admits_the_interrupted_status(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A ledger of version 6 with usage rows: after migrating, the rows are as they were, new rows
    may say `interrupted`, and any other status is still refused by the CHECK constraint."""
    from unifiedmcp.ledger._migrations import migrate

    row = ("e1", "cus_a", "t", "2026-10-01T00:00:00.000000Z", "2026-10", "error", 12.5, "u1")
    insert = (
        "INSERT INTO usage_events (event_id, customer_id, tool_name, ts, month, status, latency_ms, user_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )
    if backend == "sqlite":
        target: Path | str = tmp_path / "old.sqlite3"
        conn = sqlite3.connect(target, isolation_level=None)
        assert migrate(SqliteMigrator(conn), until=6) == 6
        conn.execute(insert, row)
        conn.close()
    else:
        target = request.getfixturevalue("postgres_cluster").create_database()
        with psycopg.connect(target, autocommit=True) as conn:
            assert migrate(PostgresMigrator(conn), until=6) == 6
            conn.execute(insert.replace("?", "%s"), row)
    with Ledger(target) as ledger:
        assert [r[1:] for r in ledger.usage_events()] == [("e1", "cus_a", "t", row[3], "error", "u1", 12.5, None)]  # tier: not recorded by this insert
        with ledger.transaction() as tx:
            tx.execute(insert, ("e2", *row[1:5], "interrupted", None, None))
        with pytest.raises(Exception, match="(?i)check"), ledger.transaction() as tx:
            tx.execute(insert, ("e3", *row[1:5], "lost", None, None))
        with ledger.transaction() as tx:
            assert tx.execute("SELECT seq, status FROM usage_events ORDER BY seq").fetchall() == [
                (1, "error"), (2, "interrupted"),
            ]
