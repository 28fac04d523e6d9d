"""Payment methods, payment intents, charges, refunds, disputes, balance."""

from __future__ import annotations

from .._errors import StripeError, invalid, unknown_param
from .._money import attach, balance, card_from_params, confirm, new_payment_intent, new_payment_method, refund, resolve_payment_method
from .._objects import to_bool, to_int
from .._router import route
from .._state import Sandbox
from ._common import Obj, apply_metadata, do_search, require


# -- payment methods ----------------------------------------------------------------------------
@route("POST", "/v1/payment_methods")
def pm_create(sb: Sandbox, p: Obj) -> Obj:
    if require(p, "type") != "card":
        raise invalid("The sandbox supports payment methods of type card only.", param="type")
    name, card = card_from_params(p.get("card"))
    pm = new_payment_method(sb, name, card, billing_details=None, metadata=None)
    if isinstance(p.get("billing_details"), dict):
        pm["billing_details"] = {**pm["billing_details"], **p["billing_details"]}
    apply_metadata(pm, p)
    return pm


@route("GET", "/v1/payment_methods/{pid}")
def pm_retrieve(sb: Sandbox, p: Obj, pid: str) -> Obj:
    return resolve_payment_method(sb, pid, param="id")


@route("POST", "/v1/payment_methods/{pid}")
def pm_update(sb: Sandbox, p: Obj, pid: str) -> Obj:
    pm = resolve_payment_method(sb, pid, param="id")
    before = sb.snapshot(pm)
    apply_metadata(pm, p)
    if isinstance(p.get("billing_details"), dict):
        pm["billing_details"] = {**pm["billing_details"], **p["billing_details"]}
    sb.store.touch(pm)
    sb.emit_updated("payment_method.updated", pm, before)
    return pm


@route("POST", "/v1/payment_methods/{pid}/attach")
def pm_attach(sb: Sandbox, p: Obj, pid: str) -> Obj:
    cus = sb.get("customer", require(p, "customer"), param="customer")
    pm = resolve_payment_method(sb, pid, param="payment_method", clock=cus.get("test_clock"))
    return attach(sb, pm, cus)


@route("POST", "/v1/payment_methods/{pid}/detach")
def pm_detach(sb: Sandbox, p: Obj, pid: str) -> Obj:
    pm = resolve_payment_method(sb, pid, param="id")
    cid = pm.get("customer")
    if not cid:
        raise invalid("The payment method you provided is not attached to a customer so detachment is impossible.")
    cus = sb.store.get(cid)
    pm["customer"] = None
    sb.store.touch(pm)
    if cus and (cus.get("invoice_settings") or {}).get("default_payment_method") == pid:
        cus["invoice_settings"] = {**cus["invoice_settings"], "default_payment_method": None}
        sb.store.touch(cus)
    sb.emit("payment_method.detached", pm, previous={"customer": cid})
    return pm


@route("GET", "/v1/payment_methods")
def pm_list(sb: Sandbox, p: Obj) -> Obj:
    cid = p.get("customer")
    kind = p.get("type")
    return sb.list(
        "payment_method", p, url="/v1/payment_methods",
        match=lambda o: (cid is None or o.get("customer") == cid) and (kind is None or o["type"] == kind),
    )


# -- payment intents ----------------------------------------------------------------------------
def _clock_for(sb: Sandbox, cid: str | None) -> str | None:
    return sb.clock_of(cid)


