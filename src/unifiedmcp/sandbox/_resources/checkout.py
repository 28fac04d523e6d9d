"""Checkout Sessions in ``payment`` and ``subscription`` mode: create, retrieve, list, expire,
line items; completed on a local hosted page (``_hosted.py``) where a test card pays.

What completing does, as Stripe's Checkout does: the customer is the session's ``customer``, or a
new one with the email entered (``customer_email`` pre-fills it); the card is attached to it (a
card declined at attach shows its error on the page and leaves the session open). In
``subscription`` mode a subscription of the line items is created with the card as its default
payment method, ``subscription_data`` (``trial_period_days`` or ``trial_end``, ``metadata``,
``description``) and the session's discounts or the promotion code entered on the page
(``allow_promotion_codes``); a card that would be declined refuses the payment on the page and
creates nothing (``payment_behavior=error_if_incomplete``). In ``payment`` mode a payment intent
for the total is confirmed with the card. Then the session is ``complete`` (``payment_status``
``paid``, or ``no_payment_required`` when nothing is due today, e.g. a trial) with
``customer_details``, ``subscription``, ``invoice`` or ``payment_intent``, and
``checkout.session.completed`` is sent.

A metered price is a line item without quantity (billed in arrears). Sessions expire at
``expires_at`` (default 24 h; wall-clock time, checked by the background tick) or by ``expire``:
``checkout.session.expired``. Not modelled: ``setup`` mode, ``ui_mode`` other than
``hosted_page``, ``price_data``, shipping, tax, adaptive pricing, custom fields.
"""

from __future__ import annotations

import secrets

from .. import _clock, _pricing
from .._errors import invalid, missing_param
from .._money import attach, card_of, resolve_payment_method, would_fail
from .._objects import blank, new_id, public, to_bool, to_int
from .._router import route
from .._state import INCLUDABLES, Sandbox
from ._common import Obj, apply_metadata, require
from .customers import create as customer_create
from .discounts import promotion_code_for
from .payments import pi_create
from .subscriptions import sub_create

__all__ = ["complete", "expire", "line_items", "KIND"]

KIND = "checkout.session"
_DAY = 86400


def _line_items(sb: Sandbox, raw: object, mode: str) -> list[Obj]:
    if not isinstance(raw, list) or not raw:
        raise missing_param("line_items")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise invalid("Invalid array", param=f"line_items[{i}]")
        if "price_data" in item:
            raise invalid("The sandbox's Checkout takes line items by price only.", param=f"line_items[{i}][price_data]")
        price = sb.get("price", require(item, "price") if "price" in item else None, param=f"line_items[{i}][price]")
        if not price["active"]:
            raise invalid("The price specified is inactive. This field only accepts active prices.", param=f"line_items[{i}][price]")
        if mode == "payment" and price["type"] == "recurring":
            raise invalid("You must use `subscription` mode for recurring prices.", param=f"line_items[{i}][price]")
        metered = _pricing.is_metered(price)
        if metered and "quantity" in item:
            raise invalid(f"Quantity should not be specified where usage_type is `metered`. Remove quantity from `line_items[{i}]`.",
                          param=f"line_items[{i}][quantity]")
        if not metered and "quantity" not in item:
            raise missing_param(f"line_items[{i}][quantity]")
        qty = None if metered else to_int(item["quantity"], param=f"line_items[{i}][quantity]", minimum=1)
        out.append({"price": price["id"], "quantity": qty})
    if mode == "subscription":
        recurring = [sb.store.get(li["price"]) for li in out]
        if not any(p["type"] == "recurring" for p in recurring):
            raise invalid("You must specify at least one recurring price in `subscription` mode.", param="line_items")
    currencies = {sb.store.get(li["price"])["currency"] for li in out}
    if len(currencies) > 1:
        raise invalid("All line items must have the same currency.", param="line_items")
    return out


def _trial(p: Obj, now: int) -> int | None:
    data = p.get("subscription_data") if isinstance(p.get("subscription_data"), dict) else {}
    if data.get("trial_end"):
        end = to_int(data["trial_end"], param="subscription_data[trial_end]")
        if end < now + 2 * _DAY:
            raise invalid("subscription_data[trial_end] must be at least 48 hours in the future.", param="subscription_data[trial_end]")
        return end
    if data.get("trial_period_days"):
        return now + to_int(data["trial_period_days"], param="subscription_data[trial_period_days]", minimum=1) * _DAY
    return None


