"""Subscriptions: create (payment behaviours, trials, discounts), update with prorations, cancel,
list, search; and the invoice preview of a proposed change."""

from __future__ import annotations

from datetime import datetime, timezone

from .. import _arrears, _pricing
from .. import _billing as engine
from .._errors import invalid, missing_param
from .._money import attach, resolve_payment_method, would_fail
from .._objects import blank, new_id, public, to_bool, to_int
from .._periods import add_interval
from .._router import route
from .._state import Sandbox
from ._common import Obj, apply_metadata, do_search, require, sget
from .discounts import apply_discounts
from .invoices import _invoice_item


_BEHAVIOURS = ("allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete")
_PRORATIONS = ("create_prorations", "none", "always_invoice")


def _plan(price: Obj) -> Obj:
    rec = price["recurring"] or {}
    return blank(
        "plan",
        id=price["id"], active=price["active"], amount=price["unit_amount"], amount_decimal=price["unit_amount_decimal"],
        billing_scheme=price["billing_scheme"], created=price["created"], currency=price["currency"],
        interval=rec.get("interval"), interval_count=rec.get("interval_count"), metadata=dict(price["metadata"]),
        meter=rec.get("meter"), nickname=price["nickname"], product=price["product"], tiers_mode=price["tiers_mode"],
        transform_usage=None, trial_period_days=rec.get("trial_period_days"), usage_type=rec.get("usage_type", "licensed"),
    )


def _quantity(price: Obj, item: Obj, param: str, default: int | None) -> int | None:
    """An item's quantity: none for a metered price (Stripe refuses one), else the given one."""
    if _pricing.is_metered(price):
        if "quantity" in item:
            index = param.rsplit("[", 1)[0]
            raise invalid(f"Quantity should not be specified where usage_type is `metered`. Remove quantity from `{index}`.",
                          param=param)
        return None
    return to_int(item["quantity"], param=param, minimum=0) if "quantity" in item else default


def _resolve_price(sb: Sandbox, item: Obj, i: int) -> Obj:
    if item.get("price"):
        price = sb.get("price", item["price"], param=f"items[{i}][price]")
    elif isinstance(item.get("price_data"), dict):
        from .catalog import _price

        pd = item["price_data"]
        price = _price(sb, {k: pd[k] for k in ("currency", "product", "unit_amount", "unit_amount_decimal", "recurring") if k in pd})
    else:
        raise missing_param(f"items[{i}][price]")
    if price["type"] != "recurring":
        raise invalid(
            "The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.",
            param=f"items[{i}][price]",
        )
    if not price["active"]:
        raise invalid("The price specified is inactive. This field only accepts active prices.", param=f"items[{i}][price]")
    return price


def _item(sb: Sandbox, sub_id: str, price: Obj, qty: int | None, now: int, start: int, end: int, metadata: Obj | None = None) -> Obj:
    item = blank(
        "subscription_item",
        id=new_id("si", 14), created=now, discounts=[], metadata=metadata or {}, price=public(price), plan=_plan(price),
        subscription=sub_id, tax_rates=[], current_period_start=start, current_period_end=end,
        billing_thresholds=None, current_trial=None,
    )
    set_quantity(item, qty)
    return item


def set_quantity(item: Obj, qty: int | None) -> None:
    """A licensed item's quantity; a metered item has none, and Stripe leaves the key out."""
    if qty is None:
        item.pop("quantity", None)
    else:
        item["quantity"] = qty


def _sub(sb: Sandbox, sid: str) -> Obj:
    return sb.get("subscription", sid)


def _default_pm(sb: Sandbox, cus: Obj, p: Obj) -> Obj | None:
    ref = p.get("default_payment_method")
    if ref:
        pm = resolve_payment_method(sb, ref, param="default_payment_method", clock=cus.get("test_clock"))
        if pm.get("customer") != cus["id"]:
            if ref.startswith("pm_card_"):
                return attach(sb, pm, cus)
            raise invalid(
                "The customer does not have a payment method with the ID "
                f"{ref}. The payment method must be attached to the customer.",
                param="default_payment_method",
            )
        return pm
    dflt = (cus.get("invoice_settings") or {}).get("default_payment_method")
    return sb.store.get(dflt, "payment_method") if dflt else None