@route("POST", "/v1/payment_intents")
def pi_create(sb: Sandbox, p: Obj) -> Obj:
    amount = to_int(require(p, "amount"), param="amount", minimum=1)
    currency = str(require(p, "currency")).lower()
    cid = p.get("customer")
    if cid:
        sb.get("customer", cid, param="customer")
    clock = _clock_for(sb, cid)
    pm = resolve_payment_method(sb, p["payment_method"], param="payment_method", clock=clock) if p.get("payment_method") else None
    pi = new_payment_intent(
        sb, amount=amount, currency=currency, customer=cid, clock=clock, description=p.get("description"),
        metadata=None, payment_method=pm["id"] if pm else None, setup_future_usage=p.get("setup_future_usage"),
    )
    apply_metadata(pi, p)
    pi["receipt_email"] = p.get("receipt_email")
    pi["statement_descriptor"] = p.get("statement_descriptor")
    if "allowed_payment_method_types" in p:
        allowed = p["allowed_payment_method_types"]
        if not isinstance(allowed, list) or any(t != "card" for t in allowed):
            raise invalid("The sandbox supports payment methods of type card only.", param="allowed_payment_method_types")
        pi["allowed_payment_method_types"] = list(allowed)
    if isinstance(p.get("automatic_payment_methods"), dict):
        pi["automatic_payment_methods"] = {"allow_redirects": "always", "enabled": to_bool(p["automatic_payment_methods"].get("enabled", False), param="automatic_payment_methods[enabled]")}
    if to_bool(p.get("confirm", False), param="confirm"):
        if pm is None:
            raise invalid("You cannot confirm this PaymentIntent because it's missing a payment method.", param="payment_method", code="payment_intent_unexpected_state")
        error = confirm(sb, pi, pm, off_session=to_bool(p.get("off_session", False), param="off_session"))
        if error is not None:
            raise error
    return pi


@route("GET", "/v1/payment_intents/{pid}")
def pi_retrieve(sb: Sandbox, p: Obj, pid: str) -> Obj:
    return sb.get("payment_intent", pid)


@route("POST", "/v1/payment_intents/{pid}")
def pi_update(sb: Sandbox, p: Obj, pid: str) -> Obj:
    pi = sb.get("payment_intent", pid)
    if pi["status"] in ("succeeded", "canceled"):
        raise invalid(f"This PaymentIntent's status is {pi['status']}, so it cannot be updated.", code="payment_intent_unexpected_state")
    if "amount" in p:
        if pi.get("_invoice"):
            raise invalid("You cannot update the amount of a PaymentIntent created by an invoice.", param="amount")
        pi["amount"] = to_int(p["amount"], param="amount", minimum=1)
    for k in ("description", "receipt_email", "setup_future_usage"):
        if k in p:
            pi[k] = p[k] or None
    if p.get("payment_method"):
        pi["payment_method"] = resolve_payment_method(sb, p["payment_method"], param="payment_method", clock=pi.get("_clock"))["id"]
        pi["status"] = "requires_confirmation"
    apply_metadata(pi, p)
    sb.store.touch(pi)  # Stripe has no payment_intent.updated event
    return pi


