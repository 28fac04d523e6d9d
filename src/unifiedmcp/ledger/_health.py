"""Whether the ledger can be used now: what ``serve``'s ``/healthz`` reports, and the log lines
that say when the ledger starts failing and when it works again (once per episode, not per call).

Two kinds of evidence, kept apart because they age differently:

- a **probe** (``Ledger.health()``: a read, and on SQLite the check that its shared memory can be
  written) speaks for the moment it ran: a failed probe counts until the next one succeeds;
- a **failed write** (a metering batch or any other write transaction) shows what a probe cannot
  see: a full disk, a lock held for too long, a read-only database. It counts until a write
  succeeds, but for at most ``memory`` seconds: a replica that a load balancer took out of
  rotation gets no writes to prove itself with, and would otherwise stay out for good.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from ..errors import LedgerError

__all__ = ["HealthWatch", "LedgerHealth"]

log = logging.getLogger("unifiedmcp.ledger")

#: How long a failed write keeps the ledger unhealthy when no write follows it.
WRITE_FAILURE_MEMORY = 60.0


@dataclass(frozen=True)
class LedgerHealth:
    """``ok``, or the reason the ledger cannot be used (``error``, one line, no secret)."""

    ok: bool
    error: str | None = None


class HealthWatch:
    """The failures seen on one ledger. Thread-safe; :meth:`wrote` costs one attribute test."""

    def __init__(self, location: str, *, memory: float = WRITE_FAILURE_MEMORY) -> None:
        self._location = location
        self._memory = memory
        self._lock = threading.Lock()
        self._write: tuple[float, str] | None = None  # (monotonic time, why) of a write failed since the last good one
        self._probe: str | None = None  # why the last probe failed

    def wrote(self) -> None:
        """A write committed."""
        if self._write is not None:
            with self._lock:
                was = self._reason()
                self._write = None
                self._log(was)

    def write_failed(self, exc: LedgerError) -> None:
        with self._lock:
            was = self._reason()
            self._write = (time.monotonic(), str(exc))
            self._log(was)

    def probed(self, error: LedgerError | None) -> LedgerHealth:
        """Record a probe's outcome (``error`` None: it succeeded); return the ledger's health."""
        with self._lock:
            was = self._reason()
            self._probe = None if error is None else str(error)
            if self._write is not None and time.monotonic() - self._write[0] >= self._memory:
                self._write = None  # too old to speak for the ledger now: the probe does
            self._log(was)
            reason = self._reason()
        return LedgerHealth(ok=reason is None, error=reason)

    def _reason(self) -> str | None:
        return self._probe or (self._write[1] if self._write is not None else None)

    def _log(self, was: str | None) -> None:
        """Log when the ledger starts or stops failing (``was``: the reason before the change)."""
        reason = self._reason()
        if reason is not None and was is None:
            log.error("ledger %s is failing: %s", self._location, reason)
        elif reason is None and was is not None:
            log.warning("ledger %s works again", self._location)
