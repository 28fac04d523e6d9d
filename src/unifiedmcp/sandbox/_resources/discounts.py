"""Discounts: redeeming coupons and promotion codes, as the ``discounts`` parameter of
subscriptions, invoices and Checkout asks.

A coupon is redeemable while it is valid: before ``redeem_by`` and under ``max_redemptions``
(reaching it makes the coupon invalid). A promotion code (a customer-facing code on a coupon) is
redeemable while it is active, before its ``expires_at``, under its ``max_redemptions``, by its
``customer`` if it names one, and within its restrictions: ``first_time_transaction`` (the
customer has no paid invoice or successful charge yet) and ``minimum_amount`` in
``minimum_amount_currency`` (against the amount of the first invoice or of the Checkout Session).
Each redemption makes a ``discount`` naming its coupon and, if any, its promotion code.
"""

from __future__ import annotations

from .._errors import invalid, missing
from .._objects import blank, new_id
from .._periods import add_interval
from .._state import Sandbox
from ._common import Obj

__all__ = ["redeem", "redeem_promotion_code", "promotion_code_for", "apply_discounts"]


def redeem(sb: Sandbox, coupon_id: str, *, customer: str | None, subscription: str | None, param: str,
           clock: str | None, promotion_code: str | None = None, checkout_session: str | None = None) -> Obj:
    """Apply a coupon: a new ``discount`` object (checked against redeem_by / max_redemptions)."""
    coupon = sb.store.get(coupon_id, "coupon")
    if coupon is None:
        raise missing("coupon", coupon_id, param=param, status=400)
    now = sb.now(clock)
    if not coupon["valid"] or (coupon.get("redeem_by") and coupon["redeem_by"] < now) or (
        coupon.get("max_redemptions") and coupon["times_redeemed"] >= coupon["max_redemptions"]
    ):
        raise invalid(f"Coupon expired: {coupon_id}", param=param, code="coupon_expired")
    coupon["times_redeemed"] += 1
    if coupon.get("max_redemptions") and coupon["times_redeemed"] >= coupon["max_redemptions"]:
        coupon["valid"] = False
    sb.store.touch(coupon)
    end = add_interval(now, "month", coupon["duration_in_months"]) if coupon["duration"] == "repeating" else None
    disc = blank(
        "discount",
        id=new_id("di"),
        checkout_session=checkout_session,
        customer=customer,
        end=end,
        promotion_code=promotion_code,
        start=now,
        subscription=subscription,
        source={"coupon": coupon_id, "type": "coupon"},
    )
    return sb.store.put(disc)


def _has_paid(sb: Sandbox, customer: str) -> bool:
    return any(i["customer"] == customer and i["status"] == "paid" and i["amount_paid"] > 0 for i in sb.store.iter("invoice")) or any(
        c.get("customer") == customer and c["status"] == "succeeded" for c in sb.store.iter("charge"))


def promotion_code_for(sb: Sandbox, code: str) -> Obj | None:
    """The active promotion code with this customer-facing ``code`` (case-insensitive)."""
    wanted = code.strip().lower()
    for promo in sb.store.iter("promotion_code"):
        if promo["active"] and promo["code"].lower() == wanted:
            return promo
    return None


def redeem_promotion_code(sb: Sandbox, promo_id: str, *, customer: str | None, subscription: str | None,
                          amount: int | None, currency: str | None, param: str, clock: str | None,
                          checkout_session: str | None = None) -> Obj:
    """Check a promotion code's conditions and restrictions, then redeem its coupon."""
    promo = sb.get("promotion_code", promo_id, param=param, label="promotion code")
    now = sb.now(clock)
    code = promo["code"]
    if not promo["active"]:
        raise invalid(f"This promotion code is inactive: {code}", param=param)
    if promo.get("expires_at") and promo["expires_at"] <= now:
        raise invalid(f"This promotion code has expired: {code}", param=param, code="coupon_expired")
    if promo.get("max_redemptions") and promo["times_redeemed"] >= promo["max_redemptions"]:
        raise invalid(f"This promotion code has been redeemed the maximum number of times: {code}", param=param,
                      code="coupon_expired")
    if promo.get("customer") and promo["customer"] != customer:
        raise invalid(f"This promotion code cannot be redeemed by this customer: {code}", param=param)
    rules = promo["restrictions"]
    if rules["first_time_transaction"] and customer and _has_paid(sb, customer):
        raise invalid(f"This promotion code is only valid for a customer's first transaction: {code}", param=param)
    minimum = rules.get("minimum_amount")
    if minimum is not None and amount is not None:
        if currency != rules.get("minimum_amount_currency") or amount < minimum:
            raise invalid(f"This promotion code requires a minimum amount of {minimum} "
                          f"{(rules.get('minimum_amount_currency') or '').upper()}: {code}", param=param)
    disc = redeem(sb, promo["promotion"]["coupon"], customer=customer, subscription=subscription, param=param,
                  clock=clock, promotion_code=promo["id"], checkout_session=checkout_session)
    promo["times_redeemed"] += 1
    sb.store.touch(promo)
    return disc


def apply_discounts(sb: Sandbox, p: Obj, *, customer: str, subscription: str | None, clock: str | None,
                    amount: int | None = None, currency: str | None = None) -> list[str]:
    """The ``discounts`` parameter ([{coupon}], [{promotion_code}] or [{discount}]) as discount ids,
    redeeming coupons and promotion codes (``amount`` and ``currency``: what a minimum applies to)."""
    out: list[str] = []
    raw = p.get("discounts")
    if raw in (None, ""):
        return out
    if not isinstance(raw, list):
        raise invalid("Invalid array", param="discounts")
    for i, d in enumerate(raw):
        if isinstance(d, dict) and d.get("coupon"):
            out.append(redeem(sb, d["coupon"], customer=customer, subscription=subscription,
                              param=f"discounts[{i}][coupon]", clock=clock)["id"])
        elif isinstance(d, dict) and d.get("promotion_code"):
            out.append(redeem_promotion_code(sb, d["promotion_code"], customer=customer, subscription=subscription,
                                             amount=amount, currency=currency, param=f"discounts[{i}][promotion_code]",
                                             clock=clock)["id"])
        elif isinstance(d, dict) and d.get("discount"):
            out.append(sb.get("discount", d["discount"], param=f"discounts[{i}][discount]")["id"])
        else:
            raise invalid("Each discount needs a coupon, a promotion code or a discount.", param=f"discounts[{i}]")
    return out
