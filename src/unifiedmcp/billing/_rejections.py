"""Refused webhook deliveries, counted in memory and added to the ledger in batches.

A refused delivery (no or a bad signature, a stale timestamp, a body too large or not an event)
stores nothing but a count by reason in ``webhook_rejections``, which the ops report and
``unifiedmcp webhooks`` read. Written per delivery, that count made every forged request a ledger
write: a flood of unsigned deliveries (32 connections) doubled the metering latency of every tool
call. Counts are now kept in memory and added in one transaction per flush:

- at most ``interval`` seconds (1 s by default) after the first count since the last flush, so
  readers see them within about that long, however many deliveries are refused meanwhile;
- when the receiver shuts down (its lifespan), so a stopped server loses none;
- a flush the ledger refuses keeps its counts for the next attempt; a process killed outright
  (SIGKILL) loses the counts of its last interval, and nothing else.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import UTC, datetime

import anyio.to_thread

from .._times import utc_text
from ..errors import LedgerError
from ..ledger import Ledger

__all__ = ["DEFAULT_FLUSH_INTERVAL", "RejectionCounter", "rejected_deliveries"]

log = logging.getLogger("unifiedmcp.billing.webhooks")

DEFAULT_FLUSH_INTERVAL = 1.0

_ADD_COUNTS = """
INSERT INTO webhook_rejections (reason, count, last_at) VALUES (?, ?, ?)
ON CONFLICT (reason) DO UPDATE SET
  count = webhook_rejections.count + excluded.count, last_at = greatest(webhook_rejections.last_at, excluded.last_at)
"""


def rejected_deliveries(ledger: Ledger) -> dict[str, int]:
    """Refused deliveries by reason, as flushed to the ledger (the ops report sums them)."""
    with ledger.transaction() as conn:
        rows = conn.execute("SELECT reason, count FROM webhook_rejections ORDER BY reason").fetchall()
    return {reason: count for reason, count in rows}


class RejectionCounter:
    """Counts of refused deliveries by reason, flushed to ``ledger`` in batches (module docstring).

    :meth:`add` runs on the event loop and costs a dict update; :meth:`flush` (a worker thread,
    or the shutdown) writes everything pending in one transaction. Thread-safe.
    """

    def __init__(self, ledger: Ledger, *, interval: float = DEFAULT_FLUSH_INTERVAL) -> None:
        if interval <= 0:
            raise ValueError(f"the flush interval must be positive, not {interval}")
        self.ledger = ledger
        self.interval = interval
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[int, float]] = {}  # reason -> (count, time of the last one)
        self._flusher: asyncio.Task[None] | None = None
        self._failing = False

    def add(self, reason: str) -> None:
        """Count one refused delivery; a flush follows within ``interval``. Call it on the event loop."""
        with self._lock:
            count, _ = self._pending.get(reason, (0, 0.0))
            self._pending[reason] = (count + 1, time.time())
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_later())

    def flush(self) -> int:
        """Add the pending counts to the ledger in one transaction; returns how many deliveries
        that was. On a ledger error the counts stay pending (and the error is raised)."""
        with self._lock:
            batch, self._pending = self._pending, {}
        if not batch:
            return 0
        rows = [(reason, n, utc_text(datetime.fromtimestamp(at, UTC))) for reason, (n, at) in batch.items()]
        try:
            with self.ledger.transaction() as conn:
                conn.executemany(_ADD_COUNTS, rows)
        except BaseException:
            with self._lock:
                for reason, (n, at) in batch.items():
                    count, last = self._pending.get(reason, (0, 0.0))
                    self._pending[reason] = (count + n, max(at, last))
            raise
        return sum(n for n, _ in batch.values())

    @property
    def pending(self) -> int:
        """Deliveries counted here and not yet in the ledger."""
        with self._lock:
            return sum(n for n, _ in self._pending.values())

    async def _flush_later(self) -> None:
        """Flush after ``interval`` in a worker thread (a ledger write may wait for a lock), again
        while counts remain (those added meanwhile, or kept by a failed flush)."""
        try:
            while True:
                await anyio.sleep(self.interval)
                try:
                    await anyio.to_thread.run_sync(self.flush)
                except LedgerError as exc:
                    if not self._failing:  # once per outage: the ledger logs its own state too
                        log.warning("refused webhook deliveries not counted yet (%d pending): %s", self.pending, exc)
                    self._failing = True
                else:
                    self._failing = False
                if not self.pending:
                    return
        finally:
            self._flusher = None

    async def close(self) -> None:
        """Stop the scheduled flush and write what is pending (the receiver's shutdown)."""
        if self._flusher is not None:
            self._flusher.cancel()
        try:
            await anyio.to_thread.run_sync(self.flush)
        except LedgerError as exc:
            log.error("%d refused webhook deliveries were not counted: %s", self.pending, exc)