def _totals(sb: Sandbox, session: Obj) -> None:
    """Today's amounts: licensed items (none during a trial), less the session's coupons."""
    subtotal = 0
    if not session.get("_trial_end"):
        for li in session["_items"]:
            if li["quantity"] is not None:
                subtotal += _pricing.amount(sb, sb.store.get(li["price"]), li["quantity"])
    discount = 0
    for d in session.get("discounts") or []:
        coupon_id = d["coupon"] or sb.get("promotion_code", d["promotion_code"])["promotion"]["coupon"]
        coupon = sb.store.get(coupon_id, "coupon") or {}
        left = subtotal - discount
        discount += (round(left * float(coupon["percent_off"]) / 100) if coupon.get("percent_off") is not None
                     else min(int(coupon.get("amount_off") or 0), left))
    session["amount_subtotal"] = subtotal
    session["amount_total"] = subtotal - discount
    session["total_details"] = {"amount_discount": discount, "amount_shipping": 0, "amount_tax": 0}


def _discounts(sb: Sandbox, p: Obj) -> list[Obj] | None:
    raw = p.get("discounts")
    if not isinstance(raw, list) or not raw:
        return None
    out = []
    for i, d in enumerate(raw):
        if d.get("coupon"):
            out.append({"coupon": sb.get("coupon", d["coupon"], param=f"discounts[{i}][coupon]")["id"], "promotion_code": None})
        elif d.get("promotion_code"):
            promo = sb.get("promotion_code", d["promotion_code"], param=f"discounts[{i}][promotion_code]", label="promotion code")
            out.append({"coupon": None, "promotion_code": promo["id"]})
        else:
            raise invalid("Each discount needs a coupon or a promotion code.", param=f"discounts[{i}]")
    return out


@route("POST", "/v1/checkout/sessions")
def session_create(sb: Sandbox, p: Obj) -> Obj:
    mode = require(p, "mode")
    if mode not in ("payment", "subscription"):
        raise invalid("The sandbox's Checkout supports `payment` and `subscription` mode.", param="mode")
    if p.get("ui_mode", "hosted_page") != "hosted_page":
        raise invalid("The sandbox's Checkout supports ui_mode `hosted_page` only.", param="ui_mode")
    if p.get("customer") and p.get("customer_email"):
        raise invalid("You may only specify one of these parameters: customer, customer_email.", param="customer_email")
    allow_codes = to_bool(p.get("allow_promotion_codes", False), param="allow_promotion_codes")
    if allow_codes and p.get("discounts"):
        raise invalid("You may only specify one of these parameters: allow_promotion_codes, discounts.", param="discounts")
    cus = sb.get("customer", p["customer"], param="customer") if p.get("customer") else None
    items = _line_items(sb, p.get("line_items"), mode)
    now = sb.now()
    expires_at = to_int(p["expires_at"], param="expires_at") if p.get("expires_at") else now + _DAY
    if not now + 1800 <= expires_at <= now + _DAY:
        raise invalid("The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.",
                      param="expires_at")
    data = p.get("subscription_data") if isinstance(p.get("subscription_data"), dict) else {}
    if mode == "payment" and data:
        raise invalid("You can only specify `subscription_data` in `subscription` mode.", param="subscription_data")
    sid = new_id("cs_test", 58)
    token = secrets.token_urlsafe(16)
    session = blank(
        KIND,
        id=sid,
        allow_promotion_codes=allow_codes,
        automatic_tax={"enabled": False, "liability": None, "provider": None, "status": None},
        billing_address_collection=p.get("billing_address_collection"),
        cancel_url=p.get("cancel_url"),
        client_reference_id=p.get("client_reference_id"),
        created=now,
        currency=sb.store.get(items[0]["price"])["currency"],
        custom_fields=[],
        custom_text={"after_submit": None, "shipping_address": None, "submit": None, "terms_of_service_acceptance": None},
        customer=cus["id"] if cus else None,
        customer_creation=(p.get("customer_creation") or "if_required") if mode == "payment" else None,
        customer_email=p.get("customer_email"),
        discounts=_discounts(sb, p),
        expires_at=expires_at,
        livemode=False,
        locale=p.get("locale"),
        mode=mode,
        payment_method_collection=p.get("payment_method_collection") or "always",
        payment_method_types=["card"],
        phone_number_collection={"enabled": False},
        shipping_options=[],
        status="open",
        submit_type=p.get("submit_type"),
        success_url=p.get("success_url"),
        tax_id_collection={"enabled": False, "required": "never"},
        ui_mode="hosted_page",
        url=f"{sb.base_url}/_sandbox/checkout/{sid}?token={token}",
        _token=token,
        _items=items,
        _trial_end=_trial(p, now) if mode == "subscription" else None,
        _subscription_data={k: data[k] for k in ("metadata", "description") if k in data},
    )
    apply_metadata(session, p)
    _totals(sb, session)
    session["payment_status"] = "unpaid" if session["amount_total"] else "no_payment_required"
    sb.store.put(session)
    return session


