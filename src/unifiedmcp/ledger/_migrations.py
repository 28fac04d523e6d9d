"""Versioned schema migrations, one list for every backend.

Layout of ``sql/``::

    sql/NNN_name.sql             one script for both dialects (portable SQL)
    sql/sqlite/NNN_name.sql      the SQLite script of version NNN, where the dialects differ
    sql/postgres/NNN_name.sql    the PostgreSQL script of the same version

A version has either a shared script or both dialect scripts (a dialect script replaces the
shared one for its dialect; the two dialect files carry the same name). Versions run 001, 002, ...
without gaps. Each backend records the applied version its own way (SQLite: ``user_version``;
PostgreSQL: the ``ledger_schema`` table) and applies each migration in its own transaction,
serialised against other processes migrating the same ledger (see :func:`migrate`).

Adding a migration: the next number, and either one shared script in SQL that both accept
(``ALTER TABLE t ADD COLUMN c TEXT``; ``TEXT``, ``BIGINT`` and ``DOUBLE PRECISION`` columns; no
``WITHOUT ROWID``, ``BLOB``/``BYTEA`` or table rebuilds) or the two dialect scripts.
``tests/ledger/test_migrations.py`` checks that both dialects end with the same tables and columns.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Literal, Protocol

__all__ = ["DIALECTS", "Dialect", "Migratable", "latest_version", "layout", "migrate", "scripts"]

Dialect = Literal["sqlite", "postgres"]
DIALECTS: tuple[Dialect, ...] = ("sqlite", "postgres")

_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


class Migratable(Protocol):
    """What a backend offers :func:`migrate`."""

    dialect: Dialect

    def schema_version(self) -> int:
        """The applied version, read without a lock (a hint: :meth:`migration` re-reads it)."""

    def migration(self) -> AbstractContextManager[tuple[_Executes, int]]:
        """A transaction holding the backend's migration lock, and the version as it stands
        under that lock; it commits when the block ends without an error."""

    def set_schema_version(self, conn: _Executes, version: int) -> None: ...


class _Executes(Protocol):
    def execute(self, sql: str, /) -> object: ...


def _files(folder: Traversable) -> dict[int, tuple[str, str]]:
    """Version -> (file name, text) of the migrations in ``folder``."""
    found: dict[int, tuple[str, str]] = {}
    if not folder.is_dir():
        return found
    for entry in folder.iterdir():
        m = _NAME.match(entry.name)
        if m:
            found[int(m.group(1))] = (entry.name, entry.read_text(encoding="utf-8"))
    return found


def layout(root: Traversable) -> dict[Dialect, list[tuple[int, str]]]:
    """Each dialect's migrations in ``root`` (a ``sql/`` folder): [(version, script text)].
    Raises RuntimeError when the layout breaks the rules of the module docstring."""
    shared = _files(root)
    dialects = {d: _files(root.joinpath(d)) for d in DIALECTS}
    versions = sorted(set(shared).union(*dialects.values()))
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"ledger migrations must be numbered 001, 002, ... without gaps: {versions}")
    out: dict[Dialect, list[tuple[int, str]]] = {d: [] for d in DIALECTS}
    for v in versions:
        own = {d: dialects[d][v] for d in DIALECTS if v in dialects[d]}
        if own and v not in shared and len(own) != len(DIALECTS):
            lacking = [f"sql/{d}/" for d in DIALECTS if d not in own]
            raise RuntimeError(f"ledger migration {v:03d} has a dialect script but none in {', '.join(lacking)}")
        if len({name for name, _ in own.values()} | ({shared[v][0]} if v in shared else set())) > 1:
            raise RuntimeError(f"ledger migration {v:03d} is named differently in its dialect folders")
        for d in DIALECTS:
            out[d].append((v, (own.get(d) or shared[v])[1]))
    return out


@cache
def _layout() -> dict[Dialect, list[tuple[int, str]]]:
    return layout(resources.files(__package__).joinpath("sql"))


def scripts(dialect: Dialect) -> list[tuple[int, list[str]]]:
    """Every migration of ``dialect`` in order: (version, its statements)."""
    return [(v, _split(text)) for v, text in _layout()[dialect]]


def latest_version() -> int:
    return len(_layout()["sqlite"])


def migrate(db: Migratable, *, until: int | None = None) -> int:
    """Bring the schema up to date (or to version ``until``: tests build old ledgers so), one
    transaction per migration. Returns the version.

    Several processes may open a new ledger at once (replicas starting together): each
    migration re-checks the version under the backend's lock, so it runs exactly once.
    """
    current = db.schema_version()
    for version, statements in scripts(db.dialect):
        if version <= current or (until is not None and version > until):
            continue
        with db.migration() as (conn, current):
            if current >= version:
                continue
            for statement in statements:
                conn.execute(statement)
            db.set_schema_version(conn, version)
        current = version
    return db.schema_version()


def _split(script: str) -> list[str]:
    """Split a migration into statements (our .sql files use no triggers, function bodies or
    semicolons in strings)."""
    lines = [ln for ln in script.splitlines() if not ln.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
