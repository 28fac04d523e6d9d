"""Syncing Stripe objects from the API (or the local sandbox) into the warehouse.

- First run (or ``full=True``): every object of every type, listed with ``limit=100``.
- Later runs: objects that never change once created (events, charges, refunds) are listed with a
  ``created[gte]`` cursor; objects that change (customers, products, prices, subscriptions,
  invoices, payment intents) are re-fetched when an event since the last run names them. Events
  are kept 30 days by Stripe: past that, the changing types are listed in full again.
- Progress is committed page by page with the pagination position, so an interrupted sync
  resumes where it stopped; loading replaces by id, so nothing is ever duplicated.
- HTTP 429 (rate limited) and connection errors are retried with exponential back-off; each retry
  is announced with the host, the cause and the wait, and a host still unreachable after
  ``CONNECTION_RETRIES`` retries fails the sync with an error naming both.
"""

from __future__ import annotations

import json
import logging
import re
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

__all__ = ["SyncPart", "SyncResult", "api_host", "sync", "MUTABLE", "IMMUTABLE"]

log = logging.getLogger("unifiedmcp.warehouse")

PAGE = 100
CONNECTION_RETRIES = 3  # 0.5 + 1 + 2 s of waiting before a sync gives up on an unreachable host
_STRIPE_API = "https://api.stripe.com"
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^\"')\]]+)")
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


def api_host(client: stripe.StripeClient) -> str:
    """The API base URL ``client`` talks to (Stripe's, or e.g. the local sandbox), for messages."""
    try:
        return str(client._requestor.base_addresses.get("api") or _STRIPE_API)
    except AttributeError:  # stripe-python keeps it private; a message must not fail on that
        return _STRIPE_API


def _cause(exc: Exception) -> str:
    """The network cause inside a stripe APIConnectionError: "Connection refused", "Name or
    service not known", "timed out", else the underlying error's type."""
    inner = exc.__cause__ or exc
    text = str(inner)
    if m := _ERRNO.search(text):
        return m.group(1).strip()
    if "timed out" in text.lower():
        return "timed out"
    return type(inner).__name__


class _Caller:
    """Runs API calls, retrying 429s (up to ``max_retries``) and connection errors (up to
    ``max_connection_retries``: a host that cannot be reached rarely comes back in a minute) with
    exponential back-off; ``on_retry`` hears each retry, naming the host, the cause and the wait."""

    def __init__(self, result: SyncResult, *, max_retries: int, sleep: Callable[[float], None],
                 host: str = _STRIPE_API, on_retry: Callable[[str], None] = lambda _: None,
                 max_connection_retries: int = CONNECTION_RETRIES) -> None:
        self.result, self.max_retries, self.sleep = result, max_retries, sleep
        self.host, self.on_retry, self.max_connection_retries = host, on_retry, max_connection_retries

    def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        delay = 0.5
        attempt = 0
        while True:
            attempt += 1
            self.result.requests += 1
            try:
                return fn(*args, **kwargs)
            except stripe.APIConnectionError as exc:
                why = f"cannot reach {self.host}: {_cause(exc)}"
                limit = min(self.max_retries, self.max_connection_retries)
            except stripe.StripeError as exc:
                if not isinstance(exc, stripe.RateLimitError) and getattr(exc, "http_status", None) != 429:
                    raise
                why = f"rate limited by {self.host} (HTTP 429)"
                limit = self.max_retries
            if attempt > limit:
                raise WarehouseError(f"sync gave up after {attempt} attempts: {why}") from None
            self.result.retries += 1
            self.on_retry(f"{why}; retrying in {delay:g} s (attempt {attempt} of {limit + 1})")
            self.sleep(delay)
            delay = min(delay * 2, 30.0)


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
    on_retry: Callable[[str], None] | None = None,
) -> SyncResult:
    """Bring the warehouse up to date with the Stripe account ``client`` talks to. Retries are
    announced to ``on_retry`` (default: beside the progress bars, or the log without them)."""
    try:
        return _sync(warehouse, client=client, full=full, progress=progress, max_retries=max_retries,
                     sleep=sleep, now=now, on_retry=on_retry)
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
    on_retry: Callable[[str], None] | None,
) -> SyncResult:
    result = SyncResult()
    started = int(now())
    with open_warehouse(warehouse) as con, Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), TextColumn("{task.completed:,} objects"),
        TimeElapsedColumn(), disable=not progress, transient=False, console=Console(stderr=True),
    ) as bar:
        if on_retry is None and progress:
            on_retry = lambda line: bar.console.print(line, markup=False, highlight=False)  # noqa: E731
        call = _Caller(result, max_retries=max_retries, sleep=sleep, host=api_host(client),
                       on_retry=on_retry or log.warning)
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
