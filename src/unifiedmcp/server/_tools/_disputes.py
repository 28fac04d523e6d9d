"""Disputes: list_disputes, update_dispute."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from .._binding import ToolCall
from .._errors import InvalidArguments
from .._registry import tool
from .._types import ChargeId, DisputeId, IdempotencyKey, Limit, Metadata, PaymentIntentId
from ._common import DEFAULT_LIMIT, list_params, page

Evidence = Annotated[str, StringConstraints(max_length=20_000)]


class DisputeEvidence(BaseModel):
    """Text evidence for a dispute (files are uploaded in the Dashboard)."""

    model_config = ConfigDict(extra="forbid")

    product_description: Evidence | None = None
    customer_name: Annotated[str, StringConstraints(max_length=5000)] | None = None
    customer_email_address: Annotated[str, StringConstraints(max_length=5000)] | None = None
    customer_purchase_ip: Annotated[str, StringConstraints(max_length=5000)] | None = None
    billing_address: Annotated[str, StringConstraints(max_length=5000)] | None = None
    service_date: Annotated[str, StringConstraints(max_length=5000)] | None = None
    access_activity_log: Evidence | None = None
    cancellation_policy_disclosure: Evidence | None = None
    cancellation_rebuttal: Evidence | None = None
    duplicate_charge_explanation: Evidence | None = None
    refund_policy_disclosure: Evidence | None = None
    refund_refusal_explanation: Evidence | None = None
    uncategorized_text: Evidence | None = None


@tool(
    "list_disputes",
    resource="disputes",
    action="read",
    title="List disputes",
    permission="Disputes: Read (rak_dispute_read)",
    read_only=True,
)
def list_disputes(
    call: ToolCall,
    *,
    charge: ChargeId | None = None,
    payment_intent: PaymentIntentId | None = None,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: DisputeId | None = None,
) -> dict[str, Any]:
    """List disputes, optionally of one charge or payment intent. Paginates with limit/starting_after."""
    params = list_params(limit, starting_after, charge=charge, payment_intent=payment_intent)
    return page(call.stripe.v1.disputes.list(params=params))


def _dispute_question(args: Mapping[str, Any]) -> str | None:
    if not args.get("submit"):
        return None
    return (
        f"Submit the evidence for dispute {args['dispute']} to the bank now? "
        "Submitted evidence is final and cannot be changed."
    )


@tool(
    "update_dispute",
    resource="disputes",
    action="update",
    title="Add evidence to a dispute",
    permission="Disputes: Write (rak_dispute_write)",
    destructive=True,
    confirm=_dispute_question,
)
def update_dispute(
    call: ToolCall,
    *,
    dispute: DisputeId,
    evidence: DisputeEvidence | None = None,
    metadata: Metadata | None = None,
    submit: bool = False,
    idempotency_key: IdempotencyKey | None = None,
) -> dict[str, Any]:
    """Add text evidence or metadata to a dispute; `submit: true` sends it to the bank (final, confirmed by a human)."""
    ev = evidence.model_dump(exclude_none=True) if evidence is not None else None
    if not ev and metadata is None and not submit:
        raise InvalidArguments("nothing to change: give evidence, metadata or submit", param="evidence")
    # Stripe submits by default: staging evidence must say submit=false explicitly.
    params = {"evidence": ev or None, "metadata": metadata, "submit": submit}
    return call.write(
        f"disputes.update:{dispute}",
        lambda p, o: call.stripe.v1.disputes.update(dispute, params=p, options=o),
        params,
        idempotency_key,
    )
