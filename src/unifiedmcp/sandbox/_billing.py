"""Invoices and their payment: lines, discounts, finalization, charging, dunning outcomes.

When each step happens (renewals, finalization an hour after the period end, retries, expiry) is
decided in :mod:`._clock`; this module performs the steps.
"""

from __future__ import annotations

from typing import Any

from . import _arrears, _pricing
from ._errors import StripeError
from ._money import new_payment_intent, confirm, resolve_payment_method
from ._objects import blank, new_id, public
from ._state import Sandbox

Obj = dict[str, Any]

__all__ = [
    "build_lines_for_subscription",
    "usage_lines",
    "final_usage_invoice",
    "recompute_totals",
    "create_invoice",
    "finalize",
    "attempt_payment",
    "on_paid",
    "on_failed",
    "on_action_required",
    "cancel_subscription",
    "void_invoice",
    "pay_with",
    "period_end",
    "cancellation_details",
    "pricing",
]


def cancellation_details(*, reason: str | None = None, comment: str | None = None, feedback: str | None = None) -> Obj:
    """A subscription's ``cancellation_details`` (``feedback_option``: Stripe's own feedback survey, never set here)."""
    return {"comment": comment, "feedback": feedback, "feedback_option": None, "reason": reason}


def pricing(price: Obj | None, unit_amount_decimal: str) -> Obj:
    """A line's or an invoice item's ``pricing``: ``price_details`` only when a price is behind it
    (Stripe omits the key for one made from a plain amount)."""
    out: Obj = {"type": "price_details", "unit_amount_decimal": unit_amount_decimal}
    if price is not None:
        out["price_details"] = {"price": price["id"], "product": price["product"]}
    return out


def period_end(sub: Obj) -> int:
    """End of the subscription's current period (all its items share one cycle)."""
    return min(i["current_period_end"] for i in sub["items"]["data"])


