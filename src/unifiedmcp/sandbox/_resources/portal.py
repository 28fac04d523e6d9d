"""Billing portal sessions (``POST /v1/billing_portal/sessions``), their ``flow_data``, and what the
local portal page does when the customer acts (``_hosted.py`` renders it).

A session without ``flow_data`` opens the portal's home page (subscriptions, invoices, payment
method). With ``flow_data`` it opens one flow, as Stripe's deep links do:

- ``subscription_cancel``: cancel the subscription (at period end, the portal's default), or
  accept the ``retention.coupon_offer`` instead (the coupon is applied to the subscription);
- ``subscription_update``: switch the subscription's plan (its first licensed item) to another
  recurring price of the same interval and currency, with prorations;
- ``subscription_update_confirm``: confirm the items (and discounts) the session names, with
  prorations;
- ``payment_method_update``: add a card and make it the customer's default.

Then ``after_completion`` applies: ``redirect`` to its ``return_url``, ``hosted_confirmation``
(a page with ``custom_message``) or ``portal_homepage``. The subscription must be the customer's
and live, and the items of ``subscription_update_confirm`` must be its own, or the create call is
a 400. ``subscription_pause`` and ``customer_update`` flows are refused (not modelled).
"""

from __future__ import annotations

import secrets
from typing import Any

from .._errors import invalid, missing_param
from .._money import attach, resolve_payment_method
from .._objects import blank, new_id, to_int
from .._router import route
from .._state import Sandbox
from ._common import Obj, require, sget
from .subscriptions import sub_update

__all__ = ["portal_create", "act", "FLOW_TYPES"]

FLOW_TYPES = ("payment_method_update", "subscription_cancel", "subscription_update", "subscription_update_confirm")
_LIVE = ("active", "past_due", "trialing", "unpaid")


def _subscription(sb: Sandbox, cus: Obj, sid: Any, param: str) -> Obj:
    sub = sb.get("subscription", sid, param=param)
    if sub["customer"] != cus["id"] or sub["status"] not in _LIVE:
        raise invalid(f"The subscription {sid} is not an active subscription of customer {cus['id']}.", param=param)
    return sub


def _after_completion(fd: Obj) -> Obj:
    ac = fd.get("after_completion") if isinstance(fd.get("after_completion"), dict) else {}
    kind = ac.get("type", "portal_homepage")
    redirect = None
    if kind == "redirect":
        url = require(ac.get("redirect") if isinstance(ac.get("redirect"), dict) else {}, "return_url")
        redirect = {"return_url": url}
    message = sget(ac, "hosted_confirmation", "custom_message") if kind == "hosted_confirmation" else None
    return {
        "hosted_confirmation": {"custom_message": message} if kind == "hosted_confirmation" else None,
        "redirect": redirect,
        "type": kind,
    }


def _flow(sb: Sandbox, cus: Obj, fd: Obj) -> Obj:
    kind = require(fd, "type")
    if kind not in FLOW_TYPES:
        raise invalid(f"The sandbox's portal does not model the {kind} flow.", param="flow_data[type]")
    flow: Obj = {
        "after_completion": _after_completion(fd), "customer_update": None, "subscription_cancel": None,
        "subscription_pause": None, "subscription_update": None, "subscription_update_confirm": None, "type": kind,
    }
    if kind == "payment_method_update":
        return flow
    detail = fd.get(kind) if isinstance(fd.get(kind), dict) else {}
    param = f"flow_data[{kind}][subscription]"
    sub = _subscription(sb, cus, require(detail, "subscription"), param)
    if kind == "subscription_cancel":
        coupon = sget(detail, "retention", "coupon_offer", "coupon")
        if coupon is not None:
            sb.get("coupon", coupon, param=f"flow_data[{kind}][retention][coupon_offer][coupon]")
        flow[kind] = {"retention": {"coupon_offer": {"coupon": coupon}, "type": "coupon_offer"} if coupon else None,
                      "subscription": sub["id"]}
    elif kind == "subscription_update":
        flow[kind] = {"subscription": sub["id"]}
    else:
        own = {i["id"] for i in sub["items"]["data"]}
        items = []
        for n, item in enumerate(detail.get("items") or []):
            if not isinstance(item, dict) or item.get("id") not in own:
                raise invalid(f"The item is not an item of subscription {sub['id']}.", param=f"flow_data[{kind}][items][{n}][id]")
            if item.get("price"):
                sb.get("price", item["price"], param=f"flow_data[{kind}][items][{n}][price]")
            entry = {"id": item["id"], "price": item.get("price")}
            if "quantity" in item:
                entry["quantity"] = to_int(item["quantity"], param=f"flow_data[{kind}][items][{n}][quantity]", minimum=0)
            items.append(entry)
        if not items:
            raise missing_param(f"flow_data[{kind}][items]")
        discounts = [{"coupon": d.get("coupon"), "promotion_code": d.get("promotion_code")}
                     for d in detail.get("discounts") or [] if isinstance(d, dict)]
        flow[kind] = {"discounts": discounts or None, "items": items, "subscription": sub["id"]}
    return flow


