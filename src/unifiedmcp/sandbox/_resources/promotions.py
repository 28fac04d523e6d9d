"""Promotion codes: customer-facing codes on coupons (create, retrieve, update, list).

A code is unique, case-insensitively, among the account's active codes. Its limits (``expires_at``
no later than the coupon's ``redeem_by``, ``max_redemptions`` no more than the coupon's) are
checked on creation; its conditions when it is redeemed (``discounts.py``). Only ``active``,
``metadata`` and ``restrictions.currency_options`` change afterwards. Events:
``promotion_code.created`` and ``promotion_code.updated``.
"""

from __future__ import annotations

import secrets
import string

from .._errors import invalid
from .._objects import blank, new_id, to_bool, to_int
from .._router import route
from .._state import Sandbox
from ._common import Obj, apply_metadata, require, sget
from .discounts import promotion_code_for

KIND = "promotion_code"
_CODE_CHARS = string.ascii_uppercase + string.digits


def _currency_options(value: object, param: str) -> dict[str, Obj] | None:
    if not isinstance(value, dict):
        return None
    return {cur.lower(): {"minimum_amount": to_int(opt.get("minimum_amount", 0), param=f"{param}[{cur}][minimum_amount]", minimum=0)}
            for cur, opt in value.items() if isinstance(opt, dict)}


@route("POST", "/v1/promotion_codes")
def promo_create(sb: Sandbox, p: Obj) -> Obj:
    if sget(p, "promotion", "type") != "coupon":
        raise invalid("Invalid promotion[type]: must be one of coupon", param="promotion[type]")
    coupon = sb.get("coupon", require(p["promotion"], "coupon"), param="promotion[coupon]")
    code = p.get("code") or "".join(secrets.choice(_CODE_CHARS) for _ in range(8))
    if not all(c.isalnum() or c == "-" for c in code):
        raise invalid("Invalid code: use letters, digits and dashes only.", param="code")
    if promotion_code_for(sb, code) is not None:
        raise invalid(f"An active promotion code with `code: {code}` already exists.", param="code",
                      code="resource_already_exists")
    expires_at = to_int(p["expires_at"], param="expires_at") if p.get("expires_at") else None
    if expires_at and coupon.get("redeem_by") and expires_at > coupon["redeem_by"]:
        raise invalid("The promotion code's expires_at cannot be after the coupon's redeem_by.", param="expires_at")
    limit = to_int(p["max_redemptions"], param="max_redemptions", minimum=1) if p.get("max_redemptions") else None
    if limit and coupon.get("max_redemptions") and limit > coupon["max_redemptions"]:
        raise invalid("The promotion code's max_redemptions cannot exceed the coupon's.", param="max_redemptions")
    customer = sb.get("customer", p["customer"], param="customer")["id"] if p.get("customer") else None
    rules = p.get("restrictions") if isinstance(p.get("restrictions"), dict) else {}
    minimum = to_int(rules["minimum_amount"], param="restrictions[minimum_amount]", minimum=0) if "minimum_amount" in rules else None
    if minimum is not None and not rules.get("minimum_amount_currency"):
        raise invalid("You must specify minimum_amount_currency with minimum_amount.", param="restrictions[minimum_amount_currency]")
    restrictions: Obj = {
        "first_time_transaction": to_bool(rules.get("first_time_transaction", False), param="restrictions[first_time_transaction]"),
        "minimum_amount": minimum,
        "minimum_amount_currency": str(rules["minimum_amount_currency"]).lower() if minimum is not None else None,
    }
    options = _currency_options(rules.get("currency_options"), "restrictions[currency_options]")
    if options:
        restrictions["currency_options"] = options
    promo = blank(
        KIND,
        id=new_id("promo"),
        active=to_bool(p.get("active", True), param="active"),
        code=code,
        created=sb.now(),
        customer=customer,
        expires_at=expires_at,
        max_redemptions=limit,
        promotion={"coupon": coupon["id"], "type": "coupon"},
        restrictions=restrictions,
        times_redeemed=0,
    )
    apply_metadata(promo, p)
    sb.store.put(promo)
    sb.emit("promotion_code.created", promo)
    return promo


@route("GET", "/v1/promotion_codes/{pid}")
def promo_retrieve(sb: Sandbox, p: Obj, pid: str) -> Obj:
    return sb.get(KIND, pid, label="promotion code")


@route("POST", "/v1/promotion_codes/{pid}")
def promo_update(sb: Sandbox, p: Obj, pid: str) -> Obj:
    promo = sb.get(KIND, pid, label="promotion code")
    before = sb.snapshot(promo)
    if "active" in p:
        active = to_bool(p["active"], param="active")
        if active and not promo["active"] and promotion_code_for(sb, promo["code"]) is not None:
            raise invalid(f"An active promotion code with `code: {promo['code']}` already exists.", param="active")
        promo["active"] = active
    options = _currency_options(sget(p, "restrictions", "currency_options"), "restrictions[currency_options]")
    if options:
        promo["restrictions"] = {**promo["restrictions"], "currency_options": {**promo["restrictions"].get("currency_options", {}), **options}}
    apply_metadata(promo, p)
    sb.store.touch(promo)
    sb.emit_updated("promotion_code.updated", promo, before)
    return promo


@route("GET", "/v1/promotion_codes")
def promo_list(sb: Sandbox, p: Obj) -> Obj:
    active = to_bool(p["active"], param="active") if "active" in p else None
    code, coupon, customer = p.get("code"), p.get("coupon"), p.get("customer")

    def match(o: Obj) -> bool:
        return ((active is None or o["active"] == active) and (code is None or o["code"].lower() == code.lower())
                and (coupon is None or o["promotion"]["coupon"] == coupon) and (customer is None or o["customer"] == customer))

    return sb.list(KIND, p, url="/v1/promotion_codes", match=match)
