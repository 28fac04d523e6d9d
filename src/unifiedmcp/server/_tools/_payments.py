"""Payments: list_payment_intents, create_refund."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from .._binding import ToolCall
from .._errors import InvalidArguments
from .._registry import tool
from .._types import Amount, ChargeId, CustomerId, IdempotencyKey, Limit, Metadata, PaymentIntentId
from ._common import DEFAULT_LIMIT, list_params, page


@tool(
    "list_payment_intents",
    resource="payment_intents",
    action="read",
    title="List payment intents",
    permission="PaymentIntents: Read (rak_payment_intent_read)",
    read_only=True,
)
def list_payment_intents(
    call: ToolCall,
    *,
    customer: CustomerId | None = None,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: PaymentIntentId | None = None,
) -> dict[str, Any]:
    """List payment intents, optionally of one customer. Paginates with limit/starting_after."""
    return page(call.stripe.v1.payment_intents.list(params=list_params(limit, starting_after, customer=customer)))


def _money(amount: int | None) -> str:
    return "in full" if amount is None else f"of {amount} (minor units)"


def _refund_question(args: Mapping[str, Any]) -> str:
    target = args.get("payment_intent") or args.get("charge")
    return f"Refund {target} {_money(args.get('amount'))}? Money goes back to the customer; this cannot be undone."


@tool(
    "create_refund",
    resource="refunds",
    action="create",
    title="Refund a payment",
    permission="Refunds: Write (rak_refund_write)",
    destructive=True,
    confirm=_refund_question,
)
def create_refund(
    call: ToolCall,
    *,
    payment_intent: PaymentIntentId | None = None,
    charge: ChargeId | None = None,
    amount: Amount | None = None,
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = None,
    metadata: Metadata | None = None,
    idempotency_key: IdempotencyKey | None = None,
) -> dict[str, Any]:
    """Refund a payment (a `payment_intent` or a `charge`), in full or `amount` of it.

    Irreversible: a human confirms it first.
    """
    if (payment_intent is None) == (charge is None):
        raise InvalidArguments("give exactly one of payment_intent or charge", param="payment_intent")
    if amount == 0:
        raise InvalidArguments("amount must be positive (omit it to refund in full)", param="amount")
    params = {
        "payment_intent": payment_intent,
        "charge": charge,
        "amount": amount,
        "reason": reason,
        "metadata": metadata,
    }
    return call.write(
        "refunds.create", lambda p, o: call.stripe.v1.refunds.create(params=p, options=o), params, idempotency_key
    )
