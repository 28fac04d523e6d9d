"""The usage pusher as a background task of ``serve`` (usage billing, ``billing/_push.py``).

Every replica may run one: staging is serialised by the ledger and Stripe de-duplicates the
identifiers, so several pushers never count a call twice. A failing run is logged and retried at
the next interval; the task never takes the server down.
"""

from __future__ import annotations

import asyncio
import logging
import time

import anyio.to_thread

from ..billing import UsagePusher
from ._metrics import set_push_lag

__all__ = ["push_forever"]

log = logging.getLogger("unifiedmcp.billing.push")


async def push_forever(pusher: UsagePusher, *, interval: float) -> None:
    """Run ``pusher`` every ``interval`` seconds (in a worker thread: it blocks on Stripe)."""
    while True:
        try:
            result = await anyio.to_thread.run_sync(pusher.run_once)
            oldest = result.oldest_pending_ts
            set_push_lag(0.0 if oldest is None else max(0.0, time.time() - oldest))
            if result.sent or result.failed:
                log.info("usage push: %d event(s) sent (%d call(s)), %d failed, %d pending",
                         result.sent, result.calls_sent, result.failed, result.pending)
        except Exception as exc:  # the next run retries; the server keeps serving
            log.warning("usage push failed: %s", exc)
        await asyncio.sleep(interval)
