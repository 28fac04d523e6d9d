"""The ledger: the operational store behind metering, keys and tiers, on SQLite or PostgreSQL.

The API and its rules are the same on both backends (``_sqlite``, ``_postgres``); the SQL here is
shared, written in SQLite's placeholder style (``?``, ``:name``), which the PostgreSQL backend
rewrites. Where the dialects differ, the backends keep their own statements.
"""

from __future__ import annotations

import functools
from functools import cached_property
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

from .._times import utc_text
from .._usage_status import SETTLED_SQL, in_flight_cutoff
from ..config import DEFAULT_TIERS, TierTable
from ..errors import (
    AuthError,
    ConnectFailed,
    ConnectionCapReached,
    InvalidInput,
    LedgerError,
    QuotaExceeded,
    UnknownCustomer,
)
from ..months import Month
from . import _tokens
from .._dsn import is_database_url
from ._group_commit import GroupCommit
from ._oauth import OAuthLedger
from ._health import HealthWatch, LedgerHealth
from ._metering import Call, Completion, MeteringConflict, admit_all, new_event_id
from ._records import (
    Admission,
    CallRecord,
    ApiKey,
    ConnectionKind,
    ConnectState,
    Customer,
    MeterEventRow,
    NewApiKey,
    OAuthConnection,
    Principal,
    StageResult,
    Usage,
)
from ._sqlite import SqliteDatabase

__all__ = ["Ledger", "LedgerConnection"]

_PUSH_STATE = "SELECT staged_seq FROM meter_push_state WHERE name = ?"
_PUSH_STATE_INIT = "INSERT INTO meter_push_state (name, staged_seq, updated_at) VALUES (?, 0, ?)"
_PUSH_STATE_MOVE = "UPDATE meter_push_state SET staged_seq = ?, updated_at = ? WHERE name = ?"
_STAGE_ROWS = "SELECT seq, customer_id, ts, status, tier, latency_ms FROM usage_events WHERE seq > ?"
_INSERT_OUTBOX = """
INSERT INTO meter_outbox (identifier, event_name, customer_id, ts, value, first_seq, last_seq, status, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT (identifier) DO NOTHING
"""
_OUTBOX_ROWS = "SELECT identifier, event_name, customer_id, ts, value, status, attempts, error FROM meter_outbox"
_MARK_OUTBOX = """
UPDATE meter_outbox SET status = ?, error = ?, sent_at = ?, attempts = attempts + 1
WHERE identifier = ? AND status = 'pending'
"""
_RETRY_OUTBOX = "UPDATE meter_outbox SET status = 'pending' WHERE event_name = ? AND status = 'failed'"
_CONNECTIONS = "SELECT connection_id, customer_id, provider, account, created_at, kind FROM oauth_connections"
_CONFLICT_RETRIES = 3


class LedgerCursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class LedgerConnection(Protocol):
    """What :meth:`Ledger.transaction` yields, on either backend: ``execute`` and ``executemany``
    taking shared SQL with ``?`` or ``:name`` placeholders (portable statements only)."""

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ..., /) -> LedgerCursor: ...

    def executemany(self, sql: str, params: Iterable[Sequence[Any] | Mapping[str, Any]], /) -> LedgerCursor: ...


def _completion(event_id: str, status: str, latency_ms: float | None) -> Completion:
    if status not in ("ok", "error"):
        raise InvalidInput(f"status must be 'ok' or 'error', not {status!r}")
    return Completion(event_id, status, latency_ms)


def _second_text(ts: int) -> str:
    """A Unix second as the ledger's time text, for range comparisons on ``usage_events.ts``."""
    return utc_text(datetime.fromtimestamp(ts, timezone.utc))


def _admission(outcome: object) -> Admission:
    """A metered call's outcome from admit_all, as its caller gets it: returned or raised."""
    if isinstance(outcome, Exception):
        raise outcome
    return outcome  # type: ignore[return-value]


