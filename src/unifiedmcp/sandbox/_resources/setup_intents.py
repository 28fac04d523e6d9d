"""Setup intents: save a card for later without charging it (create, confirm, retrieve, update,
list, cancel), with the test cards' outcomes.

Confirming checks the card as Stripe does when it sets one up: a card declined on attach
(``pm_card_visa_chargeDeclined`` and the other ``chargeDeclined*`` cards) fails the setup
(402 ``card_error`` with its ``code`` and ``decline_code``; the intent goes back to
``requires_payment_method`` with ``last_setup_error``; ``setup_intent.setup_failed``); a card that
needs 3-D Secure asks for it (``requires_action``, ``next_action.use_stripe_sdk``;
``setup_intent.requires_action``); any other card succeeds (``succeeded``, attached to the
intent's customer; ``setup_intent.succeeded``). ``pm_card_chargeCustomerFail`` sets up fine: only
its charges fail. Other events: ``setup_intent.created``, ``setup_intent.canceled``.
"""

from __future__ import annotations

import secrets

from .._errors import StripeError, card_error, invalid
from .._money import attach, card_of, resolve_payment_method
from .._objects import blank, new_id, public, to_bool
from .._router import route
from .._state import Sandbox
from ._common import Obj, apply_metadata

KIND = "setup_intent"
_OPEN = ("requires_payment_method", "requires_confirmation", "requires_action")


def _intent(sb: Sandbox, sid: str) -> Obj:
    return sb.get(KIND, sid, label="setupintent")


def _types(p: Obj) -> list[str]:
    allowed = p.get("allowed_payment_method_types", ["card"])
    if not isinstance(allowed, list) or any(t != "card" for t in allowed):
        raise invalid("The sandbox supports payment methods of type card only.", param="allowed_payment_method_types")
    return list(allowed)


@route("POST", "/v1/setup_intents")
def setup_create(sb: Sandbox, p: Obj) -> Obj:
    cus = sb.get("customer", p["customer"], param="customer") if p.get("customer") else None
    clock = (cus or {}).get("test_clock")
    pm = resolve_payment_method(sb, p["payment_method"], param="payment_method", clock=clock) if p.get("payment_method") else None
    sid = new_id("seti")
    intent = blank(
        KIND,
        id=sid,
        allowed_payment_method_types=_types(p) if "allowed_payment_method_types" in p else None,
        client_secret=f"{sid}_secret_{secrets.token_urlsafe(24)}",
        created=sb.now(clock),
        customer=cus["id"] if cus else None,
        description=p.get("description"),
        payment_method=pm["id"] if pm else None,
        payment_method_options={"card": {"mandate_options": None, "network": None, "request_three_d_secure": "automatic"}},
        payment_method_types=["card"],
        status="requires_confirmation" if pm else "requires_payment_method",
        usage=p.get("usage", "off_session"),
        _clock=clock,
    )
    apply_metadata(intent, p)
    sb.store.put(intent)
    sb.emit("setup_intent.created", intent, clock=clock)
    if to_bool(p.get("confirm", False), param="confirm"):
        if pm is None:
            raise invalid("You cannot confirm this SetupIntent because it's missing a payment method.", param="payment_method",
                          code="setup_intent_unexpected_state")
        error = _confirm(sb, intent, pm)
        if error is not None:
            raise error
    return intent


