"""Builders of minimal Stripe objects, in the current API shape or the pre-2025 one.

They produce exactly the keys the warehouse reads (plus ``object``/``id``/``created``), shaped as
``obj.to_dict()`` returns them, so tests, the committed sample and the benchmark can write JSON
Lines exports without a Stripe account. Times are Unix seconds or aware/naive-UTC datetimes.

Shapes (see shared/reference/stripe-openapi-fixtures3.json):
- current: ``invoice.parent.subscription_details.subscription``, ``invoice.payments.data[]``,
  line ``parent.subscription_item_details`` and ``pricing.price_details.price``;
- old: ``invoice.subscription`` / ``payment_intent`` / ``charge``, line ``type``, ``proration``,
  ``subscription`` and an embedded ``price`` object.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "Shape",
    "charge",
    "customer",
    "epoch",
    "event",
    "invoice",
    "line",
    "payment_intent",
    "price",
    "product",
    "refund",
    "subscription",
    "write_jsonl",
]

Shape = Literal["current", "old"]
Time = int | float | datetime


def epoch(t: Time | None) -> int | None:
    """Unix seconds of ``t`` (naive datetimes are UTC)."""
    if t is None:
        return None
    if isinstance(t, datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=UTC)
        return int(t.timestamp())
    return int(t)


def customer(id: str, *, created: Time, email: str | None = None, name: str | None = None,
             metadata: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {"id": id, "object": "customer", "created": epoch(created), "email": email, "name": name,
            "currency": "usd", "delinquent": False, "metadata": dict(metadata or {}), "test_clock": None}


def product(id: str, *, name: str, created: Time = 0, tier: str | None = None) -> dict[str, Any]:
    return {"id": id, "object": "product", "created": epoch(created), "name": name, "active": True,
            "metadata": {"tier": tier} if tier else {}}


def price(id: str, *, product: str, unit_amount: int, interval: str | None = "month",
          interval_count: int = 1, currency: str = "usd", lookup_key: str | None = None,
          tier: str | None = None, created: Time = 0) -> dict[str, Any]:
    recurring = None
    if interval is not None:
        recurring = {"interval": interval, "interval_count": interval_count, "meter": None,
                     "usage_type": "licensed", "trial_period_days": None}
    return {"id": id, "object": "price", "created": epoch(created), "active": True, "currency": currency,
            "product": product, "unit_amount": unit_amount, "unit_amount_decimal": str(unit_amount),
            "type": "recurring" if recurring else "one_time", "recurring": recurring,
            "lookup_key": lookup_key, "nickname": None, "metadata": {"tier": tier} if tier else {}}


def subscription(id: str, *, customer: str, price: Mapping[str, Any] | str, created: Time,
                 current_period_start: Time, current_period_end: Time, status: str = "active",
                 quantity: int = 1, ended_at: Time | None = None, canceled_at: Time | None = None,
                 cancel_at: Time | None = None, cancel_at_period_end: bool = False,
                 cancellation_reason: str | None = None, trial_start: Time | None = None,
                 trial_end: Time | None = None, shape: Shape = "current",
                 item_id: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": item_id or f"si_{id.removeprefix('sub_')}", "object": "subscription_item",
                            "price": dict(price) if isinstance(price, Mapping) else price,
                            "quantity": quantity, "subscription": id, "created": epoch(created)}
    sub: dict[str, Any] = {
        "id": id, "object": "subscription", "customer": customer, "created": epoch(created),
        "start_date": epoch(created), "status": status, "currency": "usd",
        "cancel_at": epoch(cancel_at), "cancel_at_period_end": cancel_at_period_end,
        "canceled_at": epoch(canceled_at), "ended_at": epoch(ended_at),
        "cancellation_details": {"comment": None, "feedback": None, "reason": cancellation_reason},
        "trial_start": epoch(trial_start), "trial_end": epoch(trial_end),
        "items": {"object": "list", "data": [item], "has_more": False,
                  "url": f"/v1/subscription_items?subscription={id}"},
        "metadata": {}, "test_clock": None,
    }
    if shape == "current":
        item["current_period_start"] = epoch(current_period_start)
        item["current_period_end"] = epoch(current_period_end)
    else:
        sub["current_period_start"] = epoch(current_period_start)
        sub["current_period_end"] = epoch(current_period_end)
    return sub


def line(id: str, *, price: Mapping[str, Any] | str, amount: int, period_start: Time, period_end: Time,
         subscription: str | None, subscription_item: str | None = None, proration: bool = False,
         kind: Literal["subscription", "invoiceitem"] = "subscription", discount: int = 0,
         currency: str = "usd", quantity: int = 1, shape: Shape = "current",
         invoice: str | None = None) -> dict[str, Any]:
    """An invoice line. ``price`` is a price object or id (old lines embed the object)."""
    price_id = price["id"] if isinstance(price, Mapping) else price
    out: dict[str, Any] = {
        "id": id, "object": "line_item", "amount": amount, "currency": currency, "invoice": invoice,
        "discount_amounts": [{"amount": discount, "discount": f"di_{id}"}] if discount else [],
        "period": {"start": epoch(period_start), "end": epoch(period_end)}, "quantity": quantity,
        "metadata": {},
    }
    if shape == "current":
        if kind == "subscription":
            out["parent"] = {"type": "subscription_item_details", "invoice_item_details": None,
                             "subscription_item_details": {"invoice_item": None, "proration": proration,
                                                           "proration_details": None,
                                                           "subscription": subscription,
                                                           "subscription_item": subscription_item}}
        else:
            out["parent"] = {"type": "invoice_item_details", "subscription_item_details": None,
                             "invoice_item_details": {"invoice_item": f"ii_{id}", "proration": proration,
                                                      "subscription": subscription}}
        out["pricing"] = {"type": "price_details", "price_details": {"price": price_id, "product": None},
                          "unit_amount_decimal": None}
    else:
        out.update({"type": kind, "proration": proration, "subscription": subscription,
                    "subscription_item": subscription_item,
                    "price": dict(price) if isinstance(price, Mapping) else price})
    return out


def invoice(id: str, *, customer: str, created: Time, lines: Iterable[Mapping[str, Any]],
            status: str = "paid", subscription: str | None = None, currency: str = "usd",
            amount_due: int | None = None, amount_paid: int | None = None,
            payment_intent: str | None = None, charge: str | None = None, has_more: bool = False,
            shape: Shape = "current", billing_reason: str = "subscription_cycle") -> dict[str, Any]:
    data = [dict(x, invoice=id) for x in lines]
    total = sum(x["amount"] - sum(d["amount"] for d in x.get("discount_amounts") or []) for x in data)
    due = total if amount_due is None else amount_due
    paid = (due if status == "paid" else 0) if amount_paid is None else amount_paid
    out: dict[str, Any] = {
        "id": id, "object": "invoice", "customer": customer, "created": epoch(created), "status": status,
        "currency": currency, "amount_due": due, "amount_paid": paid, "amount_remaining": due - paid,
        "total": total, "billing_reason": billing_reason,
        "period_start": epoch(created), "period_end": epoch(created),
        "status_transitions": {"finalized_at": epoch(created), "paid_at": epoch(created) if status == "paid" else None,
                               "voided_at": None, "marked_uncollectible_at": None},
        "lines": {"object": "list", "data": data, "has_more": has_more, "url": f"/v1/invoices/{id}/lines"},
    }
    if shape == "current":
        out["parent"] = ({"type": "subscription_details", "quote_details": None,
                          "subscription_details": {"metadata": {}, "subscription": subscription}}
                         if subscription else None)
        payments = []
        if payment_intent:
            payments.append({"object": "invoice_payment", "id": f"inpay_{id}", "invoice": id, "is_default": True,
                             "status": "paid" if status == "paid" else "open",
                             "payment": {"type": "payment_intent", "payment_intent": payment_intent}})
        out["payments"] = {"object": "list", "data": payments, "has_more": False,
                           "url": f"/v1/invoice_payments?invoice={id}"}
    else:
        out.update({"subscription": subscription, "payment_intent": payment_intent, "charge": charge})
    return out


def charge(id: str, *, customer: str | None, created: Time, amount: int, status: str = "succeeded",
           payment_intent: str | None = None, outcome_type: str | None = None,
           outcome_reason: str | None = None, failure_code: str | None = None,
           currency: str = "usd", invoice: str | None = None) -> dict[str, Any]:
    if outcome_type is None:
        outcome_type = {"succeeded": "authorized", "failed": "issuer_declined"}.get(status)
    out = {"id": id, "object": "charge", "customer": customer, "created": epoch(created), "amount": amount,
           "amount_refunded": 0, "currency": currency, "status": status, "paid": status == "succeeded",
           "payment_intent": payment_intent, "failure_code": failure_code,
           "failure_message": None if failure_code is None else failure_code.replace("_", " "),
           "outcome": None if outcome_type is None else {"type": outcome_type, "reason": outcome_reason,
                                                          "network_status": None, "seller_message": None}}
    if invoice is not None:
        out["invoice"] = invoice
    return out


def payment_intent(id: str, *, customer: str | None, created: Time, amount: int,
                   status: str = "succeeded", latest_charge: str | None = None,
                   currency: str = "usd") -> dict[str, Any]:
    return {"id": id, "object": "payment_intent", "customer": customer, "created": epoch(created),
            "amount": amount, "currency": currency, "status": status, "latest_charge": latest_charge,
            "last_payment_error": None}


def refund(id: str, *, charge: str, created: Time, amount: int, currency: str = "usd",
           status: str = "succeeded", reason: str | None = None) -> dict[str, Any]:
    return {"id": id, "object": "refund", "charge": charge, "payment_intent": None, "created": epoch(created),
            "amount": amount, "currency": currency, "status": status, "reason": reason}


def event(id: str, *, type: str, created: Time, obj: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": id, "object": "event", "type": type, "created": epoch(created), "api_version": None,
            "data": {"object": dict(obj)}, "livemode": False, "pending_webhooks": 0,
            "request": {"id": None, "idempotency_key": None}}


_FILES = {
    "customer": "customers.jsonl", "product": "products.jsonl", "price": "prices.jsonl",
    "subscription": "subscriptions.jsonl", "invoice": "invoices.jsonl", "charge": "charges.jsonl",
    "payment_intent": "payment_intents.jsonl", "refund": "refunds.jsonl", "event": "events.jsonl",
}


def write_jsonl(directory: str | Path, objects: Iterable[Mapping[str, Any]], *, append: bool = False) -> Path:
    """Write objects into ``directory/<type>s.jsonl`` by their ``object`` field, in the given order."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    handles: dict[str, Any] = {}
    try:
        for obj in objects:
            name = _FILES[obj["object"]]
            if name not in handles:
                handles[name] = (directory / name).open("a" if append else "w", encoding="utf-8")
            handles[name].write(json.dumps(obj, separators=(",", ":"), sort_keys=True) + "\n")
    finally:
        for h in handles.values():
            h.close()
    return directory