class Ledger:
    """Customers, hashed API keys, metered usage, monthly counters and OAuth connections.

    ``target`` is a SQLite file (the embedded default) or a PostgreSQL URL (``postgresql://…``)
    shared by several servers. One ``Ledger`` per process (it is thread-safe); any number of
    processes (on one machine with SQLite, on any with PostgreSQL) may open the same ledger.
    Every metered call goes through :meth:`check_and_record` (or its asyncio twin, which shares
    the transaction with concurrent calls: group commit), one transaction serialised with every
    other metering of the same customer, so concurrent callers can never admit more than a hard
    limit allows, and a process killed mid-call leaves either the whole call recorded or none of it.

    ``timeout``: how long a write waits for another process's lock (SQLite's busy timeout,
    PostgreSQL's lock timeout). PostgreSQL only: ``connect_timeout``, how long a call waits for a
    database connection before failing closed (:class:`LedgerError`), and ``pool_size``, the most
    connections this process opens.
    """

    def __init__(
        self,
        target: Path | str,
        *,
        tiers: TierTable = DEFAULT_TIERS,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        pool_size: int = 10,
    ) -> None:
        self.tiers = tiers
        self.path: Path | None
        if is_database_url(target):
            from ._postgres import PostgresDatabase  # psycopg is imported only for a PostgreSQL ledger

            self._db: SqliteDatabase | PostgresDatabase = PostgresDatabase(
                str(target), lock_timeout=timeout, connect_timeout=connect_timeout, pool_size=pool_size
            )
            self.path = None
        else:
            self.path = Path(target)
            self._db = SqliteDatabase(self.path, timeout=timeout)
        self._health = HealthWatch(self._db.location)
        self._group: GroupCommit[Call | Completion, object] = GroupCommit(
            self._write_batch,
            flush_now=functools.partial(self._write_batch, wait=False),
            on_error=self._write_error,
        )

    @cached_property
    def oauth(self) -> OAuthLedger:
        """The OAuth authorization server's clients, authorizations and tokens (``_oauth``)."""
        return OAuthLedger(self)

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgres``."""
        return self._db.dialect

    @property
    def location(self) -> str:
        """The file, or the database URL with its password masked (for messages)."""
        return self._db.location

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({self.location!r})"

    @contextmanager
    def transaction(self) -> Iterator[LedgerConnection]:
        """A write transaction, serialised with every other one (SQLite's ``BEGIN IMMEDIATE``; a
        database-wide lock on PostgreSQL): all of it commits, or none of it."""
        try:
            with self._db.transaction() as conn:
                yield conn  # type: ignore[misc]
        except LedgerError as exc:
            self._health.write_failed(exc)
            raise
        self._health.wrote()

    @contextmanager
    def snapshot(self) -> Iterator[LedgerConnection]:
        """A read-only transaction: one consistent view of the ledger without the write lock, so
        a long read (an export, a dry run) never holds up metering or webhooks. Writing in it
        fails (PostgreSQL) or is rolled back (SQLite)."""
        with self._db.snapshot() as conn:
            yield conn  # type: ignore[misc]

    def health(self) -> LedgerHealth:
        """Whether the ledger can be used now (what ``serve``'s ``/healthz`` reports): a probe (a
        read; on SQLite also the check that its shared memory can be written), and no write failed
        in the last minute without a later one succeeding (see ``_health``)."""
        try:
            self._db.probe()
        except LedgerError as exc:
            return self._health.probed(exc)
        return self._health.probed(None)

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self._db.read(sql, params)

    # -- privacy: bytes of erased rows -----------------------------------------------------------

    def secure_delete(self) -> None:
        """From now on this ``Ledger`` overwrites what it deletes or replaces (SQLite's
        ``secure_delete``; PostgreSQL has no such mode). Used by ``unifiedmcp.privacy``."""
        self._db.secure_delete()

    def reclaim(self, tables: Sequence[str]) -> None:
        """Leave no copy of deleted rows in the ledger's files: SQLite rewrites the file (VACUUM)
        and empties its WAL; PostgreSQL VACUUMs ``tables``, which frees their dead rows' space
        without zeroing it (docs/privacy.md says what that guarantees)."""
        self._db.reclaim(tables)

    # -- customers -----------------------------------------------------------------------------

    def upsert_customer(
        self, customer_id: str, *, tier: str | None = None, email: str | None = None, status: str = "active"
    ) -> Customer:
        """Create a customer (default tier: the lowest) or update the given fields."""
        if not customer_id or not customer_id.strip():
            raise InvalidInput("customer id must not be empty")
        if tier is not None:
            self.tiers[tier]  # raises ConfigError naming the known tiers
        now = utc_text()
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO customers (customer_id, email, tier, status, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (customer_id) DO UPDATE SET
                     tier = coalesce(?, customers.tier), email = coalesce(?, customers.email), status = ?,
                     updated_at = ?""",
                (customer_id, email, tier or self.tiers.default.name, status, now, now, tier, email, status, now),
            )
        return self.customer(customer_id)

    def set_tier(self, customer_id: str, tier: str) -> Customer:
        self.tiers[tier]
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE customers SET tier = ?, updated_at = ? WHERE customer_id = ?",
                (tier, utc_text(), customer_id),
            )
            if cur.rowcount == 0:
                raise UnknownCustomer(customer_id)
        return self.customer(customer_id)

    def customer(self, customer_id: str) -> Customer:
        rows = self._read(
            "SELECT customer_id, tier, status, email, created_at, updated_at FROM customers WHERE customer_id = ?",
            (customer_id,),
        )
        if not rows:
            raise UnknownCustomer(customer_id)
        return Customer(*rows[0])

    def customers(self) -> list[Customer]:
        rows = self._read(
            "SELECT customer_id, tier, status, email, created_at, updated_at FROM customers ORDER BY customer_id"
        )
        return [Customer(*r) for r in rows]

    # -- API keys ------------------------------------------------------------------------------

    def create_key(self, customer_id: str | None, *, name: str | None = None, operator: bool = False) -> NewApiKey:
        """Create an API key; its token is returned once and only hashed here.

        A customer key (``customer_id``) reaches only that customer's connections and is metered;
        an operator key (``operator=True``, no customer) reaches the operator's account.
        """
        if operator == (customer_id is not None):
            raise InvalidInput("a key is either a customer's (give the customer) or the operator's (operator=True)")
        if customer_id is not None:
            self.customer(customer_id)
        role = "operator" if operator else "customer"
        key_id, token, digest = _tokens.new_token()
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO api_keys (key_id, role, customer_id, secret_hash, name, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (key_id, role, customer_id, digest, name, utc_text()),
            )
        return NewApiKey(key_id=key_id, customer_id=customer_id, token=token, role=role)

    def keys(self, customer_id: str | None = None, *, operator: bool = False) -> list[ApiKey]:
        """Keys of one customer, of the operator (``operator=True``), or every key."""
        sql = "SELECT key_id, customer_id, name, created_at, revoked_at, role FROM api_keys"
        params: tuple = ()
        if customer_id is not None:
            self.customer(customer_id)
            sql += " WHERE customer_id = ?"
            params = (customer_id,)
        elif operator:
            sql += " WHERE role = 'operator'"
        return [ApiKey(*r) for r in self._read(sql + " ORDER BY created_at, key_id", params)]

    def revoke_key(self, key_id: str) -> ApiKey:
        with self.transaction() as conn:
            row = conn.execute("SELECT revoked_at FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
            if row is None:
                raise AuthError("not found", key_prefix=key_id)
            if row[0] is not None:
                raise AuthError("is already revoked", key_prefix=key_id)
            conn.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?", (utc_text(), key_id))
        return next(k for k in self.keys() if k.key_id == key_id)

    def authenticate(self, token: str) -> Principal:
        """Who a bearer token speaks for (an active customer, or the operator), or :class:`AuthError`."""
        key_id, secret = _tokens.parse_token(token)
        rows = self._read(
            "SELECT role, customer_id, secret_hash, revoked_at FROM api_keys WHERE key_id = ?", (key_id,)
        )
        if not rows or not _tokens.secret_matches(secret, rows[0][2]):
            raise AuthError("is not valid", key_prefix=key_id)
        role, customer_id, _, revoked_at = rows[0]
        if revoked_at is not None:
            raise AuthError("was revoked", key_prefix=key_id)
        if role == "customer" and self.customer(customer_id).status != "active":
            raise AuthError("belongs to a deleted customer", key_prefix=key_id)
        return Principal(key_id=key_id, role=role, customer_id=customer_id)

    # -- metering ------------------------------------------------------------------------------

    def check_and_record(
        self,
        customer_id: str,
        tool: str,
        *,
        event_id: str | None = None,
        at: datetime | None = None,
        user_id: str | None = None,
        completes: bool = False,
    ) -> Admission:
        """Admit and record one metered call, atomically.

        Hard-limited tiers (free) refuse the call past the monthly limit: it is recorded with
        status ``rejected`` and :class:`QuotaExceeded` is raised. Soft-limited tiers admit it and
        count it as overage. A repeated ``event_id`` is not counted again: the first outcome is
        returned (or raised) once more, with ``duplicate=True``. Thread-safe.

        An admitted call is recorded ``ok``; with ``completes=True`` (the caller will report how
        it ended with :meth:`complete`) it is recorded ``interrupted`` until then, which it stays
        if the process dies first.
        """
        call = self._call(customer_id, tool, event_id=event_id, at=at, user_id=user_id, completes=completes)
        return _admission(self._write_batch([call])[0])  # type: ignore[index]

    async def check_and_record_async(
        self,
        customer_id: str,
        tool: str,
        *,
        event_id: str | None = None,
        at: datetime | None = None,
        user_id: str | None = None,
        completes: bool = False,
    ) -> Admission:
        """:meth:`check_and_record` for asyncio code, with group commit.

        Concurrent calls from one event loop share a transaction (see ``_group_commit``), which
        is how the MCP server meters: several times the throughput of one transaction per call,
        with the same outcome for every call.
        """
        call = self._call(customer_id, tool, event_id=event_id, at=at, user_id=user_id, completes=completes)
        return _admission(await self._group.submit(call))

    def record_calls(self, calls: Sequence[CallRecord]) -> list[Admission | QuotaExceeded]:
        """Meter finished calls in bulk, in one transaction: each is admitted (or refused) by the
        same rules as :meth:`check_and_record`, in order, and its outcome recorded with it. For
        importing or simulating traffic (the demo), not for a live server. Returns each call's
        admission, or the :class:`QuotaExceeded` it met (recorded as ``rejected``)."""
        requests = []
        for c in calls:
            if c.status not in ("ok", "error"):
                raise InvalidInput(f"status must be 'ok' or 'error', not {c.status!r}")
            ts = utc_text(c.at)
            requests.append(Call(c.customer_id, c.tool, c.event_id, ts, ts[:7], c.user_id, c.status, c.latency_ms))
        return self._write_batch(requests) or []  # type: ignore[return-value]

    def complete(self, event_id: str, *, status: str, latency_ms: float | None = None) -> None:
        """Record how an admitted call ended (``ok`` or ``error``) and how long it took. A call
        admitted with ``completes=True`` stops reading ``interrupted``."""
        self._write_batch([_completion(event_id, status, latency_ms)])

    async def complete_async(self, event_id: str, *, status: str, latency_ms: float | None = None) -> None:
        """:meth:`complete` for asyncio code, committed with the batch of concurrent calls."""
        await self._group.submit(_completion(event_id, status, latency_ms))

    @staticmethod
    def _call(
        customer_id: str, tool: str, *, event_id: str | None, at: datetime | None, user_id: str | None, completes: bool
    ) -> Call:
        ts = utc_text(at)
        return Call(customer_id, tool, event_id or new_event_id(), ts, ts[:7], user_id,
                    "interrupted" if completes else "ok")

    def _write_batch(self, requests: list[Call | Completion], *, wait: bool = True) -> list[object] | None:
        """Metering writes in one transaction: the outcome of each Call (an Admission or the
        error to raise) and None for each completion. Raises LedgerError if it cannot commit.

        With ``wait=False`` it returns None, having done nothing, rather than wait (for another
        thread's use of the connection or another process's write lock: the event loop's way).
        """
        calls = [r for r in requests if type(r) is Call]
        completions = [r for r in requests if type(r) is Completion]
        for _ in range(_CONFLICT_RETRIES):
            try:
                outcomes = self._db.meter(lambda store: admit_all(store, self.tiers, calls, completions), wait=wait)
            except MeteringConflict:  # rolled back: decide again, seeing the other process's rows
                continue
            except LedgerError as exc:
                self._health.write_failed(exc)
                raise
            if outcomes is None:
                return None
            self._health.wrote()
            admitted = iter(outcomes)
            return [next(admitted) if type(r) is Call else None for r in requests]
        raise LedgerError(f"cannot write ledger {self.location}: its event ids kept colliding with another writer's")

    def _write_error(self, exc: BaseException) -> LedgerError:
        return LedgerError(str(exc)) if isinstance(exc, LedgerError) else self._db.error(exc)

    def usage(self, customer_id: str, *, month: Month | None = None) -> Usage:
        """A customer's usage in ``month`` (default: the current UTC month)."""
        month = month or Month.current()
        customer = self.customer(customer_id)
        rows = self._read(
            "SELECT calls, rejected FROM usage_counters WHERE customer_id = ? AND month = ?",
            (customer_id, str(month)),
        )
        calls, rejected = rows[0] if rows else (0, 0)
        tier = self.tiers[customer.tier]
        return Usage(customer_id, tier.name, str(month), calls, rejected, tier.monthly_api_calls, month.end)

    def usage_summary(self, *, month: Month | None = None) -> list[Usage]:
        """Every customer with usage in ``month``, most calls first."""
        month = month or Month.current()
        rows = self._read(
            """SELECT u.customer_id, c.tier, u.calls, u.rejected FROM usage_counters u
               JOIN customers c USING (customer_id) WHERE u.month = ?
               ORDER BY u.calls DESC, u.customer_id""",
            (str(month),),
        )
        return [
            Usage(cid, tier, str(month), calls, rej, self.tiers[tier].monthly_api_calls, month.end)
            for cid, tier, calls, rej in rows
        ]

    def usage_events(self, *, month: Month | None = None, after_seq: int = 0, limit: int | None = None) -> list[tuple]:
        """Raw usage rows ``(seq, event_id, customer_id, tool_name, ts, status, user_id, latency_ms, tier)``.

        ``seq`` works as a watermark: a later call with ``after_seq`` = the last seq returned
        misses no row, and no row that can still change: the rows stop before a call that may
        still be running (a recent ``interrupted`` row, see ``unifiedmcp._usage_status``) and, on
        PostgreSQL, before rows that an open transaction could still precede.
        """
        sql = (
            "SELECT seq, event_id, customer_id, tool_name, ts, status, user_id, latency_ms, tier"
            " FROM usage_events WHERE seq > ?" + SETTLED_SQL
        )
        params: list = [after_seq, after_seq, in_flight_cutoff()]
        settled = self._db.settled_seq()
        if settled is not None:
            sql += " AND seq <= ?"
            params.append(settled)
        if month is not None:
            sql += " AND month = ?"
            params.append(str(month))
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return self._read(sql, tuple(params))

    # -- connections ---------------------------------------------------------------------------

    def add_connection(
        self,
        customer_id: str,
        provider: str,
        *,
        account: str = "",
        kind: ConnectionKind = "manual",
        credential: str | None = None,
    ) -> OAuthConnection:
        """Add a connection, refusing one past the tier's cap (free: 1).

        ``credential`` is already encrypted (the accounts layer does that); the ledger stores it
        as an opaque token and never returns it with the connection.
        """
        if not provider or not provider.strip():
            raise InvalidInput("provider must not be empty")
        if kind not in ("oauth", "api_key", "manual"):
            raise InvalidInput(f"unknown connection kind {kind!r}")
        with self.transaction() as conn:
            row = conn.execute("SELECT tier FROM customers WHERE customer_id = ?", (customer_id,)).fetchone()
            if row is None:
                raise UnknownCustomer(customer_id)
            tier = self.tiers[row[0]]
            count = conn.execute(
                "SELECT count(*) FROM oauth_connections WHERE customer_id = ?", (customer_id,)
            ).fetchone()[0]
            if tier.oauth_connections is not None and count >= tier.oauth_connections:
                raise ConnectionCapReached(customer=customer_id, tier=tier.name, cap=tier.oauth_connections)
            connection_id = "conn_" + uuid.uuid4().hex[:16]
            created_at = utc_text()
            try:
                conn.execute(
                    "INSERT INTO oauth_connections"
                    " (connection_id, customer_id, provider, account, created_at, kind, credential)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (connection_id, customer_id, provider, account, created_at, kind, credential),
                )
            except self._db.integrity_errors:
                raise InvalidInput(
                    f"{customer_id} already has a {provider!r} connection for account {account!r}"
                ) from None
        return OAuthConnection(connection_id, customer_id, provider, account, created_at, kind)

    def connections(self, customer_id: str, *, provider: str | None = None) -> list[OAuthConnection]:
        """A customer's connections (optionally of one provider), oldest first; never credentials."""
        sql = _CONNECTIONS + " WHERE customer_id = ?"
        params: tuple = (customer_id,)
        if provider is not None:
            sql += " AND provider = ?"
            params += (provider,)
        rows = self._read(sql + " ORDER BY created_at, connection_id", params)
        if not rows:
            self.customer(customer_id)  # UnknownCustomer rather than an empty list
        return [OAuthConnection(*r) for r in rows]

    def account_connections(self, provider: str, account: str) -> list[OAuthConnection]:
        """Every customer's connections to one account at a provider."""
        rows = self._read(_CONNECTIONS + " WHERE provider = ? AND account = ?", (provider, account))
        return [OAuthConnection(*r) for r in rows]

    def connection(self, connection_id: str) -> OAuthConnection:
        rows = self._read(_CONNECTIONS + " WHERE connection_id = ?", (connection_id,))
        if not rows:
            raise InvalidInput(f"no connection {connection_id!r}")
        return OAuthConnection(*rows[0])

    def connection_credential(self, connection_id: str) -> str | None:
        """The encrypted credential of a connection (for the accounts layer only)."""
        rows = self._read("SELECT credential FROM oauth_connections WHERE connection_id = ?", (connection_id,))
        if not rows:
            raise InvalidInput(f"no connection {connection_id!r}")
        return rows[0][0]

    def remove_connection(self, connection_id: str) -> OAuthConnection:
        """Remove a connection; returns what it was."""
        with self.transaction() as conn:
            row = conn.execute(_CONNECTIONS + " WHERE connection_id = ?", (connection_id,)).fetchone()
            if row is None:
                raise InvalidInput(f"no connection {connection_id!r}")
            conn.execute("DELETE FROM oauth_connections WHERE connection_id = ?", (connection_id,))
        return OAuthConnection(*row)

    def remove_account_connections(self, provider: str, account: str) -> list[OAuthConnection]:
        """Remove every connection to ``account`` at ``provider`` (e.g. after Stripe deauthorized it)."""
        with self.transaction() as conn:
            rows = conn.execute(
                _CONNECTIONS + " WHERE provider = ? AND account = ?", (provider, account)
            ).fetchall()
            conn.execute("DELETE FROM oauth_connections WHERE provider = ? AND account = ?", (provider, account))
        return [OAuthConnection(*r) for r in rows]

    def reencrypt_credentials(self, transform: Callable[[str, str], str]) -> int:
        """Replace every stored credential by ``transform(connection_id, credential)``, in one transaction
        (key rotation: nothing is left half re-encrypted). Returns how many were rewritten."""
        with self.transaction() as conn:
            rows = conn.execute(
                "SELECT connection_id, credential FROM oauth_connections WHERE credential IS NOT NULL"
            ).fetchall()
            conn.executemany(
                "UPDATE oauth_connections SET credential = ? WHERE connection_id = ?",
                [(transform(cid, cred), cid) for cid, cred in rows],
            )
        return len(rows)

    # -- Connect OAuth states ----------------------------------------------------------------------

    def add_connect_state(
        self, state_hash: bytes, *, customer_id: str, provider: str, redirect_uri: str, expires_at: datetime
    ) -> None:
        """Remember an OAuth ``state`` (by its hash) handed out for ``customer_id``."""
        self.customer(customer_id)
        now = utc_text()
        with self.transaction() as conn:
            conn.execute("DELETE FROM connect_states WHERE expires_at < ?", (now,))  # keeps the table small
            conn.execute(
                "INSERT INTO connect_states (state_hash, customer_id, provider, redirect_uri, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (state_hash, customer_id, provider, redirect_uri, now, utc_text(expires_at)),
            )

    def consume_connect_state(self, state_hash: bytes) -> ConnectState:
        """Use a state once: its customer, provider and redirect URI, or :class:`ConnectFailed`
        (``invalid_state``, ``state_used``, ``state_expired``). A used state stays used."""
        now = utc_text()
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT customer_id, provider, redirect_uri, expires_at, used_at FROM connect_states"
                " WHERE state_hash = ?",
                (state_hash,),
            ).fetchone()
            if row is None:
                raise ConnectFailed("invalid_state", "unknown OAuth state: start again with `connections connect`")
            customer_id, provider, redirect_uri, expires_at, used_at = row
            if used_at is not None:
                raise ConnectFailed("state_used", "this authorization link was already used: start again")
            conn.execute("UPDATE connect_states SET used_at = ? WHERE state_hash = ?", (now, state_hash))
        if expires_at < now:
            raise ConnectFailed("state_expired", "this authorization link expired (10 minutes): start again")
        return ConnectState(customer_id, provider, redirect_uri)

    # -- the operator's catalog --------------------------------------------------------------------

    def record_catalog_prices(self, prices: Iterable[tuple[str, str, str | None, str | None]]) -> None:
        """Record ``(price_id, tier, lookup_key, product_id)`` rows made by ``catalog ensure``."""
        for _, tier, _, _ in (rows := list(prices)):
            self.tiers[tier]
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO catalog_prices (price_id, tier, lookup_key, product_id, recorded_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (price_id) DO UPDATE SET tier = excluded.tier,"
                " lookup_key = excluded.lookup_key, product_id = excluded.product_id",
                [(*r, utc_text()) for r in rows],
            )

    def catalog_prices(self) -> dict[str, str]:
        """Price id -> tier of every recorded catalog price."""
        return dict(self._read("SELECT price_id, tier FROM catalog_prices"))

    # -- usage billing: the meter-event outbox ---------------------------------------------------

    def stage_meter_events(
        self,
        *,
        event_name: str,
        billable_tiers: Collection[str],
        grace_seconds: float = 600.0,
        bucket_seconds: int = 1,
        limit: int = 50_000,
        now: datetime | None = None,
    ) -> StageResult:
        """Stage the next usage rows for Stripe, atomically (see sql/005_usage_outbox.sql).

        Rows are staged in ``seq`` order up to the first one whose outcome may still change (an
        admitted call not yet completed: ``interrupted`` and younger than ``grace_seconds``; older,
        its process died and it stays ``interrupted``, never billed). Of those, calls
        with status ``ok`` made on a tier in ``billable_tiers`` become outbox rows, summed per
        customer and ``bucket_seconds`` (aligned to the epoch) and dated at the bucket's start.
        One second (the default) never straddles a billing period's end; a longer bucket is
        exact only when every period and price change falls on a bucket's boundary (the demo's
        day-aligned history). Rows recorded before the ledger kept each call's tier (``tier``
        NULL) are never billed.
        """
        settled = self._db.settled_seq()
        cutoff = utc_text((now or datetime.now(timezone.utc)) - timedelta(seconds=grace_seconds))
        staged_at = utc_text(now)
        billable = set(billable_tiers)
        with self.transaction() as conn:
            row = conn.execute(_PUSH_STATE, (event_name,)).fetchone()
            if row is None:
                conn.execute(_PUSH_STATE_INIT, (event_name, staged_at))
            start = row[0] if row else 0
            sql, params = _STAGE_ROWS, [start]
            if settled is not None:
                sql, params = sql + " AND seq <= ?", [start, settled]
            rows = conn.execute(sql + " ORDER BY seq LIMIT ?", (*params, limit)).fetchall()
            sums: dict[tuple[str, int], list[int]] = {}
            last = start
            for seq, customer, ts, status, tier, latency_ms in rows:
                if status == "interrupted" and ts > cutoff:
                    break  # still in flight: it may yet end ok (billable) or as an error
                last = seq
                if status == "ok" and tier in billable:
                    second = int(datetime.fromisoformat(ts[:19]).replace(tzinfo=timezone.utc).timestamp())
                    second -= second % bucket_seconds
                    acc = sums.setdefault((customer, second), [0, seq, seq])
                    acc[0] += 1
                    acc[2] = seq
            conn.executemany(
                _INSERT_OUTBOX,
                [
                    (f"umcp-{customer}-{second}-{first}", event_name, customer, second, value, first, end, staged_at)
                    for (customer, second), (value, first, end) in sums.items()
                ],
            )
            conn.execute(_PUSH_STATE_MOVE, (last, staged_at, event_name))
        return StageResult(rows=sum(1 for r in rows if r[0] <= last), events=len(sums), staged_seq=last)

    def pending_meter_events(self, *, event_name: str, limit: int = 500) -> list[MeterEventRow]:
        """Outbox rows still to send, oldest calls first."""
        rows = self._read(_OUTBOX_ROWS + " WHERE event_name = ? AND status = 'pending' ORDER BY ts, identifier LIMIT ?",
                          (event_name, limit))
        return [MeterEventRow(*r) for r in rows]

    def meter_backlog(self, *, event_name: str) -> tuple[int, int | None]:
        """How many outbox rows are pending, and the Unix second of the oldest (None: none)."""
        count, oldest = self._read(
            "SELECT count(*), min(ts) FROM meter_outbox WHERE event_name = ? AND status = 'pending'", (event_name,)
        )[0]
        return int(count), None if oldest is None else int(oldest)

    def meter_events(self, *, customer_id: str | None = None, start: int | None = None, end: int | None = None,
                     status: str | None = None) -> list[MeterEventRow]:
        """Outbox rows, filtered (``start``/``end``: Unix seconds, half-open)."""
        where, params = [], []
        for clause, value in (("customer_id = ?", customer_id), ("ts >= ?", start), ("ts < ?", end),
                              ("status = ?", status)):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = _OUTBOX_ROWS + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY ts, identifier"
        return [MeterEventRow(*r) for r in self._read(sql, tuple(params))]

    def billable_calls_per_second(
        self, *, start: int, end: int, tiers: Collection[str]
    ) -> dict[tuple[str, str], list[tuple[int, int]]]:
        """Calls with status ``ok`` made on one of ``tiers`` in ``[start, end)`` (Unix seconds),
        what usage billing reports to Stripe, per second: (customer, tier) -> [(Unix second,
        calls)] in time order. One scan answers any number of periods inside the range
        (reconciliation's month and invoice lines), where a query per period would scan again."""
        if not tiers:
            return {}
        marks = ", ".join("?" for _ in tiers)
        sql = (f"SELECT customer_id, tier, substr(ts, 1, 19), count(*) FROM usage_events WHERE status = 'ok'"
               f" AND tier IN ({marks}) AND ts >= ? AND ts < ? GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
        out: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for customer, tier, second, calls in self._read(sql, (*sorted(tiers), _second_text(start), _second_text(end))):
            at = int(datetime.fromisoformat(second).replace(tzinfo=timezone.utc).timestamp())
            out.setdefault((customer, tier), []).append((at, int(calls)))
        return out

    def retry_failed_meter_events(self, *, event_name: str, customer_id: str | None = None) -> int:
        """Make failed outbox rows pending again (after the cause is fixed: a meter reactivated,
        a customer restored), keeping their identifiers and last error; returns how many."""
        sql, params = _RETRY_OUTBOX, [event_name]
        if customer_id is not None:
            sql, params = sql + " AND customer_id = ?", [event_name, customer_id]
        with self.transaction() as conn:
            return conn.execute(sql, tuple(params)).rowcount

    def record_meter_results(self, results: Iterable[tuple[str, str, str | None]]) -> None:
        """Record sends: ``(identifier, status, error)`` with status ``sent``, ``failed`` or
        ``pending`` (a retryable failure: attempted, still to send). Only pending rows change."""
        now = utc_text()
        with self.transaction() as conn:
            conn.executemany(
                _MARK_OUTBOX,
                [(status, error, now if status == "sent" else None, identifier) for identifier, status, error in results],
            )