def _session(sb: Sandbox, cid: str) -> Obj:
    return sb.get(KIND, cid, label="checkout session")


@route("GET", "/v1/checkout/sessions/{cid}")
def session_retrieve(sb: Sandbox, p: Obj, cid: str) -> Obj:
    return _session(sb, cid)


@route("GET", "/v1/checkout/sessions")
def session_list(sb: Sandbox, p: Obj) -> Obj:
    customer, status, subscription, intent = p.get("customer"), p.get("status"), p.get("subscription"), p.get("payment_intent")

    def match(o: Obj) -> bool:
        return ((customer is None or o["customer"] == customer) and (status is None or o["status"] == status)
                and (subscription is None or o["subscription"] == subscription)
                and (intent is None or o["payment_intent"] == intent))

    return sb.list(KIND, p, url="/v1/checkout/sessions", match=match)


def expire(sb: Sandbox, session: Obj) -> None:
    session["status"] = "expired"
    session["url"] = None
    sb.store.touch(session)
    sb.emit("checkout.session.expired", session)


@route("POST", "/v1/checkout/sessions/{cid}/expire")
def session_expire(sb: Sandbox, p: Obj, cid: str) -> Obj:
    session = _session(sb, cid)
    if session["status"] != "open":
        raise invalid(f"Only Checkout Sessions with a status in [\"open\"] can be expired. This session has a status of "
                      f"{session['status']}.", param="session")
    expire(sb, session)
    return session


