"""Webhook delivery: Stripe-exact signatures, retries with exponential backoff, chaos options.

Who receives an event of account A: A's own endpoints (those created without ``connect``); the
``connect=true`` endpoints of every platform A is connected to, with ``"account": A`` added to the
event; and the ``--forward-to`` targets, which belong to the primary account: its own events, and
(with ``account``) those of the accounts connected to it. Nobody else.

Each target (a webhook endpoint, or a ``--forward-to`` URL) has its own queue and worker on the
server's event loop, so one slow receiver does not hold up the others and, without chaos, each
receiver sees events in the order they happened. A non-2xx answer or a connection error is retried
``webhook_retry_scale * 600 * 3**(n-1)`` seconds after attempt ``n`` (10 min, 30 min, 90 min at
scale 1, like Stripe's test mode "three retries over a few hours"), up to ``webhook_max_attempts``.

Chaos (for testing receivers): ``chaos_duplicate`` (probability of sending a delivery twice),
``chaos_delay_seconds`` (random extra delay per delivery), ``chaos_reorder`` (hold deliveries for
``chaos_reorder_window_seconds`` and send each batch shuffled). ``chaos_seed`` makes the choices reproducible.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from ._objects import public

if TYPE_CHECKING:
    from ._accounts import Accounts

__all__ = ["Dispatcher", "sign", "ForwardTarget", "Target"]


def sign(payload: str, secret: str, *, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header value for ``payload`` (``t=...,v1=...``)."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode("utf-8"), f"{t}.{payload}".encode("utf-8"), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


@dataclass
class ForwardTarget:
    """A ``stripe listen --forward-to`` style receiver of every event."""

    url: str
    secret: str
    events: tuple[str, ...] = ("*",)


@dataclass(frozen=True)
class Target:
    """Where one event goes: ``owner`` is the account the endpoint belongs to; ``connect``: the
    event is another (connected) account's, so it is sent with ``account``."""

    id: str
    url: str
    secret: str = field(repr=False)
    owner: str
    connect: bool


@dataclass
class _Delivery:
    target_id: str
    owner: str
    url: str
    secret: str
    event_id: str
    event_type: str
    payload: str
    attempt: int = 1
    delayed: bool = False  # chaos delay already applied


def _matches(enabled: list[str] | tuple[str, ...], event_type: str) -> bool:
    return "*" in enabled or event_type in enabled


