"""One account's view of the sandbox: its store, time, events, rendering with ``expand``, lists.

Every handler receives the :class:`Sandbox` of the account its request acts on (chosen from the API
key and ``Stripe-Account`` by :mod:`._auth`). A ``Sandbox`` holds that account's store only, so
lookups, lists, search, expansions and events cannot see another account's objects. What accounts
share (settings, the webhook dispatcher, the server's URL) lives in :class:`Shared`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ._errors import invalid, missing, unknown_param
from ._objects import PREFIXES, blank, deep_public, new_id, public, to_int
from ._settings import SandboxSettings
from ._store import Store

if TYPE_CHECKING:
    from ._webhooks import Dispatcher

__all__ = ["Sandbox", "Shared", "API_VERSION", "INCLUDABLES"]

API_VERSION = "2026-10-28.endive"
Obj = dict[str, Any]

# Fields whose value is an id without a recognisable prefix (coupons have free-form ids).
_FIELD_KINDS = {"coupon": "coupon", "promotion_code": "promotion_code"}

# Per-object computed fields requested through expand (Stripe's "includable" fields), registered
# by the resource modules: INCLUDABLES["invoice"]["payments"] = lambda sb, invoice: ...
INCLUDABLES: dict[str, dict[str, Callable[[Sandbox, Obj], Any]]] = {}


class Shared:
    """What every account of one server shares: settings, the webhook dispatcher, the base URL,
    and the generator behind request-level chaos (reseeded whenever ``chaos_seed`` is set)."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.dispatcher: Dispatcher | None = None
        self.base_url = "http://127.0.0.1:12111"  # set by the server once it knows its port
        self.chaos = random.Random(settings.chaos_seed)


