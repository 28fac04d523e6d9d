"""Apply verified Stripe events to the ledger: exactly once, never letting old state win.

Each event is recorded in ``webhook_events`` and applied in ONE ledger transaction, so a process
killed mid-event leaves no trace and Stripe's retry applies it once; a duplicate finds its row
and changes nothing. A handler error rolls the whole transaction back, then the event is recorded
as ``failed`` with the error (a second, small transaction); the caller answers 500.

Ordering: each mirrored object keeps the ``created`` of the event it reflects. An older event is
recorded as ``ignored`` (stale) and changes nothing. Ties (several events in the same second, the
norm under test clocks) are decided by ``previous_attributes`` (the event whose previous values
equal the other's state came later), then by re-fetching the object from Stripe when a client is
available, then by the lifecycle rank of the status. A terminal status (canceled,
incomplete_expired) is never left.

The ledger tier follows the customer's subscriptions: the highest tier among those that are
active, trialing or past_due; the default (free) tier otherwise, and for a deleted customer.
Only the operator's catalog prices grant a tier (prices recorded by ``catalog ensure`` and the
tiers file's price ids and lookup keys), never a price's metadata.

``checkout.session.completed`` (subscription mode) records the paying customer with the email
entered, then applies the session's subscription as Stripe has it now (re-fetched when a client
is available; without one, its ``customer.subscription.*`` events do it). The session's own
content (metadata, ``client_reference_id``, line items) never grants anything, and a
subscription that is not the session's customer's is refused (failed).

Tenancy: an event that carries ``account`` happened in a connected account (a customer's own
Stripe account, delivered to a Connect endpoint). It never touches customers, subscriptions or
tiers; the only one applied is ``account.application.deauthorized``, which removes the
connections to that account.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import stripe

from .._secrets import mask_secrets
from .._times import utc_text
from ..config import TierTable
from ..ledger import Ledger, LedgerConnection
from ._errors import BillingError
from ._shapes import as_dict, invoice_subscription_id, object_id, subscription_period, subscription_prices

__all__ = [
    "EventOutcome",
    "EventProcessor",
    "HANDLED_TYPES",
    "LIVE_STATUSES",
    "TERMINAL_STATUSES",
    "replay_events",
]

log = logging.getLogger("unifiedmcp.billing.webhooks")

#: Subscription statuses in which the customer has the price's tier.
LIVE_STATUSES = frozenset({"active", "trialing", "past_due"})
#: Statuses a subscription never leaves.
TERMINAL_STATUSES = frozenset({"canceled", "incomplete_expired"})
_STATUS_RANK = {
    "incomplete": 0,
    "trialing": 1,
    "active": 2,
    "paused": 2,
    "past_due": 3,
    "unpaid": 4,
    "canceled": 5,
    "incomplete_expired": 5,
}
_INVOICE_RANK = {"draft": 0, "open": 1, "uncollectible": 2, "paid": 3, "void": 3}

_SUBSCRIPTION_TYPES = frozenset(
    {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.paused",
        "customer.subscription.resumed",
        "customer.subscription.trial_will_end",
    }
)
_INVOICE_TYPES = frozenset(
    {"invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed", "invoice.finalized"}
)
DEAUTHORIZED = "account.application.deauthorized"
CHECKOUT_COMPLETED = "checkout.session.completed"
HANDLED_TYPES = _SUBSCRIPTION_TYPES | _INVOICE_TYPES | {
    CHECKOUT_COMPLETED,
    "customer.created",
    "customer.deleted",
    "charge.refunded",
    "charge.dispute.created",
    DEAUTHORIZED,
}

Status = Literal["applied", "ignored", "duplicate", "failed"]

# -- SQL -------------------------------------------------------------------------------------------
# Shared by both ledger backends (see unifiedmcp.ledger): columns of the row being updated are
# qualified with the table name, flags compare with 1, and the larger of two values is greatest().
_EVENT_STATE = "SELECT status, attempts FROM webhook_events WHERE event_id = ?"
_RECORD_EVENT = """
INSERT INTO webhook_events (event_id, type, created, object_id, livemode, received_at, processed_at,
                            status, note, error, attempts, payload)
VALUES (:event_id, :type, :created, :object_id, :livemode, :now, :now, :status, :note, :error, 1, :payload)
ON CONFLICT (event_id) DO UPDATE SET
    processed_at = :now, status = :status, note = :note, error = :error, attempts = webhook_events.attempts + 1,
    replayed_at = CASE WHEN :replay = 1 THEN :now ELSE webhook_events.replayed_at END