def to_old_invoice(inv: Mapping[str, Any], *, prices: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """A current-shape invoice rewritten in the pre-2025 shape (for samples and tests).

    ``subscription``/``payment_intent`` move to the top level, lines get ``type``, ``proration``,
    ``subscription`` and an embedded ``price`` object (from ``prices`` when known, else its id).
    """
    out = json.loads(json.dumps(inv))
    parent = out.pop("parent", None) or {}
    out["subscription"] = (parent.get("subscription_details") or {}).get("subscription")
    payments = (out.pop("payments", None) or {}).get("data") or []
    out["payment_intent"] = next(((p.get("payment") or {}).get("payment_intent") for p in payments), None)
    out["charge"] = None
    for ln in (out.get("lines") or {}).get("data") or []:
        lp = ln.pop("parent", None) or {}
        pricing = ln.pop("pricing", None) or {}
        details = lp.get("subscription_item_details") or lp.get("invoice_item_details") or {}
        ln["type"] = "subscription" if lp.get("type") == "subscription_item_details" else "invoiceitem"
        ln["proration"] = bool(details.get("proration"))
        ln["subscription"] = details.get("subscription")
        ln["subscription_item"] = details.get("subscription_item")
        pid = (pricing.get("price_details") or {}).get("price")
        ln["price"] = dict((prices or {}).get(pid) or {}) or pid
    return out
