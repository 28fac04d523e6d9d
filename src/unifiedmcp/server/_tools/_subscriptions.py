"""Subscriptions: create_subscription, list_subscriptions, update_subscription, cancel_subscription."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field

from .._binding import ToolCall
from .._errors import InvalidArguments
from .._registry import tool
from .._types import CouponId, CustomerId, IdempotencyKey, Limit, Metadata, PriceId, SubscriptionId
from ._common import DEFAULT_LIMIT, list_params, page

Quantity = Annotated[int, Field(ge=1, le=10_000)]
Proration = Literal["create_prorations", "none", "always_invoice"]


@tool(
    "create_subscription",
    resource="subscriptions",
    action="create",
    title="Subscribe a customer to a price",
    permission="Subscriptions: Write (rak_subscription_write)",
)
def create_subscription(
    call: ToolCall,
    *,
    customer: CustomerId,
    price: PriceId,
    quantity: Quantity = 1,
    trial_period_days: Annotated[int, Field(ge=1, le=730)] | None = None,
    coupon: CouponId | None = None,
    metadata: Metadata | None = None,
    idempotency_key: IdempotencyKey | None = None,
) -> dict[str, Any]:
    """Subscribe a customer to a recurring price; returns the subscription (check its `status`)."""
    params: dict[str, Any] = {
        "customer": customer,
        "items": [{"price": price, "quantity": quantity}],
        "trial_period_days": trial_period_days,
        "metadata": metadata,
    }
    if coupon is not None:
        params["discounts"] = [{"coupon": coupon}]
    return call.write(
        "subscriptions.create",
        lambda p, o: call.stripe.v1.subscriptions.create(params=p, options=o),
        params,
        idempotency_key,
    )


@tool(
    "list_subscriptions",
    resource="subscriptions",
    action="read",
    title="List subscriptions",
    permission="Subscriptions: Read (rak_subscription_read)",
    read_only=True,
)
def list_subscriptions(
    call: ToolCall,
    *,
    customer: CustomerId | None = None,
    price: PriceId | None = None,
    status: Literal[
        "active", "past_due", "unpaid", "canceled", "incomplete", "incomplete_expired", "trialing", "paused", "all"
    ]
    | None = None,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: SubscriptionId | None = None,
) -> dict[str, Any]:
    """List subscriptions (by default all but canceled), optionally by customer, price or status.

    Paginates with limit/starting_after.
    """
    params = list_params(limit, starting_after, customer=customer, price=price, status=status)
    return page(call.stripe.v1.subscriptions.list(params=params))


@tool(
    "update_subscription",
    resource="subscriptions",
    action="update",
    title="Change a subscription",
    permission="Subscriptions: Write (rak_subscription_write)",
)
def update_subscription(
    call: ToolCall,
    *,
    subscription: SubscriptionId,
    price: PriceId | None = None,
    quantity: Quantity | None = None,
    cancel_at_period_end: bool | None = None,
    proration_behavior: Proration | None = None,
    metadata: Metadata | None = None,
    idempotency_key: IdempotencyKey | None = None,
) -> dict[str, Any]:
    """Change a subscription: swap its `price`, set `quantity`, schedule or undo `cancel_at_period_end`.

    For a price or quantity change the subscription must have exactly one item.
    """
    if price is None and quantity is None and cancel_at_period_end is None and metadata is None:
        raise InvalidArguments(
            "nothing to change: give price, quantity, cancel_at_period_end or metadata", param="price"
        )
    params: dict[str, Any] = {
        "cancel_at_period_end": cancel_at_period_end,
        "proration_behavior": proration_behavior,
        "metadata": metadata,
    }
    if price is not None or quantity is not None:
        current = call.stripe.v1.subscriptions.retrieve(subscription).to_dict()
        items = (current.get("items") or {}).get("data") or []
        if len(items) != 1:
            raise InvalidArguments(
                f"{subscription} has {len(items)} items; price and quantity changes need exactly one",
                param="price",
            )
        item: dict[str, Any] = {"id": items[0]["id"]}
        if price is not None:
            item["price"] = price
        if quantity is not None:
            item["quantity"] = quantity
        params["items"] = [item]
    return call.write(
        f"subscriptions.update:{subscription}",
        lambda p, o: call.stripe.v1.subscriptions.update(subscription, params=p, options=o),
        params,
        idempotency_key,
    )


def _cancel_question(args: Mapping[str, Any]) -> str:
    return (
        f"Cancel subscription {args['subscription']} now? The customer loses access immediately; "
        "this cannot be undone (to cancel at period end, use update_subscription instead)."
    )


@tool(
    "cancel_subscription",
    resource="subscriptions",
    action="delete",
    title="Cancel a subscription now",
    permission="Subscriptions: Write (rak_subscription_write)",
    destructive=True,
    idempotent=True,
    confirm=_cancel_question,
)
def cancel_subscription(
    call: ToolCall,
    *,
    subscription: SubscriptionId,
    invoice_now: bool | None = None,
    prorate: bool | None = None,
    idempotency_key: IdempotencyKey | None = None,
) -> dict[str, Any]:
    """Cancel a subscription immediately. Irreversible: a human confirms it first."""
    params = {"invoice_now": invoice_now, "prorate": prorate}
    return call.write(
        f"subscriptions.cancel:{subscription}",
        lambda p, o: call.stripe.v1.subscriptions.cancel(subscription, params=p, options=o),
        params,
        idempotency_key,
    )
