"""Payment methods, payment intents, charges, refunds, disputes and the balance ledger.

Outcomes are deterministic: they follow the test card behind the payment method (see
``_cards.py``), so a caller can know before charging whether a charge will fail (used by
``payment_behavior=error_if_incomplete`` to refuse without leaving half-created objects).
"""

from __future__ import annotations

import secrets
from typing import Any

from ._cards import TestCard, card_for_number, card_for_token, CARDS
from ._errors import StripeError, card_error, invalid, missing_param
from ._objects import blank, new_id, public
from ._state import Sandbox

__all__ = [
    "resolve_payment_method",
    "attach",
    "card_of",
    "new_payment_intent",
    "confirm",
    "would_fail",
    "refund",
    "balance",
]

Obj = dict[str, Any]


def card_of(pm: Obj) -> TestCard:
    return CARDS[pm.get("_card", "visa")]


def new_payment_method(sb: Sandbox, name: str, card: TestCard, *, clock: str | None = None, billing_details: Obj | None = None, metadata: Obj | None = None) -> Obj:
    pm = blank(
        "payment_method",
        id=new_id("pm"),
        allow_redisplay="unspecified",
        billing_details=billing_details
        or {
            "address": {"city": None, "country": None, "line1": None, "line2": None, "postal_code": None, "state": None},
            "email": None,
            "name": None,
            "phone": None,
            "tax_id": None,
        },
        card={
            "brand": card.brand,
            "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
            "country": "US",
            "display_brand": card.brand,
            "exp_month": 12,
            "exp_year": 2034,
            "fingerprint": secrets.token_hex(8),
            "funding": card.funding,
            "generated_from": None,
            "last4": card.last4,
            "networks": {"available": [card.brand], "preferred": None},
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
            "regulated_status": "unregulated",
        },
        created=sb.now(clock),
        customer=None,
        type="card",
        metadata=metadata or {},
        _card=name,
    )
    return sb.store.put(pm)


def resolve_payment_method(sb: Sandbox, ref: Any, *, param: str, clock: str | None = None) -> Obj:
    """A stored payment method, or a new one made from a test token (``pm_card_visa``)."""
    if not isinstance(ref, str) or not ref:
        raise invalid("Invalid payment method", param=param)
    found = card_for_token(ref)
    if found is not None:
        return new_payment_method(sb, found[0], found[1], clock=clock)
    pm = sb.store.get(ref, "payment_method")
    if pm is None:
        raise StripeError(
            400 if param != "id" else 404,
            type="invalid_request_error",
            message=f"No such PaymentMethod: '{ref}'",
            param=param,
            code="resource_missing",
        )
    return pm


def card_from_params(card: Any) -> tuple[str, TestCard]:
    if isinstance(card, dict):
        if "token" in card:
            found = card_for_token(str(card["token"]))
            if found:
                return found
            raise invalid(f"No such token: '{card['token']}'", param="card[token]", code="resource_missing")
        if "number" in card:
            found = card_for_number(str(card["number"]))
            if found:
                return found
            raise StripeError(
                402, type="card_error", message="Your card number is incorrect.", param="number",
                code="incorrect_number",
            )
    raise missing_param("card")


def _decline(card: TestCard, *, extra: Obj | None = None) -> StripeError:
    return card_error(card.message or "Your card was declined.", code=card.code or "card_declined", decline_code=card.decline_code, extra=extra)


def attach(sb: Sandbox, pm: Obj, customer: Obj) -> Obj:
    """Attach (validating the card like Stripe does: some test cards decline here)."""
    if pm.get("customer") == customer["id"]:
        return pm
    if pm.get("customer"):
        raise invalid(
            "The payment method you provided has already been attached to a customer.",
            param="payment_method",
        )
    card = card_of(pm)
    if card.failure == "at_attach":
        raise _decline(card)
    pm["customer"] = customer["id"]
    sb.store.touch(pm)
    sb.emit("payment_method.attached", pm, clock=customer.get("test_clock"))
    return pm


def would_fail(pm: Obj | None, *, off_session: bool) -> StripeError | None:
    """The error a charge on ``pm`` would raise, without charging."""
    if pm is None:
        return invalid("This customer has no attached payment source or default payment method.", code="resource_missing")
    card = card_of(pm)
    if card.failure in ("at_attach", "at_charge") or (card.failure == "auth" and off_session):
        return _decline(card)
    if card.failure == "auth":
        return card_error(card.message or "", code="authentication_required", decline_code="authentication_required")
    return None


