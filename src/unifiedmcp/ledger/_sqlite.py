"""The SQLite backend: one file in WAL mode, shared by any number of processes on one machine.

Every write is a ``BEGIN IMMEDIATE`` transaction: SQLite's single write lock serialises all
writers, so the admission rules of ``_metering`` see every earlier call, and a process killed
mid-transaction leaves nothing behind (the WAL discards the uncommitted frames).

**Memory-mapped files and SIGBUS.** In WAL mode every connection maps the ``-shm`` file (the WAL
index, shared by all processes) and writes it in place, readers included (their read marks). If
that file can no longer be written (the immutable flag, a file system remounted read-only), the
kernel answers the next write to a mapped page with SIGBUS, which kills the process without a
word. ``PRAGMA mmap_size`` does not cover ``-shm`` (it maps the database file, which we keep
unmapped: ``mmap_size = 0``, so an I/O error there stays an error code). ``locking_mode =
EXCLUSIVE`` would keep the index in private memory, but then no other process could open the
ledger (the CLI next to ``serve``, several ``serve`` processes). So each use of the connection
first checks that ``-shm`` is still writable (one ``access()`` call: 1-4 µs, measured in
benchmarks/README.md) and fails with
:class:`LedgerError` otherwise: callers fail closed, as on any other ledger error. Closing would
checkpoint through the mapping too, so a ledger closed in that state is left open until the process
ends (the next opener recovers the WAL). Not covered: the file turning unwritable in the
microseconds between the check and the access, and faults of another kind on the mapping (an I/O
error paging it in); ``serve`` enables ``faulthandler`` so that such a death is at least logged.
"""

from __future__ import annotations

import logging
import os
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

log = logging.getLogger("unifiedmcp.ledger")

_STATE = """
SELECT c.tier, c.status, coalesce(u.calls, 0)
FROM customers c LEFT JOIN usage_counters u ON u.customer_id = c.customer_id AND u.month = ?
WHERE c.customer_id = ?
"""
_PRIORS = "SELECT event_id, status, customer_id, month FROM usage_events WHERE event_id IN ({})"
_INSERT_EVENT = """
INSERT INTO usage_events (event_id, customer_id, tool_name, ts, month, status, user_id, tier, latency_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING
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


def _unwritable(path: str) -> str | None:
    """Why this process cannot write ``path``, or None (also when it does not exist: nothing maps
    it). The file is never opened here: closing any descriptor of a file drops every POSIX lock
    the process holds on it, SQLite's locks on ``-shm`` included."""
    if os.access(path, os.W_OK):
        return None
    try:
        read_only = os.statvfs(path).f_flag & os.ST_RDONLY
    except FileNotFoundError:
        return None
    return "the file system is read-only" if read_only else "the file is immutable, or not writable by this user"


def _keep_open(conn: sqlite3.Connection) -> None:
    """Hold ``conn`` until the process ends without ever closing it: closing (here, or its
    finalizer at exit) checkpoints through an unwritable mapping. A daemon thread's frame is never
    torn down at exit, so neither is the connection; the OS releases the files with the process."""
    threading.Thread(target=_hold, args=(conn,), name="unifiedmcp-ledger-left-open", daemon=True).start()


def _hold(conn: sqlite3.Connection) -> None:
    threading.Event().wait()


class SqliteDatabase:
    """A ledger file: one connection guarded by a lock (the ``Ledger`` is thread-safe)."""

    dialect = "sqlite"
    integrity_errors: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)

    def __init__(self, path: Path, *, timeout: float) -> None:
        self.path = path
        self.location = str(path)
        self._lock = threading.RLock()  # guards the connection
        self._busy_timeout_ms = int(timeout * 1000)
        self._shm: str | None = None  # the mapped WAL index, checked before each use (module docstring)
        shm = None if str(path) == ":memory:" else f"{path}-shm"
        try:
            if shm is not None:
                # SQLite gives the -wal and -shm files the mode of the database file.
                private_file(path)
                if (reason := _unwritable(shm)) is not None:
                    raise LedgerError(f"cannot open ledger {path}: {shm} cannot be written ({reason})")
            conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
            if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal":
                self._shm = shm
            conn.execute("PRAGMA mmap_size = 0")  # the database file is read, never mapped (module docstring)
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
            try:
                self._check_shm()
            except LedgerError as exc:
                _keep_open(self._conn)
                log.error("ledger %s left open, not closed: %s", self.path, exc)
                return
            self._conn.close()

    def _check_shm(self) -> None:
        """LedgerError if the mapped ``-shm`` cannot be written: touching it would be SIGBUS."""
        if self._shm is not None and (reason := _unwritable(self._shm)) is not None:
            raise LedgerError(
                f"cannot use ledger {self.path}: {self._shm} cannot be written ({reason}); SQLite maps that file,"
                " and using the ledger now would crash the process (SIGBUS)"
            )

    def probe(self) -> None:
        """A read (after the ``-shm`` check), or LedgerError: can the ledger be used now?"""
        with self._lock:
            self._check_shm()
            try:
                self._conn.execute("PRAGMA user_version").fetchone()
            except sqlite3.Error as exc:
                raise LedgerError(f"cannot read ledger {self.path}: {exc}") from None

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
            self._check_shm()
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

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction (``BEGIN DEFERRED``: one consistent view, no write lock, so other
        processes keep metering while it lasts)."""
        with self._lock:
            self._check_shm()
            try:
                self._conn.execute("BEGIN DEFERRED")
            except sqlite3.Error as exc:
                raise self.error(exc) from None
            try:
                yield self._conn
            finally:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")  # it wrote nothing

    def read(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            self._check_shm()
            return self._conn.execute(sql, params).fetchall()

    def meter(self, work: Callable[[_Store], T], *, wait: bool) -> T | None:
        """``work`` in one metering transaction, committed. With ``wait=False``, None (having done
        nothing) rather than wait for another thread's use of the connection or another
        process's write lock (the event loop's way)."""
        if not self._lock.acquire(blocking=wait):
            return None
        try:
            self._check_shm()
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
            self._check_shm()
            self._conn.execute("PRAGMA secure_delete = ON")

    def reclaim(self, tables: Sequence[str]) -> None:
        """Rewrite the file from its live rows only (VACUUM), then empty the WAL into it: no page
        of a deleted or replaced row survives in either. ``tables`` do not matter here."""
        with self._lock:
            self._check_shm()
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
