"""Group commit for asyncio callers: the metering writes of concurrent tasks share one transaction.

A SQLite commit costs far more than the statements in it: on the development machine one metered
call per transaction runs at about 10,000 calls/s, 16 calls per transaction at about 45,000
(benchmarks/bench_metering.py). The MCP server meters every tool call from its event loop, so
requests are queued there; one flusher task at a time takes everything queued, writes it in one
transaction in a worker thread, and resolves each caller's future, while requests arriving
meanwhile queue for the next batch. Nobody waits for company: a lone request is written on the
loop itself when that needs no waiting (a worker-thread round trip would cost several times the
write), and every caller gets its answer only after its request is committed.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

Request = TypeVar("Request")
Outcome = TypeVar("Outcome")


class _Queue(Generic[Request, Outcome]):
    """The requests of one event loop waiting for the next flush, and the flusher task."""

    __slots__ = ("waiting", "flusher")

    def __init__(self) -> None:
        self.waiting: list[tuple[Request, asyncio.Future[Outcome]]] = []
        self.flusher: asyncio.Task[None] | None = None


class GroupCommit(Generic[Request, Outcome]):
    """Runs ``flush(requests) -> outcomes`` (one outcome per request, in order, in one
    transaction) in a worker thread for batches of concurrent :meth:`submit` calls.

    A batch of one goes to ``flush_now`` on the event loop first, which must return None at once,
    having done nothing, if it would have to wait (for a lock). If a flush raises, each request
    of the batch gets its own ``on_error(exc)`` raised.
    """

    def __init__(
        self,
        flush: Callable[[list[Request]], Sequence[Outcome] | None],
        *,
        flush_now: Callable[[list[Request]], Sequence[Outcome] | None],
        on_error: Callable[[BaseException], BaseException],
    ) -> None:
        self._flush = flush
        self._flush_now = flush_now
        self._on_error = on_error
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue[Request, Outcome]] = (
            weakref.WeakKeyDictionary()
        )

    async def submit(self, request: Request) -> Outcome:
        """Queue ``request`` and return its outcome once its batch is committed."""
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        future: asyncio.Future[Outcome] = loop.create_future()
        queue.waiting.append((request, future))
        if queue.flusher is None:
            queue.flusher = loop.create_task(self._drain(queue))
        # A cancelled caller cancels only its future: its request is still written with the batch.
        return await future

    async def _drain(self, queue: _Queue[Request, Outcome]) -> None:
        try:
            while queue.waiting:
                batch, queue.waiting = queue.waiting, []
                requests = [request for request, _ in batch]
                try:
                    outcomes = self._flush_now(requests) if len(requests) == 1 else None
                    if outcomes is None:
                        outcomes = await asyncio.to_thread(self._flush, requests)
                except Exception as exc:  # noqa: BLE001 - handed to every caller of the batch
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(self._on_error(exc))
                    continue
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if not future.done():
                        future.set_result(outcome)
        finally:
            queue.flusher = None