def new_payment_intent(
    sb: Sandbox,
    *,
    amount: int,
    currency: str,
    customer: str | None,
    clock: str | None,
    description: str | None = None,
    metadata: Obj | None = None,
    payment_method: str | None = None,
    setup_future_usage: str | None = None,
    invoice: str | None = None,
) -> Obj:
    pid = new_id("pi")
    pi = blank(
        "payment_intent",
        id=pid,
        amount=amount,
        amount_capturable=0,
        amount_details={"tip": {}},
        amount_received=0,
        automatic_payment_methods=None,
        capture_method="automatic",
        client_secret=f"{pid}_secret_{secrets.token_urlsafe(18)}",
        confirmation_method="automatic",
        created=sb.now(clock),
        currency=currency,
        customer=customer,
        description=description,
        metadata=metadata or {},
        payment_method=payment_method,
        payment_method_options={"card": {"installments": None, "mandate_options": None, "network": None, "request_three_d_secure": "automatic"}},
        payment_method_types=["card"],
        setup_future_usage=setup_future_usage,
        status="requires_confirmation" if payment_method else "requires_payment_method",
        _clock=clock,
        _invoice=invoice,
    )
    sb.store.put(pi)
    sb.emit("payment_intent.created", pi, clock=clock)
    return pi


def _outcome(card: TestCard, ok: bool) -> Obj:
    if ok:
        return {
            "advice_code": None, "network_advice_code": None, "network_decline_code": None,
            "network_status": "approved_by_network", "reason": None, "risk_level": "normal",
            "risk_score": 32, "seller_message": "Payment complete.", "type": "authorized",
        }
    return {
        "advice_code": "do_not_try_again" if card.decline_code in ("lost_card", "stolen_card", "fraudulent") else "try_again_later",
        "network_advice_code": None, "network_decline_code": None,
        "network_status": "declined_by_network", "reason": card.decline_code, "risk_level": "normal",
        "risk_score": 32, "seller_message": "The bank did not return any further details with this decline.",
        "type": "issuer_declined",
    }


def _charge(sb: Sandbox, pi: Obj, pm: Obj, *, ok: bool, card: TestCard) -> Obj:
    clock = pi.get("_clock")
    now = sb.now(clock)
    cid = new_id("ch")
    charge = blank(
        "charge",
        id=cid,
        amount=pi["amount"],
        amount_captured=pi["amount"] if ok else 0,
        amount_refunded=0,
        billing_details=pm["billing_details"],
        calculated_statement_descriptor="UNIFIEDMCP",
        captured=ok,
        created=now,
        currency=pi["currency"],
        customer=pi.get("customer"),
        description=pi.get("description"),
        disputed=False,
        failure_code=None if ok else card.code,
        failure_message=None if ok else card.message,
        fraud_details={},
        metadata=dict(pi.get("metadata") or {}),
        outcome=_outcome(card, ok),
        paid=ok,
        payment_intent=pi["id"],
        payment_method=pm["id"],
        payment_method_details={
            "card": {
                "amount_authorized": pi["amount"] if ok else None,
                # Issuer and network references exist only for an authorized charge.
                "authorization_code": f"{secrets.randbelow(10**6):06d}" if ok else None,
                "brand": card.brand, "checks": pm["card"]["checks"], "country": "US",
                "electronic_commerce_indicator": "07" if ok else None,  # a card-not-present payment without 3-D Secure
                "exp_month": pm["card"]["exp_month"], "exp_year": pm["card"]["exp_year"],
                "fingerprint": pm["card"]["fingerprint"], "funding": card.funding, "last4": card.last4,
                "network": card.brand, "network_token": {"used": False},
                "network_transaction_id": f"{secrets.randbelow(10**15):015d}" if ok else None,
                "regulated_status": pm["card"]["regulated_status"], "three_d_secure": None,
                "transaction_link_id": None, "wallet": None, "mandate": None, "installments": None,
            },
            "type": "card",
        },
        receipt_url=f"https://pay.stripe.com/receipts/sandbox/{cid}",
        refunded=False,
        refunds={"object": "list", "data": [], "has_more": False, "url": f"/v1/charges/{cid}/refunds"},
        status="succeeded" if ok else "failed",
        _clock=clock,
    )
    if ok:
        charge["balance_transaction"] = _txn(sb, amount=pi["amount"], currency=pi["currency"], source=cid, type="charge", clock=clock, fee=round(pi["amount"] * 0.029) + 30, description=pi.get("description"))["id"]
    sb.store.put(charge)
    return charge


