"""Usage push: the ledger's billable calls of paying customers, reported to Stripe Billing Meters.

    pusher = UsagePusher(ledger, client)          # client: the operator's account
    result = pusher.run_once()                   # stage what is settled, send what is pending

The ledger is the source of truth and the outbox is in the ledger (``sql/005_usage_outbox.sql``):

1. **stage** (one ledger transaction): the usage rows after the watermark whose outcome is final
   become outbox rows, one per customer and second with the number of billable calls (status
   ``ok``, made on a tier that bills overage: free-tier calls are never reported), with an
   identifier made from ledger ids; the watermark moves on. A crash leaves all of it or none.
2. **send**: each pending row is POSTed as a meter event with its identifier and the calls' own
   timestamp (a call made just before a period ends lands in that period). Stripe de-duplicates
   identifiers, so a retry, a crash between Stripe's answer and our record of it, or a second
   pusher never counts a call twice. 429, 5xx and connection errors are retried with exponential
   back-off (bounded); what still fails stays pending for the next run, as does an event Stripe
   finds dated in the future (clock skew: time cures it). Any other refusal (an unknown
   customer, a timestamp more than 35 days old, no meter) marks the row ``failed`` with Stripe's
   error: visible to ``billing reconcile``, never a silent drop.

Stripe's live-mode limit for meter events is 1,000 calls per second per account, and one
concurrent call per customer and meter (docs "Rate limits"). The pusher sends ``concurrency``
customers' events at once, each customer's in order on one thread, so it never makes two
concurrent calls for a customer; one event per customer and second reaches the account limit only
when more than 1,000 paying customers call in the same second (429s are then retried).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import stripe

from .._secrets import mask_secrets
from ..config import TierTable
from ..ledger import Ledger, MeterEventRow
from ._meters import METER_EVENT, METER_PAYLOAD_CUSTOMER

__all__ = ["PushResult", "UsagePusher", "billable_tiers"]

log = logging.getLogger("unifiedmcp.billing.push")

_RETRYABLE_STATUS = frozenset({409, 429}) | frozenset(range(500, 600))
# Refusals that time cures: an event dated a little ahead of Stripe's clock (our clock runs fast).
_LATER_CODES = frozenset({"timestamp_in_future"})


def billable_tiers(tiers: TierTable) -> set[str]:
    """Tiers whose calls past the included amount are billed (soft limit, a price per call)."""
    return {t.name for t in tiers.tiers if not t.hard_limit and t.overage_per_call > 0}


@dataclass
class PushResult:
    staged_rows: int = 0  # usage rows consumed by staging
    staged_events: int = 0  # outbox rows made
    sent: int = 0
    calls_sent: int = 0  # the calls those sent events carry
    failed: int = 0  # refused by Stripe for good (recorded with the error)
    retried: int = 0  # retryable answers on the way (429, 5xx, network)
    pending: int = 0  # still pending after this run (will be retried)
    oldest_pending_ts: int | None = None  # Unix second of the oldest pending event (the push lag)
    errors: list[str] = field(default_factory=list)

    def add_sends(self, other: PushResult) -> None:
        """Count another part of the same send (one customer's events, sent on another thread)."""
        self.sent += other.sent
        self.calls_sent += other.calls_sent
        self.failed += other.failed
        self.retried += other.retried
        self.errors.extend(other.errors)


class UsagePusher:
    """Stages and sends usage; safe to run in several processes at once (see the module docstring).

    ``bucket_seconds``: calls are summed per customer and this many seconds (1: exact whatever
    the billing periods; see ``Ledger.stage_meter_events`` before using a longer one).

    ``concurrency``: customers whose events are sent at once (one thread each; a customer's own
    events go one at a time, in order, as Stripe's limits ask).

    ``max_attempts``: tries per event within one run (429/5xx/network), with back-off from
    ``backoff`` seconds doubling up to ``max_backoff``. ``sleep`` is injectable for tests only
    in the sense of speed: the sandbox still answers for real.
    """

    def __init__(
        self,
        ledger: Ledger,
        client: stripe.StripeClient,
        *,
        tiers: TierTable | None = None,
        event_name: str = METER_EVENT,
        grace_seconds: float = 600.0,
        bucket_seconds: int = 1,
        batch: int = 500,
        concurrency: int = 8,
        max_attempts: int = 5,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.ledger = ledger
        self.client = client
        self.tiers = tiers or ledger.tiers
        self.event_name = event_name
        self.grace_seconds = grace_seconds
        self.bucket_seconds = bucket_seconds
        self.batch = batch
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"UsagePusher(ledger={self.ledger!r}, event_name={self.event_name!r})"

    # -- the two steps ---------------------------------------------------------------------------

    def stage(self, result: PushResult | None = None) -> PushResult:
        """Stage every settled usage row (several ledger transactions of at most 50,000 rows)."""
        result = result or PushResult()
        billable = billable_tiers(self.tiers)
        while True:
            step = self.ledger.stage_meter_events(
                event_name=self.event_name, billable_tiers=billable, grace_seconds=self.grace_seconds,
                bucket_seconds=self.bucket_seconds,
            )
            result.staged_rows += step.rows
            result.staged_events += step.events
            if step.rows == 0:
                return result

    def send(self, result: PushResult | None = None) -> PushResult:
        """Send every pending outbox row (oldest first); record each outcome in the ledger."""
        result = result or PushResult()
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="usage-push") as pool:
            while True:
                rows = self.ledger.pending_meter_events(event_name=self.event_name, limit=self.batch)
                if not rows:
                    return result
                by_customer: dict[str, list[MeterEventRow]] = {}
                for row in rows:
                    by_customer.setdefault(row.customer_id, []).append(row)
                outcomes = []
                for part, part_outcomes in pool.map(self._send_in_order, by_customer.values()):
                    result.add_sends(part)
                    outcomes.extend(part_outcomes)
                self.ledger.record_meter_results(outcomes)
                if any(status == "pending" for _, status, _ in outcomes):
                    return result  # Stripe keeps refusing for now: leave the rest for the next run

    def run_once(self) -> PushResult:
        result = self.send(self.stage())
        result.pending, result.oldest_pending_ts = self.ledger.meter_backlog(event_name=self.event_name)
        return result

    # -- one meter event -------------------------------------------------------------------------

    def _send_in_order(self, rows: list[MeterEventRow]) -> tuple[PushResult, list[tuple[str, str, str | None]]]:
        """One customer's events, one at a time (a thread of ``send``), with their own counts."""
        part = PushResult()
        return part, [self._send_one(row, part) for row in rows]

    def _send_one(self, row: MeterEventRow, result: PushResult) -> tuple[str, str, str | None]:
        params = {
            "event_name": row.event_name,
            "identifier": row.identifier,
            "timestamp": row.ts,
            "payload": {METER_PAYLOAD_CUSTOMER: row.customer_id, "value": str(row.value)},
        }
        delay = self.backoff
        for attempt in range(1, self.max_attempts + 1):
            try:
                self.client.v1.billing.meter_events.create(params)  # type: ignore[arg-type]
            except stripe.StripeError as exc:
                if _duplicate(exc):  # an earlier attempt got through: counted once, as wanted
                    break
                if exc.code in _LATER_CODES:
                    return row.identifier, "pending", None
                status = exc.http_status
                if status is not None and status not in _RETRYABLE_STATUS:
                    message = mask_secrets(f"{status} {exc.code or ''} {exc.user_message or exc}".strip())
                    result.failed += 1
                    result.errors.append(f"{row.identifier}: {message}")
                    log.warning("meter event %s refused: %s", row.identifier, message)
                    return row.identifier, "failed", message[:1000]
                result.retried += 1
                if attempt == self.max_attempts:
                    log.info("meter event %s still failing (%s); left pending", row.identifier, status or "network")
                    return row.identifier, "pending", None
                self._sleep(delay * (0.5 + random.random()))  # jitter: replicas do not retry in step
                delay = min(delay * 2, self.max_backoff)
                continue
            break
        result.sent += 1
        result.calls_sent += row.value
        return row.identifier, "sent", None


def _duplicate(exc: stripe.StripeError) -> bool:
    """Stripe's answer to an identifier it already has (the event was recorded before)."""
    text = f"{exc.code or ''} {exc.user_message or ''}".lower()
    return exc.http_status == 400 and ("duplicate" in text or "already exists" in text)
