"""Syncing Stripe objects from the API (or the local sandbox) into the warehouse.

- First run (or ``full=True``): every object of every type, listed with ``limit=100``.
- Later runs: objects that never change once created (events, charges, refunds) are listed with a
  ``created[gte]`` cursor; objects that change (customers, products, prices, subscriptions,
  invoices, payment intents) are re-fetched when an event since the last run names them. Events
  are kept 30 days by Stripe: past that, the changing types are listed in full again.
- Progress is committed page by page with the pagination position, so an interrupted sync
  resumes where it stopped; loading replaces by id, so nothing is ever duplicated.
- HTTP 429 (rate limited) and connection errors are retried with exponential back-off.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb
import stripe
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from .._secrets import mask_secrets
from ..errors import WarehouseError
from ._db import Warehouse, open_warehouse, rebuild_typed
from ._stripe import load_stripe_objects

__all__ = ["SyncPart", "SyncResult", "sync", "MUTABLE", "IMMUTABLE"]

PAGE = 100
FLUSH_EVERY = 1_000  # objects stored (and the position saved) per transaction
EVENT_RETENTION = 30 * 86400 - 3600  # Stripe keeps events 30 days; keep an hour of margin

# type -> (client.v1 attribute, list params)
MUTABLE: dict[str, tuple[str, dict[str, Any]]] = {
    "product": ("products", {}),
    "price": ("prices", {}),
    "customer": ("customers", {}),
    "subscription": ("subscriptions", {"status": "all"}),
    "invoice": ("invoices", {"expand": ["data.payments"]}),
    "payment_intent": ("payment_intents", {}),
}
IMMUTABLE: dict[str, tuple[str, dict[str, Any]]] = {
    "charge": ("charges", {}),
    "refund": ("refunds", {}),
    "event": ("events", {}),
}
_RETRIEVE_PARAMS = {"invoice": {"expand": ["payments"]}}


@dataclass
class SyncPart:
    fetched: int = 0
    loaded: int = 0
    replaced: int = 0
    mode: str = ""


@dataclass
class SyncResult:
    parts: dict[str, SyncPart] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0

    @property
    def fetched(self) -> int:
        return sum(p.fetched for p in self.parts.values())


class _Caller:
    """Runs API calls, retrying 429s and connection errors with exponential back-off."""

    def __init__(self, result: SyncResult, *, max_retries: int, sleep: Callable[[float], None]) -> None:
        self.result, self.max_retries, self.sleep = result, max_retries, sleep

    def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        delay = 0.5
        for attempt in range(self.max_retries + 1):
            self.result.requests += 1
            try:
                return fn(*args, **kwargs)
            except (stripe.RateLimitError, stripe.APIConnectionError) as exc:
                if attempt == self.max_retries:
                    raise WarehouseError(f"sync gave up after {attempt + 1} attempts: {exc.__class__.__name__}") from None
                self.result.retries += 1
                self.sleep(delay)
                delay = min(delay * 2, 30.0)
            except stripe.StripeError as exc:
                if getattr(exc, "http_status", None) == 429 and attempt < self.max_retries:
                    self.result.retries += 1
                    self.sleep(delay)
                    delay = min(delay * 2, 30.0)
                    continue
                raise
        raise AssertionError("unreachable")


def _get_state(con: duckdb.DuckDBPyConnection, key: str) -> dict[str, Any]:
    rows = con.execute("SELECT value FROM sync_state WHERE key = ?", [key]).fetchall()
    return json.loads(rows[0][0]) if rows else {}


def _set_state(con: duckdb.DuckDBPyConnection, key: str, value: Mapping[str, Any]) -> None:
    con.execute("INSERT OR REPLACE INTO sync_state VALUES (?, ?, now()::TIMESTAMP)", [key, json.dumps(value)])


def _pages(call: _Caller, service: Any, params: dict[str, Any], after: str | None) -> Iterator[list[dict[str, Any]]]:
    while True:
        p = dict(params, limit=PAGE)
        if after:
            p["starting_after"] = after
        page = call(service.list, params=p)
        objects = [o.to_dict() for o in page.data]
        if objects:
            yield objects
        if not page.has_more or not objects:
            return
        after = objects[-1]["id"]


def _list_into(con: duckdb.DuckDBPyConnection, call: _Caller, client: stripe.StripeClient, object_type: str,
               attr: str, params: dict[str, Any], *, gte: int | None, part: SyncPart,
               tick: Callable[[int], None]) -> int | None:
    """List one type (objects created at or after ``gte``) into the warehouse, resumably.

    Returns the highest ``created`` seen (the next cursor), or None when nothing came back.
    """
    key = f"sync:{object_type}:run"
    run = _get_state(con, key)
    if not run or run.get("gte") != gte:  # no interrupted pass of this kind: start over
        run = {"gte": gte, "after": None, "max_created": None}
    if gte is not None:
        params = dict(params, created={"gte": gte})
    service = getattr(client.v1, attr)
    buffer: list[dict[str, Any]] = []

    def flush() -> None:
        r = load_stripe_objects(con, buffer, object_type=object_type, source=f"sync:{object_type}", rebuild=False)
        part.fetched += len(buffer)
        part.loaded += r.loaded
        part.replaced += r.replaced
        run["after"] = buffer[-1]["id"]
        run["max_created"] = max([run["max_created"] or 0, *(o.get("created") or 0 for o in buffer)])
        _set_state(con, key, run)  # saved right after the objects: a restart continues after them
        buffer.clear()

    for objects in _pages(call, service, params, run["after"]):
        buffer.extend(objects)
        tick(len(objects))
        if len(buffer) >= FLUSH_EVERY:
            flush()
    if buffer:
        flush()
    con.execute("DELETE FROM sync_state WHERE key = ?", [key])
    return run["max_created"]


def sync(
    warehouse: Warehouse,
    *,
    client: stripe.StripeClient,
    full: bool = False,
    progress: bool = True,
    max_retries: int = 8,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], float] = time.time,
) -> SyncResult:
    """Bring the warehouse up to date with the Stripe account ``client`` talks to."""
    try:
        return _sync(warehouse, client=client, full=full, progress=progress, max_retries=max_retries,
                     sleep=sleep, now=now)
    except stripe.StripeError as exc:
        message = mask_secrets(getattr(exc, "user_message", None) or str(exc) or exc.__class__.__name__)
        raise WarehouseError(f"Stripe API error during sync ({exc.__class__.__name__}): {message}") from None


def _sync(
    warehouse: Warehouse,
    *,
    client: stripe.StripeClient,
    full: bool,
    progress: bool,
    max_retries: int,
    sleep: Callable[[float], None],
    now: Callable[[], float],
) -> SyncResult:
    result = SyncResult()
    call = _Caller(result, max_retries=max_retries, sleep=sleep)
    started = int(now())
    with open_warehouse(warehouse) as con, Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), TextColumn("{task.completed:,} objects"),
        TimeElapsedColumn(), disable=not progress, transient=False, console=Console(stderr=True),
    ) as bar:
        cursors = {} if full else _get_state(con, "sync:cursors")
        events_cursor = cursors.get("event")
        incremental = events_cursor is not None and now() - events_cursor < EVENT_RETENTION

        def task(name: str) -> Callable[[int], None]:
            tid = bar.add_task(name, total=None)
            return lambda n: bar.advance(tid, n)

        # Changing objects: listed in full the first time (or when events have expired) ...
        if not incremental:
            for object_type, (attr, params) in MUTABLE.items():
                part = result.parts.setdefault(object_type, SyncPart(mode="full"))
                _list_into(con, call, client, object_type, attr, params, gte=None, part=part,
                           tick=task(f"{object_type}s (full)"))
        # ... objects that never change: by created cursor (>=, so a second sharing the cursor
        # is not lost; re-loading the same ids only replaces them).
        for object_type, (attr, params) in IMMUTABLE.items():
            gte = cursors.get(object_type)
            part = result.parts.setdefault(object_type, SyncPart(mode="full" if gte is None else "incremental"))
            top = _list_into(con, call, client, object_type, attr, params, gte=gte, part=part,
                             tick=task(f"{object_type}s" + ("" if gte is None else " (new)")))
            if top is not None:
                # Capped at the sync's start: objects on a test clock may be stamped in the future.
                cursors[object_type] = min(top, started)
            _set_state(con, "sync:cursors", cursors)
        # ... and, when incremental, every changing object an event since the last run names.
        if incremental:
            rebuild_typed(con, ["event"])  # the events just fetched name what changed
            changed = _changed_since(con, events_cursor)
            tick = task("changed objects")
            for object_type, ids in changed.items():
                attr, _ = MUTABLE[object_type]
                service = getattr(client.v1, attr)
                part = result.parts.setdefault(object_type, SyncPart(mode="events"))
                batch: list[dict[str, Any]] = []
                for oid in ids:
                    try:
                        obj = call(service.retrieve, oid, params=_RETRIEVE_PARAMS.get(object_type, {}))
                    except stripe.InvalidRequestError as exc:
                        if getattr(exc, "http_status", None) == 404:
                            continue  # deleted since: its last snapshot stays
                        raise
                    batch.append(obj.to_dict())
                    tick(1)
                    if len(batch) == PAGE:
                        _flush(con, batch, object_type, part)
                if batch:
                    _flush(con, batch, object_type, part)
        if "event" not in cursors:
            cursors["event"] = started  # an account without events yet: start watching now
        _set_state(con, "sync:cursors", cursors)
        # Pages stored only raw objects; the typed tables are rebuilt once, from everything.
        rebuild_typed(con, None)
    return result


def _flush(con: duckdb.DuckDBPyConnection, batch: list[dict[str, Any]], object_type: str, part: SyncPart) -> None:
    r = load_stripe_objects(con, batch, object_type=object_type, source=f"sync:{object_type}", rebuild=False)
    part.fetched += len(batch)
    part.loaded += r.loaded
    part.replaced += r.replaced
    batch.clear()


CHANGED_SQL = """
SELECT object_type, list(DISTINCT object_id ORDER BY object_id)
FROM events
WHERE created >= make_timestamp(CAST($since AS BIGINT) * 1000000) AND object_type IN ({types})
GROUP BY object_type
"""


def _changed_since(con: duckdb.DuckDBPyConnection, since: int) -> dict[str, list[str]]:
    types = ", ".join(f"'{t}'" for t in MUTABLE)
    rows = con.execute(CHANGED_SQL.format(types=types), {"since": since}).fetchall()
    order = list(MUTABLE)
    return {t: ids for t, ids in sorted(rows, key=lambda r: order.index(r[0]))}