def line_items(sb: Sandbox, session: Obj) -> list[Obj]:
    """The session's line items (``item`` objects); a metered price has no quantity and no amount."""
    total_discount = session["total_details"]["amount_discount"]
    subtotal = session["amount_subtotal"] or 0
    out, left = [], total_discount
    for i, li in enumerate(session["_items"]):
        price = sb.store.get(li["price"])
        amount = 0 if li["quantity"] is None or session.get("_trial_end") else _pricing.amount(sb, price, li["quantity"])
        share = left if i == len(session["_items"]) - 1 else (total_discount * amount // subtotal if subtotal else 0)
        left -= share
        product = sb.store.get(price["product"]) or {}
        out.append(blank("item", id=f"li_{session['id'][8:22]}{i}", adjustable_quantity=None, amount_discount=share,
                         amount_subtotal=amount, amount_tax=0, amount_total=amount - share, currency=price["currency"],
                         description=product.get("name"), price=public(price), quantity=li["quantity"]))
    return out


@route("GET", "/v1/checkout/sessions/{cid}/line_items")
def session_line_items(sb: Sandbox, p: Obj, cid: str) -> Obj:
    session = _session(sb, cid)
    return sb.list("item", p, url=f"/v1/checkout/sessions/{cid}/line_items", source=line_items(sb, session))


def _page_discounts(sb: Sandbox, session: Obj, code: str | None) -> list[Obj]:
    if code:
        if not session["allow_promotion_codes"]:
            raise invalid("This Checkout Session does not accept promotion codes.", param="promotion_code")
        promo = promotion_code_for(sb, code)
        if promo is None:
            raise invalid(f"This code is invalid: {code}", param="promotion_code")
        return [{"promotion_code": promo["id"]}]
    return [{k: v for k, v in d.items() if v} for d in session.get("discounts") or []]


def complete(sb: Sandbox, session: Obj, *, payment_method: str, email: str | None, promotion_code: str | None) -> None:
    """The customer paid on the hosted page with ``payment_method`` (a test card token); raises StripeError."""
    if session["status"] != "open":
        raise invalid(f"This Checkout Session is {session['status']}.")
    discounts = _page_discounts(sb, session, promotion_code)
    email = (email or session["customer_email"] or "").strip() or None
    cus = sb.store.get(session["customer"]) if session["customer"] else None
    pm = resolve_payment_method(sb, payment_method, param="payment_method", clock=(cus or {}).get("test_clock"))
    # The card is judged before anything is created: a refused payment leaves no customer behind.
    refusal = would_fail(pm, off_session=False)
    if refusal is not None and (session["amount_total"] or card_of(pm).failure == "at_attach"):
        raise refusal
    if cus is None and (session["mode"] == "subscription" or session["customer_creation"] == "always"):
        if not email:
            raise invalid("Enter an email address.", param="email")
        cus = customer_create(sb, {"email": email})
    if cus is not None:
        attach(sb, pm, cus)
    if session["mode"] == "subscription":
        params: Obj = {"customer": cus["id"], "default_payment_method": pm["id"], "payment_behavior": "error_if_incomplete",
                       "items": [{"price": li["price"], **({"quantity": str(li["quantity"])} if li["quantity"] is not None else {})}
                                 for li in session["_items"]],
                       **session["_subscription_data"]}
        if session.get("_trial_end"):
            params["trial_end"] = str(session["_trial_end"])
        if discounts:
            params["discounts"] = discounts
        sub = sub_create(sb, params)
        session["subscription"] = sub["id"]
        session["invoice"] = sub["latest_invoice"]
        applied = [sb.store.get(d) for d in sub["discounts"]]
    else:
        session["discounts"] = [{"coupon": d.get("coupon"), "promotion_code": d.get("promotion_code")} for d in discounts] or None
        _totals(sb, session)
        applied = []
        if session["amount_total"]:
            intent = pi_create(sb, {"amount": str(session["amount_total"]), "currency": session["currency"],
                                    "payment_method": pm["id"], "confirm": "true",
                                    **({"customer": cus["id"]} if cus else {})})
            session["payment_intent"] = intent["id"]
    if applied:
        session["discounts"] = [{"coupon": d["source"]["coupon"] if not d["promotion_code"] else None,
                                 "promotion_code": d["promotion_code"]} for d in applied if d]
        _totals(sb, session)
    session["status"] = "complete"
    session["payment_status"] = "paid" if session["amount_total"] else "no_payment_required"
    session["customer"] = cus["id"] if cus else None
    session["customer_details"] = {"address": (cus or {}).get("address"), "business_name": None, "email": email,
                                   "individual_name": None, "name": (cus or {}).get("name"), "phone": (cus or {}).get("phone"),
                                   "tax_exempt": "none", "tax_ids": []}
    session["url"] = None
    sb.store.touch(session)
    sb.emit("checkout.session.completed", session)


def _due(sb: Sandbox, clock: str | None, until: int) -> list[tuple[int, int, str, str]]:
    if clock is not None:
        return []  # sessions expire by wall-clock time, not on a customer's test clock
    return [(s["expires_at"], 5, "expire_checkout", s["id"]) for s in sb.store.iter(KIND, newest_first=False)
            if s["status"] == "open" and s["expires_at"] <= until]


def _run(sb: Sandbox, session: Obj) -> None:
    if session["status"] == "open":
        expire(sb, session)


_clock.register("expire_checkout", _due, _run)
# A session's line items appear only when expanded (``expand: ["line_items"]``), as with Stripe.
INCLUDABLES[KIND] = {"line_items": lambda sb, node: {
    "object": "list", "data": line_items(sb, sb.store.get(node["id"]) or node), "has_more": False,
    "url": f"/v1/checkout/sessions/{node['id']}/line_items"}}