@route("POST", "/v1/subscriptions")
def sub_create(sb: Sandbox, p: Obj) -> Obj:
    cus = sb.get("customer", require(p, "customer"), param="customer")
    clock = cus.get("test_clock")
    now = sb.now(clock)
    raw_items = p.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise missing_param("items")
    priced = []
    for i, it in enumerate(raw_items):
        if not isinstance(it, dict):
            raise invalid("Invalid array", param=f"items[{i}]")
        price = _resolve_price(sb, it, i)
        priced.append((price, _quantity(price, it, f"items[{i}][quantity]", 1), it.get("metadata") if isinstance(it.get("metadata"), dict) else None))
    currency = priced[0][0]["currency"]
    rec0 = priced[0][0]["recurring"]
    for i, (price, _, _) in enumerate(priced):
        if price["currency"] != currency:
            raise invalid("All prices on a subscription must have the same currency.", param=f"items[{i}][price]")
        if (price["recurring"]["interval"], price["recurring"]["interval_count"]) != (rec0["interval"], rec0["interval_count"]):
            raise invalid("All prices on a subscription must have the same recurring interval and interval_count.", param=f"items[{i}][price]")
    behavior = p.get("payment_behavior", "allow_incomplete")
    if behavior not in _BEHAVIOURS or behavior == "pending_if_incomplete":
        raise invalid(f"Invalid payment_behavior: {behavior}", param="payment_behavior")
    collection = p.get("collection_method", "charge_automatically")
    days_until_due = to_int(p["days_until_due"], param="days_until_due", minimum=0) if p.get("days_until_due") else None
    if collection == "send_invoice" and days_until_due is None:
        raise missing_param("days_until_due")
    trial_end = None
    if p.get("trial_end") not in (None, "", "now"):
        trial_end = to_int(p["trial_end"], param="trial_end")
        if trial_end <= now:
            raise invalid("Invalid timestamp: must be an integer Unix timestamp in the future.", param="trial_end")
    elif p.get("trial_period_days"):
        trial_end = now + to_int(p["trial_period_days"], param="trial_period_days", minimum=1) * 86400
    elif to_bool(p.get("trial_from_plan", False), param="trial_from_plan") and rec0.get("trial_period_days"):
        trial_end = now + int(rec0["trial_period_days"]) * 86400
    pm = _default_pm(sb, cus, p)
    total = sum(_pricing.amount(sb, pr, q) for pr, q, _ in priced if q is not None)
    mode = sget(p, "billing_mode", "type") or "flexible"  # the default since 2025-09-30.clover
    if mode not in ("classic", "flexible"):
        raise invalid("Invalid billing_mode[type]: must be one of classic or flexible", param="billing_mode[type]")
    if behavior == "error_if_incomplete" and trial_end is None and total > 0 and collection == "charge_automatically":
        error = would_fail(pm, off_session=False)
        if error is not None:
            raise error
    sid = new_id("sub")
    anchor = trial_end or (to_int(p["billing_cycle_anchor"], param="billing_cycle_anchor") if p.get("billing_cycle_anchor") else now)
    end = trial_end or add_interval(anchor, rec0["interval"], rec0["interval_count"])
    if anchor > now and not trial_end:
        end = anchor  # a future anchor: the first period is a (prorated, here: full-price) stub until the anchor
    sub = blank(
        "subscription",
        id=sid,
        automatic_tax={"enabled": False, "liability": None, "disabled_reason": None},
        billing_cycle_anchor=anchor,
        billing_cycle_anchor_config=None,
        cancel_at=to_int(p["cancel_at"], param="cancel_at") if p.get("cancel_at") else None,
        cancel_at_period_end=to_bool(p.get("cancel_at_period_end", False), param="cancel_at_period_end"),
        cancellation_details=engine.cancellation_details(),
        collection_method=collection,
        created=now,
        currency=currency,
        customer=cus["id"],
        days_until_due=days_until_due,
        default_payment_method=pm["id"] if pm and p.get("default_payment_method") else None,
        description=p.get("description"),
        invoice_settings={"account_tax_ids": None, "custom_fields": None, "description": None, "footer": None,
                          "issuer": {"type": "self"}},
        items={"object": "list", "data": [], "has_more": False, "url": f"/v1/subscription_items?subscription={sid}"},
        payment_settings={
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": sget(p, "payment_settings", "save_default_payment_method") or "off",
        },
        pending_setup_intent=None,
        pending_update=None,
        start_date=now,
        status="trialing" if trial_end else "incomplete",
        test_clock=clock,
        trial_end=trial_end,
        trial_settings={"end_behavior": {
            "billing_cycle_anchor": None,
            "missing_payment_method": sget(p, "trial_settings", "end_behavior", "missing_payment_method") or "create_invoice",
        }},
        trial_start=now if trial_end else None,
        billing_mode={
            "type": mode,
            "flexible": {"proration_discounts": sget(p, "billing_mode", "flexible", "proration_discounts") or "included"} if mode == "flexible" else None,
            "updated_at": now if mode == "flexible" else None,
        },
        _invoices=[],
        _period_index=0,
    )
    sub["items"]["data"] = [_item(sb, sid, pr, q, now, now, end, md) for pr, q, md in priced]
    apply_metadata(sub, p)
    sub["discounts"] = apply_discounts(sb, p, customer=cus["id"], subscription=sid, clock=clock, amount=total, currency=currency)
    if sub["cancel_at_period_end"]:
        sub["cancel_at"] = end
        sub["canceled_at"] = now
        sub["cancellation_details"]["reason"] = "cancellation_requested"
    sb.store.put(sub)
    sb.emit("customer.subscription.created", sub, clock=clock)
    inv = engine.create_invoice(
        sb, customer=cus, lines=engine.build_lines_for_subscription(sb, sub, trial=trial_end is not None),
        billing_reason="subscription_create", subscription=sub, currency=currency, period=(now, now),
        auto_advance=collection == "charge_automatically", collection_method=collection,
        days_until_due=days_until_due,
    )
    sub["latest_invoice"] = inv["id"]
    sub["_invoices"].append(inv["id"])
    if inv["amount_due"] == 0 and sub["status"] == "incomplete":
        before = sb.snapshot(sub)
        sub["status"] = "active"
        engine.finalize(sb, inv)
        sb.emit_updated("customer.subscription.updated", sub, before, clock=clock)
    else:
        engine.finalize(sb, inv)
    if collection == "send_invoice" and sub["status"] == "incomplete":
        before = sb.snapshot(sub)
        sub["status"] = "active"  # invoices sent for manual payment do not block activation
        sb.emit_updated("customer.subscription.updated", sub, before, clock=clock)
    elif inv["status"] == "open" and behavior != "default_incomplete" and pm is not None:
        engine.attempt_payment(sb, inv, pm=pm, off_session=False)
    if inv["status"] == "open" and inv["collection_method"] == "charge_automatically":
        inv["auto_advance"] = False  # the first invoice is not retried; the subscription expires instead
    sb.store.touch(sub)
    return sub


