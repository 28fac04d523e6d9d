"""Invoices (one-off and subscription), invoice items and invoice payments."""

from __future__ import annotations

from decimal import Decimal

from .. import _billing as engine
from .. import _pricing
from .._errors import invalid, missing_param
from .._money import resolve_payment_method
from .._objects import blank, new_id, public, to_bool, to_int
from .._router import route
from .._state import INCLUDABLES, Sandbox
from ._common import Obj, apply_metadata, do_search, require, sget
from .discounts import apply_discounts


def _invoice_item(sb: Sandbox, cus: Obj, *, amount: int, currency: str, description: str | None, price: Obj | None,
                  quantity: int, period: tuple[int, int], subscription: str | None, proration: bool = False,
                  subscription_item: str | None = None, invoice: str | None = None, metadata: Obj | None = None,
                  discountable: bool = True, persist: bool = True, unit_amount_decimal: str | None = None) -> Obj:
    clock = cus.get("test_clock")
    if unit_amount_decimal is None:
        unit_amount_decimal = price["unit_amount_decimal"] if price else str(amount // max(quantity, 1))
    ii = blank(
        "invoiceitem",
        id=new_id("ii"),
        amount=amount,
        currency=currency,
        customer=cus["id"],
        date=sb.now(clock),
        description=description,
        discountable=discountable and not proration,
        discounts=[],
        invoice=invoice,
        metadata=metadata or {},
        period={"start": period[0], "end": period[1]},
        proration=proration,
        quantity=quantity,
        tax_rates=[],
        test_clock=clock,
        parent={"type": "subscription_details", "subscription_details": {"subscription": subscription, "subscription_item": subscription_item}} if subscription else None,
        pricing=engine.pricing(price, unit_amount_decimal),
        net_amount=amount,
        quantity_decimal=str(quantity),
        _subscription_item=subscription_item,
    )
    if persist:
        sb.store.put(ii)
        sb.emit("invoiceitem.created", ii, clock=clock)
    return ii


# -- invoice items ------------------------------------------------------------------------------
@route("POST", "/v1/invoiceitems")
def ii_create(sb: Sandbox, p: Obj) -> Obj:
    cus = sb.get("customer", require(p, "customer"), param="customer")
    price_id = p.get("price") or sget(p, "pricing", "price")
    price = sb.get("price", price_id, param="pricing[price]") if price_id else None
    qty = to_int(p.get("quantity", 1), param="quantity", minimum=1)
    unit_text = None
    if price is not None:
        amount = _pricing.amount(sb, price, qty)
        currency = price["currency"]
    else:
        if "amount" not in p and "unit_amount_decimal" not in p:
            raise missing_param("amount")
        if "amount" in p:
            amount = to_int(p["amount"], param="amount")
        else:
            # Rounded once for the line, half up, like every decimal amount (see _pricing).
            unit_text = _pricing.parse_decimal(p["unit_amount_decimal"], param="unit_amount_decimal")
            amount = _pricing.round_half_up(Decimal(unit_text) * qty)
        currency = str(require(p, "currency")).lower()
    inv = None
    if p.get("invoice"):
        inv = sb.get("invoice", p["invoice"], param="invoice")
        if inv["status"] != "draft":
            raise invalid("You can only add invoice items to draft invoices.", param="invoice")
    sub_id = p.get("subscription")
    if sub_id:
        sb.get("subscription", sub_id, param="subscription")
    now = sb.now(cus.get("test_clock"))
    period = p.get("period") if isinstance(p.get("period"), dict) else None
    ii = _invoice_item(
        sb, cus, amount=amount, currency=currency, description=p.get("description"), price=public(price) if price else None,
        quantity=qty, period=(to_int(period.get("start"), param="period[start]"), to_int(period.get("end"), param="period[end]")) if period else (now, now), subscription=sub_id,
        invoice=inv["id"] if inv else None, discountable=to_bool(p.get("discountable", True), param="discountable"),
        unit_amount_decimal=unit_text,
    )
    apply_metadata(ii, p)
    if inv is not None:
        line = engine._line_from_item(sb, ii)
        line["invoice"] = inv["id"]
        inv["lines"] = {**inv["lines"], "data": inv["lines"]["data"] + [line]}
        engine.recompute_totals(sb, inv)
    return ii


@route("GET", "/v1/invoiceitems/{iid}")
def ii_retrieve(sb: Sandbox, p: Obj, iid: str) -> Obj:
    return sb.get("invoiceitem", iid)


@route("POST", "/v1/invoiceitems/{iid}")
def ii_update(sb: Sandbox, p: Obj, iid: str) -> Obj:
    ii = sb.get("invoiceitem", iid)
    if ii["invoice"] and (sb.store.get(ii["invoice"]) or {}).get("status") != "draft":
        raise invalid("This invoice item is on a finalized invoice and cannot be updated.")
    if "description" in p:
        ii["description"] = p["description"] or None
    if "amount" in p and not ii["invoice"]:
        ii["amount"] = ii["net_amount"] = to_int(p["amount"], param="amount")
    apply_metadata(ii, p)
    sb.store.touch(ii)
    return ii


@route("DELETE", "/v1/invoiceitems/{iid}")
def ii_delete(sb: Sandbox, p: Obj, iid: str) -> Obj:
    ii = sb.get("invoiceitem", iid)
    if ii["invoice"]:
        inv = sb.store.get(ii["invoice"])
        if inv is not None and inv["status"] != "draft":
            raise invalid("This invoice item is on a finalized invoice and cannot be deleted.")
        if inv is not None:
            inv["lines"] = {**inv["lines"], "data": [l for l in inv["lines"]["data"] if (l.get("parent") or {}).get("invoice_item_details", {}) is None or (l["parent"].get("invoice_item_details") or l["parent"].get("subscription_item_details") or {}).get("invoice_item") != iid]}
            engine.recompute_totals(sb, inv)
    sb.store.remove(iid)
    sb.emit("invoiceitem.deleted", ii, clock=ii.get("test_clock"))
    return {"id": iid, "object": "invoiceitem", "deleted": True}


@route("GET", "/v1/invoiceitems")
def ii_list(sb: Sandbox, p: Obj) -> Obj:
    cid = p.get("customer")
    inv = p.get("invoice")
    pending = to_bool(p["pending"], param="pending") if "pending" in p else None
    return sb.list(
        "invoiceitem", p, url="/v1/invoiceitems",
        match=lambda o: (cid is None or o["customer"] == cid) and (inv is None or o["invoice"] == inv)
        and (pending is None or (o["invoice"] is None) == pending),
    )


# -- invoices -----------------------------------------------------------------------------------
@route("POST", "/v1/invoices")
def inv_create(sb: Sandbox, p: Obj) -> Obj:
    cus = sb.get("customer", require(p, "customer"), param="customer")
    clock = cus.get("test_clock")
    collection = p.get("collection_method", "charge_automatically")
    days = to_int(p["days_until_due"], param="days_until_due", minimum=0) if p.get("days_until_due") else None
    if collection == "send_invoice" and days is None and not p.get("due_date"):
        raise missing_param("days_until_due")
    sub = sb.get("subscription", p["subscription"], param="subscription") if p.get("subscription") else None
    include = p.get("pending_invoice_items_behavior", "exclude") == "include"
    now = sb.now(clock)
    inv = engine.create_invoice(
        sb, customer=cus, lines=[], billing_reason="manual", subscription=sub, currency=str(p.get("currency") or "usd").lower(),
        period=(now, now), auto_advance=to_bool(p.get("auto_advance", False), param="auto_advance"),
        collection_method=collection, include_pending=include, description=p.get("description"),
        days_until_due=days, discounts=[],
    )
    if p.get("default_payment_method"):
        inv["default_payment_method"] = resolve_payment_method(sb, p["default_payment_method"], param="default_payment_method")["id"]
    if "discounts" in p:
        inv["discounts"] = apply_discounts(sb, p, customer=cus["id"], subscription=None, clock=clock)
        engine.recompute_totals(sb, inv)
    apply_metadata(inv, p)
    # Stripe finalizes an auto_advance draft about an hour after creation.
    inv["automatically_finalizes_at"] = now + sb.settings.finalize_delay_seconds if inv["auto_advance"] else None
    return inv


def _inv(sb: Sandbox, iid: str) -> Obj:
    return sb.get("invoice", iid)


@route("GET", "/v1/invoices/{iid}")
def inv_retrieve(sb: Sandbox, p: Obj, iid: str) -> Obj:
    return _inv(sb, iid)


@route("POST", "/v1/invoices/{iid}")
def inv_update(sb: Sandbox, p: Obj, iid: str) -> Obj:
    inv = _inv(sb, iid)
    before = sb.snapshot(inv)
    if inv["status"] != "draft" and set(p) - {"metadata", "expand", "description", "footer"}:
        raise invalid("Finalized invoices can't be updated in this way.")
    if "description" in p:
        inv["description"] = p["description"] or None
    if "auto_advance" in p:
        inv["auto_advance"] = to_bool(p["auto_advance"], param="auto_advance")
        if inv["status"] == "draft":
            inv["automatically_finalizes_at"] = sb.now(inv.get("_clock")) + sb.settings.finalize_delay_seconds if inv["auto_advance"] else None
    if "discounts" in p:
        inv["discounts"] = apply_discounts(sb, p, customer=inv["customer"], subscription=None, clock=inv.get("_clock"))
        engine.recompute_totals(sb, inv)
    apply_metadata(inv, p)
    sb.store.touch(inv)
    sb.emit_updated("invoice.updated", inv, before, clock=inv.get("_clock"))
    return inv


@route("DELETE", "/v1/invoices/{iid}")
def inv_delete(sb: Sandbox, p: Obj, iid: str) -> Obj:
    inv = _inv(sb, iid)
    if inv["status"] != "draft":
        raise invalid("You can only delete draft invoices.")
    for ii in sb.store.iter("invoiceitem"):
        if ii["invoice"] == iid:
            ii["invoice"] = None
            sb.store.touch(ii)
    sb.store.remove(iid)
    sb.emit("invoice.deleted", inv, clock=inv.get("_clock"))
    return {"id": iid, "object": "invoice", "deleted": True}


@route("POST", "/v1/invoices/{iid}/finalize")
def inv_finalize(sb: Sandbox, p: Obj, iid: str) -> Obj:
    inv = _inv(sb, iid)
    if inv["status"] != "draft":
        raise invalid("This invoice is already finalized, you can't re-finalize a non-draft invoice.")
    if "auto_advance" in p:
        inv["auto_advance"] = to_bool(p["auto_advance"], param="auto_advance")
    engine.finalize(sb, inv)
    return inv


@route("POST", "/v1/invoices/{iid}/pay")
def inv_pay(sb: Sandbox, p: Obj, iid: str) -> Obj:
    inv = _inv(sb, iid)
    if inv["status"] == "draft":
        engine.finalize(sb, inv)
    if inv["status"] == "paid":
        raise invalid("Invoice is already paid")
    if inv["status"] not in ("open", "uncollectible"):
        raise invalid(f"You cannot pay an invoice with status {inv['status']}.")
    if to_bool(p.get("paid_out_of_band", False), param="paid_out_of_band"):
        inv["status"] = "open"
        engine._mark_paid(sb, inv, pm=None)
        return inv
    if inv["status"] == "uncollectible":
        inv["status"] = "open"
    error = engine.pay_with(sb, inv, p.get("payment_method"))
    if error is not None:
        raise error
    return inv


@route("POST", "/v1/invoices/{iid}/void")
def inv_void(sb: Sandbox, p: Obj, iid: str) -> Obj:
    inv = _inv(sb, iid)
    if inv["status"] not in ("open", "uncollectible"):
        raise invalid(f"You can only void open or uncollectible invoices (this one is {inv['status']}).")
    engine.void_invoice(sb, inv)
    return inv


@route("POST", "/v1/invoices/{iid}/mark_uncollectible")
def inv_uncollectible(sb: Sandbox, p: Obj, iid: str) -> Obj:
    inv = _inv(sb, iid)
    if inv["status"] != "open":
        raise invalid(f"You can only mark open invoices as uncollectible (this one is {inv['status']}).")
    inv["status"] = "uncollectible"
    inv["next_payment_attempt"] = None
    inv["status_transitions"]["marked_uncollectible_at"] = sb.now(inv.get("_clock"))
    sb.store.touch(inv)
    sb.emit("invoice.marked_uncollectible", inv, clock=inv.get("_clock"))
    return inv


@route("POST", "/v1/invoices/{iid}/send")
def inv_send(sb: Sandbox, p: Obj, iid: str) -> Obj:
    inv = _inv(sb, iid)
    if inv["status"] != "open":
        raise invalid("You can only send open invoices.")
    sb.emit("invoice.sent", inv, clock=inv.get("_clock"))
    return inv


@route("GET", "/v1/invoices")
def inv_list(sb: Sandbox, p: Obj) -> Obj:
    cid = p.get("customer")
    status = p.get("status")
    sid = p.get("subscription")
    method = p.get("collection_method")

    def match(o: Obj) -> bool:
        if sid is not None and ((o.get("parent") or {}).get("subscription_details") or {}).get("subscription") != sid:
            return False
        return (cid is None or o["customer"] == cid) and (status is None or o["status"] == status) and (
            method is None or o["collection_method"] == method)

    return sb.list("invoice", p, url="/v1/invoices", match=match)


@route("GET", "/v1/invoices/search")
def inv_search(sb: Sandbox, p: Obj) -> Obj:
    return do_search(sb, "invoice", p, url="/v1/invoices/search", resource="invoices")


@route("GET", "/v1/invoices/{iid}/lines")
def inv_lines(sb: Sandbox, p: Obj, iid: str) -> Obj:
    inv = _inv(sb, iid)
    return sb.list("line_item", p, url=f"/v1/invoices/{iid}/lines", source=inv["lines"]["data"])


@route("GET", "/v1/invoice_payments")
def inv_payments(sb: Sandbox, p: Obj) -> Obj:
    iid = p.get("invoice")
    return sb.list("invoice_payment", p, url="/v1/invoice_payments", match=lambda o: iid is None or o["invoice"] == iid)


@route("GET", "/v1/invoice_payments/{pid}")
def inv_payment(sb: Sandbox, p: Obj, pid: str) -> Obj:
    return sb.get("invoice_payment", pid)


def _stored(sb: Sandbox, node: Obj) -> Obj:
    return sb.store.get(node["id"]) or node


# Invoice fields Stripe returns only when expanded: ``payments``, ``confirmation_secret``.
INCLUDABLES["invoice"] = {
    "payments": lambda sb, node: engine.payments_list(sb, _stored(sb, node)),
    "confirmation_secret": lambda sb, node: engine.confirmation_secret(sb, _stored(sb, node)),
}