def _txn(sb: Sandbox, *, amount: int, currency: str, source: str, type: str, clock: str | None, fee: int = 0, description: str | None = None, category: str | None = None) -> Obj:
    now = sb.now(clock)
    txn = blank(
        "balance_transaction",
        id=new_id("txn"),
        amount=amount,
        available_on=now + 2 * 86400 if type == "charge" else now,
        created=now,
        currency=currency,
        description=description,
        fee=fee,
        fee_details=[{"amount": fee, "application": None, "currency": currency, "description": "Stripe processing fees", "type": "stripe_fee"}] if fee else [],
        net=amount - fee,
        reporting_category=category or type,
        source=source,
        status="pending" if type == "charge" else "available",
        type=type,
        balance_type="payments",
        _clock=clock,
    )
    return sb.store.put(txn)


def confirm(sb: Sandbox, pi: Obj, pm: Obj, *, off_session: bool) -> StripeError | None:
    """Charge ``pm`` for ``pi``; update both and emit events. Returns the card error, if any.

    Invoice-bound intents report back to the billing engine (paid / payment failed).
    """
    from . import _billing  # billing depends on money, not the other way round at import time

    clock = pi.get("_clock")
    card = card_of(pm)
    pi["payment_method"] = pm["id"]
    if card.failure == "auth" and not off_session:
        pi["status"] = "requires_action"
        pi["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": "", "source": pm["id"]}}
        sb.store.touch(pi)
        sb.emit("payment_intent.requires_action", pi, clock=clock)
        if pi.get("_invoice"):
            _billing.on_action_required(sb, pi)
        return None
    ok = card.failure not in ("at_attach", "at_charge", "auth")
    charge = _charge(sb, pi, pm, ok=ok, card=card)
    pi["latest_charge"] = charge["id"]
    pi["next_action"] = None
    if ok:
        pi["status"] = "succeeded"
        pi["amount_received"] = pi["amount"]
        pi["last_payment_error"] = None
        sb.store.touch(pi)
        sb.emit("charge.succeeded", charge, clock=clock)
        sb.emit("payment_intent.succeeded", pi, clock=clock)
        if card.failure == "dispute":
            _open_dispute(sb, charge)
        if pi.get("_invoice"):
            _billing.on_paid(sb, pi, pm)
        return None
    error = _decline(card, extra={"charge": charge["id"]})
    pi["status"] = "requires_payment_method"
    pi["payment_method"] = None
    # advice_code, network_advice_code, network_decline_code and param are left out: Stripe
    # includes them only when it has a value.
    pi["last_payment_error"] = {
        "charge": charge["id"], "code": error.code, "decline_code": error.decline_code,
        "doc_url": f"https://stripe.com/docs/error-codes/{(error.code or '').replace('_', '-')}",
        "message": error.message, "payment_method": public(pm), "type": "card_error",
    }
    sb.store.touch(pi)
    sb.emit("charge.failed", charge, clock=clock)
    sb.emit("payment_intent.payment_failed", pi, clock=clock)
    if pi.get("_invoice"):
        _billing.on_failed(sb, pi, error)
    error.extra["payment_intent"] = public(pi)
    error.extra["payment_method"] = public(pm)
    return error


