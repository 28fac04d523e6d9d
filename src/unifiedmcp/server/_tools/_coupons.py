"""Coupons: create_coupon, list_coupons."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from .._binding import ToolCall
from .._errors import InvalidArguments
from .._registry import tool
from .._types import Amount, CouponId, Currency, IdempotencyKey, Limit, Metadata, ShortText
from ._common import DEFAULT_LIMIT, list_params, page


@tool(
    "create_coupon",
    resource="coupons",
    action="create",
    title="Create a coupon",
    permission="Coupons: Write (rak_coupon_write)",
)
def create_coupon(
    call: ToolCall,
    *,
    percent_off: Annotated[float, Field(gt=0, le=100)] | None = None,
    amount_off: Amount | None = None,
    currency: Currency | None = None,
    duration: Literal["once", "repeating", "forever"] = "once",
    duration_in_months: Annotated[int, Field(ge=1, le=120)] | None = None,
    name: ShortText | None = None,
    id: CouponId | None = None,
    metadata: Metadata | None = None,
    idempotency_key: IdempotencyKey | None = None,
) -> dict[str, Any]:
    """Create a coupon: `percent_off` (0-100], or `amount_off` in `currency`; for `duration` once, repeating or forever."""
    if (percent_off is None) == (amount_off is None):
        raise InvalidArguments("give exactly one of percent_off or amount_off", param="percent_off")
    if amount_off is not None and currency is None:
        raise InvalidArguments("amount_off needs currency", param="currency")
    if amount_off == 0:
        raise InvalidArguments("amount_off must be positive", param="amount_off")
    if percent_off is not None and currency is not None:
        raise InvalidArguments("currency applies to amount_off only", param="currency")
    if (duration == "repeating") != (duration_in_months is not None):
        raise InvalidArguments("duration_in_months goes with duration 'repeating' (and only with it)", param="duration")
    params = {
        "percent_off": percent_off,
        "amount_off": amount_off,
        "currency": currency,
        "duration": duration,
        "duration_in_months": duration_in_months,
        "name": name,
        "id": id,
        "metadata": metadata,
    }
    return call.write(
        "coupons.create", lambda p, o: call.stripe.v1.coupons.create(params=p, options=o), params, idempotency_key
    )


@tool(
    "list_coupons",
    resource="coupons",
    action="read",
    title="List coupons",
    permission="Coupons: Read (rak_coupon_read)",
    read_only=True,
)
def list_coupons(
    call: ToolCall,
    *,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: CouponId | None = None,
) -> dict[str, Any]:
    """List coupons. Paginates with limit/starting_after."""
    return page(call.stripe.v1.coupons.list(params=list_params(limit, starting_after)))