@route("POST", "/v1/payment_intents/{pid}/confirm")
def pi_confirm(sb: Sandbox, p: Obj, pid: str) -> Obj:
    pi = sb.get("payment_intent", pid)
    if pi["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
        raise StripeError(
            400, type="invalid_request_error", code="payment_intent_unexpected_state",
            message=f"You cannot confirm this PaymentIntent because it has a status of {pi['status']}.",
            extra={"payment_intent": {k: v for k, v in pi.items() if not k.startswith("_")}},
        )
    ref = p.get("payment_method") or pi.get("payment_method")
    if not ref:
        raise invalid("You cannot confirm this PaymentIntent because it's missing a payment method.", param="payment_method", code="payment_intent_unexpected_state")
    pm = resolve_payment_method(sb, ref, param="payment_method", clock=pi.get("_clock"))
    if pi.get("_invoice"):
        inv = sb.store.get(pi["_invoice"])
        if inv is not None and inv["status"] != "open":
            raise invalid(f"This PaymentIntent's invoice is {inv['status']}.", code="payment_intent_unexpected_state")
    if p.get("setup_future_usage"):
        pi["setup_future_usage"] = p["setup_future_usage"]
    error = confirm(sb, pi, pm, off_session=to_bool(p.get("off_session", False), param="off_session"))
    if pi.get("setup_future_usage") and pi["status"] == "succeeded" and pi.get("customer") and not pm.get("customer"):
        pm["customer"] = pi["customer"]
        sb.store.touch(pm)
    if error is not None:
        raise error
    return pi


@route("POST", "/v1/payment_intents/{pid}/cancel")
def pi_cancel(sb: Sandbox, p: Obj, pid: str) -> Obj:
    pi = sb.get("payment_intent", pid)
    if pi["status"] in ("succeeded", "canceled"):
        raise invalid(f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}.", code="payment_intent_unexpected_state")
    if pi.get("_invoice"):
        raise invalid("You cannot cancel this PaymentIntent because it was created by an invoice.", code="payment_intent_unexpected_state")
    pi["status"] = "canceled"
    pi["canceled_at"] = sb.now(pi.get("_clock"))
    pi["cancellation_reason"] = p.get("cancellation_reason", "requested_by_customer")
    sb.store.touch(pi)
    sb.emit("payment_intent.canceled", pi, clock=pi.get("_clock"))
    return pi


@route("GET", "/v1/payment_intents")
def pi_list(sb: Sandbox, p: Obj) -> Obj:
    cid = p.get("customer")
    return sb.list("payment_intent", p, url="/v1/payment_intents", match=lambda o: cid is None or o.get("customer") == cid)


@route("GET", "/v1/payment_intents/search")
def pi_search(sb: Sandbox, p: Obj) -> Obj:
    return do_search(sb, "payment_intent", p, url="/v1/payment_intents/search", resource="payment_intents")


# -- charges ------------------------------------------------------------------------------------
@route("GET", "/v1/charges/{cid}")
def charge_retrieve(sb: Sandbox, p: Obj, cid: str) -> Obj:
    return sb.get("charge", cid)


@route("POST", "/v1/charges/{cid}")
def charge_update(sb: Sandbox, p: Obj, cid: str) -> Obj:
    ch = sb.get("charge", cid)
    before = sb.snapshot(ch)
    apply_metadata(ch, p)
    if "description" in p:
        ch["description"] = p["description"] or None
    sb.store.touch(ch)
    sb.emit_updated("charge.updated", ch, before, clock=ch.get("_clock"))
    return ch


@route("GET", "/v1/charges")
def charge_list(sb: Sandbox, p: Obj) -> Obj:
    cid = p.get("customer")
    pid = p.get("payment_intent")
    return sb.list(
        "charge", p, url="/v1/charges",
        match=lambda o: (cid is None or o.get("customer") == cid) and (pid is None or o.get("payment_intent") == pid),
    )


@route("GET", "/v1/charges/search")
def charge_search(sb: Sandbox, p: Obj) -> Obj:
    return do_search(sb, "charge", p, url="/v1/charges/search", resource="charges")


# -- refunds ------------------------------------------------------------------------------------
@route("POST", "/v1/refunds")
def refund_create(sb: Sandbox, p: Obj) -> Obj:
    if p.get("charge"):
        charge = sb.get("charge", p["charge"], param="charge")
    elif p.get("payment_intent"):
        pi = sb.get("payment_intent", p["payment_intent"], param="payment_intent")
        if not pi.get("latest_charge") or pi["status"] != "succeeded":
            raise invalid("This PaymentIntent does not have a successful charge to refund.", param="payment_intent")
        charge = sb.get("charge", pi["latest_charge"])
    else:
        raise invalid("One of the following params should be provided for this request: payment_intent or charge.")
    amount = to_int(p["amount"], param="amount", minimum=1) if "amount" in p else None
    meta = {}
    if isinstance(p.get("metadata"), dict):
        meta = {k: str(v) for k, v in p["metadata"].items() if v != ""}
    return refund(sb, charge, amount=amount, reason=p.get("reason"), metadata=meta)


@route("GET", "/v1/refunds/{rid}")
def refund_retrieve(sb: Sandbox, p: Obj, rid: str) -> Obj:
    return sb.get("refund", rid)


@route("POST", "/v1/refunds/{rid}")
def refund_update(sb: Sandbox, p: Obj, rid: str) -> Obj:
    ref = sb.get("refund", rid)
    before = sb.snapshot(ref)
    apply_metadata(ref, p)
    sb.store.touch(ref)
    sb.emit_updated("refund.updated", ref, before, clock=ref.get("_clock"))
    return ref


@route("GET", "/v1/refunds")
def refund_list(sb: Sandbox, p: Obj) -> Obj:
    ch = p.get("charge")
    pid = p.get("payment_intent")
    return sb.list(
        "refund", p, url="/v1/refunds",
        match=lambda o: (ch is None or o["charge"] == ch) and (pid is None or o.get("payment_intent") == pid),
    )


# -- disputes -----------------------------------------------------------------------------------
@route("GET", "/v1/disputes/{did}")
def dispute_retrieve(sb: Sandbox, p: Obj, did: str) -> Obj:
    return sb.get("dispute", did)


@route("POST", "/v1/disputes/{did}")
def dispute_update(sb: Sandbox, p: Obj, did: str) -> Obj:
    d = sb.get("dispute", did)
    if d["status"] in ("won", "lost"):
        raise invalid("This dispute is already closed.")
    before = sb.snapshot(d)
    clock = d.get("_clock")
    if isinstance(p.get("evidence"), dict):
        for k, v in p["evidence"].items():
            if k not in d["evidence"]:
                raise unknown_param(f"evidence[{k}]")
            d["evidence"] = {**d["evidence"], k: v or None}
        d["evidence_details"] = {**d["evidence_details"], "has_evidence": True}
    apply_metadata(d, p)
    submit = to_bool(p.get("submit", True), param="submit")
    if submit and d["evidence_details"]["has_evidence"]:
        d["status"] = "under_review"
        d["evidence_details"] = {**d["evidence_details"], "submission_count": d["evidence_details"]["submission_count"] + 1,
                                 "submission_method": "manual"}
    sb.store.touch(d)
    sb.emit_updated("charge.dispute.updated", d, before, clock=clock)
    text = (d["evidence"].get("uncategorized_text") or "").strip()
    # Stripe's documented test evidence: "winning_evidence" / "losing_evidence" decide the case.
    if submit and text in ("winning_evidence", "losing_evidence"):
        before = sb.snapshot(d)
        d["status"] = "won" if text == "winning_evidence" else "lost"
        sb.store.touch(d)
        sb.emit_updated("charge.dispute.closed", d, before, clock=clock)
    return d


@route("POST", "/v1/disputes/{did}/close")
def dispute_close(sb: Sandbox, p: Obj, did: str) -> Obj:
    d = sb.get("dispute", did)
    before = sb.snapshot(d)
    d["status"] = "lost"
    sb.store.touch(d)
    sb.emit_updated("charge.dispute.closed", d, before, clock=d.get("_clock"))
    return d


@route("GET", "/v1/disputes")
def dispute_list(sb: Sandbox, p: Obj) -> Obj:
    ch = p.get("charge")
    pid = p.get("payment_intent")
    return sb.list(
        "dispute", p, url="/v1/disputes",
        match=lambda o: (ch is None or o["charge"] == ch) and (pid is None or o.get("payment_intent") == pid),
    )


# -- balance ------------------------------------------------------------------------------------
@route("GET", "/v1/balance")
def balance_retrieve(sb: Sandbox, p: Obj) -> Obj:
    return balance(sb)


@route("GET", "/v1/balance_transactions/{tid}")
def txn_retrieve(sb: Sandbox, p: Obj, tid: str) -> Obj:
    return sb.get("balance_transaction", tid)


@route("GET", "/v1/balance_transactions")
def txn_list(sb: Sandbox, p: Obj) -> Obj:
    kind = p.get("type")
    source = p.get("source")
    return sb.list(
        "balance_transaction", p, url="/v1/balance_transactions",
        match=lambda o: (kind is None or o["type"] == kind) and (source is None or o["source"] == source),
    )