@route("POST", "/v1/billing_portal/sessions")
def portal_create(sb: Sandbox, p: Obj) -> Obj:
    cus = sb.get("customer", require(p, "customer"), param="customer")
    flow = _flow(sb, cus, p["flow_data"]) if isinstance(p.get("flow_data"), dict) else None
    sid = new_id("bps")
    token = secrets.token_urlsafe(16)
    session = blank(
        "billing_portal.session",
        id=sid,
        configuration="bpc_sandbox_default",
        created=sb.now(),
        customer=cus["id"],
        flow=flow,
        locale=p.get("locale"),
        on_behalf_of=None,
        return_url=p.get("return_url"),
        url=f"{sb.base_url}/_sandbox/portal/{sid}?token={token}",
        _token=token,
    )
    sb.store.put(session)
    sb.emit("billing_portal.session.created", session)
    return session


def act(sb: Sandbox, session: Obj, form: dict[str, str]) -> None:
    """What the customer did on the portal page (``action`` and its fields); raises StripeError."""
    action = form.get("action", "")
    cus = sb.get("customer", session["customer"])
    flow = session.get("flow") or {}
    if action == "payment_method":
        pm = resolve_payment_method(sb, form.get("payment_method") or "pm_card_visa", param="payment_method",
                                    clock=cus.get("test_clock"))
        attach(sb, pm, cus)
        before = sb.snapshot(cus)
        cus["invoice_settings"] = {**cus["invoice_settings"], "default_payment_method": pm["id"]}
        sb.store.touch(cus)
        sb.emit_updated("customer.updated", cus, before, clock=cus.get("test_clock"))
        return
    sub = _subscription(sb, cus, form.get("subscription"), "subscription")
    if action == "cancel":
        sub_update(sb, {"cancel_at_period_end": "true"}, sub["id"])
    elif action == "accept_offer":
        coupon = sget(flow, "subscription_cancel", "retention", "coupon_offer", "coupon")
        if not coupon:
            raise invalid("This session offers no coupon.")
        sub_update(sb, {"discounts": [{"coupon": coupon}]}, sub["id"])
    elif action == "update":
        licensed = [i for i in sub["items"]["data"] if "quantity" in i]
        if not licensed:
            raise invalid("The subscription has no plan to switch.")
        sub_update(sb, {"items": [{"id": licensed[0]["id"], "price": form.get("price", "")}],
                        "proration_behavior": "create_prorations"}, sub["id"])
    elif action == "confirm_update":
        confirm = flow.get("subscription_update_confirm") or {}
        items = [{k: (str(v) if k == "quantity" else v) for k, v in i.items() if v is not None} for i in confirm["items"]]
        params: Obj = {"items": items, "proration_behavior": "create_prorations"}
        if confirm.get("discounts"):
            params["discounts"] = [{k: v for k, v in d.items() if v} for d in confirm["discounts"]]
        sub_update(sb, params, sub["id"])
    else:
        raise invalid(f"Unknown portal action: {action!r}")
