"""The PostgreSQL backend: one database shared by every ``serve`` replica, on any host.

SQLite serialises all writers with one lock; here the same guarantees come from locks that
PostgreSQL holds until commit and drops when a session dies (so a killed replica leaves no
half-written call and holds nothing):

- **Metering** (``meter``) takes a transaction-level advisory lock per (customer, month) of the
  batch, in sorted order, then reads tier and counter in a later statement (READ COMMITTED gives
  each statement a fresh snapshot, so it sees every call committed before the lock was granted).
  Calls of one customer are thus decided one after another on every replica: the hard limit is
  exact. Different customers meter in parallel. The statements go out in two pipelines (one
  round trip to lock and read, one to write), then the commit.
- **Every other write** (``transaction``: keys, connections, OAuth states, webhook events) takes
  one advisory lock for the database, as ``BEGIN IMMEDIATE`` does in SQLite, so the code written
  against SQLite's serial writes (the webhook processor's check-then-apply, the connection cap)
  holds here unchanged: an event POSTed to three replicas at once is applied once.
- **Usage pulls** read ``seq`` only up to the highest value that no open transaction can still
  precede (:meth:`PostgresDatabase.settled_seq`): sequence values are taken at insert time but
  become visible at commit, in another order.

Shared SQL is written with SQLite's placeholders (``?`` and ``:name``); :class:`PgConnection`
rewrites them for psycopg. The metering statements below are PostgreSQL's own.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar

import psycopg
import psycopg_pool
from psycopg import errors as pg_errors

from ..errors import LedgerError
from .._dsn import mask_url, scrub
from ._metering import Completion, EventRow, Key, MeteringConflict, Prior, State
from ._migrations import migrate

__all__ = ["PgConnection", "PostgresDatabase", "PostgresMigrator"]

T = TypeVar("T")

# Advisory lock keys. The one-bigint and two-int forms are separate key spaces in PostgreSQL.
_LOCK_CLASS = 0x756D6370  # "umcp": (class, hashtext(customer/month)) for metering
_WRITE_LOCK = 0x756D6370_00000001  # every non-metering write
_MIGRATION_LOCK = 0x756D6370_00000002

_LOCK_KEYS = "SELECT pg_advisory_xact_lock(%s, hashtext(k)) FROM unnest(%b::text[]) AS k ORDER BY k"
_STATES = """
SELECT k.c, k.m, cu.tier, cu.status, coalesce(u.calls, 0)
FROM unnest(%b::text[], %b::text[]) AS k(c, m)
JOIN customers cu ON cu.customer_id = k.c
LEFT JOIN usage_counters u ON u.customer_id = k.c AND u.month = k.m
"""
_PRIORS = "SELECT event_id, status, customer_id, month FROM usage_events WHERE event_id = ANY(%b::text[])"
# Divides by zero, aborting the transaction, when fewer rows went in than were decided (another
# transaction recorded one of the ids meanwhile): plain SQL's one way to fail a statement, and it
# lets the commit travel in the same round trip as the writes.
_INSERT_EVENTS = """
WITH inserted AS (
    INSERT INTO usage_events (event_id, customer_id, tool_name, ts, month, status, user_id, tier, latency_ms)
    SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[],
                         %b::float8[])
    ON CONFLICT (event_id) DO NOTHING RETURNING 1
)
SELECT 1 / (count(*) = %s)::int FROM inserted
"""
_COUNT = """
INSERT INTO usage_counters (customer_id, month, calls, rejected)
SELECT * FROM unnest(%b::text[], %b::text[], %b::bigint[], %b::bigint[])
ON CONFLICT (customer_id, month) DO UPDATE
SET calls = usage_counters.calls + excluded.calls, rejected = usage_counters.rejected + excluded.rejected
"""
_COMPLETE = """
UPDATE usage_events AS e SET status = c.status, latency_ms = c.latency
FROM unnest(%b::text[], %b::text[], %b::float8[]) AS c(event_id, status, latency)
WHERE e.event_id = c.event_id AND e.status != 'rejected'
"""
_SCHEMA_TABLE = """
CREATE TABLE IF NOT EXISTS ledger_schema (
    one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one), version BIGINT NOT NULL
)
"""

# SQLite-style SQL -> psycopg's: strings, quoted names and comments are kept as they are.
_TOKEN = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|::|:[A-Za-z_]\w*|\?|%""")