class Sandbox:
    """One account's state. Every method runs under ``store.lock``."""

    def __init__(self, *, store: Store, profile: Obj, shared: Shared) -> None:
        self.store = store
        self.account_id = store.account
        self.profile = profile  # the account's record (email, business name, creation time)
        self.settings = shared.settings  # one object, updated in place
        self._shared = shared
        self.request_id: str | None = None
        self.idempotency_key: str | None = None

    def __repr__(self) -> str:
        return f"Sandbox(account={self.account_id!r})"

    @property
    def dispatcher(self) -> Dispatcher | None:
        return self._shared.dispatcher

    @property
    def base_url(self) -> str:
        return self._shared.base_url

    @property
    def chaos(self) -> random.Random:
        return self._shared.chaos

    # -- time --------------------------------------------------------------------------------
    def now(self, clock: str | None = None) -> int:
        if clock:
            c = self.store.get(clock)
            if c is not None:
                return int(c["frozen_time"])
        return int(time.time())

    def clock_of(self, customer_id: str | None) -> str | None:
        if not customer_id:
            return None
        cus = self.store.get(customer_id)
        return cus.get("test_clock") if cus else None

    # -- lookups -----------------------------------------------------------------------------
    def get(self, kind: str, oid: Any, *, param: str = "id", label: str | None = None) -> Obj:
        if not isinstance(oid, str) or not oid:
            raise invalid(f"Invalid {param}: must be a string id", param=param)
        obj = self.store.get(oid, kind)
        if obj is None or obj.get("deleted"):
            # A missing object named in the path is a 404; one named by a parameter is a 400.
            raise missing(label or kind.split(".")[-1], oid, param=param, status=404 if param == "id" else 400)
        return obj

    def kind_for(self, oid: str, field: str | None = None) -> str | None:
        if field in _FIELD_KINDS:
            return _FIELD_KINDS[field]
        parts = oid.split("_", 2)
        return PREFIXES.get("_".join(parts[:2])) or PREFIXES.get(parts[0])

    # -- events ------------------------------------------------------------------------------
    def emit(
        self,
        type: str,
        obj: Obj,
        *,
        previous: Obj | None = None,
        clock: str | None = None,
    ) -> Obj:
        """Record an event with a snapshot of ``obj`` and hand it to webhook delivery."""
        data: Obj = {"object": deep_public(obj)}
        if previous:
            data["previous_attributes"] = previous
        event = blank(
            "event",
            id=new_id("evt"),
            api_version=API_VERSION,
            created=self.now(clock),
            data=data,
            type=type,
            request={"id": self.request_id, "idempotency_key": self.idempotency_key},
            pending_webhooks=0,
        )
        dispatcher = self._shared.dispatcher
        targets = dispatcher.targets(type, self.account_id) if dispatcher is not None else []
        event["pending_webhooks"] = len(targets)
        self.store.put(event)
        if targets:
            dispatcher.enqueue(event, self.account_id, targets)  # type: ignore[union-attr]
        return event

    @staticmethod
    def snapshot(obj: Obj) -> Obj:
        return deep_public(obj)

    def emit_updated(self, type: str, obj: Obj, before: Obj, *, clock: str | None = None) -> Obj | None:
        """Emit ``type`` with ``previous_attributes`` = the changed top-level values (if any)."""
        after = public(obj)
        previous = {k: v for k, v in before.items() if after.get(k) != v}
        if not previous:
            return None
        return self.emit(type, obj, previous=previous, clock=clock)

    # -- rendering ---------------------------------------------------------------------------
    def render(self, payload: Obj, expand: Iterable[str] = ()) -> Obj:
        out = public(payload)
        if out.get("object") == "list" or out.get("object") == "search_result":
            out["data"] = [public(o) for o in out["data"]]
        for path in expand:
            if not isinstance(path, str):
                raise invalid("Invalid expand", param="expand")
            self._expand(out, path.split("."), path)
        return out

    def _expand(self, node: Any, segs: list[str], full: str) -> None:
        if node is None:
            return
        if isinstance(node, list):
            for i, item in enumerate(node):
                if isinstance(item, dict):
                    node[i] = dict(item)
                    self._expand(node[i], segs, full)
            return
        if not isinstance(node, dict) or not segs:
            return
        seg, rest = segs[0], segs[1:]
        if seg not in node:
            compute = INCLUDABLES.get(node.get("object", ""), {}).get(seg)
            if compute is None:
                raise invalid(f"This property cannot be expanded ({seg}).", param="expand")
            node[seg] = compute(self, node)
        value = node[seg]
        if isinstance(value, str):
            kind = self.kind_for(value, seg)
            target = self.store.get(value) if kind else None
            if target is None:
                if kind is None:
                    raise invalid(f"This property cannot be expanded ({seg}).", param="expand")
                return
            node[seg] = public(target)
        elif isinstance(value, dict):
            node[seg] = dict(value)
        elif isinstance(value, list):
            # A list of ids (e.g. subscription.discounts) expands element by element.
            node[seg] = [
                public(self.store.get(v) or {"id": v}) if isinstance(v, str) and self.kind_for(v, seg) else v
                for v in value
            ]
        if rest:
            self._expand(node[seg], rest, full)

    # -- lists -------------------------------------------------------------------------------
    def list(
        self,
        kind: str,
        params: Obj,
        *,
        url: str,
        match: Callable[[Obj], bool] | None = None,
        source: Iterable[Obj] | None = None,
    ) -> Obj:
        """A Stripe list page: newest first, ``limit`` 1-100, cursors, ``created`` filters."""
        limit = to_int(params.get("limit", 10), param="limit", minimum=1, maximum=100)
        after = params.get("starting_after")
        before = params.get("ending_before")
        created = _range(params.get("created"), "created")
        for name, cursor in (("starting_after", after), ("ending_before", before)):
            if source is not None:
                continue
            if cursor is not None and (not isinstance(cursor, str) or not self.store.has_position(cursor)):
                raise missing(kind.split(".")[-1].replace("_", " "), str(cursor), param=name, status=400)

        def ok(o: Obj) -> bool:
            if created is not None and not created(o.get("created", 0)):
                return False
            return match is None or match(o)

        if source is not None:
            items = list(source)
            ids = [o["id"] for o in items]
            if after:
                items = items[ids.index(after) + 1:] if after in ids else []
            elif before:
                items = list(reversed(items[: ids.index(before)])) if before in ids else []
            iterator: Iterable[Obj] = iter(items)
        else:
            iterator = self.store.iter(kind, after=after, before=before)
        page: list[Obj] = []
        has_more = False
        for o in iterator:
            if not ok(o):
                continue
            if len(page) == limit:
                has_more = True
                break
            page.append(o)
        if before:
            page.reverse()
        return {"object": "list", "data": page, "has_more": has_more, "url": url}


def _range(value: Any, param: str) -> Callable[[int], bool] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        n = to_int(value, param=param)
        return lambda v: v == n
    checks = []
    for op, raw in value.items():
        n = to_int(raw, param=f"{param}[{op}]")
        if op == "gt":
            checks.append(lambda v, n=n: v > n)
        elif op == "gte":
            checks.append(lambda v, n=n: v >= n)
        elif op == "lt":
            checks.append(lambda v, n=n: v < n)
        elif op == "lte":
            checks.append(lambda v, n=n: v <= n)
        else:
            raise unknown_param(f"{param}[{op}]")
    return lambda v: all(c(v) for c in checks)