def _open_dispute(sb: Sandbox, charge: Obj) -> Obj:
    clock = charge.get("_clock")
    now = sb.now(clock)
    did = new_id("dp")
    txn = _txn(sb, amount=-charge["amount"], currency=charge["currency"], source=did, type="adjustment", clock=clock, fee=1500, category="dispute", description=f"Chargeback withdrawal for {charge['id']}")
    dispute = blank(
        "dispute",
        id=did,
        amount=charge["amount"],
        balance_transactions=[public(txn)],
        charge=charge["id"],
        created=now,
        currency=charge["currency"],
        evidence={k: None for k in (
            "access_activity_log", "billing_address", "cancellation_policy", "cancellation_policy_disclosure",
            "cancellation_rebuttal", "customer_communication", "customer_email_address", "customer_name",
            "customer_purchase_ip", "customer_signature", "duplicate_charge_documentation",
            "duplicate_charge_explanation", "duplicate_charge_id", "product_description", "receipt",
            "refund_policy", "refund_policy_disclosure", "refund_refusal_explanation", "service_date",
            "service_documentation", "shipping_address", "shipping_carrier", "shipping_date",
            "shipping_documentation", "shipping_tracking_number", "uncategorized_file", "uncategorized_text",
        )} | {"enhanced_evidence": {}},
        evidence_details={"due_by": now + 7 * 86400, "has_evidence": False, "past_due": False, "submission_count": 0,
                          "enhanced_eligibility": {}, "submission_method": "not_submitted"},
        intended_submission_method=None,
        is_charge_refundable=False,
        payment_intent=charge["payment_intent"],
        payment_method_details={"card": {"brand": charge["payment_method_details"]["card"]["brand"], "case_type": "chargeback",
                                         "network": charge["payment_method_details"]["card"]["network"], "network_reason_code": "10.4"},
                                "type": "card"},
        reason="fraudulent",
        status="needs_response",
        enhanced_eligibility_types=[],
        _clock=clock,
    )
    sb.store.put(dispute)
    charge["disputed"] = True
    sb.store.touch(charge)
    sb.emit("charge.dispute.created", dispute, clock=clock)
    return dispute


def refund(sb: Sandbox, charge: Obj, *, amount: int | None, reason: str | None, metadata: Obj) -> Obj:
    clock = charge.get("_clock")
    if charge["status"] != "succeeded":
        raise invalid("This charge cannot be refunded because it has not succeeded.", param="charge")
    remaining = charge["amount"] - charge["amount_refunded"]
    if remaining <= 0:
        raise invalid(f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded")
    amount = remaining if amount is None else amount
    if amount <= 0:
        raise invalid("Invalid positive integer", param="amount")
    if amount > remaining:
        raise invalid(
            f"Refund amount (${amount / 100:.2f}) is greater than unrefunded amount on charge (${remaining / 100:.2f})",
            param="amount",
        )
    rid = new_id("re")
    txn = _txn(sb, amount=-amount, currency=charge["currency"], source=rid, type="refund", clock=clock, description="REFUND FOR CHARGE")
    ref = blank(
        "refund",
        id=rid,
        amount=amount,
        balance_transaction=txn["id"],
        charge=charge["id"],
        created=sb.now(clock),
        currency=charge["currency"],
        # The acquirer reference number comes later (reference_status pending): no ``reference`` yet.
        destination_details={"card": {"reference_status": "pending", "reference_type": "acquirer_reference_number", "type": "refund"}, "type": "card"},
        metadata=metadata,
        payment_intent=charge.get("payment_intent"),
        reason=reason,
        status="succeeded",
        customer=charge.get("customer"),
        payment_method=charge.get("payment_method"),
        _clock=clock,
    )
    sb.store.put(ref)
    before = sb.snapshot(charge)
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    charge["refunds"] = {**charge["refunds"], "data": [public(ref), *charge["refunds"]["data"]]}
    sb.store.touch(charge)
    sb.emit("refund.created", ref, clock=clock)
    sb.emit_updated("charge.refunded", charge, {k: before[k] for k in ("amount_refunded", "refunded", "refunds")}, clock=clock)
    return ref


def balance(sb: Sandbox) -> Obj:
    available: dict[str, int] = {}
    pending: dict[str, int] = {}
    for txn in sb.store.iter("balance_transaction"):
        bucket = available if txn["available_on"] <= sb.now(txn.get("_clock")) else pending
        bucket[txn["currency"]] = bucket.get(txn["currency"], 0) + txn["net"]

    def rows(d: dict[str, int]) -> list[Obj]:
        return [{"amount": v, "currency": c, "source_types": {"card": v}} for c, v in sorted(d.items())] or [
            {"amount": 0, "currency": "usd", "source_types": {"card": 0}}
        ]

    return blank(
        "balance",
        available=rows(available),
        pending=rows(pending),
        connect_reserved=[{"amount": 0, "currency": c} for c in sorted(available) or ["usd"]],
    )
