"""Webhook delivery: Stripe-exact signatures, retries with exponential backoff, chaos options.

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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from ._objects import public

if TYPE_CHECKING:
    from ._state import Sandbox

__all__ = ["Dispatcher", "sign", "ForwardTarget"]


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


@dataclass
class _Delivery:
    target_id: str
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

    def __init__(self, sb: Sandbox, *, loop: asyncio.AbstractEventLoop) -> None:
        self.sb = sb
        self.loop = loop
        self.forward: list[ForwardTarget] = []
        self.log: deque[dict[str, Any]] = deque(maxlen=5000)
        self._queues: dict[str, asyncio.Queue[_Delivery]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._outstanding = 0  # queued + in flight + waiting for a retry
        self._timers: dict[str, set[asyncio.TimerHandle]] = {}
        self._dropped: set[str] = set()
        self._client = httpx.AsyncClient(timeout=sb.settings.webhook_timeout_seconds)
        seed = sb.settings.chaos_seed
        self._rng = random.Random(seed)

    # -- called from request handlers (any thread) ----------------------------------------------
    def _targets(self, event_type: str) -> list[tuple[str, str, str]]:
        out = []
        for we in self.sb.store.iter("webhook_endpoint", newest_first=False):
            if we["status"] == "enabled" and _matches(we["enabled_events"], event_type):
                out.append((we["id"], we["url"], we["_secret"]))
        for i, f in enumerate(self.forward):
            if _matches(f.events, event_type):
                out.append((f"forward_{i}", f.url, f.secret))
        return out

    def pending_for(self, event_type: str) -> int:
        return len(self._targets(event_type))

    def enqueue(self, event: dict[str, Any]) -> None:
        targets = self._targets(event["type"])
        if not targets:
            return
        payload = json.dumps(public(event), indent=2)
        for tid, url, secret in targets:
            d = _Delivery(tid, url, secret, event["id"], event["type"], payload)
            self._outstanding += 1
            self.loop.call_soon_threadsafe(self._put, d)

    def reseed(self) -> None:
        self._rng = random.Random(self.sb.settings.chaos_seed)

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
            if self.sb.settings.chaos_reorder:
                # Hold the first delivery for a moment so that later ones can overtake it.
                await asyncio.sleep(self.sb.settings.chaos_reorder_window_seconds)
            while not q.empty():
                batch.append(q.get_nowait())
            s = self.sb.settings
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
            "event": d.event_id, "type": d.event_type, "target": d.target_id, "url": d.url,
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