"""
_SUB_STATE = "SELECT status, state_created, snapshot, previous FROM subscriptions WHERE subscription_id = ?"
_UPSERT_SUB = """
INSERT INTO subscriptions (subscription_id, customer_id, status, price_id, tier, quantity,
    current_period_start, current_period_end, cancel_at_period_end, cancel_at, canceled_at, trial_end,
    state_created, state_event_id, snapshot, previous, updated_at)
VALUES (:id, :customer, :status, :price, :tier, :quantity, :period_start, :period_end, :cape,
    :cancel_at, :canceled_at, :trial_end, :created, :event_id, :snapshot, :previous, :now)
ON CONFLICT (subscription_id) DO UPDATE SET
    customer_id = :customer, status = :status, price_id = :price, tier = :tier, quantity = :quantity,
    current_period_start = :period_start, current_period_end = :period_end, cancel_at_period_end = :cape,
    cancel_at = :cancel_at, canceled_at = :canceled_at, trial_end = :trial_end,
    state_created = :created, state_event_id = :event_id, snapshot = :snapshot, previous = :previous,
    updated_at = :now
"""
_CUSTOMER_SUBS = "SELECT status, tier FROM subscriptions WHERE customer_id = ?"
_CATALOG_TIER = "SELECT tier FROM catalog_prices WHERE price_id = ?"
_REMOVE_ACCOUNT_CONNECTIONS = "DELETE FROM oauth_connections WHERE provider = ? AND account = ?"
_CUSTOMER_ROW = "SELECT tier, status FROM customers WHERE customer_id = ?"
_INSERT_CUSTOMER = """
INSERT INTO customers (customer_id, email, tier, status, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (customer_id) DO NOTHING
"""
_SET_TIER = "UPDATE customers SET tier = ?, updated_at = ? WHERE customer_id = ?"
_SET_EMAIL = "UPDATE customers SET email = ? WHERE customer_id = ? AND email IS NULL"
_DELETE_CUSTOMER = "UPDATE customers SET status = 'deleted', tier = ?, updated_at = ? WHERE customer_id = ?"
_INVOICE_STATE = "SELECT status, state_created FROM invoices WHERE invoice_id = ?"
_UPSERT_INVOICE = """
INSERT INTO invoices (invoice_id, customer_id, subscription_id, status, billing_reason, currency,
    amount_due, amount_paid, attempt_count, payment_failed, state_created, updated_at)
VALUES (:id, :customer, :subscription, :status, :reason, :currency, :due, :paid, :attempts, :failed,
    :created, :now)
ON CONFLICT (invoice_id) DO UPDATE SET
    customer_id = coalesce(:customer, invoices.customer_id),
    subscription_id = coalesce(:subscription, invoices.subscription_id),
    status = CASE WHEN :newer = 1 THEN :status ELSE invoices.status END,
    billing_reason = coalesce(invoices.billing_reason, :reason),
    currency = coalesce(invoices.currency, :currency),
    amount_due = CASE WHEN :newer = 1 THEN :due ELSE invoices.amount_due END,
    amount_paid = greatest(coalesce(invoices.amount_paid, 0), coalesce(:paid, 0)),
    attempt_count = greatest(coalesce(invoices.attempt_count, 0), coalesce(:attempts, 0)),
    payment_failed = greatest(invoices.payment_failed, :failed),
    state_created = greatest(invoices.state_created, :created),
    updated_at = :now
"""
_UPSERT_INCIDENT = """
INSERT INTO payment_incidents (incident_id, kind, charge_id, customer_id, amount, currency, status,
    created, updated_at)
VALUES (:id, :kind, :charge, :customer, :amount, :currency, :status, :created, :now)
ON CONFLICT (incident_id) DO UPDATE SET
    amount = greatest(coalesce(payment_incidents.amount, 0), coalesce(:amount, 0)),
    status = CASE WHEN :created >= payment_incidents.created THEN :status ELSE payment_incidents.status END,
    created = greatest(payment_incidents.created, :created),
    updated_at = :now
"""


def _json(value: Any) -> str:
    # default=str: objects re-fetched through stripe-python carry Decimal (``*_decimal`` fields).
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class EventOutcome:
    """What processing one event did.

    ``status``: ``applied`` (state changed or confirmed), ``ignored`` (stored only: an unhandled
    type or a stale event, see ``note``), ``duplicate`` (seen before; nothing changed) or
    ``failed`` (the handler raised; ``error`` says why; the caller answers 500).
    """

    event_id: str
    type: str
    status: Status
    note: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"


class _Stale(Exception):
    """The event is older than the state already applied."""


class _NeedsRefetch(Exception):
    """Two same-second states cannot be ordered: ask Stripe for the current one (outside the transaction)."""

    def __init__(self, subscription_id: str) -> None:
        super().__init__(subscription_id)
        self.subscription_id = subscription_id


class _HandlerFailed(Exception):
    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class EventProcessor:
    """Applies verified events to a ledger. Thread-safe (the ledger serializes transactions).

    ``client`` (optional) is used to re-fetch an object when two events are too close to order.
    ``before_apply`` is called with each event inside its transaction, before the handler runs
    (tests use it to kill a receiver mid-event).
    """

    def __init__(
        self,
        ledger: Ledger,
        *,
        tiers: TierTable | None = None,
        client: stripe.StripeClient | None = None,
        before_apply: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.tiers = tiers or ledger.tiers
        self.client = client
        self.before_apply = before_apply

    # -- entry points ----------------------------------------------------------------------------

    def process(self, event: Mapping[str, Any], *, payload: str | None = None, replay: bool = False) -> EventOutcome:
        """Record and apply one verified event (a parsed dict), atomically.

        Success: the event row and its effects commit together. A handler error rolls all of it
        back, then a second transaction records the event as failed (with the error).
        """
        payload = payload if payload is not None else _json(event)
        fresh: dict[str, Mapping[str, Any]] = {}
        while True:
            try:
                return self._process_once(event, payload, replay=replay, fresh=fresh)
            except _NeedsRefetch as need:
                # Fetched outside the transaction: a network call must not hold the ledger's lock.
                try:
                    if self.client is None or need.subscription_id in fresh:  # cannot happen
                        raise RuntimeError(f"cannot order events of {need.subscription_id}")
                    fresh[need.subscription_id] = as_dict(
                        self.client.v1.subscriptions.retrieve(need.subscription_id)
                    )
                except Exception as exc:  # Stripe unreachable: failed, Stripe retries the delivery
                    return self._failed(event, payload, exc, replay=replay)

    def _process_once(
        self, event: Mapping[str, Any], payload: str, *, replay: bool, fresh: Mapping[str, Mapping[str, Any]]
    ) -> EventOutcome:
        event_id, etype = str(event["id"]), str(event["type"])
        try:
            with self.ledger.transaction() as conn:
                row = conn.execute(_EVENT_STATE, (event_id,)).fetchone()
                if row is not None and row[0] in ("applied", "ignored") and not replay:
                    return EventOutcome(event_id, etype, "duplicate")
                if self.before_apply is not None:
                    self.before_apply(event)
                try:
                    status, note = self._apply(conn, event, fresh)
                except _NeedsRefetch:
                    raise
                except Exception as exc:
                    raise _HandlerFailed(exc) from exc
                self._record(conn, event, payload, status=status, note=note, error=None, replay=replay)
            return EventOutcome(event_id, etype, status, note)  # type: ignore[arg-type]
        except _HandlerFailed as failed:
            return self._failed(event, payload, failed.error, replay=replay)

    def _failed(self, event: Mapping[str, Any], payload: str, exc: Exception, *, replay: bool) -> EventOutcome:
        """Record the event as failed with the error (its effects were rolled back)."""
        event_id, etype = str(event["id"]), str(event["type"])
        error = f"{type(exc).__name__}: {mask_secrets(str(exc))}"[:2000]
        log.warning("webhook event %s (%s) failed: %s", event_id, etype, error)
        with self.ledger.transaction() as conn:
            row = conn.execute(_EVENT_STATE, (event_id,)).fetchone()
            if row is not None and row[0] in ("applied", "ignored") and not replay:  # another receiver won
                return EventOutcome(event_id, etype, "duplicate")
            self._record(conn, event, payload, status="failed", note=None, error=error, replay=replay)
        return EventOutcome(event_id, etype, "failed", None, error)

    @staticmethod
    def _record(
        conn: LedgerConnection,
        event: Mapping[str, Any],
        payload: str,
        *,
        status: str,
        note: str | None,
        error: str | None,
        replay: bool,
    ) -> None:
        obj = (event.get("data") or {}).get("object") or {}
        conn.execute(
            _RECORD_EVENT,
            {
                "event_id": str(event["id"]),
                "type": str(event["type"]),
                "created": int(event.get("created") or 0),
                "object_id": obj.get("id") if isinstance(obj, Mapping) else None,
                "livemode": 1 if event.get("livemode") else 0,
                "now": utc_text(),
                "status": status,
                "note": note,
                "error": error,
                "payload": payload,
                "replay": 1 if replay else 0,
            },
        )

    def replay(self, event_ids: Iterable[str] = (), *, failed: bool = False) -> list[EventOutcome]:
        """Re-apply stored events (by id, and/or every failed one), oldest first."""
        ids = list(dict.fromkeys(event_ids))
        with self.ledger.transaction() as conn:
            if failed:
                ids += [
                    r[0]
                    for r in conn.execute(
                        "SELECT event_id FROM webhook_events WHERE status = 'failed' ORDER BY created, received_at"
                    ).fetchall()
                    if r[0] not in ids
                ]
            rows = {
                r[0]: r[1]
                for i in ids
                for r in conn.execute("SELECT event_id, payload FROM webhook_events WHERE event_id = ?", (i,))
            }
        missing = [i for i in ids if i not in rows]
        if missing:
            raise BillingError(f"no stored webhook event {', '.join(missing)}")
        purged = [i for i in ids if not rows[i]]  # retention empties old payloads (docs/privacy.md)
        if purged:
            raise BillingError(f"webhook event {', '.join(purged)} cannot be replayed: retention purged its payload")
        events = [json.loads(rows[i]) for i in ids]
        events.sort(key=lambda e: int(e.get("created") or 0))
        return [self.process(e, payload=rows[e["id"]], replay=True) for e in events]

    # -- dispatch --------------------------------------------------------------------------------

    def _apply(
        self, conn: LedgerConnection, event: Mapping[str, Any], fresh: Mapping[str, Mapping[str, Any]]
    ) -> tuple[str, str | None]:
        etype = event["type"]
        obj = (event.get("data") or {}).get("object")
        if not isinstance(obj, Mapping):
            raise ValueError("event has no data.object")
        account = event.get("account")
        if account:
            if etype == DEAUTHORIZED:
                removed = conn.execute(_REMOVE_ACCOUNT_CONNECTIONS, ("stripe", str(account))).rowcount
                return "applied", f"removed {removed} connection(s) to {account}"
            return "ignored", "connected account event (never changes customers or tiers)"
        try:
            if etype in _SUBSCRIPTION_TYPES:
                self._subscription(conn, event, obj, fresh)
            elif etype in _INVOICE_TYPES:
                self._invoice(conn, event, obj)
            elif etype == CHECKOUT_COMPLETED:
                return self._checkout_completed(conn, event, obj, fresh)
            elif etype == "customer.created":
                self._customer_created(conn, obj)
            elif etype == "customer.deleted":
                self._customer_deleted(conn, obj)
            elif etype == "charge.refunded":
                self._refund(conn, event, obj)
            elif etype == "charge.dispute.created":
                self._dispute(conn, event, obj)
            else:
                return "ignored", "unhandled type"
        except _Stale as stale:
            return "ignored", f"stale: {stale}"
        return "applied", None

    # -- customers and tiers ---------------------------------------------------------------------

    def _ensure_customer(self, conn: LedgerConnection, customer_id: str, email: str | None = None) -> None:
        now = utc_text()
        conn.execute(_INSERT_CUSTOMER, (customer_id, email, self.tiers.default.name, "active", now, now))
        if email:
            conn.execute(_SET_EMAIL, (email, customer_id))

    def _retier(self, conn: LedgerConnection, customer_id: str) -> None:
        row = conn.execute(_CUSTOMER_ROW, (customer_id,)).fetchone()
        if row is None:
            self._ensure_customer(conn, customer_id)
            row = (self.tiers.default.name, "active")
        tier, status = row
        live = [t for s, t in conn.execute(_CUSTOMER_SUBS, (customer_id,)).fetchall() if s in LIVE_STATUSES and t]
        target = self.tiers.default.name
        if status != "deleted":
            target = self.tiers.highest([t for t in live if t in self.tiers]).name
        if target != tier:
            conn.execute(_SET_TIER, (target, utc_text(), customer_id))

    def _customer_created(self, conn: LedgerConnection, obj: Mapping[str, Any]) -> None:
        self._ensure_customer(conn, str(obj["id"]), obj.get("email"))

    def _customer_deleted(self, conn: LedgerConnection, obj: Mapping[str, Any]) -> None:
        cid = str(obj["id"])
        now = utc_text()
        conn.execute(_INSERT_CUSTOMER, (cid, obj.get("email"), self.tiers.default.name, "deleted", now, now))
        conn.execute(_DELETE_CUSTOMER, (self.tiers.default.name, now, cid))

    def _checkout_completed(
        self,
        conn: LedgerConnection,
        event: Mapping[str, Any],
        session: Mapping[str, Any],
        fresh: Mapping[str, Mapping[str, Any]],
    ) -> tuple[str, str | None]:
        """The customer paid on Checkout: record them; apply the subscription Stripe made."""
        if session.get("mode") != "subscription":
            return "ignored", f"{session.get('mode')} mode checkout (no subscription)"
        customer = object_id(session.get("customer"))
        sid = object_id(session.get("subscription"))
        if not customer or not sid:
            raise ValueError(f"checkout session {session.get('id')} completed without a customer or subscription")
        self._ensure_customer(conn, customer, (session.get("customer_details") or {}).get("email"))
        if self.client is None:
            return "applied", "customer recorded; the subscription comes with its own events"
        if sid not in fresh:
            raise _NeedsRefetch(sid)
        sub = fresh[sid]
        # Only Stripe's copy of the subscription counts, and only for the customer who paid.
        if object_id(sub.get("customer")) != customer:
            raise ValueError(f"subscription {sid} does not belong to the session's customer {customer}")
        self._subscription(conn, event, sub, fresh)
        return "applied", None

    # -- subscriptions ---------------------------------------------------------------------------

    def _subscription(
        self,
        conn: LedgerConnection,
        event: Mapping[str, Any],
        obj: Mapping[str, Any],
        fresh: Mapping[str, Mapping[str, Any]],
    ) -> None:
        sid = str(obj["id"])
        created = int(event["created"])
        previous = (event.get("data") or {}).get("previous_attributes")
        row = conn.execute(_SUB_STATE, (sid,)).fetchone()
        if row is not None:
            obj, previous = self._newer_subscription(event, obj, previous, row, fresh.get(sid))
        tier = self._tier_of(conn, obj)
        start, end = subscription_period(obj)
        prices = subscription_prices(obj)
        items = (obj.get("items") or {}).get("data") or []
        customer = object_id(obj.get("customer"))
        if not customer:
            raise ValueError(f"subscription {sid} has no customer")
        conn.execute(
            _UPSERT_SUB,
            {
                "id": sid,
                "customer": customer,
                "status": obj["status"],
                "price": prices[0].get("id") if prices else None,
                "tier": tier,
                "quantity": items[0].get("quantity") if items else None,
                "period_start": start,
                "period_end": end,
                "cape": 1 if obj.get("cancel_at_period_end") else 0,
                "cancel_at": obj.get("cancel_at"),
                "canceled_at": obj.get("canceled_at"),
                "trial_end": obj.get("trial_end"),
                "created": created,
                "event_id": event["id"],
                "snapshot": _json(obj),
                "previous": _json(previous) if previous else None,
                "now": utc_text(),
            },
        )
        self._retier(conn, customer)

    def _newer_subscription(
        self,
        event: Mapping[str, Any],
        obj: Mapping[str, Any],
        previous: Mapping[str, Any] | None,
        row: tuple,
        fetched: Mapping[str, Any] | None,
    ) -> tuple[Mapping[str, Any], Mapping[str, Any] | None]:
        """The state to store (the event's, or a re-fetched one); raises _Stale if the row is newer."""
        stored_status, stored_created, snapshot, stored_prev = row
        status, created = obj["status"], int(event["created"])
        if stored_status in TERMINAL_STATUSES and status not in TERMINAL_STATUSES:
            raise _Stale(f"subscription already {stored_status}")
        if status in TERMINAL_STATUSES and stored_status not in TERMINAL_STATUSES:
            return obj, previous
        if created != stored_created:
            if created < stored_created:
                raise _Stale(f"event created {created} < state created {stored_created}")
            return obj, previous
        stored = json.loads(snapshot)
        stored_previous = json.loads(stored_prev) if stored_prev else None
        if _same_state(stored, obj):
            return obj, previous
        incoming_follows = _follows(previous, stored)
        stored_follows = _follows(stored_previous, obj)
        if incoming_follows and not stored_follows:
            return obj, previous
        if stored_follows and not incoming_follows:
            raise _Stale("a later event of the same second is applied")
        if fetched is not None:
            return fetched, None
        if self.client is not None:
            raise _NeedsRefetch(str(obj["id"]))
        if _rank_key(obj) < _rank_key(stored):
            raise _Stale("same second; lower lifecycle rank")
        return obj, previous

    def _tier_of(self, conn: LedgerConnection, obj: Mapping[str, Any]) -> str | None:
        """The highest tier among the subscription's catalog prices (metadata is never trusted)."""
        found = []
        for price in subscription_prices(obj):
            pid = str(price.get("id") or "")
            row = conn.execute(_CATALOG_TIER, (pid,)).fetchone()
            tier = self.tiers.for_catalog_price(price, {pid: row[0]} if row else None)
            if tier is not None:
                found.append(tier)
        return max(found, key=lambda t: t.rank).name if found else None

    # -- invoices, refunds, disputes -------------------------------------------------------------

    def _invoice(self, conn: LedgerConnection, event: Mapping[str, Any], obj: Mapping[str, Any]) -> None:
        iid = str(obj["id"])
        created = int(event["created"])
        status = obj.get("status")
        row = conn.execute(_INVOICE_STATE, (iid,)).fetchone()
        newer = row is None or (created, _INVOICE_RANK.get(status or "", -1)) >= (
            row[1],
            _INVOICE_RANK.get(row[0] or "", -1),
        )
        customer = object_id(obj.get("customer"))
        conn.execute(
            _UPSERT_INVOICE,
            {
                "id": iid,
                "customer": customer,
                "subscription": invoice_subscription_id(obj),
                "status": status,
                "reason": obj.get("billing_reason"),
                "currency": obj.get("currency"),
                "due": obj.get("amount_due"),
                "paid": obj.get("amount_paid"),
                "attempts": obj.get("attempt_count"),
                "failed": 1 if event["type"] == "invoice.payment_failed" else 0,
                "created": created,
                "newer": 1 if newer else 0,
                "now": utc_text(),
            },
        )
        if customer:
            self._ensure_customer(conn, customer, obj.get("customer_email"))

    def _refund(self, conn: LedgerConnection, event: Mapping[str, Any], obj: Mapping[str, Any]) -> None:
        conn.execute(
            _UPSERT_INCIDENT,
            {
                "id": f"refund:{obj['id']}",
                "kind": "refund",
                "charge": obj["id"],
                "customer": object_id(obj.get("customer")),
                "amount": obj.get("amount_refunded"),
                "currency": obj.get("currency"),
                "status": "refunded" if obj.get("refunded") else "partially_refunded",
                "created": int(event["created"]),
                "now": utc_text(),
            },
        )

    def _dispute(self, conn: LedgerConnection, event: Mapping[str, Any], obj: Mapping[str, Any]) -> None:
        conn.execute(
            _UPSERT_INCIDENT,
            {
                "id": str(obj["id"]),
                "kind": "dispute",
                "charge": object_id(obj.get("charge")),
                "customer": object_id(obj.get("customer")),
                "amount": obj.get("amount"),
                "currency": obj.get("currency"),
                "status": obj.get("status"),
                "created": int(event["created"]),
                "now": utc_text(),
            },
        )


def replay_events(
    ledger: Ledger,
    event_ids: Iterable[str] = (),
    *,
    failed: bool = False,
    client: stripe.StripeClient | None = None,
    tiers: TierTable | None = None,
) -> list[EventOutcome]:
    """Re-apply stored webhook events (by id, and/or every failed one); ``webhooks replay`` uses it."""
    return EventProcessor(ledger, tiers=tiers, client=client).replay(event_ids, failed=failed)


def _same_state(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return _json(a) == _json(b)


def _follows(previous: Mapping[str, Any] | None, before: Mapping[str, Any]) -> bool:
    """True if an event with these ``previous_attributes`` can have come right after ``before``."""
    if not previous:
        return False
    return all(_json(before.get(k)) == _json(v) for k, v in previous.items())


def _rank_key(obj: Mapping[str, Any]) -> tuple[int, int, str]:
    """A total order on states of one subscription within the same second (last resort)."""
    return (
        _STATUS_RANK.get(str(obj.get("status")), 0),
        1 if obj.get("cancel_at_period_end") else 0,
        hashlib.sha256(_json(obj).encode()).hexdigest(),
    )
