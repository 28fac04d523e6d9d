"""/v1/customers: create, retrieve, update, delete (tombstone), list, search."""

from __future__ import annotations

import secrets

from .._errors import invalid, missing
from .._money import attach, resolve_payment_method
from .._objects import blank, new_id, to_int
from .._router import route
from .._state import Sandbox
from ._common import Obj, apply_metadata, do_search, sget

_EMPTY_ADDRESS = {"city": None, "country": None, "line1": None, "line2": None, "postal_code": None, "state": None}
_SIMPLE = ("email", "name", "phone", "description")


def _address(value: object, param: str) -> Obj | None:
    if value in (None, ""):
        return None
    if not isinstance(value, dict):
        raise invalid("Invalid object", param=param)
    return {**_EMPTY_ADDRESS, **value}


def _customer(sb: Sandbox, cid: str) -> Obj:
    cus = sb.store.get(cid, "customer")
    if cus is None:
        raise missing("customer", cid)
    return cus


@route("POST", "/v1/customers")
def create(sb: Sandbox, p: Obj) -> Obj:
    clock = p.get("test_clock")
    if clock is not None:
        sb.get("test_helpers.test_clock", clock, param="test_clock", label="test clock")
    cus = blank(
        "customer",
        id=new_id("cus", 14),
        address=_address(p.get("address"), "address"),
        balance=to_int(p.get("balance", 0), param="balance"),
        created=sb.now(clock),
        currency=None,
        delinquent=False,
        discount=None,
        invoice_prefix=p.get("invoice_prefix") or secrets.token_hex(4).upper(),
        invoice_settings={"custom_fields": None, "default_payment_method": None, "footer": None, "rendering_options": None},
        next_invoice_sequence=to_int(p.get("next_invoice_sequence", 1), param="next_invoice_sequence", minimum=1),
        preferred_locales=list(p.get("preferred_locales") or []),
        shipping=p.get("shipping") or None,
        tax_exempt=p.get("tax_exempt", "none"),
        test_clock=clock,
    )
    for k in _SIMPLE:
        if k in p:
            cus[k] = p[k] or None
    apply_metadata(cus, p)
    _payment_setup(sb, cus, p, creating=True)
    sb.store.put(cus)
    sb.emit("customer.created", cus, clock=clock)
    return cus


def _payment_setup(sb: Sandbox, cus: Obj, p: Obj, *, creating: bool) -> None:
    if p.get("payment_method"):
        pm = resolve_payment_method(sb, p["payment_method"], param="payment_method", clock=cus.get("test_clock"))
        if creating:
            sb.store.put(cus)  # attach() emits an event referring to the customer
        attach(sb, pm, cus)
    default = sget(p, "invoice_settings", "default_payment_method")
    if default is not None:
        if default == "":
            cus["invoice_settings"]["default_payment_method"] = None
        else:
            pm = sb.store.get(default, "payment_method")
            if pm is None and default.startswith("pm_card_"):
                pm = resolve_payment_method(sb, default, param="invoice_settings[default_payment_method]")
                attach(sb, pm, cus)
            if pm is None or pm.get("customer") != cus["id"]:
                raise invalid(
                    f"No such PaymentMethod: '{default}'; It's possible this PaymentMethod exists on one of your "
                    "connected accounts, in which case you should retry this request on that connected account.",
                    param="invoice_settings[default_payment_method]",
                    code="resource_missing",
                )
            cus["invoice_settings"] = {**cus["invoice_settings"], "default_payment_method": pm["id"]}
    for k in ("footer", "custom_fields", "rendering_options"):
        if sget(p, "invoice_settings", k) is not None:
            cus["invoice_settings"][k] = p["invoice_settings"][k] or None


@route("GET", "/v1/customers/{cid}")
def retrieve(sb: Sandbox, p: Obj, cid: str) -> Obj:
    return _customer(sb, cid)


@route("POST", "/v1/customers/{cid}")
def update(sb: Sandbox, p: Obj, cid: str) -> Obj:
    cus = _customer(sb, cid)
    if cus.get("deleted"):
        raise missing("customer", cid)
    before = sb.snapshot(cus)
    for k in _SIMPLE:
        if k in p:
            cus[k] = p[k] or None
    if "address" in p:
        cus["address"] = _address(p["address"], "address")
    if "shipping" in p:
        cus["shipping"] = p["shipping"] or None
    if "balance" in p:
        cus["balance"] = to_int(p["balance"], param="balance")
    if "preferred_locales" in p:
        cus["preferred_locales"] = list(p["preferred_locales"] or [])
    apply_metadata(cus, p)
    cus["invoice_settings"] = dict(cus["invoice_settings"])
    _payment_setup(sb, cus, p, creating=False)
    sb.store.touch(cus)
    sb.emit_updated("customer.updated", cus, before, clock=cus.get("test_clock"))
    return cus


@route("DELETE", "/v1/customers/{cid}")
def delete(sb: Sandbox, p: Obj, cid: str) -> Obj:
    from .._billing import cancel_subscription

    cus = _customer(sb, cid)
    if cus.get("deleted"):
        raise missing("customer", cid)
    for sub in list(sb.store.iter("subscription")):
        if sub["customer"] == cid and sub["status"] not in ("canceled", "incomplete_expired"):
            cancel_subscription(sb, sub, reason="cancellation_requested")
    snapshot = dict(cus)
    tomb = {"id": cid, "object": "customer", "deleted": True, "_seq": cus.get("_seq", 0)}
    sb.store.put(tomb)
    sb.emit("customer.deleted", snapshot, clock=cus.get("test_clock"))
    return tomb


def _live(c: Obj) -> bool:
    return not c.get("deleted")


@route("GET", "/v1/customers")
def list_(sb: Sandbox, p: Obj) -> Obj:
    email = p.get("email")
    clock = p.get("test_clock")

    def match(c: Obj) -> bool:
        return _live(c) and (email is None or c.get("email") == email) and (clock is None or c.get("test_clock") == clock)

    return sb.list("customer", p, url="/v1/customers", match=match)


@route("GET", "/v1/customers/search")
def search_(sb: Sandbox, p: Obj) -> Obj:
    return do_search(sb, "customer", p, url="/v1/customers/search", resource="customers")


@route("GET", "/v1/customers/{cid}/payment_methods")
def payment_methods(sb: Sandbox, p: Obj, cid: str) -> Obj:
    _customer(sb, cid)
    kind = p.get("type")
    return sb.list(
        "payment_method", p, url=f"/v1/customers/{cid}/payment_methods",
        match=lambda pm: pm.get("customer") == cid and (kind is None or pm["type"] == kind),
    )