class Dispatcher:
    """Delivers events to every matching target; lives on the server's event loop."""

    def __init__(self, accounts: Accounts, *, loop: asyncio.AbstractEventLoop) -> None:
        self.accounts = accounts
        self.settings = accounts.settings
        self.loop = loop
        self.forward: list[ForwardTarget] = []
        self.log: deque[dict[str, Any]] = deque(maxlen=5000)
        self._queues: dict[str, asyncio.Queue[_Delivery]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._outstanding = 0  # queued + in flight + waiting for a retry
        self._timers: dict[str, set[asyncio.TimerHandle]] = {}
        self._dropped: set[str] = set()
        self._client = httpx.AsyncClient(timeout=self.settings.webhook_timeout_seconds)
        self._rng = random.Random(self.settings.chaos_seed)

    # -- called from request handlers (any thread) ----------------------------------------------
    def targets(self, event_type: str, account: str) -> list[Target]:
        """Every receiver of an event of ``account`` (see the module docstring)."""
        out = []
        sandbox = self.accounts.sandbox(account)
        for we in sandbox.store.iter("webhook_endpoint", newest_first=False) if sandbox else ():
            if not we.get("_connect") and we["status"] == "enabled" and _matches(we["enabled_events"], event_type):
                out.append(Target(we["id"], we["url"], we["_secret"], account, False))
        platforms = self.accounts.platforms_of(account)
        for platform in platforms:
            for we in self.accounts.sandbox(platform).store.iter("webhook_endpoint", newest_first=False):  # type: ignore[union-attr]
                if we.get("_connect") and we["status"] == "enabled" and _matches(we["enabled_events"], event_type):
                    out.append(Target(we["id"], we["url"], we["_secret"], platform, True))
        primary = self.accounts.primary
        if account == primary or primary in platforms:
            for i, f in enumerate(self.forward):
                if _matches(f.events, event_type):
                    out.append(Target(f"forward_{i}", f.url, f.secret, primary, account != primary))
        return out

    def enqueue(self, event: dict[str, Any], account: str, targets: list[Target]) -> None:
        """Queue ``event`` (of ``account``) for each of ``targets``."""
        own = public(event)
        payloads = {False: json.dumps(own, indent=2)}
        if any(t.connect for t in targets):
            payloads[True] = json.dumps({**own, "account": account}, indent=2)
        for t in targets:
            d = _Delivery(t.id, t.owner, t.url, t.secret, event["id"], event["type"], payloads[t.connect])
            self._outstanding += 1
            self.loop.call_soon_threadsafe(self._put, d)

    def reseed(self) -> None:
        self._rng = random.Random(self.settings.chaos_seed)

    @property
    def idle(self) -> bool:
        return self._outstanding == 0

    # -- on the loop ----------------------------------------------------------------------------
    def _put(self, d: _Delivery) -> None:
        q = self._queues.get(d.target_id)
        if q is None:
            q = self._queues[d.target_id] = asyncio.Queue()
            self._workers[d.target_id] = self.loop.create_task(self._work(q))
        q.put_nowait(d)

    async def _work(self, q: asyncio.Queue[_Delivery]) -> None:
        while True:
            batch = [await q.get()]
            if self.settings.chaos_reorder:
                # Hold the first delivery for a moment so that later ones can overtake it.
                await asyncio.sleep(self.settings.chaos_reorder_window_seconds)
            while not q.empty():
                batch.append(q.get_nowait())
            s = self.settings
            if s.chaos_reorder and len(batch) > 1:
                self._rng.shuffle(batch)
            for d in batch:
                if d.target_id in self._dropped:
                    self._outstanding -= 1
                    continue
                if s.chaos_delay_seconds > 0 and not d.delayed:
                    # Each delayed delivery waits on its own, so later events can overtake it.
                    d.delayed = True
                    self._schedule(d, self._rng.uniform(0, s.chaos_delay_seconds))
                    continue
                ok = await self._send(d)
                if ok and s.chaos_duplicate > 0 and self._rng.random() < s.chaos_duplicate:
                    await self._send(d, duplicate=True)
                if ok:
                    self._outstanding -= 1
                elif d.attempt < s.webhook_max_attempts and d.target_id not in self._dropped:
                    d.attempt += 1
                    self._schedule(d, s.webhook_retry_scale * 600 * 3 ** (d.attempt - 2))
                else:
                    self._outstanding -= 1

    def _schedule(self, d: _Delivery, delay: float) -> None:
        """Queue ``d`` again after ``delay`` seconds (a retry or a chaos delay); cancellable by forget()."""
        timers = self._timers.setdefault(d.target_id, set())
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            timers.discard(handle)  # type: ignore[arg-type]
            self._put(d)

        handle = self.loop.call_later(delay, fire)
        timers.add(handle)

    def forget(self, target_id: str) -> None:
        """Drop every queued and scheduled delivery of a deleted or disabled endpoint."""
        self.loop.call_soon_threadsafe(self._forget, target_id)

    def revive(self, target_id: str) -> None:
        """A re-enabled endpoint receives new events again."""
        self.loop.call_soon_threadsafe(self._dropped.discard, target_id)

    def _forget(self, target_id: str) -> None:
        for handle in self._timers.pop(target_id, set()):
            handle.cancel()
            self._outstanding -= 1
        q = self._queues.get(target_id)
        while q is not None and not q.empty():
            q.get_nowait()
            self._outstanding -= 1
        self._dropped.add(target_id)

    async def _send(self, d: _Delivery, *, duplicate: bool = False) -> bool:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": sign(d.payload, d.secret),
        }
        entry: dict[str, Any] = {
            "event": d.event_id, "type": d.event_type, "target": d.target_id, "account": d.owner, "url": d.url,
            "attempt": d.attempt, "duplicate": duplicate, "at": time.time(), "status": None, "error": None,
        }
        try:
            resp = await self._client.post(d.url, content=d.payload.encode("utf-8"), headers=headers)
            entry["status"] = resp.status_code
            ok = 200 <= resp.status_code < 300
        except httpx.HTTPError as exc:
            entry["error"] = exc.__class__.__name__
            ok = False
        self.log.append(entry)
        return ok

    async def aclose(self) -> None:
        for task in self._workers.values():
            task.cancel()
        await self._client.aclose()