# -- invoices -----------------------------------------------------------------------------------
def _line(
    sb: Sandbox,
    *,
    amount: int,
    currency: str,
    description: str,
    period: tuple[int, int],
    quantity: int | None,
    price: Obj | None,
    subscription: str | None,
    subscription_item: str | None,
    invoice_item: str | None = None,
    proration: bool = False,
    metadata: Obj | None = None,
) -> Obj:
    if subscription_item is not None or (subscription and invoice_item is None):
        parent = {
            "type": "subscription_item_details",
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": invoice_item,
                "proration": proration,
                "proration_details": {"credited_items": None},
                "subscription": subscription,
                "subscription_item": subscription_item,
            },
        }
    else:
        parent = {
            "type": "invoice_item_details",
            "invoice_item_details": {
                "invoice_item": invoice_item,
                "proration": proration,
                "proration_details": {"credited_items": None},
                "subscription": subscription,
            },
            "subscription_item_details": None,
        }
    unit = price["unit_amount_decimal"] if price else str(amount // max(quantity or 1, 1))
    return blank(
        "line_item",
        id=new_id("il"),
        amount=amount,
        currency=currency,
        description=description,
        discount_amounts=[],
        discountable=True,
        discounts=[],
        metadata=metadata or {},
        period={"start": period[0], "end": period[1]},
        quantity=quantity,
        parent=parent,
        pricing=pricing(price, unit),
        subtotal=amount,
        pretax_credit_amounts=[],
        taxes=[],
        quantity_decimal=str(quantity) if quantity is not None else None,
    )


def build_lines_for_subscription(sb: Sandbox, sub: Obj, *, trial: bool = False) -> list[Obj]:
    """The licensed items' lines for the subscription's current period, billed in advance
    (metered items are billed in arrears: :func:`usage_lines`)."""
    lines = []
    for item in sub["items"]["data"]:
        price = item["price"]
        if _pricing.is_metered(price):
            continue
        qty = item.get("quantity") or 1
        product = sb.store.get(price["product"]) or {"name": price["product"]}
        amount = 0 if trial else _pricing.amount(sb, price, qty)
        desc = f"Trial period for {product.get('name')}" if trial else _pricing.describe(sb, price, qty)
        lines.append(
            _line(
                sb, amount=amount, currency=price["currency"], description=desc,
                period=(item["current_period_start"], item["current_period_end"]), quantity=qty,
                price=price, subscription=sub["id"], subscription_item=item["id"],
            )
        )
    return lines


def usage_lines(sb: Sandbox, sub: Obj, usages: list[_arrears.Usage]) -> tuple[list[Obj], Obj]:
    """Lines billing metered usage, and what an invoice keeps (``_metered``) to recompute them
    when it is finalized."""
    lines, windows = [], {}
    for u in usages:
        line = _line(
            sb, amount=u.amount, currency=u.price["currency"], description=_pricing.describe(sb, u.price, u.quantity),
            period=(u.start, u.end), quantity=u.quantity, price=u.price, subscription=sub["id"], subscription_item=u.item,
        )
        lines.append(line)
        windows[line["id"]] = {"start": u.start, "end": u.end}
    return lines, windows


def _refresh_usage(sb: Sandbox, inv: Obj) -> None:
    """The grace period: a draft's metered lines take the usage known when it is finalized."""
    windows = inv.get("_metered")
    if not windows:
        return
    for line in inv["lines"]["data"]:
        window = windows.get(line["id"])
        if window is None:
            continue
        price = sb.store.get(line["pricing"]["price_details"]["price"], "price")
        if price is None:
            continue
        q = _arrears.quantity(sb, price, inv["customer"], window["start"], window["end"])
        amount = _pricing.amount(sb, price, q)
        line.update(amount=amount, subtotal=amount, quantity=q, quantity_decimal=str(q),
                    description=_pricing.describe(sb, price, q))
    recompute_totals(sb, inv)


def recompute_totals(sb: Sandbox, inv: Obj) -> None:
    """Subtotal, discounts and totals of an invoice from its current lines."""
    lines = inv["lines"]["data"]
    for l in lines:
        l["discount_amounts"] = []
        l["discounts"] = []
    subtotal = sum(l["amount"] for l in lines)
    totals = _discount_amounts(sb, inv["discounts"], subtotal, inv.get("_clock"))
    _spread_discounts(lines, totals)
    total = subtotal - sum(d["amount"] for d in totals)
    inv.update(subtotal=subtotal, subtotal_excluding_tax=subtotal, total=total, total_excluding_tax=total,
               total_discount_amounts=totals, amount_due=max(total, 0), amount_remaining=max(total, 0))
    sb.store.touch(inv)


def _discount_amounts(sb: Sandbox, discount_ids: list[str], subtotal: int, clock: str | None) -> list[Obj]:
    out = []
    remaining = subtotal
    for did in discount_ids:
        disc = sb.store.get(did)
        if disc is None or remaining <= 0:
            continue
        if disc.get("end") and disc["end"] <= sb.now(clock):
            continue
        coupon = disc["source"]["coupon"]
        c = sb.store.get(coupon) if isinstance(coupon, str) else None
        if c is None:
            continue
        if c.get("percent_off") is not None:
            amt = int(round(remaining * float(c["percent_off"]) / 100))
        else:
            amt = min(int(c.get("amount_off") or 0), remaining)
        remaining -= amt
        out.append({"amount": amt, "discount": did})
    return out


def create_invoice(
    sb: Sandbox,
    *,
    customer: Obj,
    lines: list[Obj],
    billing_reason: str,
    subscription: Obj | None,
    currency: str,
    period: tuple[int, int],
    auto_advance: bool,
    collection_method: str = "charge_automatically",
    include_pending: bool = True,
    description: str | None = None,
    metadata: Obj | None = None,
    days_until_due: int | None = None,
    discounts: list[str] | None = None,
    emit: bool = True,
    persist: bool = True,
) -> Obj:
    clock = customer.get("test_clock")
    now = sb.now(clock)
    iid = new_id("in")
    if include_pending:
        for ii in list(sb.store.iter("invoiceitem")):
            if ii["customer"] == customer["id"] and ii["invoice"] is None and (
                subscription is None or _ii_sub(ii) in (None, subscription["id"])
            ):
                ii["invoice"] = iid
                sb.store.touch(ii)
                lines.append(_line_from_item(sb, ii))
    for line in lines:
        line["invoice"] = iid
    subtotal = sum(l["amount"] for l in lines)
    disc_ids = discounts if discounts is not None else (subscription["discounts"] if subscription else [])
    total_discounts = _discount_amounts(sb, disc_ids, subtotal, clock)
    _spread_discounts(lines, total_discounts)
    total = subtotal - sum(d["amount"] for d in total_discounts)
    inv = blank(
        "invoice",
        id=iid,
        account_country="US",
        account_name=sb.profile.get("business_name"),
        amount_due=max(total, 0),
        amount_paid=0,
        amount_remaining=max(total, 0),
        amount_shipping=0,
        amount_overpaid=0,
        attempt_count=0,
        attempted=False,
        auto_advance=auto_advance,
        automatic_tax={"enabled": False, "liability": None, "status": None, "disabled_reason": None, "provider": None},
        billing_reason=billing_reason,
        collection_method=collection_method,
        created=now,
        currency=currency,
        customer=customer["id"],
        customer_address=customer.get("address"),
        customer_email=customer.get("email"),
        customer_name=customer.get("name"),
        customer_phone=customer.get("phone"),
        customer_shipping=customer.get("shipping"),
        customer_tax_exempt="none",
        description=description,
        discounts=list(disc_ids),
        due_date=now + days_until_due * 86400 if days_until_due is not None else None,
        issuer={"type": "self"},
        lines={"object": "list", "data": lines, "has_more": False, "url": f"/v1/invoices/{iid}/lines"},
        metadata=metadata or {},
        parent=(
            {"type": "subscription_details", "quote_details": None, "subscription_details": {"metadata": dict(subscription["metadata"]), "subscription": subscription["id"]}}
            if subscription
            else None
        ),
        payment_settings={"default_mandate": None, "payment_method_options": None, "payment_method_types": None},
        period_start=period[0],
        period_end=period[1],
        post_payment_credit_notes_amount=0,
        pre_payment_credit_notes_amount=0,
        rendering={"amount_tax_display": None, "pdf": {"page_size": "auto"}, "template": None, "template_version": None},
        starting_balance=0,
        status="draft",
        status_transitions={"finalized_at": None, "marked_uncollectible_at": None, "paid_at": None, "voided_at": None},
        subtotal=subtotal,
        subtotal_excluding_tax=subtotal,
        test_clock=clock,
        total=total,
        total_discount_amounts=total_discounts,
        total_excluding_tax=total,
        total_taxes=[],
        total_pretax_credit_amounts=[],
        automatically_finalizes_at=now + sb.settings.finalize_delay_seconds if auto_advance else None,
        webhooks_delivered_at=None,
        _payments=[],
        _pi=None,
        _clock=clock,
    )
    if persist:
        sb.store.put(inv)
    if emit:
        sb.emit("invoice.created", inv, clock=clock)
    return inv


def final_usage_invoice(sb: Sandbox, sub: Obj, end: int, *, billing_reason: str, for_pending_items: bool = False) -> Obj | None:
    """The last invoice of an ending subscription: its metered usage up to ``end`` and its pending
    invoice items, as an auto-advancing draft. ``None`` when it has no metered usage to bill (nor,
    with ``for_pending_items``, pending invoice items)."""
    lines, windows = usage_lines(sb, sub, _arrears.unbilled_all(sb, sub, end))
    pending = for_pending_items and any(
        ii["customer"] == sub["customer"] and ii["invoice"] is None and _ii_sub(ii) == sub["id"]
        for ii in sb.store.iter("invoiceitem")
    )
    if not lines and not pending:
        return None
    start = min((w["start"] for w in windows.values()), default=end)
    inv = create_invoice(
        sb, customer=sb.store.get(sub["customer"]), lines=lines, billing_reason=billing_reason, subscription=sub,
        currency=sub["currency"], period=(start, end), auto_advance=True, collection_method=sub["collection_method"],
        days_until_due=sub.get("days_until_due"),
    )
    if windows:
        inv["_metered"] = windows
    sub["latest_invoice"] = inv["id"]
    sub.setdefault("_invoices", []).append(inv["id"])
    return inv


def _ii_sub(ii: Obj) -> str | None:
    parent = ii.get("parent") or {}
    return (parent.get("subscription_details") or {}).get("subscription")


def _line_from_item(sb: Sandbox, ii: Obj) -> Obj:
    price = sb.store.get(ii["pricing"]["price_details"]["price"]) if (ii.get("pricing") or {}).get("price_details") else None
    sub = _ii_sub(ii)
    return _line(
        sb, amount=ii["amount"], currency=ii["currency"], description=ii["description"] or "",
        period=(ii["period"]["start"], ii["period"]["end"]), quantity=ii["quantity"], price=public(price) if price else None,
        subscription=sub, subscription_item=ii.get("_subscription_item"),
        invoice_item=ii["id"], proration=bool(ii.get("proration")), metadata=dict(ii["metadata"]),
    )


def _spread_discounts(lines: list[Obj], totals: list[Obj]) -> None:
    subtotal = sum(max(l["amount"], 0) for l in lines)
    if not totals or subtotal <= 0:
        return
    for t in totals:
        left = t["amount"]
        positive = [l for l in lines if l["amount"] > 0]
        for i, line in enumerate(positive):
            share = left if i == len(positive) - 1 else int(t["amount"] * line["amount"] / subtotal)
            left -= share
            line["discount_amounts"].append({"amount": share, "discount": t["discount"]})
            line["discounts"].append(t["discount"])


def finalize(sb: Sandbox, inv: Obj) -> None:
    """draft -> open (or paid if nothing is due); creates the payment intent to charge."""
    _refresh_usage(sb, inv)
    clock = inv.get("_clock")
    now = sb.now(clock)
    cus = sb.store.get(inv["customer"]) or {}
    seq = int(cus.get("next_invoice_sequence") or 1)
    if cus:
        cus["next_invoice_sequence"] = seq + 1
        sb.store.touch(cus)
    inv["number"] = f"{cus.get('invoice_prefix') or 'SANDBOX'}-{seq:04d}"
    inv["status"] = "open"
    inv["status_transitions"]["finalized_at"] = now
    inv["effective_at"] = now
    inv["automatically_finalizes_at"] = None
    inv["hosted_invoice_url"] = f"https://invoice.stripe.com/i/sandbox/{inv['id']}"
    inv["invoice_pdf"] = f"https://pay.stripe.com/invoice/sandbox/{inv['id']}/pdf"
    inv["ending_balance"] = 0
    if inv["amount_due"] > 0 and inv["collection_method"] == "charge_automatically":
        sub = _subscription_of(sb, inv)
        save = sub and (sub.get("payment_settings") or {}).get("save_default_payment_method") == "on_subscription"
        pi = new_payment_intent(
            sb, amount=inv["amount_due"], currency=inv["currency"], customer=inv["customer"], clock=clock,
            description=_pi_description(inv), setup_future_usage="off_session" if save else None, invoice=inv["id"],
        )
        _add_payment(sb, inv, pi)
    sb.store.touch(inv)
    sb.emit("invoice.finalized", inv, clock=clock)
    if inv["amount_due"] == 0:
        _mark_paid(sb, inv, pm=None)


def _pi_description(inv: Obj) -> str:
    return {"subscription_create": "Subscription creation", "subscription_cycle": "Subscription update", "subscription_update": "Subscription update"}.get(inv["billing_reason"], "Invoice")


def _add_payment(sb: Sandbox, inv: Obj, pi: Obj) -> None:
    for pid in inv["_payments"]:
        p = sb.store.get(pid)
        if p and p["status"] == "open":
            p["is_default"] = False
            sb.store.touch(p)
    pay = blank(
        "invoice_payment",
        id=new_id("inpay"),
        amount_paid=None,
        amount_requested=inv["amount_remaining"],
        created=sb.now(inv.get("_clock")),
        currency=inv["currency"],
        invoice=inv["id"],
        is_default=True,
        livemode=False,
        payment={"type": "payment_intent", "payment_intent": pi["id"]},
        status="open",
        status_transitions={"canceled_at": None, "paid_at": None},
    )
    sb.store.put(pay)
    inv["_payments"].append(pay["id"])
    inv["_pi"] = pi["id"]


def payments_list(sb: Sandbox, inv: Obj) -> Obj:
    data = [public(p) for p in (sb.store.get(i) for i in reversed(inv.get("_payments") or [])) if p]
    return {"object": "list", "data": data, "has_more": False, "url": f"/v1/invoice_payments?invoice={inv['id']}"}


def confirmation_secret(sb: Sandbox, inv: Obj) -> Obj | None:
    pi = sb.store.get(inv.get("_pi") or "")
    if pi is None or inv["status"] != "open":
        return None
    return {"client_secret": pi["client_secret"], "type": "payment_intent"}


def _subscription_of(sb: Sandbox, inv: Obj) -> Obj | None:
    parent = inv.get("parent") or {}
    sid = (parent.get("subscription_details") or {}).get("subscription")
    return sb.store.get(sid) if sid else None


def default_pm(sb: Sandbox, inv: Obj) -> Obj | None:
    sub = _subscription_of(sb, inv)
    cus = sb.store.get(inv["customer"]) or {}
    for ref in (
        inv.get("default_payment_method"),
        sub.get("default_payment_method") if sub else None,
        (cus.get("invoice_settings") or {}).get("default_payment_method"),
    ):
        if ref:
            pm = sb.store.get(ref, "payment_method")
            if pm is not None:
                return pm
    return None


def attempt_payment(sb: Sandbox, inv: Obj, *, pm: Obj | None = None, off_session: bool = True) -> StripeError | None:
    """Charge an open invoice through its payment intent; returns the card error, if any."""
    pm = pm or default_pm(sb, inv)
    pi = sb.store.get(inv.get("_pi") or "")
    if pi is None or pi["status"] in ("succeeded", "canceled"):
        pi = new_payment_intent(
            sb, amount=inv["amount_remaining"], currency=inv["currency"], customer=inv["customer"],
            clock=inv.get("_clock"), description=_pi_description(inv), invoice=inv["id"],
        )
        _add_payment(sb, inv, pi)
    if pm is None:
        error = StripeError(
            400, type="invalid_request_error",
            message="This customer has no attached payment source or default payment method. "
            "Please consider adding a default payment method.",
        )
        on_failed(sb, pi, error)
        return error
    return confirm(sb, pi, pm, off_session=off_session)


def _mark_paid(sb: Sandbox, inv: Obj, *, pm: Obj | None) -> None:
    clock = inv.get("_clock")
    now = sb.now(clock)
    inv["amount_paid"] = inv["amount_due"]
    inv["amount_remaining"] = 0
    inv["status"] = "paid"
    inv["attempted"] = True
    if inv["amount_due"] > 0:
        inv["attempt_count"] += 1
    inv["next_payment_attempt"] = None
    inv["status_transitions"]["paid_at"] = now
    sb.store.touch(inv)
    for pid in inv["_payments"]:
        p = sb.store.get(pid)
        if p and p["status"] == "open":
            p["status"] = "paid"
            p["amount_paid"] = inv["amount_paid"]
            p["status_transitions"]["paid_at"] = now
            sb.store.touch(p)
            sb.emit("invoice_payment.paid", p, clock=clock)
    sb.emit("invoice.paid", inv, clock=clock)
    sb.emit("invoice.payment_succeeded", inv, clock=clock)
    sub = _subscription_of(sb, inv)
    if sub is None:
        return
    before = sb.snapshot(sub)
    if sub["status"] in ("incomplete", "past_due", "unpaid"):
        # A later invoice still open keeps the subscription past due.
        if not any(
            i["status"] == "open" and i["id"] != inv["id"]
            for i in (sb.store.get(x) for x in sub.get("_invoices", []))
            if i
        ):
            sub["status"] = "active"
    if pm is not None and not sub.get("default_payment_method") and (sub.get("payment_settings") or {}).get("save_default_payment_method") == "on_subscription":
        sub["default_payment_method"] = pm["id"]
    if pm is not None and not pm.get("customer"):
        cus = sb.store.get(inv["customer"])
        if cus is not None and sb.store.get(inv.get("_pi") or "", "payment_intent") and (sb.store.get(inv["_pi"]) or {}).get("setup_future_usage"):
            pm["customer"] = cus["id"]
            sb.store.touch(pm)
            sb.emit("payment_method.attached", pm, clock=clock)
    sb.store.touch(sub)
    sb.emit_updated("customer.subscription.updated", sub, before, clock=clock)


def on_paid(sb: Sandbox, pi: Obj, pm: Obj) -> None:
    inv = sb.store.get(pi["_invoice"])
    if inv is not None and inv["status"] == "open":
        _mark_paid(sb, inv, pm=pm)


def on_action_required(sb: Sandbox, pi: Obj) -> None:
    inv = sb.store.get(pi["_invoice"])
    if inv is not None:
        sb.emit("invoice.payment_action_required", inv, clock=inv.get("_clock"))


def on_failed(sb: Sandbox, pi: Obj, error: StripeError) -> None:
    """A failed invoice charge: count the attempt, schedule the retry, move the subscription."""
    inv = sb.store.get(pi["_invoice"])
    if inv is None or inv["status"] != "open":
        return
    clock = inv.get("_clock")
    now = sb.now(clock)
    inv["attempted"] = True
    inv["attempt_count"] += 1
    retries = sb.settings.dunning_retry_days
    dunning = inv["billing_reason"] != "subscription_create" and inv["auto_advance"]
    n = inv["attempt_count"]
    inv["next_payment_attempt"] = int(now + retries[n - 1] * 86400) if dunning and n <= len(retries) else None
    sb.store.touch(inv)
    sb.emit("invoice.payment_failed", inv, clock=clock)
    sub = _subscription_of(sb, inv)
    if sub is None or not dunning or sub["status"] in ("canceled", "incomplete_expired"):
        return  # a final invoice of an ended subscription is retried, but moves nothing
    before = sb.snapshot(sub)
    if sub["status"] in ("active", "trialing"):
        sub["status"] = "past_due"
    if inv["next_payment_attempt"] is None:
        action = sb.settings.dunning_final_action
        if action == "cancel":
            cancel_subscription(sb, sub, reason="payment_failed")
            return
        if action == "unpaid":
            sub["status"] = "unpaid"
    sb.store.touch(sub)
    sb.emit_updated("customer.subscription.updated", sub, before, clock=clock)


def cancel_subscription(sb: Sandbox, sub: Obj, *, reason: str, comment: str | None = None, feedback: str | None = None) -> None:
    """End a subscription now (``customer.subscription.deleted``, which carries no previous_attributes)."""
    clock = sub.get("test_clock")
    now = sb.now(clock)
    sub["status"] = "canceled"
    sub["canceled_at"] = sub.get("canceled_at") or now
    sub["ended_at"] = now
    sub["cancellation_details"] = cancellation_details(reason=reason, comment=comment, feedback=feedback)
    sb.store.touch(sub)
    sb.emit("customer.subscription.deleted", sub, clock=clock)


def void_invoice(sb: Sandbox, inv: Obj) -> None:
    clock = inv.get("_clock")
    inv["status"] = "void"
    inv["status_transitions"]["voided_at"] = sb.now(clock)
    inv["next_payment_attempt"] = None
    sb.store.touch(inv)
    pi = sb.store.get(inv.get("_pi") or "")
    if pi is not None and pi["status"] not in ("succeeded", "canceled"):
        pi["status"] = "canceled"
        pi["canceled_at"] = sb.now(clock)
        pi["cancellation_reason"] = "void_invoice"
        sb.store.touch(pi)
        sb.emit("payment_intent.canceled", pi, clock=clock)
    for pid in inv["_payments"]:
        p = sb.store.get(pid)
        if p and p["status"] == "open":
            p["status"] = "canceled"
            p["status_transitions"]["canceled_at"] = sb.now(clock)
            sb.store.touch(p)
    sb.emit("invoice.voided", inv, clock=clock)


def pay_with(sb: Sandbox, inv: Obj, ref: str | None, *, param: str = "payment_method") -> StripeError | None:
    pm = resolve_payment_method(sb, ref, param=param, clock=inv.get("_clock")) if ref else None
    return attempt_payment(sb, inv, pm=pm, off_session=True)