@lru_cache(maxsize=512)
def to_pg(sql: str) -> str:
    """``sql`` with ``?`` -> ``%s``, ``:name`` -> ``%(name)s`` and a literal ``%`` doubled."""

    def swap(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        if token[0] == ":" and token != "::":
            return f"%({token[1:]})s"
        return token

    return _TOKEN.sub(swap, sql)


class PgConnection:
    """A psycopg connection that takes the ledger's shared SQL (SQLite's placeholder style), so
    callers of ``Ledger.transaction()`` write one statement for both backends."""

    __slots__ = ("raw",)

    def __init__(self, raw: psycopg.Connection) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> psycopg.Cursor:
        if not params:  # psycopg reads placeholders (and %) only when given parameters
            return self.raw.execute(sql)
        return self.raw.execute(to_pg(sql), params)

    def executemany(self, sql: str, params: Sequence[Sequence[Any] | Mapping[str, Any]]) -> psycopg.Cursor:
        cur = self.raw.cursor()
        cur.executemany(to_pg(sql), params)
        return cur


class _Store:
    """The metering statements on an open transaction (see the module docstring)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def prepare(self, keys: Sequence[Key], event_ids: Sequence[str]) -> tuple[dict[Key, State], dict[str, Prior]]:
        conn = self._conn
        conn.execute(_LOCK_KEYS, (_LOCK_CLASS, sorted(f"{c}/{m}" for c, m in keys)))
        states = self._send_states(keys)
        priors = conn.execute(_PRIORS, (list(event_ids),))
        return self._states(states), {r[0]: Prior(r[1], r[2], r[3]) for r in priors.fetchall()}

    def states(self, keys: Sequence[Key]) -> dict[Key, State]:
        return self._states(self._send_states(keys))

    def _send_states(self, keys: Sequence[Key]) -> psycopg.Cursor:
        return self._conn.execute(_STATES, ([c for c, _ in keys], [m for _, m in keys]))

    @staticmethod
    def _states(cur: psycopg.Cursor) -> dict[Key, State]:
        return {(c, m): State(tier, status == "active", used) for c, m, tier, status, used in cur.fetchall()}

    def write(self, events: Sequence[EventRow], counts: dict[Key, list[int]], completions: Sequence[Completion]) -> int:
        """Queued, not awaited: they go out with the commit. A conflict surfaces then, as the
        statement's division by zero (see ``_INSERT_EVENTS``)."""
        conn = self._conn
        if events:
            conn.execute(_INSERT_EVENTS, [*(list(col) for col in zip(*events)), len(events)])
        if counts:
            conn.execute(_COUNT, (
                [c for c, _ in counts], [m for _, m in counts],
                [a for a, _ in counts.values()], [r for _, r in counts.values()],
            ))
        if completions:
            conn.execute(_COMPLETE, (
                [c.event_id for c in completions], [c.status for c in completions],
                [c.latency_ms for c in completions],
            ))
        return len(events)


def _configure(conn: psycopg.Connection, *, lock_timeout: float) -> None:
    """Session settings of every pooled connection."""
    # Custom plans always: psycopg prepares a statement after 5 runs, and PostgreSQL then keeps the
    # generic plan of `event_id = ANY($1)` chosen while usage_events was small, a sequential scan
    # (metering batches of 64 slowed from 2.5 to 25 ms as the table grew to 20,000 rows).
    conn.execute("SET plan_cache_mode = force_custom_plan")
    # A writer stuck behind a lock fails (closed) instead of hanging; a session that a paused
    # replica left idle inside a transaction is ended, releasing its locks.
    conn.execute(f"SET lock_timeout = {int(lock_timeout * 1000)}")
    conn.execute(f"SET idle_in_transaction_session_timeout = {int(max(lock_timeout, 60) * 1000)}")


class PostgresDatabase:
    """A connection pool on one PostgreSQL database (``postgresql://…``). Thread-safe.

    ``lock_timeout``: how long a write waits for another transaction's lock before it fails.
    ``connect_timeout``: how long a call waits for a database connection before it fails (closed,
    with :class:`LedgerError`), and how long opening waits for the first one.
    """

    dialect = "postgres"
    integrity_errors: tuple[type[Exception], ...] = (psycopg.IntegrityError,)

    def __init__(self, url: str, *, lock_timeout: float, connect_timeout: float, pool_size: int) -> None:
        self._url = url  # may hold a password: only ever shown through self.location
        self.location = mask_url(url)
        kwargs = {"autocommit": True, "connect_timeout": max(1, round(connect_timeout))}
        try:
            # One direct connection first: an unreachable database fails here at once, with the
            # driver's reason, instead of after the pool's reconnection attempts.
            with psycopg.connect(url, **kwargs) as conn:
                migrate(PostgresMigrator(conn))
        except psycopg.Error as exc:
            raise LedgerError(f"cannot open ledger {self.location}: {self._clean(exc)}") from None
        self._pool = psycopg_pool.ConnectionPool(
            url, kwargs=kwargs, min_size=min(2, pool_size), max_size=pool_size, timeout=connect_timeout,
            open=False, name="unifiedmcp-ledger", configure=functools.partial(_configure, lock_timeout=lock_timeout),
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            self._pool.close()
            raise LedgerError(f"cannot open ledger {self.location}: {self._clean(exc)}") from None

    def close(self) -> None:
        self._pool.close()

    def _clean(self, exc: BaseException) -> str:
        return scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, self._url)

    def error(self, exc: BaseException) -> LedgerError:
        return LedgerError(f"cannot write ledger {self.location}: {self._clean(exc)}")

    def _run(self, work: Callable[[psycopg.Connection], T], *, retry: bool) -> T:
        """``work`` on a pooled connection. A connection the database dropped (a restart, a
        failover) is discarded; with ``retry`` (reads, and metering, whose event ids make a repeat
        harmless) the work is done once more on a fresh one, as it is after a deadlock."""
        for attempt in range(3):
            conn = None
            try:
                with self._pool.connection() as conn:
                    return work(conn)
            except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure) as exc:
                if not retry or attempt == 2:
                    raise self.error(exc) from None
            except psycopg_pool.PoolTimeout as exc:
                raise self.error(exc) from None
            except psycopg.Error as exc:
                if not (retry and attempt == 0 and conn is not None and conn.broken):
                    raise self.error(exc) from None
                self._pool.check()  # drop the other connections the database dropped
        raise AssertionError("unreachable: the last attempt returns or raises")

    @contextmanager
    def transaction(self) -> Iterator[PgConnection]:
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
                yield PgConnection(conn)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise self.error(exc) from None

    @contextmanager
    def snapshot(self) -> Iterator[PgConnection]:
        """A read-only transaction at REPEATABLE READ (one consistent view), without the write lock."""
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield PgConnection(conn)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise self.error(exc) from None

    def read(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        return self._run(lambda conn: PgConnection(conn).execute(sql, params).fetchall(), retry=True)

    def probe(self) -> None:
        """One round trip on a pooled connection, or LedgerError: can the ledger be used now?"""
        self._run(lambda conn: conn.execute("SELECT 1").fetchone(), retry=True)

    def meter(self, work: Callable[[_Store], T], *, wait: bool) -> T | None:
        """``work`` in one metering transaction, committed; None without ``wait``: a database
        round trip is never made on the event loop."""
        if not wait:
            return None

        def run(conn: psycopg.Connection) -> T:
            try:
                # Two round trips: BEGIN, the locks and the reads; then the writes and COMMIT.
                with conn.pipeline(), conn.transaction():
                    # Like SQLite's synchronous=NORMAL: a crash of the database server (not of a
                    # replica) may lose the last fraction of a second of calls, never half of one.
                    conn.execute("SET LOCAL synchronous_commit = off")
                    return work(_Store(conn))
            except pg_errors.DivisionByZero:  # _INSERT_EVENTS's conflict check: rolled back
                raise MeteringConflict() from None

        return self._run(run, retry=True)

    def settled_seq(self) -> int:
        """The highest ``usage_events.seq`` at or below which no row can still appear.

        Briefly takes a SHARE lock on the table: it waits for the open metering transactions
        (milliseconds) and holds new ones back just as long.
        """

        def bound(conn: psycopg.Connection) -> int:
            with conn.transaction():
                conn.execute("LOCK TABLE usage_events IN SHARE MODE")
                return conn.execute("SELECT coalesce(max(seq), 0) FROM usage_events").fetchone()[0]

        return self._run(bound, retry=True)

    def secure_delete(self) -> None:
        """Nothing to switch on: PostgreSQL has no such mode (see :meth:`reclaim`)."""

    def reclaim(self, tables: Sequence[str]) -> None:
        """VACUUM ``tables``: the space of dead row versions becomes reusable. It is not zeroed:
        their bytes stay in the table files until overwritten, in the WAL until it is recycled,
        and in backups (docs/privacy.md)."""
        for table in tables:
            if not re.fullmatch(r"[a-z_]+", table):
                raise ValueError(f"not a ledger table name: {table!r}")

        def vacuum(conn: psycopg.Connection) -> None:
            for table in tables:  # autocommit: VACUUM cannot run inside a transaction
                conn.execute(f"VACUUM {table}")  # type: ignore[arg-type]  # checked above

        self._run(vacuum, retry=True)


class PostgresMigrator:
    """Migrations on one direct connection (see ``_migrations.migrate``); the version is kept in
    the one-row table ``ledger_schema``, the lock is an advisory lock."""

    dialect = "postgres"

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def schema_version(self) -> int:
        if self._conn.execute("SELECT to_regclass('ledger_schema')").fetchone()[0] is None:
            return 0
        row = self._conn.execute("SELECT version FROM ledger_schema").fetchone()
        return row[0] if row else 0

    @contextmanager
    def migration(self) -> Iterator[tuple[PgConnection, int]]:
        conn = self._conn
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(_SCHEMA_TABLE)
            conn.execute("INSERT INTO ledger_schema (version) VALUES (0) ON CONFLICT DO NOTHING")
            yield PgConnection(conn), conn.execute("SELECT version FROM ledger_schema").fetchone()[0]

    def set_schema_version(self, conn: PgConnection, version: int) -> None:
        conn.execute("UPDATE ledger_schema SET version = ?", (version,))
