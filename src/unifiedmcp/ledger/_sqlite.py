"""The SQLite backend: one file in WAL mode, shared by any number of processes on one machine.

Every write is a ``BEGIN IMMEDIATE`` transaction: SQLite's single write lock serialises all
writers, so the admission rules of ``_metering`` see every earlier call, and a process killed
mid-transaction leaves nothing behind (the WAL discards the uncommitted frames).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from .._files import private_file
from ..errors import LedgerError
from ._metering import Completion, EventRow, Key, Prior, State
from ._migrations import migrate

__all__ = ["SqliteDatabase", "SqliteMigrator"]

T = TypeVar("T")

_STATE = """
SELECT c.tier, c.status, coalesce(u.calls, 0)
FROM customers c LEFT JOIN usage_counters u ON u.customer_id = c.customer_id AND u.month = ?
WHERE c.customer_id = ?
"""
_PRIORS = "SELECT event_id, status, customer_id, month FROM usage_events WHERE event_id IN ({})"
_INSERT_EVENT = """
INSERT INTO usage_events (event_id, customer_id, tool_name, ts, month, status, user_id, tier)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING
"""
_COUNT = """
INSERT INTO usage_counters (customer_id, month, calls, rejected) VALUES (?, ?, ?, ?)
ON CONFLICT (customer_id, month) DO UPDATE
SET calls = usage_counters.calls + excluded.calls, rejected = usage_counters.rejected + excluded.rejected
"""
_COMPLETE = "UPDATE usage_events SET status = ?, latency_ms = ? WHERE event_id = ? AND status != 'rejected'"


def _greatest(*values: object) -> object:
    return max((v for v in values if v is not None), default=None)  # type: ignore[type-var]


class _Store:
    """The metering statements on the open ``BEGIN IMMEDIATE`` transaction (which is the lock)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def prepare(self, keys: Sequence[Key], event_ids: Sequence[str]) -> tuple[dict[Key, State], dict[str, Prior]]:
        rows = self._conn.execute(_PRIORS.format(",".join("?" * len(event_ids))), event_ids).fetchall()
        return self.states(keys), {r[0]: Prior(r[1], r[2], r[3]) for r in rows}

    def states(self, keys: Sequence[Key]) -> dict[Key, State]:
        found = {}
        for customer_id, month in keys:
            row = self._conn.execute(_STATE, (month, customer_id)).fetchone()
            if row is not None:
                found[(customer_id, month)] = State(row[0], row[1] == "active", row[2])
        return found

    def write(self, events: Sequence[EventRow], counts: dict[Key, list[int]], completions: Sequence[Completion]) -> int:
        inserted = self._conn.executemany(_INSERT_EVENT, events).rowcount if events else 0
        if counts:
            self._conn.executemany(_COUNT, [(c, m, a, r) for (c, m), (a, r) in counts.items()])
        if completions:
            self._conn.executemany(_COMPLETE, [(c.status, c.latency_ms, c.event_id) for c in completions])
        return inserted


class SqliteDatabase:
    """A ledger file: one connection guarded by a lock (the ``Ledger`` is thread-safe)."""

    dialect = "sqlite"
    integrity_errors: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)

    def __init__(self, path: Path, *, timeout: float) -> None:
        self.path = path
        self.location = str(path)
        self._lock = threading.RLock()  # guards the connection
        self._busy_timeout_ms = int(timeout * 1000)
        try:
            if str(path) != ":memory:":
                # SQLite gives the -wal and -shm files the mode of the database file.
                private_file(path)
            conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; WAL keeps it consistent
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")  # see _begin_immediate
            conn.execute("PRAGMA cache_size = -65536")  # 64 MiB: keeps the event-id index hot
            # PostgreSQL's greatest() (NULLs ignored), so shared SQL can take the larger of two
            # values: SQLite's two-argument max() does not exist in PostgreSQL.
            conn.create_function("greatest", -1, _greatest, deterministic=True)
            self._conn = conn
            migrate(SqliteMigrator(conn))
        except (sqlite3.Error, OSError) as exc:
            raise LedgerError(f"cannot open ledger {path}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        def rollback(first: BaseException) -> None:
            # After some errors (a full disk, an I/O error) SQLite has already rolled back: a second
            # ROLLBACK would fail ("no transaction is active") and hide ``first``, the real error.
            if self._conn.in_transaction:
                try:
                    self._conn.execute("ROLLBACK")
                except sqlite3.Error as exc:
                    first.add_note(f"the rollback failed too: {exc}")

        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self.error(exc) from None
            try:
                yield self._conn
            except BaseException as exc:
                rollback(exc)
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                error = self.error(exc)
                rollback(error)
                raise error from None

    def read(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def meter(self, work: Callable[[_Store], T], *, wait: bool) -> T | None:
        """``work`` in one metering transaction, committed. With ``wait=False``, None (having done
        nothing) rather than wait for another thread's use of the connection or another
        process's write lock (the event loop's way)."""
        if not self._lock.acquire(blocking=wait):
            return None
        try:
            conn = self._conn
            try:
                if not self._begin_immediate(conn, wait=wait):
                    return None
                try:
                    result = work(_Store(conn))
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise self.error(exc) from None
        finally:
            self._lock.release()
        return result

    def _begin_immediate(self, conn: sqlite3.Connection, *, wait: bool) -> bool:
        """Take the write lock; without ``wait``, False if another process holds it."""
        if wait:
            conn.execute("BEGIN IMMEDIATE")
            return True
        conn.execute("PRAGMA busy_timeout = 0")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode == sqlite3.SQLITE_BUSY:
                return False
            raise
        finally:
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        return True

    def settled_seq(self) -> int | None:
        """No bound needed: SQLite's writers are serialised, so ``seq`` grows in commit order."""
        return None

    def secure_delete(self) -> None:
        """From now on SQLite overwrites deleted and replaced content with zeros (this connection)."""
        with self._lock:
            self._conn.execute("PRAGMA secure_delete = ON")

    def reclaim(self, tables: Sequence[str]) -> None:
        """Rewrite the file from its live rows only (VACUUM), then empty the WAL into it: no page
        of a deleted or replaced row survives in either. ``tables`` do not matter here."""
        with self._lock:
            try:
                self._conn.execute("VACUUM")
                busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.Error as exc:
                raise self.error(exc) from None
        if busy:
            raise LedgerError(f"cannot empty the WAL of {self.path}: another process keeps reading it; run again")

    def error(self, exc: BaseException) -> LedgerError:
        return LedgerError(f"cannot write ledger {self.path}: {exc}")


class SqliteMigrator:
    """Migrations on the ledger's connection (see ``_migrations.migrate``): the version is
    ``user_version``; ``BEGIN IMMEDIATE`` makes a concurrent opener wait, then re-check it."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def schema_version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    @contextmanager
    def migration(self) -> Iterator[tuple[sqlite3.Connection, int]]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn, self.schema_version()
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def set_schema_version(self, conn: sqlite3.Connection, version: int) -> None:
        conn.execute(f"PRAGMA user_version = {int(version)}")