@route("GET", "/v1/subscriptions/{sid}")
def sub_retrieve(sb: Sandbox, p: Obj, sid: str) -> Obj:
    return _sub(sb, sid)


def _fmt_date(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%d %b %Y")


def _prorate(sb: Sandbox, sub: Obj, old: Obj, new: Obj | None, now: int, *, persist: bool = True) -> list[Obj]:
    """Invoice items crediting unused time on ``old`` and charging remaining time on ``new``."""
    start, end = old["current_period_start"], old["current_period_end"]
    if not start < now < end:
        return []
    frac = (end - now) / (end - start)
    out = []
    cus = sb.store.get(sub["customer"])
    for item, sign in ((old, -1), (new, 1)):
        if item is None or not item.get("quantity"):  # metered items have no quantity: billed by usage
            continue
        price = item["price"]
        product = (sb.store.get(price["product"]) or {}).get("name", price["product"])
        amount = sign * int(round(float(_pricing.exact_amount(sb, price, item["quantity"])) * frac))
        label = "Unused time on" if sign < 0 else "Remaining time on"
        desc = f"{label} {'' if item['quantity'] == 1 else str(item['quantity']) + ' × '}{product} after {_fmt_date(now)}"
        out.append(_invoice_item(sb, cus, amount=amount, currency=price["currency"], description=desc, price=price,
                                 quantity=item["quantity"], period=(now, end), subscription=sub["id"], proration=True,
                                 subscription_item=item["id"], persist=persist))
    return out


def _close_usage(sb: Sandbox, sub: Obj, old: Obj, now: int) -> list[Obj]:
    """In flexible billing mode, an outgoing metered price's usage so far as a pending invoice
    item (Stripe: "we create an invoice item that bills for previously reported metered usage
    when you remove a metered price"); classic mode does not bill it."""
    if sub["billing_mode"]["type"] != "flexible":
        return []
    usage = _arrears.unbilled(sb, sub, old, now)
    if usage is None or usage.quantity == 0:
        return []
    return [_invoice_item(sb, sb.store.get(sub["customer"]), amount=usage.amount, currency=usage.price["currency"],
                          description=_pricing.describe(sb, usage.price, usage.quantity), price=usage.price,
                          quantity=usage.quantity, period=(usage.start, usage.end), subscription=sub["id"],
                          subscription_item=old["id"])]


@route("POST", "/v1/subscriptions/{sid}")
def sub_update(sb: Sandbox, p: Obj, sid: str) -> Obj:
    sub = _sub(sb, sid)
    if sub["status"] in ("canceled", "incomplete_expired"):
        raise invalid("A canceled subscription can only update its cancellation_details and metadata.", param=None)
    clock = sub.get("test_clock")
    now = sb.now(clock)
    before = sb.snapshot(sub)
    proration = p.get("proration_behavior", "create_prorations")
    if proration not in _PRORATIONS:
        raise invalid(f"Invalid proration_behavior: must be one of {', '.join(_PRORATIONS)}", param="proration_behavior")
    behavior = p.get("payment_behavior", "allow_incomplete")
    if behavior not in _BEHAVIOURS or behavior == "default_incomplete":
        raise invalid(f"Invalid payment_behavior: {behavior}", param="payment_behavior")
    if behavior != "allow_incomplete" and proration == "always_invoice" and p.get("items"):
        # Decided before any change, so a refused update leaves nothing behind. The sandbox treats
        # pending_if_incomplete like error_if_incomplete (it has no pending_update).
        cus = sb.store.get(sub["customer"]) or {}
        pm = sb.store.get(sub.get("default_payment_method") or "", "payment_method") or _default_pm(sb, cus, {})
        error = would_fail(pm, off_session=True)
        if error is not None:
            raise error
    created_items: list[Obj] = []
    started: list[str] = []
    ended: list[str] = []
    if isinstance(p.get("items"), list):
        items = [dict(i) for i in sub["items"]["data"]]
        by_id = {i["id"]: i for i in items}
        for n, change in enumerate(p["items"]):
            if not isinstance(change, dict):
                raise invalid("Invalid array", param=f"items[{n}]")
            if change.get("id"):
                old = by_id.get(change["id"])
                if old is None:
                    raise invalid(f"Subscription item {change['id']} does not belong to this subscription.", param=f"items[{n}][id]")
                if to_bool(change.get("deleted", False), param=f"items[{n}][deleted]"):
                    if proration != "none" and sub["status"] in ("active", "past_due"):
                        created_items += _prorate(sb, sub, old, None, now)
                        created_items += _close_usage(sb, sub, old, now)
                    ended.append(old["id"])
                    items.remove(old)
                    continue
                new = dict(old)
                if change.get("price") or change.get("price_data"):
                    price = _resolve_price(sb, change, n)
                    new["price"] = public(price)
                    new["plan"] = _plan(price)
                # A licensed item keeps its quantity through a price change; a metered one has none.
                set_quantity(new, _quantity(new["price"], change, f"items[{n}][quantity]", old.get("quantity", 1)))
                if isinstance(change.get("metadata"), dict):
                    from .._objects import metadata_update

                    new["metadata"] = metadata_update(old["metadata"], change["metadata"])
                swapped = new["price"]["id"] != old["price"]["id"]
                changed = swapped or new.get("quantity") != old.get("quantity")
                if changed and proration != "none" and sub["status"] in ("active", "past_due"):
                    created_items += _prorate(sb, sub, old, new, now)
                    if swapped:
                        created_items += _close_usage(sb, sub, old, now)
                if swapped:
                    started.append(new["id"])
                items[items.index(old)] = new
            else:
                price = _resolve_price(sb, change, n)
                qty = _quantity(price, change, f"items[{n}][quantity]", 1)
                ref = items[0] if items else None
                start = ref["current_period_start"] if ref else now
                end = ref["current_period_end"] if ref else add_interval(now, price["recurring"]["interval"], price["recurring"]["interval_count"])
                new = _item(sb, sid, price, qty, now, start, end)
                if proration != "none" and sub["status"] in ("active", "past_due"):
                    created_items += _prorate(sb, sub, {**new, "quantity": 0}, new, now)
                started.append(new["id"])
                items.append(new)
        if not items:
            raise invalid("A subscription must have at least one active plan. To cancel a subscription, please use the cancel API endpoint.", param="items")
        sub["items"] = {**sub["items"], "data": items}
        # A price that arrives mid-period bills usage from now on; a removed item's window goes.
        for item_id in started:
            _arrears.restart(sub, item_id, now)
        for item_id in ended:
            _arrears.forget(sub, item_id)
    for k in ("description",):
        if k in p:
            sub[k] = p[k] or None
    apply_metadata(sub, p)
    if "default_payment_method" in p:
        if p["default_payment_method"] == "":
            sub["default_payment_method"] = None
        else:
            cus = sb.store.get(sub["customer"])
            sub["default_payment_method"] = _default_pm(sb, cus, p)["id"]
    if "cancel_at_period_end" in p:
        flag = to_bool(p["cancel_at_period_end"], param="cancel_at_period_end")
        sub["cancel_at_period_end"] = flag
        if flag:
            sub["cancel_at"] = engine.period_end(sub)
            sub["canceled_at"] = now
            sub["cancellation_details"] = {**sub["cancellation_details"], "reason": "cancellation_requested"}
        else:
            sub["cancel_at"] = None
            sub["canceled_at"] = None
            sub["cancellation_details"] = engine.cancellation_details()
    if "cancel_at" in p and not sub["cancel_at_period_end"]:
        sub["cancel_at"] = to_int(p["cancel_at"], param="cancel_at") if p["cancel_at"] else None
    if isinstance(p.get("cancellation_details"), dict):
        cd = p["cancellation_details"]
        sub["cancellation_details"] = {**sub["cancellation_details"], **{k: (cd[k] or None) for k in ("comment", "feedback") if k in cd}}
    if "discounts" in p:
        amount = sum(_pricing.amount(sb, i["price"], i["quantity"]) for i in sub["items"]["data"] if "quantity" in i)
        sub["discounts"] = apply_discounts(sb, p, customer=sub["customer"], subscription=sid, clock=clock,
                                           amount=amount, currency=sub["currency"])
    if "pause_collection" in p:
        sub["pause_collection"] = _pause_collection(p["pause_collection"])
    if isinstance(p.get("payment_settings"), dict) and "save_default_payment_method" in p["payment_settings"]:
        sub["payment_settings"] = {**sub["payment_settings"], "save_default_payment_method": p["payment_settings"]["save_default_payment_method"]}
    if p.get("trial_end") == "now" and sub["status"] == "trialing":
        _end_trial_now(sb, sub, now)
    sb.store.touch(sub)
    sb.emit_updated("customer.subscription.updated", sub, before, clock=clock)
    if proration == "always_invoice" and created_items:
        cus = sb.store.get(sub["customer"])
        inv = engine.create_invoice(
            sb, customer=cus, lines=[], billing_reason="subscription_update", subscription=sub, currency=sub["currency"],
            period=(now, now), auto_advance=True, discounts=[],
        )
        sub["latest_invoice"] = inv["id"]
        sub["_invoices"].append(inv["id"])
        engine.finalize(sb, inv)
        if inv["status"] == "open":
            engine.attempt_payment(sb, inv, off_session=True)
    return sub


def _pause_collection(value: object) -> Obj | None:
    """``pause_collection``: ``""`` resumes; ``{behavior, resumes_at}`` pauses (see ``_clock.renew``)."""
    if value == "":
        return None
    if not isinstance(value, dict):
        raise invalid("Invalid object", param="pause_collection")
    behavior = require(value, "behavior")
    resumes_at = to_int(value["resumes_at"], param="pause_collection[resumes_at]") if value.get("resumes_at") else None
    return {"behavior": behavior, "resumes_at": resumes_at}


def _end_trial_now(sb: Sandbox, sub: Obj, now: int) -> None:
    rec = sub["items"]["data"][0]["price"]["recurring"]
    sub["trial_end"] = now
    sub["billing_cycle_anchor"] = now
    sub["_period_index"] = 0
    end = add_interval(now, rec["interval"], rec["interval_count"])
    sub["items"] = {**sub["items"], "data": [{**i, "current_period_start": now, "current_period_end": end} for i in sub["items"]["data"]]}
    sub["status"] = "active"
    cus = sb.store.get(sub["customer"])
    inv = engine.create_invoice(sb, customer=cus, lines=engine.build_lines_for_subscription(sb, sub), billing_reason="subscription_update",
                                subscription=sub, currency=sub["currency"], period=(now, now), auto_advance=True)
    sub["latest_invoice"] = inv["id"]
    sub["_invoices"].append(inv["id"])
    engine.finalize(sb, inv)
    if inv["status"] == "open":
        engine.attempt_payment(sb, inv, off_session=True)


@route("DELETE", "/v1/subscriptions/{sid}")
def sub_cancel(sb: Sandbox, p: Obj, sid: str) -> Obj:
    """Cancel now. ``prorate`` credits the unused time of licensed items; ``invoice_now`` bills
    the metered usage so far and pending invoice items on a final invoice (otherwise the usage
    is discarded, as Stripe does)."""
    sub = _sub(sb, sid)
    if sub["status"] in ("canceled", "incomplete_expired"):
        raise invalid(f"No such subscription: '{sid}'", code="resource_missing", param="id")
    cd = p.get("cancellation_details") if isinstance(p.get("cancellation_details"), dict) else {}
    now = sb.now(sub.get("test_clock"))
    draft = sb.store.get(sub.get("latest_invoice") or "", "invoice")
    if to_bool(p.get("prorate", False), param="prorate") and sub["status"] in ("active", "past_due"):
        for item in sub["items"]["data"]:
            _prorate(sb, sub, item, None, now)
    if to_bool(p.get("invoice_now", False), param="invoice_now"):
        engine.final_usage_invoice(sb, sub, now, billing_reason="subscription_update", for_pending_items=True)
    engine.cancel_subscription(sb, sub, reason="cancellation_requested", comment=cd.get("comment") or None, feedback=cd.get("feedback") or None)
    sub["canceled_at"] = now
    if draft is not None and draft["status"] == "draft":
        draft["auto_advance"] = False
        sb.store.touch(draft)
    return sub


@route("GET", "/v1/subscriptions")
def sub_list(sb: Sandbox, p: Obj) -> Obj:
    status = p.get("status")
    cid = p.get("customer")
    price = p.get("price")
    clock = p.get("test_clock")

    def match(o: Obj) -> bool:
        if status is None and o["status"] in ("canceled", "incomplete_expired"):
            return False
        if status not in (None, "all") and o["status"] != status:
            return False
        if price is not None and not any(i["price"]["id"] == price for i in o["items"]["data"]):
            return False
        return (cid is None or o["customer"] == cid) and (clock is None or o.get("test_clock") == clock)

    return sb.list("subscription", p, url="/v1/subscriptions", match=match)


@route("GET", "/v1/subscriptions/search")
def sub_search(sb: Sandbox, p: Obj) -> Obj:
    return do_search(sb, "subscription", p, url="/v1/subscriptions/search", resource="subscriptions")


@route("GET", "/v1/subscription_items")
def sub_items(sb: Sandbox, p: Obj) -> Obj:
    sub = _sub(sb, require(p, "subscription"))
    return sb.list("subscription_item", p, url="/v1/subscription_items", source=list(reversed(sub["items"]["data"])))


@route("POST", "/v1/invoices/create_preview")
def inv_preview(sb: Sandbox, p: Obj) -> Obj:
    """The next invoice of a subscription (optionally after proposed item changes), not stored.

    Lines: prorations for the proposed change at ``subscription_details.proration_date`` (default
    now), pending invoice items, then the next period at the new prices.
    """
    sub = _sub(sb, p["subscription"]) if p.get("subscription") else None
    cus = sb.get("customer", p.get("customer") or (sub["customer"] if sub else None), param="customer")
    clock = cus.get("test_clock")
    now = sb.now(clock)
    lines: list[Obj] = []
    if sub is None:
        pending = [ii for ii in sb.store.iter("invoiceitem", newest_first=False) if ii["customer"] == cus["id"] and ii["invoice"] is None]
        lines = [engine._line_from_item(sb, ii) for ii in pending]
        return _preview_invoice(sb, cus, None, lines, (now, now), "manual")
    details = p.get("subscription_details") if isinstance(p.get("subscription_details"), dict) else {}
    proration = details.get("proration_behavior", "create_prorations")
    when = to_int(details["proration_date"], param="subscription_details[proration_date]") if details.get("proration_date") else now
    items = [dict(i) for i in sub["items"]["data"]]
    by_id = {i["id"]: i for i in items}
    for n, change in enumerate(details.get("items") or []):
        if not isinstance(change, dict):
            continue
        old = by_id.get(change.get("id") or "")
        if old is None:
            price = _resolve_price(sb, change, n)
            qty = _quantity(price, change, f"subscription_details[items][{n}][quantity]", 1)
            new = _item(sb, sub["id"], price, qty, now, items[0]["current_period_start"], items[0]["current_period_end"])
            if proration != "none":
                lines += [engine._line_from_item(sb, ii) for ii in _prorate(sb, sub, {**new, "quantity": 0}, new, when, persist=False)]
            items.append(new)
            continue
        new = dict(old)
        if change.get("price"):
            price = _resolve_price(sb, change, n)
            new["price"], new["plan"] = public(price), _plan(price)
        set_quantity(new, _quantity(new["price"], change, f"subscription_details[items][{n}][quantity]",
                                    old.get("quantity", 1)))
        if to_bool(change.get("deleted", False), param="deleted"):
            if proration != "none":
                lines += [engine._line_from_item(sb, ii) for ii in _prorate(sb, sub, old, None, when, persist=False)]
            items.remove(old)
            continue
        if proration != "none" and (new["price"]["id"], new.get("quantity")) != (old["price"]["id"], old.get("quantity")):
            lines += [engine._line_from_item(sb, ii) for ii in _prorate(sb, sub, old, new, when, persist=False)]
        items[items.index(old)] = new
    pending = [ii for ii in sb.store.iter("invoiceitem", newest_first=False)
               if ii["customer"] == cus["id"] and ii["invoice"] is None and engine._ii_sub(ii) in (None, sub["id"])]
    lines += [engine._line_from_item(sb, ii) for ii in pending]
    end = engine.period_end(sub)
    rec = items[0]["price"]["recurring"]
    nxt = add_interval(sub["billing_cycle_anchor"], rec["interval"], rec["interval_count"] * (sub.get("_period_index", 0) + 1))
    if nxt <= end:
        nxt = add_interval(end, rec["interval"], rec["interval_count"])
    future = {**sub, "items": {**sub["items"], "data": [{**i, "current_period_start": end, "current_period_end": nxt} for i in items]}}
    if sub["status"] not in ("canceled", "incomplete_expired") and not sub.get("cancel_at_period_end"):
        lines += engine.build_lines_for_subscription(sb, future)
    lines += engine.usage_lines(sb, sub, _arrears.unbilled_all(sb, sub, end))[0]  # the usage so far, billed at period end
    return _preview_invoice(sb, cus, sub, lines, (sub["items"]["data"][0]["current_period_start"], end), "upcoming")


def _preview_invoice(sb: Sandbox, cus: Obj, sub: Obj | None, lines: list[Obj], period: tuple[int, int], reason: str) -> Obj:
    inv = engine.create_invoice(
        sb, customer=cus, lines=lines, billing_reason=reason, subscription=sub, currency=(sub or {}).get("currency", "usd"),
        period=period, auto_advance=False, include_pending=False, emit=False, persist=False,
    )
    # A preview has an id of its own (``upcoming_in_...``), though it cannot be retrieved.
    inv["id"] = new_id("upcoming_in")
    inv["lines"]["url"] = f"/v1/invoices/{inv['id']}/lines"
    for line in inv["lines"]["data"]:
        line["invoice"] = inv["id"]
    return inv