def _confirm(sb: Sandbox, intent: Obj, pm: Obj) -> StripeError | None:
    """Set up ``pm`` for later use; the card decides the outcome (see the module docstring)."""
    clock = intent.get("_clock")
    card = card_of(pm)
    intent["payment_method"] = pm["id"]
    if card.failure == "at_attach":
        error = card_error(card.message or "Your card was declined.", code=card.code or "card_declined",
                           decline_code=card.decline_code)
        intent["status"] = "requires_payment_method"
        intent["payment_method"] = None
        # advice and network codes are left out, as Stripe does when it has none
        intent["last_setup_error"] = {
            "code": error.code, "decline_code": error.decline_code, "message": error.message, "payment_method": public(pm),
            "doc_url": f"https://stripe.com/docs/error-codes/{(error.code or '').replace('_', '-')}", "type": "card_error",
        }
        sb.store.touch(intent)
        sb.emit("setup_intent.setup_failed", intent, clock=clock)
        error.extra["setup_intent"] = public(intent)
        return error
    if card.failure == "auth":
        intent["status"] = "requires_action"
        intent["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect", "source": pm["id"]}}
        sb.store.touch(intent)
        sb.emit("setup_intent.requires_action", intent, clock=clock)
        return None
    cus = sb.store.get(intent["customer"]) if intent["customer"] else None
    if cus is not None:
        attach(sb, pm, cus)
    intent["status"] = "succeeded"
    intent["next_action"] = None
    intent["last_setup_error"] = None
    sb.store.touch(intent)
    sb.emit("setup_intent.succeeded", intent, clock=clock)
    return None


@route("POST", "/v1/setup_intents/{sid}/confirm")
def setup_confirm(sb: Sandbox, p: Obj, sid: str) -> Obj:
    intent = _intent(sb, sid)
    if intent["status"] not in _OPEN:
        raise invalid(f"You cannot confirm this SetupIntent because it has a status of {intent['status']}.",
                      code="setup_intent_unexpected_state")
    ref = p.get("payment_method") or intent["payment_method"]
    if not ref:
        raise invalid("You cannot confirm this SetupIntent because it's missing a payment method.", param="payment_method",
                      code="setup_intent_unexpected_state")
    pm = resolve_payment_method(sb, ref, param="payment_method", clock=intent.get("_clock"))
    error = _confirm(sb, intent, pm)
    if error is not None:
        raise error
    return intent


@route("GET", "/v1/setup_intents/{sid}")
def setup_retrieve(sb: Sandbox, p: Obj, sid: str) -> Obj:
    return _intent(sb, sid)


@route("POST", "/v1/setup_intents/{sid}")
def setup_update(sb: Sandbox, p: Obj, sid: str) -> Obj:
    intent = _intent(sb, sid)
    if intent["status"] not in _OPEN:
        raise invalid(f"You cannot update this SetupIntent because it has a status of {intent['status']}.",
                      code="setup_intent_unexpected_state")
    if p.get("customer"):
        intent["customer"] = sb.get("customer", p["customer"], param="customer")["id"]
    if p.get("payment_method"):
        pm = resolve_payment_method(sb, p["payment_method"], param="payment_method", clock=intent.get("_clock"))
        intent["payment_method"] = pm["id"]
        intent["status"] = "requires_confirmation"
    if "description" in p:
        intent["description"] = p["description"] or None
    apply_metadata(intent, p)
    sb.store.touch(intent)
    return intent


@route("POST", "/v1/setup_intents/{sid}/cancel")
def setup_cancel(sb: Sandbox, p: Obj, sid: str) -> Obj:
    intent = _intent(sb, sid)
    if intent["status"] not in _OPEN:
        raise invalid(f"You cannot cancel this SetupIntent because it has a status of {intent['status']}.",
                      code="setup_intent_unexpected_state")
    intent["status"] = "canceled"
    intent["cancellation_reason"] = p.get("cancellation_reason")
    intent["next_action"] = None
    sb.store.touch(intent)
    sb.emit("setup_intent.canceled", intent, clock=intent.get("_clock"))
    return intent


@route("GET", "/v1/setup_intents")
def setup_list(sb: Sandbox, p: Obj) -> Obj:
    customer, pm = p.get("customer"), p.get("payment_method")
    return sb.list(KIND, p, url="/v1/setup_intents",
                   match=lambda o: (customer is None or o["customer"] == customer) and (pm is None or o["payment_method"] == pm))
